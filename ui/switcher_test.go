package ui

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// switcherNames lists the switcher's matches, best first.
func switcherNames(s *Switcher) []string {
	var out []string
	for _, m := range s.matches {
		out = append(out, s.items[m.item].name)
	}
	return out
}

func openSwitcher(h *harness) *Switcher {
	h.t.Helper()
	h.send(tea.KeyPressMsg{Code: 'k', Mod: tea.ModCtrl})
	s, ok := h.app.modal.(*Switcher)
	if !ok {
		h.t.Fatalf("ctrl+k opened %T", h.app.modal)
	}
	return s
}

func TestSwitcherRanksPrefixThenWordStartThenSubsequence(t *testing.T) {
	var convs []chat.Conversation
	for _, n := range []string{"#opposite", "#devops", "#dev-ops", "#OPS-war", "#ops", "#unrelated"} {
		convs = append(convs, roomConv(n))
	}
	h := newHarness(t, roomsBroker(convs, nil, []chat.Presence{{User: 40, Handle: "opsy", Status: chat.Online}}))
	s := openSwitcher(h)
	h.typeText("Ops")
	want := []string{"#ops", "#OPS-war", "opsy", "#dev-ops", "#devops", "#opposite"}
	if got := switcherNames(s); !slices.Equal(got, want) {
		t.Fatalf("ranking %q, want %q", got, want)
	}
	// '#' is optional, and Backspace widens the match again.
	h.send(tea.KeyPressMsg{Code: tea.KeyBackspace})
	h.send(tea.KeyPressMsg{Code: tea.KeyBackspace})
	h.send(tea.KeyPressMsg{Code: tea.KeyBackspace})
	h.typeText("#unr")
	if got := switcherNames(s); !slices.Equal(got, []string{"#unrelated"}) {
		t.Fatalf("after '#unr': %q", got)
	}
	h.send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	h.typeText("@opsy")
	if got := switcherNames(s); !slices.Equal(got, []string{"opsy"}) {
		t.Fatalf("after '@opsy': %q", got)
	}
	for _, c := range []struct {
		name, q string
		tier    int
	}{{"ops", "ops", 0}, {"dev-ops", "ops", 1}, {"devops", "ops", 2}, {"opposite", "ops", 2}, {"ops", "opx", -1}, {"ab", "", 0}} {
		if got := fuzzyTier(c.name, c.q); got != c.tier {
			t.Errorf("fuzzyTier(%q, %q) = %d, want %d", c.name, c.q, got, c.tier)
		}
	}
}

func TestSwitcherOpensEachKindOfEntry(t *testing.T) {
	inv := roomConv("#secret")
	inv.Invited = true
	convs := []chat.Conversation{roomConv("#ops"), inv, dmBob}
	contacts := []chat.Contact{
		{Presence: chat.Presence{User: 77, Handle: "carol"}},
		{Presence: chat.Presence{User: bobID, Handle: "bob"}}, // has a DM: listed once
	}
	online := []chat.Presence{{User: 78, Handle: "dave", Status: chat.Online}, {User: bobID, Handle: "bob", Status: chat.Online}}
	h := newHarness(t, roomsBroker(convs, contacts, online))

	pick := func(q string) {
		t.Helper()
		s := openSwitcher(h)
		h.typeText(q)
		if names := switcherNames(s); len(names) == 0 {
			t.Fatalf("nothing matches %q", q)
		}
		h.press(tea.KeyEnter)
		if h.app.modal != nil {
			t.Fatalf("the switcher stayed open after enter")
		}
	}
	s := openSwitcher(h)
	if n := slices.Index(switcherNames(s), "bob"); n < 0 || slices.Index(switcherNames(s)[n+1:], "bob") >= 0 {
		t.Fatalf("bob listed %v", switcherNames(s))
	}
	h.press(tea.KeyEscape)
	if h.app.modal != nil || h.app.current != chat.Lobby {
		t.Fatal("esc did not just close the switcher")
	}

	pick("ops")
	if h.app.current != "#ops" {
		t.Fatalf("room: current %s", h.app.current)
	}
	pick("bo")
	if h.app.current != dmBob.ID {
		t.Fatalf("dm: current %s", h.app.current)
	}
	pick("secr")
	pick("carol")
	pick("dav")
	_, execs, _, _, _ := h.sess.calls()
	var lines []string
	for _, e := range execs {
		lines = append(lines, e.text)
	}
	if want := []string{"/join #secret", "/msg carol", "/msg dave"}; !slices.Equal(lines, want) {
		t.Fatalf("execs %q, want %q", lines, want)
	}
	// Typing while it is open goes to its query, not to the input.
	s = openSwitcher(h)
	h.typeText("zz")
	if h.app.composer.Value() != "" || s.query != "zz" || len(s.matches) != 0 {
		t.Fatalf("query %q, input %q", s.query, h.app.composer.Value())
	}
	if !strings.Contains(h.screen(), "nothing matches") {
		t.Fatalf("no 'nothing matches':\n%s", h.screen())
	}
}

// bigSession is a session in 200 rooms with 2,000 people online.
func bigSession(t *testing.T) *harness {
	var convs []chat.Conversation
	for i := range 200 {
		convs = append(convs, roomConv(fmt.Sprintf("#room-%03d", i)))
	}
	var online []chat.Presence
	for i := range 2000 {
		online = append(online, chat.Presence{User: chat.UserID(1000 + i), Handle: fmt.Sprintf("user%04d", i), Status: chat.Online})
	}
	return newHarness(t, roomsBroker(convs, nil, online))
}

// BenchmarkSwitcherWith200RoomsAnd2000Online opens the switcher and types
// a three-letter query in a session in 200 rooms with 2,000 people online.
func BenchmarkSwitcherWith200RoomsAnd2000Online(b *testing.B) {
	h := bigSession(&testing.T{})
	keys := []tea.KeyPressMsg{{Code: 'r', Text: "r"}, {Code: '1', Text: "1"}, {Code: '2', Text: "2"}}
	b.ReportAllocs()
	for b.Loop() {
		h.app.Update(tea.KeyPressMsg{Code: 'k', Mod: tea.ModCtrl})
		for _, k := range keys {
			h.app.Update(k)
			h.app.View()
		}
		h.app.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	}
}

// BenchmarkSwitcherKeystroke is one key in the open switcher (a letter,
// then Backspace) over 200 rooms and 2,000 people online, with the view.
func BenchmarkSwitcherKeystroke(b *testing.B) {
	h := bigSession(&testing.T{})
	h.app.Update(tea.KeyPressMsg{Code: 'k', Mod: tea.ModCtrl})
	h.app.Update(tea.KeyPressMsg{Code: 'r', Text: "r"})
	keys := []tea.KeyPressMsg{{Code: '1', Text: "1"}, {Code: tea.KeyBackspace}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.app.Update(keys[i%2])
		h.app.View()
	}
}
