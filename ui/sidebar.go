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

// sideItem is one sidebar row. Its text is drawn only when the row comes
// on screen (a user in 200 rooms, or the whole online list with focus,
// has many more rows than the screen).
type sideItem struct {
	kind    itemKind
	conv    chat.ConvID
	handle  string
	text    string             // styled, without selection highlight; "" until drawn
	info    *chat.Conversation // a conversation row's data
	current bool               // the conversation in front
	person  chat.Presence      // a person's row
	contact *chat.Contact      // a contact's row
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
	top     int       // the first row on screen
	now     time.Time // for "last seen" ages, as of the rebuild
	lines   []string  // the rows drawn at version drawn
	view    string    // lines joined, "" until asked for
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

// Update moves the cursor with the Up and Down keys, a page with PgUp and
// PgDn.
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
	case key.Matches(k, s.keys.PageUp):
		s.move(-max(1, s.height-2))
	case key.Matches(k, s.keys.PageDown):
		s.move(max(1, s.height-2))
	}
	return nil
}

// rebuild recomputes the rows from d (Touch has bumped the version): the
// rooms (the lobby, joined rooms by name, invited rooms), the direct
// conversations, the contacts and the people online. The online list is
// cut to what can be on screen without focus: only the visible members
// of the shared roster are read. Rows are drawn later, when on screen.
func (s *Sidebar) rebuild(st *Styles, d sidebarData) {
	var prev sideItem
	if s.sel >= 0 && s.sel < len(s.items) {
		prev = s.items[s.sel]
	}
	items := s.items[:0]
	clear(items[:cap(items)]) // drop the old rows' references
	title := func(t string) { items = append(items, sideItem{kind: itemTitle, handle: t}) }
	title("Rooms")
	direct := false
	for _, c := range d.convs {
		if c.info.Kind == chat.KindDirect && !direct {
			direct = true
			title("Direct messages")
		}
		items = append(items, sideItem{kind: itemConv, conv: c.info.ID, handle: c.info.Name, info: &c.info, current: c.info.ID == d.current})
	}
	if len(d.contacts) > 0 {
		title("Contacts")
		for i := range d.contacts {
			items = append(items, sideItem{kind: itemContact, handle: d.contacts[i].Handle, contact: &d.contacts[i]})
		}
	}
	n := d.online.Len()
	title(fmt.Sprintf("Online (%d)", n))
	room := max(1, s.height-len(items))
	for i := 0; i < n; i++ {
		if i == room-1 && n > room && !d.focused {
			items = append(items, sideItem{kind: itemText, text: st.Offline.Render(fmt.Sprintf("  … %d more", n-i))})
			break
		}
		p := d.online.At(i)
		kind := itemPerson
		if p.User == d.me {
			kind = itemSelf
		}
		items = append(items, sideItem{kind: kind, handle: p.Handle, person: p})
	}
	s.items = items
	s.now = d.now
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

// rowText draws row i (once per rebuild).
func (s *Sidebar) rowText(i int) string {
	it := &s.items[i]
	if it.text != "" {
		return it.text
	}
	st := s.st
	switch it.kind {
	case itemTitle:
		it.text = st.SideTitle.Render(it.handle)
	case itemConv:
		it.text = s.convLine(st, it.info, it.current)
	case itemContact:
		it.text = s.contactLine(st, *it.contact, s.now)
	case itemPerson, itemSelf:
		p := it.person
		paint, mark := st.pOnline, ""
		if p.Admin {
			mark = " (admin)"
		}
		if p.Status == chat.Away {
			paint, mark = st.pAway, mark+" (away)"
		}
		if it.kind == itemSelf {
			mark += " (you)"
		}
		it.text = "  " + paint.s(s.cut(safeLine(p.Handle), 2+len(mark))+mark)
	}
	return it.text
}

// convLine draws a conversation's row: "› #ops (12) @2" — the marker of
// the one in front, the unread count and the mention badge; an invited
// room is dim, with "invited".
func (s *Sidebar) convLine(st *Styles, c *chat.Conversation, current bool) string {
	mark, paint := "  ", st.pSideItem
	if current {
		mark, paint = "› ", st.pSideCurrent
	}
	if c.Invited {
		const inv = " invited"
		return mark + st.pOffline.s(s.cut(safeLine(c.Name), 2+len(inv))+inv)
	}
	count, badge := "", ""
	if c.Unread > 0 {
		count = fmt.Sprintf(" (%d)", c.Unread)
	}
	if c.Mentions > 0 {
		badge = fmt.Sprintf(" @%d", c.Mentions)
	}
	text := mark + paint.s(s.cut(safeLine(c.Name), 2+len(count)+len(badge)))
	if count != "" {
		text += " " + st.pUnread.s(count[1:])
	}
	if badge != "" {
		text += " " + st.pMention.s(badge[1:])
	}
	return text
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

// Lines is View as lines, for the layout to set beside the pane's. The
// rows scroll so that the cursor (with focus) or the conversation in
// front (without) is on screen, moving no more than needed.
func (s *Sidebar) Lines() []string {
	s.ensure()
	if s.drawn == s.Version() && s.lines != nil {
		return s.lines
	}
	st := s.st
	target := s.sel
	if !s.focused {
		target = 0
		for i := range s.items {
			if s.items[i].current {
				target = i
			}
		}
	}
	if target >= 0 {
		if target < s.top {
			s.top = target
			if target > 0 && s.items[target-1].kind == itemTitle {
				s.top-- // the group's title too
			}
		}
		if target >= s.top+s.height {
			s.top = target - s.height + 1
		}
	}
	s.top = clampInt(s.top, 0, max(0, len(s.items)-s.height))
	lines := s.lines[:0]
	for i := s.top; i < len(s.items) && len(lines) < s.height; i++ {
		row := s.rowText(i)
		text := " " + row
		if s.focused && i == s.sel {
			// The highlight starts where the row's text does: its indent
			// stays, as on the rows around it.
			plain := ansi.Strip(row)
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
