package ui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// chatState is what the session knows of the chat: who the user is, the
// conversations open (in the sidebar's order), the one in front and the
// people around. The App changes it; the pane and the sidebar draw it.
type chatState struct {
	me chat.Account

	convs   map[chat.ConvID]*Conversation
	order   []*Conversation
	current chat.ConvID

	online   *chat.Roster              // shared with every session: replaced, never modified
	lastSeen map[chat.UserID]time.Time // when people seen leaving left
	contacts []chat.Contact            // may be shared with the user's other sessions: copy before writing
}

// Pane is the conversation in front: a header (name, presence, unread
// elsewhere when the sidebar is hidden, scroll state) over the visible
// messages. The conversation it shows changes through the App, which
// calls Touch for every message that may have changed it.
type Pane struct {
	*common
	version
	*chatState
	rc            *renderCtx
	w, h          int
	sidebarHidden bool     // the header says what the sidebar would show
	ls            []string // the lines drawn at version drawn
	view          string   // ls joined, "" until asked for
	drawn         uint64
}

func newPane(com *common, s *chatState, rc *renderCtx) *Pane {
	return &Pane{common: com, chatState: s, rc: rc}
}

// SetSize sets the pane's width and height (header included).
func (p *Pane) SetSize(w, h int) {
	if w != p.w || h != p.h {
		p.w, p.h = w, h
		p.bump()
	}
}

// SetSidebarHidden says whether the sidebar is off screen.
func (p *Pane) SetSidebarHidden(hidden bool) {
	if hidden != p.sidebarHidden {
		p.sidebarHidden = hidden
		p.bump()
	}
}

// Touch says what the pane shows may have changed.
func (p *Pane) Touch() { p.bump() }

// Update does nothing: the conversations change through the App.
func (p *Pane) Update(tea.Msg) tea.Cmd { return nil }

// View is the header plus the visible messages, at most h lines of at most
// w cells.
func (p *Pane) View() string {
	ls := p.Lines()
	if p.view == "" {
		p.view = strings.Join(ls, "\n")
	}
	return p.view
}

// Lines is View as lines, for the layout to set beside the sidebar's.
func (p *Pane) Lines() []string {
	if p.drawn != p.Version() || p.ls == nil {
		p.ls, p.view, p.drawn = p.draw(p.w, p.h), "", p.Version()
	}
	return p.ls
}

// conversationPane is the header plus the visible messages, rows lines of
// at most w cells.
func (p *Pane) draw(w, rows int) []string {
	c := p.convs[p.current]
	if c == nil {
		return make([]string, rows)
	}
	out := c.visible(p.rc, max(1, w-1), rows-1)
	out = append(out, "")
	copy(out[1:], out)
	out[0] = fit(p.header(c), w)
	return out // the lines carry the left margin (paneMargin)
}

func (p *Pane) header(c *Conversation) string {
	st := p.st
	title := st.pHeader.s(" " + safeLine(c.info.Name))
	var extra []string
	switch {
	case c.info.ID == chat.Lobby:
		extra = append(extra, fmt.Sprintf("%d online", p.online.Len()))
	case c.info.Kind == chat.KindDirect:
		extra = append(extra, p.peerStatus(c.info.Peer))
	case c.info.Private:
		extra = append(extra, "private")
	}
	switch c.info.Role {
	case chat.RoleOwner:
		extra = append(extra, "owner")
	case chat.RoleOperator:
		extra = append(extra, "operator")
	}
	if p.sidebarHidden {
		// The sidebar is hidden: say what it would show.
		unread, ment := 0, 0
		for id, other := range p.convs {
			if id != c.info.ID {
				unread += other.info.Unread
				ment += other.info.Mentions
			}
		}
		switch {
		case ment > 0:
			extra = append(extra, fmt.Sprintf("%d unread elsewhere, @%d (esc)", unread, ment))
		case unread > 0:
			extra = append(extra, fmt.Sprintf("%d unread elsewhere (esc)", unread))
		}
	}
	if c.loading {
		extra = append(extra, "loading…")
	}
	if c.offset > 0 || c.hasNewer { // detached from the newest: scrolled however far
		if c.newBelow > 0 {
			extra = append(extra, fmt.Sprintf("↓ %d new (pgdn)", c.newBelow))
		} else {
			extra = append(extra, "scrolled (pgdn)")
		}
	}
	// The topic goes last: it is what fit cuts when the header is too
	// wide, never the state around it.
	if t := strings.TrimSpace(safeLine(c.info.Topic)); t != "" {
		extra = append(extra, t)
	}
	if len(extra) == 0 {
		return title
	}
	return title + st.pHeaderDim.s(" · "+strings.Join(extra, " · "))
}

// peerStatus describes the peer of a direct conversation for its header:
// "blocked" when the user blocked them, their presence, and for an offline
// peer when they were last seen (if known).
func (p *Pane) peerStatus(id chat.UserID) string {
	var contact *chat.Contact
	for i := range p.contacts {
		if p.contacts[i].User == id {
			contact = &p.contacts[i]
		}
	}
	prefix := ""
	if contact != nil && contact.Blocked {
		prefix = "blocked · "
	}
	if p, ok := p.online.Lookup(id); ok {
		return prefix + p.Status.String()
	}
	seen := p.lastSeen[id]
	if contact != nil && contact.LastSeen.After(seen) {
		seen = contact.LastSeen
	}
	if seen.IsZero() {
		return prefix + chat.Offline.String()
	}
	return prefix + "offline, last seen " + ago(p.cfg.now(), seen)
}
