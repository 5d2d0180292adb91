package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"sshchat/chat"
)

// itemKind says what a sidebar row does when picked.
type itemKind uint8

const (
	itemTitle   itemKind = iota // section title, not selectable
	itemConv                    // a conversation: switch to it
	itemContact                 // a contact: open a DM
	itemPerson                  // someone online: open a DM
	itemText                    // "… N more": not selectable
	itemSelf                    // yourself, online: shows your /whois
)

// sideItem is one sidebar row.
type sideItem struct {
	kind   itemKind
	conv   chat.ConvID
	handle string
	text   string // styled, without selection highlight
}

func (it sideItem) selectable() bool {
	return it.kind == itemConv || it.kind == itemContact || it.kind == itemPerson || it.kind == itemSelf
}

// sidebarData is what the sidebar shows; the App owns it.
type sidebarData struct {
	convs    []*Conversation
	current  chat.ConvID
	contacts []chat.Contact
	online   *chat.Roster // shared with every session: read, never copied
	me       chat.UserID
	now      time.Time
	// focused lists everyone online (the list scrolls to the cursor);
	// without focus the list is cut to the screen with "… N more".
	focused bool
}

// Sidebar lists the conversations (lobby first, unread counts), the
// contacts with presence and the people online. Its rows are rebuilt from
// data only after Touch says the data changed (or its size or focus did),
// not on every keystroke; with focus it has a cursor for picking a
// conversation or a person.
type Sidebar struct {
	*common
	version
	state   *chatState
	stale   bool // the rows must be rebuilt from state
	items   []sideItem
	sel     int // index into items; always a selectable row when any exists
	width   int
	height  int
	focused bool
	lines   []string // the rows drawn at version drawn
	view    string   // lines joined, "" until asked for
	drawn   uint64
}

func newSidebar(com *common, state *chatState) *Sidebar {
	return &Sidebar{common: com, state: state, stale: true}
}

// SetSize sets the sidebar's width and height in cells.
func (s *Sidebar) SetSize(w, h int) {
	if w != s.width || h != s.height {
		s.width, s.height = w, h
		s.Touch() // the online list is cut to the height
	}
}

// Touch says the data shown changed: the rows are rebuilt before they are
// next used.
func (s *Sidebar) Touch() {
	s.stale = true
	s.bump()
}

// ensure rebuilds the rows if their data changed.
func (s *Sidebar) ensure() {
	if s.stale {
		s.stale = false
		st := s.state
		s.rebuild(s.st, sidebarData{
			convs:    st.order,
			current:  st.current,
			contacts: st.contacts,
			online:   st.online,
			me:       st.me.ID,
			now:      s.cfg.now(),
			focused:  s.focused,
		})
	}
}

// Update moves the cursor with the Up and Down keys.
func (s *Sidebar) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	s.ensure()
	switch {
	case key.Matches(k, s.keys.Up):
		s.move(-1)
	case key.Matches(k, s.keys.Down):
		s.move(1)
	}
	return nil
}

// rebuild recomputes the rows from d (Touch has bumped the version). The
// online list is cut to what can be on screen: only the visible members
// of the shared roster are read.
func (s *Sidebar) rebuild(st *Styles, d sidebarData) {
	var prev sideItem
	if s.sel >= 0 && s.sel < len(s.items) {
		prev = s.items[s.sel]
	}
	items := s.items[:0]
	items = append(items, sideItem{kind: itemTitle, text: st.SideTitle.Render("Conversations")})
	for _, c := range d.convs {
		mark, style := "  ", st.SideItem
		if c.info.ID == d.current {
			mark, style = "› ", st.SideCurrent
		}
		count := ""
		if c.info.Unread > 0 {
			count = fmt.Sprintf(" (%d)", c.info.Unread)
		}
		text := mark + style.Render(s.cut(safeLine(c.info.Name), 2+len(count)))
		if count != "" {
			text += " " + st.Unread.Render(count[1:])
		}
		items = append(items, sideItem{kind: itemConv, conv: c.info.ID, handle: c.info.Name, text: text})
	}
	if len(d.contacts) > 0 {
		items = append(items, sideItem{kind: itemTitle, text: st.SideTitle.Render("Contacts")})
		for _, c := range d.contacts {
			items = append(items, sideItem{kind: itemContact, handle: c.Handle, text: s.contactLine(st, c, d.now)})
		}
	}
	n := d.online.Len()
	items = append(items, sideItem{kind: itemTitle, text: st.SideTitle.Render(fmt.Sprintf("Online (%d)", n))})
	room := max(1, s.height-len(items))
	for i := 0; i < n; i++ {
		if i == room-1 && n > room && !d.focused {
			items = append(items, sideItem{kind: itemText, text: st.Offline.Render(fmt.Sprintf("  … %d more", n-i))})
			break
		}
		p := d.online.At(i)
		style, mark := st.Online, ""
		if p.Status == chat.Away {
			style, mark = st.Away, " (away)"
		}
		kind := itemPerson
		if p.User == d.me {
			kind, mark = itemSelf, mark+" (you)"
		}
		name := s.cut(safeLine(p.Handle), 2+len(mark)) + mark
		items = append(items, sideItem{kind: kind, handle: p.Handle, text: "  " + style.Render(name)})
	}
	s.items = items
	// Keep the cursor on the same row if it still exists.
	s.sel = -1
	for i, it := range items {
		if it.selectable() && it.kind == prev.kind && it.conv == prev.conv && it.handle == prev.handle {
			s.sel = i
			break
		}
	}
	if s.sel < 0 {
		s.sel = s.firstSelectable()
	}
}

// cut shortens a name so that it fits a row beside fixed cells of marks
// and counts, which are never cut.
func (s *Sidebar) cut(name string, fixed int) string {
	if s.width <= 0 {
		return name
	}
	// One column of margin, one more so the highlighted row fits too.
	return fit(name, max(1, s.width-2-fixed))
}

func (s *Sidebar) contactLine(st *Styles, c chat.Contact, now time.Time) string {
	name := safeLine(c.Handle)
	line := func(style lipgloss.Style, mark, suffix string) string {
		return style.Render(mark + s.cut(name, ansi.StringWidth(mark+suffix)) + suffix)
	}
	switch {
	case c.Blocked:
		return line(st.Offline, "⊘ ", " (blocked)")
	case c.Status == chat.Online:
		return line(st.Online, "● ", "")
	case c.Status == chat.Away:
		return line(st.Away, "◌ ", " (away)")
	default:
		suffix := ""
		if !c.LastSeen.IsZero() {
			suffix = " " + ago(now, c.LastSeen)
		}
		return line(st.Offline, "○ ", suffix)
	}
}

// ago renders a last-seen time compactly ("5m ago", "3h ago", "2d ago").
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
	}
}

func (s *Sidebar) firstSelectable() int {
	for i, it := range s.items {
		if it.selectable() {
			return i
		}
	}
	return -1
}

// move moves the cursor by delta selectable rows.
func (s *Sidebar) move(delta int) {
	if s.sel < 0 {
		return
	}
	i := s.sel
	for delta != 0 {
		step := 1
		if delta < 0 {
			step = -1
		}
		j := i + step
		for j >= 0 && j < len(s.items) && !s.items[j].selectable() {
			j += step
		}
		if j < 0 || j >= len(s.items) {
			break
		}
		i = j
		delta -= step
	}
	if i != s.sel {
		s.sel = i
		s.bump()
	}
}

// selected returns the row under the cursor.
func (s *Sidebar) selected() (sideItem, bool) {
	s.ensure()
	if s.sel < 0 || s.sel >= len(s.items) {
		return sideItem{}, false
	}
	return s.items[s.sel], true
}

// SetFocused gives or takes the keyboard focus (the cursor shows only with
// focus).
func (s *Sidebar) SetFocused(f bool) {
	if f != s.focused {
		s.focused = f
		s.Touch() // the online list is cut only without focus
	}
}

// View returns exactly height lines, each exactly width cells wide.
func (s *Sidebar) View() string {
	lines := s.Lines()
	if s.view == "" {
		s.view = strings.Join(lines, "\n")
	}
	return s.view
}

// Lines is View as lines, for the layout to set beside the pane's.
func (s *Sidebar) Lines() []string {
	s.ensure()
	if s.drawn == s.Version() && s.lines != nil {
		return s.lines
	}
	st := s.st
	top := 0
	if s.focused && s.sel >= s.height {
		top = s.sel - s.height + 1
	}
	lines := s.lines[:0]
	for i := top; i < len(s.items) && len(lines) < s.height; i++ {
		text := " " + s.items[i].text
		if s.focused && i == s.sel {
			// The highlight starts where the row's text does: its indent
			// stays, as on the rows around it.
			plain := ansi.Strip(s.items[i].text)
			rest := strings.TrimLeft(plain, " ")
			indent := plain[:len(plain)-len(rest)]
			text = " " + indent + st.SideSelected.Render(pad(rest, max(1, s.width-2-len(indent))))
		}
		lines = append(lines, pad(text, s.width))
	}
	for len(lines) < s.height {
		lines = append(lines, strings.Repeat(" ", s.width))
	}
	s.lines, s.view, s.drawn = lines, "", s.Version()
	return lines
}
