package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"sshchat/chat"
)

// modal is a dialog that takes the keys while it is open (the quick
// switcher, the /rooms list). What the user picks comes back to the App
// as a message (openConvMsg, runLineMsg) from the Cmd Update returns.
type modal interface {
	Component
	// Closed reports whether the dialog is done (the App then drops it).
	Closed() bool
	// Hints are the key hints of the status line while it is open.
	Hints() hintSet
	bump()
}

// switchKind is what a switcher entry is, in the order ties are ranked.
type switchKind uint8

const (
	swRoom    switchKind = iota // a joined room: switch to it
	swDirect                    // a direct conversation: switch to it
	swInvited                   // a room the user is invited to: join it
	swContact                   // a contact without a conversation: open one
	swPerson                    // someone online without a conversation: open one
)

// switchItem is one thing the switcher can open.
type switchItem struct {
	kind   switchKind
	name   string // as shown: "#ops", "bob"
	key    string // lower-cased name without '#', what is matched
	conv   chat.ConvID
	unread int
}

// switchMatch is a matching item with its tier.
type switchMatch struct {
	item int
	tier int // 0 prefix, 1 word start, 2 subsequence
}

// Switcher is the quick switcher (Ctrl+K): a line of text matched, fuzzy
// and case-insensitive, against the user's conversations (rooms, direct
// ones, invitations), contacts and the people online; Enter opens the one
// picked. The candidates are taken once when it opens.
type Switcher struct {
	*common
	version
	items   []switchItem
	query   string
	matches []switchMatch
	sel     int
	closed  bool
	w, h    int
	view    string
	drawn   uint64
}

// newSwitcher takes its candidates from the chat state: each person once
// (their direct conversation if there is one, else their contact entry,
// else their place in the online list), never the user themself.
func newSwitcher(com *common, state *chatState) *Switcher {
	s := &Switcher{common: com}
	people := make(map[string]bool)
	add := func(kind switchKind, name string, conv chat.ConvID, unread int) {
		k := strings.ToLower(strings.TrimPrefix(name, "#"))
		s.items = append(s.items, switchItem{kind: kind, name: name, key: k, conv: conv, unread: unread})
	}
	for _, c := range state.order {
		switch {
		case c.info.Kind == chat.KindDirect:
			people[strings.ToLower(c.info.Name)] = true
			add(swDirect, c.info.Name, c.info.ID, c.info.Unread)
		case c.info.Invited:
			add(swInvited, c.info.Name, c.info.ID, 0)
		default:
			add(swRoom, c.info.Name, c.info.ID, c.info.Unread)
		}
	}
	me := strings.ToLower(state.me.Handle)
	people[me] = true
	for _, c := range state.contacts {
		if k := strings.ToLower(c.Handle); !people[k] {
			people[k] = true // a blocked contact is not offered at all
			if !c.Blocked {
				add(swContact, c.Handle, "", 0)
			}
		}
	}
	for i := range state.online.Len() {
		p := state.online.At(i)
		if k := strings.ToLower(p.Handle); !people[k] {
			people[k] = true
			add(swPerson, p.Handle, "", 0)
		}
	}
	s.sortItems()
	s.filter()
	return s
}

// Closed reports whether Esc or Enter closed the switcher.
func (s *Switcher) Closed() bool { return s.closed }

// Hints names the status line's hints while open.
func (s *Switcher) Hints() hintSet { return hintSwitcher }

// SetSize sets the area the switcher is centred in.
func (s *Switcher) SetSize(w, h int) {
	if w != s.w || h != s.h {
		s.w, s.h = w, h
		s.bump()
	}
}

// Update edits the query (typing, Backspace, Ctrl+U, a paste), moves the
// cursor (Up, Down), opens the pick (Enter) or closes (Esc, Ctrl+K).
func (s *Switcher) Update(msg tea.Msg) tea.Cmd {
	if s.closed {
		return nil
	}
	switch msg := msg.(type) {
	case tea.PasteMsg:
		s.setQuery(s.query + cleanQuery(msg.Content))
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, s.keys.Back), key.Matches(msg, s.keys.Switcher):
			s.closed = true
		case key.Matches(msg, s.keys.Enter):
			return s.open()
		case key.Matches(msg, s.keys.Up):
			s.move(-1)
		case key.Matches(msg, s.keys.Down):
			s.move(1)
		case key.Matches(msg, composerKeys.backspace):
			if _, n := utf8.DecodeLastRuneInString(s.query); n > 0 {
				s.setQuery(s.query[:len(s.query)-n])
			}
		case key.Matches(msg, composerKeys.killStart):
			s.setQuery("")
		default:
			if msg.Text != "" {
				s.setQuery(s.query + cleanQuery(msg.Text))
			}
		}
	}
	return nil
}

// maxQuery bounds the query: longer than any name, it can match nothing.
const maxQuery = 64

func cleanQuery(s string) string { return strings.TrimSpace(cleanInput(s)) }

func (s *Switcher) setQuery(q string) {
	if len(q) > maxQuery {
		return
	}
	if q != s.query {
		s.query = q
		s.filter()
	}
}

// open closes the switcher asking the App for the pick: a room or direct
// conversation comes to the front; an invited room is joined and a
// person's conversation opened the way /join and /msg do.
func (s *Switcher) open() tea.Cmd {
	if len(s.matches) == 0 {
		return nil
	}
	s.closed = true
	it := s.items[s.matches[s.sel].item]
	var msg tea.Msg
	switch it.kind {
	case swRoom, swDirect:
		msg = openConvMsg{it.conv}
	case swInvited:
		msg = runLineMsg{"/join " + it.name}
	default:
		msg = runLineMsg{"/msg " + it.name}
	}
	return func() tea.Msg { return msg }
}

func (s *Switcher) move(delta int) {
	if sel := clampInt(s.sel+delta, 0, max(0, len(s.matches)-1)); sel != s.sel {
		s.sel = sel
		s.bump()
	}
}

// filter ranks the items matching the query: prefix matches first, then
// matches at a word's start, then any subsequence; ties go by kind
// (conversations before people), then shorter and alphabetical names.
// The items are sorted by that tie order once (newSwitcher), so a key
// costs one pass over them, with no sorting.
func (s *Switcher) filter() {
	q := strings.ToLower(strings.TrimLeft(s.query, "#@")) // "#ops" and "@bob" find ops and bob
	var tiers [3][]switchMatch
	for i := range s.items {
		if t := fuzzyTier(s.items[i].key, q); t >= 0 {
			tiers[t] = append(tiers[t], switchMatch{item: i, tier: t})
		}
	}
	s.matches = append(append(append(s.matches[:0], tiers[0]...), tiers[1]...), tiers[2]...)
	s.sel = 0
	s.bump()
}

// sortItems puts the items in the order that breaks ties between matches
// of one tier.
func (s *Switcher) sortItems() {
	slices.SortFunc(s.items, func(x, y switchItem) int {
		return cmp.Or(cmp.Compare(x.kind, y.kind), cmp.Compare(len(x.key), len(y.key)), strings.Compare(x.key, y.key))
	})
}

// fuzzyTier ranks how name (lower-case) matches q (lower-case): 0 when it
// starts with q, 1 when q starts one of its words (after a character that
// is not a letter or digit), 2 when q's characters appear in it in order,
// -1 when they do not.
func fuzzyTier(name, q string) int {
	if strings.HasPrefix(name, q) {
		return 0
	}
	for i := strings.Index(name, q); i >= 0; {
		if !alnumByte(name[i-1]) {
			return 1
		}
		j := strings.Index(name[i+1:], q)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	j := 0
	for i := 0; i < len(name) && j < len(q); i++ {
		if name[i] == q[j] {
			j++
		}
	}
	if j == len(q) {
		return 2
	}
	return -1
}

func alnumByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// View draws the switcher as at most h lines of at most w cells.
func (s *Switcher) View() string {
	if s.drawn == s.Version() && s.view != "" {
		return s.view
	}
	s.view, s.drawn = strings.Join(s.lines(), "\n"), s.Version()
	return s.view
}

var switchKindText = [...]string{swRoom: "", swDirect: "direct", swInvited: "invited", swContact: "contact", swPerson: "online"}

func (s *Switcher) lines() []string {
	st := s.st
	boxW := min(s.w, 60)
	inner := max(1, boxW-4)
	avail := max(1, s.h-2-4) // border, query, blank, blank, hint
	top := max(0, s.sel-avail+1)
	var body []string
	for i := top; i < len(s.matches) && len(body) < avail; i++ {
		it := s.items[s.matches[i].item]
		tag := switchKindText[it.kind]
		if it.unread > 0 {
			tag = strings.TrimSpace(tag + fmt.Sprintf(" %d unread", it.unread))
		}
		if tag != "" {
			tag = "  " + tag
		}
		name := fit(safeLine(it.name), max(1, inner-2-len(tag)))
		if i == s.sel {
			body = append(body, st.DialogSelected.Render(pad("› "+name+tag, inner)))
		} else {
			body = append(body, "  "+name+st.System.Render(tag))
		}
	}
	if len(body) == 0 {
		body = append(body, st.System.Render(fit("  nothing matches", inner)))
	}
	query := st.Input.Focused.Prompt.Render("go to ") + safeLine(s.query) + "▏"
	content := append([]string{fit(query, inner), ""}, body...)
	content = append(content, "", st.System.Render(fit("type to filter · ↑/↓ pick · enter open · esc close", inner)))
	box := lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1).Width(boxW).
		Render(strings.Join(content, "\n"))
	lines := strings.Split(box, "\n")
	left := strings.Repeat(" ", max(0, (s.w-boxW)/2))
	for i := range lines {
		lines[i] = fit(left+lines[i], s.w)
	}
	if len(lines) > s.h {
		lines = lines[:s.h]
	}
	return lines
}
