package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"sshchat/chat"
)

// harness drives an App the way Bubble Tea would, synchronously: every
// returned Cmd is run and its message fed back to Update, in order. Timers
// are configured to a millisecond so debounces and delayed quits resolve.
type harness struct {
	t    *testing.T
	app  *App
	b    *fakeBroker
	sess *fakeSession
	raw  []string // tea.Raw writes (the bell)
	quit bool
}

type harnessOpt func(*appConfig)

func newHarness(t *testing.T, b *fakeBroker, opts ...harnessOpt) *harness {
	t.Helper()
	if b == nil {
		b = newFakeBroker()
	}
	acct, err := b.Register(context.Background(), chat.Key{Fingerprint: "SHA256:alice"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	cfg := appConfig{
		broker:      b,
		serverName:  "testchat",
		motd:        "be nice\nno spam",
		acct:        &acct,
		loc:         time.UTC,
		now:         func() time.Time { return time.Date(2026, 1, 2, 16, 0, 0, 0, time.UTC) },
		markDelay:   time.Millisecond,
		quitDelay:   time.Millisecond,
		noticeEvery: 20 * time.Millisecond,
		retryDelay:  time.Millisecond,
		statusTTL:   time.Millisecond, // with the fixed clock, errors never expire
	}
	for _, o := range opts {
		o(&cfg)
	}
	h := &harness{t: t, app: newApp(cfg), b: b}
	h.send(tea.WindowSizeMsg{Width: sidebarMinWidth, Height: 30})
	h.run(h.app.Init())
	if h.app.phase == phaseChat {
		h.sess = b.sessionOf("alice")
	}
	return h
}

// send feeds one message and runs what it returns.
func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	_, cmd := h.app.Update(msg)
	h.run(cmd)
}

// run executes cmd and everything it leads to.
func (h *harness) run(cmd tea.Cmd) {
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		case tea.QuitMsg:
			h.quit = true
		case tea.RawMsg:
			h.raw = append(h.raw, fmt.Sprint(msg.Msg))
		default:
			_, next := h.app.Update(msg)
			queue = append(queue, next)
		}
	}
}

func (h *harness) typeText(s string) {
	for _, r := range s {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func (h *harness) press(code rune, mod ...tea.KeyMod) {
	k := tea.KeyPressMsg{Code: code}
	for _, m := range mod {
		k.Mod |= m
	}
	h.send(k)
}

func (h *harness) events(evs ...chat.Event) { h.send(eventsMsg(evs)) }

// screen is the plain text of the view.
func (h *harness) screen() string { return ansi.Strip(h.app.View().Content) }

func (h *harness) bells() int {
	n := 0
	for _, r := range h.raw {
		n += strings.Count(r, "\a")
	}
	return n
}

func msgAt(id int, conv chat.ConvID, from chat.UserID, handle, body string) chat.Message {
	return chat.Message{
		ID: chat.MessageID(id), Conv: conv, From: from, FromHandle: handle, Body: body,
		At: time.Date(2026, 1, 2, 9, 30, 0, 0, time.UTC),
	}
}

const bobID chat.UserID = 99

var dmBob = chat.Conversation{ID: "dm:1:99", Kind: chat.KindDirect, Name: "bob", Peer: bobID}

func TestWelcomeShowsServerHandleOnlineCountAndMOTD(t *testing.T) {
	h := newHarness(t, nil)
	s := h.screen()
	for _, want := range []string{"Welcome to testchat, alice!", "1 person is online", "be nice", "no spam", "#lobby"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
	if !h.app.View().AltScreen {
		t.Error("view does not use the alt screen")
	}
	_, _, hist, _, _ := h.sess.calls()
	if len(hist) != 1 || hist[0].conv != chat.Lobby || hist[0].before != 0 {
		t.Errorf("history calls on entry = %+v, want one newest page of #lobby", hist)
	}
}

func TestWelcomeStaysBelowLobbyHistory(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.historyFn = func(chat.ConvID, chat.MessageID, int) ([]chat.Message, error) {
			return []chat.Message{msgAt(1, chat.Lobby, bobID, "bob", "old news")}, nil
		}
	}
	h := newHarness(t, b)
	s := h.screen()
	if i, j := strings.Index(s, "old news"), strings.Index(s, "Welcome to"); i < 0 || j < 0 || i > j {
		t.Fatalf("history should come before the welcome:\n%s", s)
	}
}

func TestTypingAndEnterCallsSendAndShowsTheMessage(t *testing.T) {
	h := newHarness(t, nil)
	h.typeText("hello there")
	h.press(tea.KeyEnter)
	sends, _, _, _, _ := h.sess.calls()
	if len(sends) != 1 || sends[0] != (sendCall{chat.Lobby, "hello there"}) {
		t.Fatalf("sends = %+v", sends)
	}
	if got := h.app.composer.Value(); got != "" {
		t.Errorf("input not cleared: %q", got)
	}
	if !strings.Contains(h.screen(), "alice: hello there") {
		t.Errorf("sent message not on screen:\n%s", h.screen())
	}
}

func TestSendFailureShowsErrorAndGivesTextBack(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.sendFn = func(chat.ConvID, string) (chat.Message, error) {
			return chat.Message{}, fmt.Errorf("%w (2100 characters, limit 2000)", chat.ErrTooLong)
		}
	}
	h := newHarness(t, b)
	h.typeText("spam")
	h.press(tea.KeyEnter)
	lines := strings.Split(h.screen(), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "message too long (2100 characters, limit 2000)") {
		t.Errorf("status line = %q", last)
	}
	if h.app.composer.Value() != "spam" {
		t.Errorf("failed text not given back: %q", h.app.composer.Value())
	}
}

func TestSlashCommandGoesToExecAndRepliesShowAsSystemLines(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(chat.ConvID, string) (chat.Reply, error) {
			return chat.Reply{Lines: []string{"online: alice, bob", "  2 people"}}, nil
		}
	}
	h := newHarness(t, b)
	h.typeText("/who")
	h.press(tea.KeyEnter)
	sends, execs, _, _, _ := h.sess.calls()
	if len(sends) != 0 || len(execs) != 1 || execs[0] != (sendCall{chat.Lobby, "/who"}) {
		t.Fatalf("sends=%+v execs=%+v", sends, execs)
	}
	s := h.screen()
	if !strings.Contains(s, "online: alice, bob") || !strings.Contains(s, "│   2 people") {
		t.Errorf("reply lines missing:\n%s", s)
	}
}

func TestDoubleSlashSendsALiteralSlash(t *testing.T) {
	h := newHarness(t, nil)
	h.typeText("//shrug")
	h.press(tea.KeyEnter)
	sends, execs, _, _, _ := h.sess.calls()
	if len(execs) != 0 || len(sends) != 1 || sends[0].text != "/shrug" {
		t.Fatalf("sends=%+v execs=%+v", sends, execs)
	}
}

func TestCommandErrorIsOneRedStatusLine(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(chat.ConvID, string) (chat.Reply, error) {
			return chat.Reply{}, fmt.Errorf("%w: nobody is called zed\nsecond line", chat.ErrNoSuchUser)
		}
	}
	h := newHarness(t, b)
	h.typeText("/whois zed")
	h.press(tea.KeyEnter)
	view := h.app.View().Content
	lines := strings.Split(view, "\n")
	if len(lines) != 30 {
		t.Fatalf("view has %d lines", len(lines))
	}
	last := lines[len(lines)-1]
	if plain := ansi.Strip(last); !strings.Contains(plain, "no such user: nobody is called zed") || strings.Contains(plain, "second") {
		t.Errorf("status line = %q", plain)
	}
	if last == ansi.Strip(last) {
		t.Error("error line is not styled")
	}
}

func TestUnknownErrorIsNotShownRaw(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(chat.ConvID, string) (chat.Reply, error) {
			return chat.Reply{}, fmt.Errorf("sqlite: disk I/O error at /var/lib/secret.db")
		}
	}
	h := newHarness(t, b)
	h.typeText("/who")
	h.press(tea.KeyEnter)
	if s := h.screen(); strings.Contains(s, "sqlite") || !strings.Contains(s, "internal error") {
		t.Errorf("raw error leaked or missing:\n%s", s)
	}
}

func TestReplyOpenSwitchesToTheConversation(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(chat.ConvID, string) (chat.Reply, error) {
			c := dmBob
			return chat.Reply{Open: &c, Lines: []string{"bob is offline; the message will be delivered when they log in"}}, nil
		}
	}
	h := newHarness(t, b)
	h.typeText("/msg bob hi")
	h.press(tea.KeyEnter)
	if h.app.current != dmBob.ID {
		t.Fatalf("current = %q", h.app.current)
	}
	s := h.screen()
	if !strings.Contains(s, "bob is offline") || !strings.Contains(s, "› bob") {
		t.Errorf("DM not in front or sidebar entry missing:\n%s", s)
	}
	_, _, hist, _, _ := h.sess.calls()
	if last := hist[len(hist)-1]; last.conv != dmBob.ID || last.before != 0 {
		t.Errorf("history of the opened DM not loaded: %+v", hist)
	}
}

func TestReplyQuitQuits(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(chat.ConvID, string) (chat.Reply, error) { return chat.Reply{Quit: true}, nil }
	}
	h := newHarness(t, b)
	h.typeText("/quit")
	h.press(tea.KeyEnter)
	if !h.quit {
		t.Fatal("did not quit")
	}
}

func TestCtrlCQuits(t *testing.T) {
	h := newHarness(t, nil)
	h.press('c', tea.ModCtrl)
	if !h.quit {
		t.Fatal("ctrl+c did not quit")
	}
}

func TestLinesAreSentOneAtATimeInOrder(t *testing.T) {
	h := newHarness(t, nil)
	h.typeText("one")
	_, first := h.app.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	h.typeText("two")
	_, second := h.app.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if second != nil {
		t.Fatal("second line went out while the first was in flight")
	}
	h.run(first)
	sends, _, _, _, _ := h.sess.calls()
	if len(sends) != 2 || sends[0].text != "one" || sends[1].text != "two" {
		t.Fatalf("sends = %+v", sends)
	}
}

func TestSentMessageAndItsEventAppearOnce(t *testing.T) {
	h := newHarness(t, nil)
	// Send's result first, then the event with the same ID.
	h.typeText("only once")
	h.press(tea.KeyEnter)
	h.run(func() tea.Msg { return nil })
	ev := <-h.sess.events // the fake broker published it to us too
	h.events(ev)
	if n := strings.Count(h.screen(), "only once"); n != 1 {
		t.Fatalf("message shown %d times:\n%s", n, h.screen())
	}
	// The event first, then Send's result.
	m := msgAt(500, chat.Lobby, h.app.me.ID, "alice", "twice?")
	h.events(chat.MessageEvent{Message: m, Conversation: chat.Conversation{ID: chat.Lobby}})
	h.send(sentMsg{item: outItem{conv: chat.Lobby, text: "twice?"}, msg: m})
	if n := strings.Count(h.screen(), "twice?"); n != 1 {
		t.Fatalf("message shown %d times:\n%s", n, h.screen())
	}
}

func TestUnreadCountsBellAndMarkRead(t *testing.T) {
	h := newHarness(t, nil)
	// A DM while the lobby is in front: new sidebar entry, unread, bell.
	h.events(chat.MessageEvent{Message: msgAt(10, dmBob.ID, bobID, "bob", "psst"), Conversation: dmBob})
	if c := h.app.convs[dmBob.ID]; c == nil || c.info.Unread != 1 {
		t.Fatalf("dm conversation = %+v", c)
	}
	if !strings.Contains(h.screen(), "bob (1)") {
		t.Errorf("unread count not in sidebar:\n%s", h.screen())
	}
	if h.bells() != 1 {
		t.Fatalf("bells = %d, want 1", h.bells())
	}
	if strings.Contains(h.app.View().Content, "\a") {
		t.Fatal("BEL inside the view content")
	}
	// Two more DMs in one batch: one bell for the batch.
	h.events(
		chat.MessageEvent{Message: msgAt(11, dmBob.ID, bobID, "bob", "hello?"), Conversation: dmBob},
		chat.MessageEvent{Message: msgAt(12, dmBob.ID, bobID, "bob", "anyone?"), Conversation: dmBob},
	)
	if h.bells() != 2 || h.app.convs[dmBob.ID].info.Unread != 3 {
		t.Fatalf("bells=%d unread=%d", h.bells(), h.app.convs[dmBob.ID].info.Unread)
	}
	// A lobby message in front: no unread, no bell, read marker debounced.
	h.events(chat.MessageEvent{Message: msgAt(13, chat.Lobby, bobID, "bob", "hi all"), Conversation: chat.Conversation{ID: chat.Lobby}})
	if h.bells() != 2 || h.app.convs[chat.Lobby].info.Unread != 0 {
		t.Fatalf("front message rang or counted: bells=%d", h.bells())
	}
	_, _, _, marks, _ := h.sess.calls()
	if len(marks) == 0 || marks[len(marks)-1] != (markCall{chat.Lobby, 13}) {
		t.Errorf("lobby not marked read: %+v", marks)
	}
	// Switch to the DM: unread cleared, marked read up to the newest.
	h.press(tea.KeyTab)
	if h.app.current != dmBob.ID || h.app.convs[dmBob.ID].info.Unread != 0 {
		t.Fatalf("current=%q unread=%d", h.app.current, h.app.convs[dmBob.ID].info.Unread)
	}
	_, _, _, marks, _ = h.sess.calls()
	if marks[len(marks)-1] != (markCall{dmBob.ID, 12}) {
		t.Errorf("marks = %+v", marks)
	}
	// Lobby now in the back: a plain message counts without a bell, a
	// mention of @alice rings.
	h.events(chat.MessageEvent{Message: msgAt(14, chat.Lobby, bobID, "bob", "lunch?"), Conversation: chat.Conversation{ID: chat.Lobby}})
	if h.bells() != 2 || h.app.convs[chat.Lobby].info.Unread != 1 {
		t.Fatalf("plain lobby message: bells=%d unread=%d", h.bells(), h.app.convs[chat.Lobby].info.Unread)
	}
	h.events(chat.MessageEvent{Message: msgAt(15, chat.Lobby, bobID, "bob", "@Alice, lunch?"), Conversation: chat.Conversation{ID: chat.Lobby}})
	if h.bells() != 3 {
		t.Fatalf("mention did not ring: bells=%d", h.bells())
	}
	// Our own message from another session does not count or ring.
	h.events(chat.MessageEvent{Message: msgAt(16, chat.Lobby, h.app.me.ID, "alice", "yes"), Conversation: chat.Conversation{ID: chat.Lobby}})
	if h.bells() != 3 || h.app.convs[chat.Lobby].info.Unread != 2 {
		t.Fatalf("own message: bells=%d unread=%d", h.bells(), h.app.convs[chat.Lobby].info.Unread)
	}
}

func TestMentionMatchesWholeHandlesOnly(t *testing.T) {
	for body, want := range map[string]bool{
		"@alice":          true,
		"hi @ALICE!":      true,
		"@alice.":         true,
		"ping @alice, ok": true,
		"@alicex":         false,
		"@alice.bob":      false,
		"bob@alice":       false,
		"alice":           false,
		"@alice_":         false,
	} {
		if got := mentions(body, "alice"); got != want {
			t.Errorf("mentions(%q) = %v, want %v", body, got, want)
		}
	}
}

func TestOfflineDialogDismissCallsBrokerOnce(t *testing.T) {
	b := newFakeBroker()
	groups := []chat.OfflineGroup{
		{From: bobID, FromHandle: "bob", Conv: dmBob.ID, Count: 5, Messages: []chat.Message{
			msgAt(1, dmBob.ID, bobID, "bob", "m1"), msgAt(2, dmBob.ID, bobID, "bob", "m2"),
			msgAt(3, dmBob.ID, bobID, "bob", "m3"), msgAt(4, dmBob.ID, bobID, "bob", "m4"),
			msgAt(5, dmBob.ID, bobID, "bob", "m5"),
		}},
		{From: 7, FromHandle: "carol", Conv: "dm:1:7", Count: 1, Messages: []chat.Message{msgAt(6, "dm:1:7", 7, "carol", "yo")}},
	}
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online), Offline: groups}
	}
	h := newHarness(t, b)
	s := h.screen()
	for _, want := range []string{"While you were away", "bob — 5 messages", "carol — 1 message", "m5", "… 2 earlier"} {
		if !strings.Contains(s, want) {
			t.Errorf("dialog lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "m1") {
		t.Errorf("dialog shows more than the last few of a group:\n%s", s)
	}
	h.press(tea.KeyEscape)
	if h.app.dialog != nil {
		t.Fatal("esc did not dismiss")
	}
	h.press(tea.KeyEscape) // now focuses the sidebar; must not dismiss again
	_, _, _, _, dismissed := h.sess.calls()
	if dismissed != 1 {
		t.Fatalf("DismissOffline called %d times", dismissed)
	}
}

func TestOfflineDialogEnterOpensTheSendersConversation(t *testing.T) {
	b := newFakeBroker()
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online), Offline: []chat.OfflineGroup{
			{From: 7, FromHandle: "carol", Conv: "dm:1:7", Count: 1, Messages: []chat.Message{msgAt(6, "dm:1:7", 7, "carol", "yo")}},
			{From: bobID, FromHandle: "bob", Conv: dmBob.ID, Count: 1, Messages: []chat.Message{msgAt(7, dmBob.ID, bobID, "bob", "hey")}},
		}}
	}
	h := newHarness(t, b)
	h.press(tea.KeyDown)
	h.press(tea.KeyEnter)
	if h.app.dialog != nil || h.app.current != dmBob.ID {
		t.Fatalf("dialog=%v current=%q", h.app.dialog != nil, h.app.current)
	}
	if c := h.app.convs[dmBob.ID]; c.info.Name != "bob" || c.info.Kind != chat.KindDirect {
		t.Errorf("conversation = %+v", c.info)
	}
	_, _, _, _, dismissed := h.sess.calls()
	if dismissed != 1 {
		t.Fatalf("DismissOffline called %d times", dismissed)
	}
}

// pageOf returns messages [from, to] of conv, oldest first.
func pageOf(conv chat.ConvID, from, to int) []chat.Message {
	var out []chat.Message
	for id := from; id <= to; id++ {
		out = append(out, msgAt(id, conv, bobID, "bob", fmt.Sprintf("message number %d", id)))
	}
	return out
}

func TestPageUpAtTopLoadsOlderPageAndKeepsPosition(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.historyFn = func(conv chat.ConvID, before chat.MessageID, n int) ([]chat.Message, error) {
			if before == 0 {
				return pageOf(conv, 301-n, 300), nil
			}
			lo := max(1, int(before)-n)
			return pageOf(conv, lo, int(before)-1), nil
		}
	}
	h := newHarness(t, b, func(c *appConfig) { c.pageSize = 50 })
	c := h.app.convs[chat.Lobby]
	if c.oldestID() != 251 || c.newestID() != 300 {
		t.Fatalf("window %d..%d", c.oldestID(), c.newestID())
	}
	for range 20 {
		h.press(tea.KeyPgUp)
		_, _, hist, _, _ := h.sess.calls()
		if len(hist) > 1 {
			break
		}
	}
	_, _, hist, _, _ := h.sess.calls()
	if len(hist) != 2 || hist[1].before != 251 || hist[1].n != 50 {
		t.Fatalf("history calls = %+v, want an older page before 251", hist)
	}
	if c.oldestID() != 201 {
		t.Fatalf("oldest after loading = %d", c.oldestID())
	}
	// The screen did not jump: the same lines are visible as at the top of
	// the window before the older page arrived.
	s := h.screen()
	if !strings.Contains(s, "message number 251") || strings.Contains(s, "message number 230") {
		t.Errorf("scroll position not kept:\n%s", s)
	}
	// Scrolling on shows the older page.
	h.press(tea.KeyPgUp)
	if !strings.Contains(h.screen(), "message number 24") {
		t.Errorf("older page not reachable:\n%s", h.screen())
	}
}

func TestConversationWindowIsBoundedAndRefetchesNewest(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.historyFn = func(conv chat.ConvID, before chat.MessageID, n int) ([]chat.Message, error) {
			if before == 0 {
				return pageOf(conv, 1001-n, 1000), nil
			}
			return pageOf(conv, max(1, int(before)-n), int(before)-1), nil
		}
		s.afterFn = func(conv chat.ConvID, after chat.MessageID, n int) ([]chat.Message, error) {
			return pageOf(conv, int(after)+1, min(1000, int(after)+n)), nil
		}
	}
	h := newHarness(t, b, func(c *appConfig) { c.pageSize = 40; c.maxWindow = 100 })
	c := h.app.convs[chat.Lobby]
	for i := 0; i < 400 && c.oldestID() > 700; i++ {
		h.press(tea.KeyPgUp)
	}
	if len(c.entries) > 100 {
		t.Fatalf("window holds %d entries, limit 100", len(c.entries))
	}
	if !c.hasNewer {
		t.Fatal("window not detached after dropping the newest entries")
	}
	// Live messages are counted on the way but not appended while detached.
	for i := 0; i < 400 && (c.offset > 0 || c.hasNewer); i++ {
		h.press(tea.KeyPgDown)
	}
	if c.hasNewer || c.newestID() != 1000 {
		t.Fatalf("newest page not fetched again: hasNewer=%v newest=%d", c.hasNewer, c.newestID())
	}
	// Live growth trims the oldest.
	for id := 1001; id < 1300; id++ {
		h.events(chat.MessageEvent{Message: msgAt(id, chat.Lobby, bobID, "bob", "live"), Conversation: chat.Conversation{ID: chat.Lobby}})
	}
	if n := len(c.entries); n > 110 {
		t.Fatalf("window holds %d entries after live growth", n)
	}
}

func TestSearchResultOpensCentredAndPgDnPagesForwardToTheNewest(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.historyFn = func(conv chat.ConvID, before chat.MessageID, n int) ([]chat.Message, error) {
			if before == 0 {
				return pageOf(conv, 301-n, 300), nil
			}
			return pageOf(conv, max(1, int(before)-n), int(before)-1), nil
		}
		atEnd := 0
		s.afterFn = func(conv chat.ConvID, after chat.MessageID, n int) ([]chat.Message, error) {
			if after >= 300 {
				// Message 301 is committed after the first read that
				// reached the newest and before live ones append.
				if atEnd++; atEnd > 1 {
					return pageOf(conv, 301, 301), nil
				}
			}
			return pageOf(conv, int(after)+1, min(300, int(after)+n)), nil
		}
	}
	h := newHarness(t, b, func(c *appConfig) { c.pageSize = 50 })
	c := h.app.convs[chat.Lobby]
	h.send(openFoundMsg{m: msgAt(100, chat.Lobby, bobID, "bob", "message number 100")})
	if !c.hasNewer || c.newestID() != 150 || c.oldestID() != 51 {
		t.Fatalf("window %d..%d hasNewer=%v", c.oldestID(), c.newestID(), c.hasNewer)
	}
	// The result is in the middle of the pane, with what followed it below.
	lines := strings.Split(h.screen(), "\n")
	at := -1
	for i, l := range lines {
		if strings.Contains(l, "message number 100") {
			at = i
		}
	}
	if at < 0 || !strings.Contains(h.screen(), "message number 101") {
		t.Fatalf("result or what followed it not shown:\n%s", h.screen())
	}
	if mid := len(lines) / 2; at < mid-4 || at > mid+4 {
		t.Fatalf("result on line %d of %d, not in the middle:\n%s", at, len(lines), h.screen())
	}
	// PgDn reads forwards, never jumping to the newest page.
	for i := 0; i < 100 && c.hasNewer; i++ {
		h.press(tea.KeyPgDown)
		if c.hasNewer && strings.Contains(h.screen(), "message number 300") {
			t.Fatalf("jumped to the newest:\n%s", h.screen())
		}
	}
	h.sess.mu.Lock()
	afters, hist := slices.Clone(h.sess.afters), slices.Clone(h.sess.hist)
	h.sess.mu.Unlock()
	if len(afters) < 4 || afters[1].before != 150 {
		t.Fatalf("forward reads = %+v", afters)
	}
	for _, hc := range hist[1:] {
		if hc.before == 0 {
			t.Fatalf("newest page fetched again instead of paging forwards: %+v", hist)
		}
	}
	if c.hasNewer || c.newestID() != 301 {
		t.Fatalf("newest not reached (or 301, committed meanwhile, missed): hasNewer=%v newest=%d", c.hasNewer, c.newestID())
	}
	for i := 0; i < 20 && c.offset > 0; i++ {
		h.press(tea.KeyPgDown)
	}
	// At the newest, live messages are appended again.
	h.events(chat.MessageEvent{Message: msgAt(302, chat.Lobby, bobID, "bob", "live one"), Conversation: chat.Conversation{ID: chat.Lobby}})
	if c.newestID() != 302 || !strings.Contains(h.screen(), "live one") {
		t.Fatalf("live message not shown at the newest:\n%s", h.screen())
	}
}

func TestPasteOverTheLimitIsRejected(t *testing.T) {
	h := newHarness(t, nil)
	h.typeText("ab")
	h.send(tea.PasteMsg{Content: strings.Repeat("x", chat.MaxMessageLen)})
	if h.app.composer.Value() != "ab" {
		t.Fatalf("oversized paste inserted: %d chars", len(h.app.composer.Value()))
	}
	if !strings.Contains(h.screen(), "paste too long") {
		t.Errorf("no one-line reason:\n%s", h.screen())
	}
	h.send(tea.PasteMsg{Content: "cd"})
	if h.app.composer.Value() != "abcd" {
		t.Errorf("small paste = %q", h.app.composer.Value())
	}
	if h.app.composer.limit != chat.MaxMessageLen {
		t.Errorf("limit = %d", h.app.composer.limit)
	}
}

func TestWindowSizeIsClamped(t *testing.T) {
	for _, tc := range []struct{ w, h, ww, wh int }{
		{65535, 65535, maxWidth, maxHeight},
		{0, 0, 80, 24},
		{3, 2, minWidth, minHeight},
		{120, 40, 120, 40},
	} {
		got := filter(nil, tea.WindowSizeMsg{Width: tc.w, Height: tc.h}).(tea.WindowSizeMsg)
		if got.Width != tc.ww || got.Height != tc.wh {
			t.Errorf("filter(%dx%d) = %dx%d, want %dx%d", tc.w, tc.h, got.Width, got.Height, tc.ww, tc.wh)
		}
	}
	if _, ok := filter(nil, tea.SuspendMsg{}).(tea.ResumeMsg); !ok {
		t.Error("ctrl+z is not turned into a resume")
	}
	h := newHarness(t, nil)
	h.send(tea.WindowSizeMsg{Width: 65535, Height: 65535})
	if h.app.w != maxWidth || h.app.h != maxHeight {
		t.Fatalf("app size %dx%d", h.app.w, h.app.h)
	}
	if n := len(strings.Split(h.app.View().Content, "\n")); n != maxHeight {
		t.Fatalf("view has %d lines", n)
	}
}

func TestSidebarCollapsesBelowMinWidth(t *testing.T) {
	h := newHarness(t, nil)
	if !strings.Contains(h.screen(), "Rooms") {
		t.Fatalf("sidebar missing at %d columns:\n%s", sidebarMinWidth, h.screen())
	}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	if s := h.screen(); strings.Contains(s, "Rooms") || !strings.Contains(s, "Welcome") {
		t.Fatalf("sidebar not collapsed at 80 columns:\n%s", s)
	}
	// Focusing it shows it in place of the conversation.
	h.press(tea.KeyEscape)
	if s := h.screen(); !strings.Contains(s, "Rooms") {
		t.Fatalf("focused sidebar not shown when collapsed:\n%s", s)
	}
}

func TestSidebarEnterOnAContactOpensADM(t *testing.T) {
	b := newFakeBroker()
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online), Contacts: []chat.Contact{
			{Presence: chat.Presence{User: bobID, Handle: "bob", Status: chat.Online}},
		}}
	}
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(_ chat.ConvID, line string) (chat.Reply, error) {
			if line != "/msg bob" {
				return chat.Reply{}, fmt.Errorf("%w: %s", chat.ErrUsage, line)
			}
			c := dmBob
			return chat.Reply{Open: &c}, nil
		}
	}
	h := newHarness(t, b)
	h.press('s', tea.ModCtrl)
	if h.app.focus != focusSidebar || !strings.Contains(h.screen(), "enter open") {
		t.Fatalf("sidebar not focused / help not shown:\n%s", h.screen())
	}
	h.press(tea.KeyDown) // #lobby → bob
	h.press(tea.KeyEnter)
	_, execs, _, _, _ := h.sess.calls()
	if len(execs) != 1 || execs[0].text != "/msg bob" {
		t.Fatalf("execs = %+v", execs)
	}
	if h.app.current != dmBob.ID || h.app.focus != focusInput {
		t.Fatalf("current=%q focus=%v", h.app.current, h.app.focus)
	}
	sends, _, _, _, _ := h.sess.calls()
	if len(sends) != 0 {
		t.Fatalf("opening a DM sent something: %+v", sends)
	}
}

func TestPresenceEventsUpdateSidebarAndLobby(t *testing.T) {
	b := newFakeBroker()
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online), Contacts: []chat.Contact{
			{Presence: chat.Presence{User: bobID, Handle: "bob", Status: chat.Offline, LastSeen: time.Date(2026, 1, 2, 13, 0, 0, 0, time.UTC)}},
			{Presence: chat.Presence{User: 7, Handle: "carol", Status: chat.Online}},
		}}
	}
	h := newHarness(t, b)
	if s := h.screen(); !strings.Contains(s, "○ bob 3h ago") || !strings.Contains(s, "● carol") {
		t.Fatalf("contacts:\n%s", s)
	}
	h.events(chat.PresenceEvent{Presence: chat.Presence{User: bobID, Handle: "bob", Status: chat.Online}, Joined: true})
	h.events(chat.PresenceEvent{Presence: chat.Presence{User: 7, Handle: "carol", Status: chat.Away}})
	s := h.screen()
	for _, want := range []string{"bob joined", "● bob", "◌ carol (away)", "Online (3)", "3 online"} {
		if !strings.Contains(s, want) {
			t.Errorf("lacks %q:\n%s", want, s)
		}
	}
	h.events(chat.PresenceEvent{Presence: chat.Presence{User: bobID, Handle: "robert", Status: chat.Online}, OldHandle: "bob"})
	h.events(chat.PresenceEvent{Presence: chat.Presence{User: 7, Handle: "carol", Status: chat.Offline}, Left: true})
	s = h.screen()
	for _, want := range []string{"bob is now known as robert", "carol left", "Online (2)"} {
		if !strings.Contains(s, want) {
			t.Errorf("lacks %q:\n%s", want, s)
		}
	}
	h.events(chat.ContactsEvent{Contacts: []chat.Contact{{Presence: chat.Presence{User: 8, Handle: "dave", Status: chat.Online}}}})
	if s := h.screen(); !strings.Contains(s, "● dave") || strings.Contains(s, "● robert") {
		t.Errorf("contacts not replaced:\n%s", s)
	}
}

func TestNoticeEventShowsInItsConversation(t *testing.T) {
	h := newHarness(t, nil)
	h.events(chat.NoticeEvent{Conv: chat.Lobby, Text: "topic changed"})
	if !strings.Contains(h.screen(), "topic changed") {
		t.Fatalf("notice missing:\n%s", h.screen())
	}
}

// TestStatusLineSaysWhileTheClusterLinkIsDown: while the node does not
// reach the rest of its cluster, the status line says so (other nodes'
// messages are late, not lost), and the key hints come back after.
func TestStatusLineSaysWhileTheClusterLinkIsDown(t *testing.T) {
	h := newHarness(t, nil)
	h.events(chat.LinkEvent{Down: true})
	last := func() string {
		lines := strings.Split(strings.TrimRight(h.screen(), "\n"), "\n")
		return lines[len(lines)-1]
	}
	if !strings.Contains(last(), "cluster link down") {
		t.Fatalf("status line while the link is down: %q", last())
	}
	h.events(chat.LinkEvent{})
	if strings.Contains(h.screen(), "cluster link down") {
		t.Fatalf("still says the link is down after it came back:\n%s", h.screen())
	}
}

func TestShutdownEventShowsReasonAndQuits(t *testing.T) {
	h := newHarness(t, nil)
	h.events(chat.ShutdownEvent{Reason: "maintenance"})
	if !h.quit {
		t.Fatal("did not quit after shutdown")
	}
	if !strings.Contains(h.screen(), "server shutting down: maintenance") {
		t.Errorf("no shutdown notice:\n%s", h.screen())
	}
	if h.app.ExitReason() == "" {
		t.Error("no exit reason for the terminal")
	}
}

func TestDroppedSessionShowsWhyAndQuits(t *testing.T) {
	h := newHarness(t, nil)
	h.send(sessionEndedMsg{err: chat.ErrSlowConsumer})
	if !h.quit || !strings.Contains(h.screen(), "too many undelivered events") {
		t.Fatalf("quit=%v\n%s", h.quit, h.screen())
	}
}

func TestOwnMessagesLookDifferentFromOthers(t *testing.T) {
	rc := &renderCtx{st: NewStyles(true), me: 1, loc: time.UTC}
	own := renderMessage(rc, &chat.Message{From: 1, FromHandle: "alice", Body: "same words"}, 60)
	other := renderMessage(rc, &chat.Message{From: 2, FromHandle: "alice", Body: "same words"}, 60)
	if ansi.Strip(own[0]) != ansi.Strip(other[0]) {
		t.Fatalf("text differs: %q vs %q", ansi.Strip(own[0]), ansi.Strip(other[0]))
	}
	if own[0] == other[0] {
		t.Fatal("own message styled like someone else's")
	}
	act := renderMessage(rc, &chat.Message{From: 2, FromHandle: "bob", Body: "waves", Kind: chat.KindAction}, 60)
	if got := ansi.Strip(act[0]); got != "00:00 * bob waves" {
		t.Fatalf("action = %q", got)
	}
}

func TestHandleColoursAreStable(t *testing.T) {
	st := NewStyles(true)
	if st.HandleStyle("Bob").Render("x") != st.HandleStyle("bob").Render("x") {
		t.Fatal("colour depends on letter case")
	}
	seen := map[string]bool{}
	for _, h := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace"} {
		seen[st.HandleStyle(h).Render("x")] = true
	}
	if len(seen) < 3 {
		t.Fatalf("only %d colours for 7 handles", len(seen))
	}
}

func TestLongMessagesWrapUnderThemselves(t *testing.T) {
	rc := &renderCtx{st: NewStyles(true), me: 1, loc: time.UTC}
	long := strings.Repeat("word ", 40) + strings.Repeat("x", 90)
	lines := renderMessage(rc, &chat.Message{From: 2, FromHandle: "bob", Body: long}, 40)
	if len(lines) < 6 {
		t.Fatalf("not wrapped: %d lines", len(lines))
	}
	for i, l := range lines {
		if w := lipgloss.Width(l); w > 40 {
			t.Errorf("line %d is %d wide: %q", i, w, ansi.Strip(l))
		}
		if i > 0 && !strings.HasPrefix(l, "      ") {
			t.Errorf("continuation line %d not indented: %q", i, ansi.Strip(l))
		}
	}
}

// fillScreen gives the App everything a busy screen has.
func fillScreen(h *harness) {
	var contacts []chat.Contact
	for i := range 30 {
		contacts = append(contacts, chat.Contact{Presence: chat.Presence{
			User: chat.UserID(1000 + i), Handle: fmt.Sprintf("contact-with-long-name-%d", i), Status: chat.Status(i % 3),
			LastSeen: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		}})
	}
	h.events(chat.ContactsEvent{Contacts: contacts})
	for i := range 60 {
		h.events(chat.PresenceEvent{Presence: chat.Presence{User: chat.UserID(2000 + i), Handle: fmt.Sprintf("user%02d", i), Status: chat.Online}, Joined: true})
	}
	body := "wide 字符 and emoji 🎉 " + strings.Repeat("lorem ipsum dolor sit amet ", 12) + strings.Repeat("y", 300)
	for i := range 40 {
		h.events(chat.MessageEvent{Message: msgAt(100+i, chat.Lobby, chat.UserID(2000+i%5), fmt.Sprintf("user%02d", i%5), body), Conversation: chat.Conversation{ID: chat.Lobby}})
	}
	h.events(chat.MessageEvent{Message: msgAt(200, dmBob.ID, bobID, "a-rather-long-handle-xx", body), Conversation: chat.Conversation{ID: dmBob.ID, Kind: chat.KindDirect, Name: "a-rather-long-handle-xx", Peer: bobID}})
	h.typeText(strings.Repeat("typed text ", 30))
}

func TestRendersWithinTheTerminalAtCommonSizes(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {200, 50}, {59, 24}, {20, 5}, {500, 200}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			h := newHarness(t, nil)
			fillScreen(h)
			h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			check := func(what string) {
				t.Helper()
				lines := strings.Split(h.app.View().Content, "\n")
				if len(lines) != size[1] {
					t.Errorf("%s: %d lines, want %d", what, len(lines), size[1])
				}
				for i, l := range lines {
					if w := lipgloss.Width(l); w > size[0] {
						t.Errorf("%s: line %d is %d wide (max %d): %q", what, i, w, size[0], ansi.Strip(l))
					}
				}
			}
			check("chat")
			h.press(tea.KeyEscape)
			check("sidebar focused")
			h.press(tea.KeyEscape)
			h.press(tea.KeyPgUp)
			check("scrolled")
			h.press(tea.KeyTab)
			check("dm")
			h.events(chat.ShutdownEvent{})
			check("ending")
		})
	}
}

func TestOfflineDialogFitsSmallScreens(t *testing.T) {
	b := newFakeBroker()
	var groups []chat.OfflineGroup
	for i := range 12 {
		groups = append(groups, chat.OfflineGroup{From: chat.UserID(10 + i), FromHandle: fmt.Sprintf("sender%d", i), Conv: chat.ConvID(fmt.Sprintf("dm:1:%d", 10+i)), Count: 4,
			Messages: pageOf(chat.ConvID(fmt.Sprintf("dm:1:%d", 10+i)), 1, 4)})
	}
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online), Offline: groups}
	}
	h := newHarness(t, b)
	for _, size := range [][2]int{{80, 24}, {20, 5}, {200, 50}} {
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for range 11 {
			h.press(tea.KeyDown)
			lines := strings.Split(h.app.View().Content, "\n")
			if len(lines) != size[1] {
				t.Fatalf("%v: %d lines", size, len(lines))
			}
			for i, l := range lines {
				if w := lipgloss.Width(l); w > size[0] {
					t.Fatalf("%v: line %d is %d wide: %q", size, i, w, ansi.Strip(l))
				}
			}
		}
		if size[1] >= 24 && !strings.Contains(h.screen(), "sender11") {
			t.Errorf("%v: the picked group is not on screen:\n%s", size, h.screen())
		}
		for range 11 {
			h.press(tea.KeyUp)
		}
	}
}

func TestLoginScreenAsksForAHandleWhenTheUserNameIsTaken(t *testing.T) {
	b := newFakeBroker()
	if _, err := b.Register(context.Background(), chat.Key{Fingerprint: "SHA256:other"}, "bob"); err != nil {
		t.Fatal(err)
	}
	_, err := b.Register(context.Background(), chat.Key{Fingerprint: "SHA256:new"}, "bob")
	h := &harness{t: t, b: b}
	h.app = newApp(appConfig{
		broker: b, serverName: "testchat", key: chat.Key{Fingerprint: "SHA256:new"},
		wanted: "bob", loginReason: loginText("bob", err), loc: time.UTC, quitDelay: time.Millisecond, markDelay: time.Millisecond,
		statusTTL: time.Millisecond,
	})
	h.send(tea.WindowSizeMsg{Width: sidebarMinWidth, Height: 30})
	h.run(h.app.Init())
	s := h.screen()
	if !strings.Contains(s, `The handle "bob" is already taken.`) || strings.Count(s, "taken") != 1 || !strings.Contains(s, "Choose a handle") {
		t.Fatalf("login screen:\n%s", s)
	}
	h.typeText("bob")
	h.press(tea.KeyEnter)
	if s := h.screen(); !strings.Contains(s, "bob is already in use") || h.app.phase != phaseLogin {
		t.Fatalf("second failure not shown inline:\n%s", s)
	}
	h.app.login.input.Reset()
	h.typeText("bobby")
	h.press(tea.KeyEnter)
	if h.app.phase != phaseChat || h.app.me.Handle != "bobby" {
		t.Fatalf("phase=%v me=%+v", h.app.phase, h.app.me)
	}
	if !strings.Contains(h.screen(), "Welcome to testchat, bobby!") {
		t.Errorf("no welcome after login:\n%s", h.screen())
	}
}

func TestTypingDoesNotRedrawTheMainArea(t *testing.T) {
	h := newHarness(t, nil)
	fillScreen(h)
	h.app.View()
	before := h.app.mainCache
	h.app.mainCache = "sentinel"
	h.typeText("abc")
	h.app.View()
	if h.app.mainCache != "sentinel" {
		t.Fatal("a keystroke re-rendered the sidebar and conversation")
	}
	h.app.mainCache = before
}

func TestRenderCachesStayBoundedWhileFollowing(t *testing.T) {
	h := newHarness(t, nil)
	for id := 1; id <= 1000; id++ {
		h.events(chat.MessageEvent{Message: msgAt(id, chat.Lobby, bobID, "bob", "x"), Conversation: chat.Conversation{ID: chat.Lobby}})
		h.app.View()
	}
	rendered := 0
	for _, e := range h.app.convs[chat.Lobby].entries {
		if e.lines != nil {
			rendered++
		}
	}
	if rendered > h.app.renderKeep()+1 {
		t.Fatalf("%d entries keep rendered lines", rendered)
	}
}

func TestABurstOfJoinsAndLeavesIsOneSummaryLine(t *testing.T) {
	h := newHarness(t, newFakeBroker())
	var evs []chat.Event
	for i := range 6 {
		evs = append(evs, chat.PresenceEvent{Presence: chat.Presence{User: chat.UserID(300 + i), Handle: fmt.Sprintf("p%d", i), Status: chat.Online}, Joined: true})
	}
	// p5 came and went within the burst: not mentioned.
	evs = append(evs, chat.PresenceEvent{Presence: chat.Presence{User: 305, Handle: "p5", Status: chat.Offline}, Left: true})
	h.events(evs...)
	s := h.screen()
	if !strings.Contains(s, "p0, p1, p2 and 2 others joined") || strings.Contains(s, "p5") {
		t.Fatalf("summary:\n%s", s)
	}
	if !strings.Contains(s, "Online (6)") { // five plus me
		t.Errorf("roster:\n%s", s)
	}
	h.events(
		chat.PresenceEvent{Presence: chat.Presence{User: 300, Handle: "p0", Status: chat.Offline}, Left: true},
		chat.PresenceEvent{Presence: chat.Presence{User: 301, Handle: "p1", Status: chat.Offline}, Left: true},
	)
	if s := h.screen(); !strings.Contains(s, "p0 and p1 left") || !strings.Contains(s, "Online (4)") {
		t.Fatalf("leaves:\n%s", s)
	}
}

func TestSummariseNamesAFewAndCountsTheRest(t *testing.T) {
	ps := func(names ...string) []presenceNote {
		var out []presenceNote
		for i, n := range names {
			out = append(out, presenceNote{chat.UserID(i + 1), n})
		}
		return out
	}
	for _, tc := range []struct {
		in   []presenceNote
		want string
	}{
		{ps("a"), "a"},
		{ps("a", "b"), "a and b"},
		{ps("a", "b", "c"), "a, b and c"},
		{ps("a", "b", "c", "d"), "a, b, c and 1 other"},
		{ps("a", "b", "c", "d", "e"), "a, b, c and 2 others"},
	} {
		if got := summarise(tc.in); got != tc.want {
			t.Errorf("summarise(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJoinLinesInABigLobbyAreRateLimitedSummaries(t *testing.T) {
	b := newFakeBroker()
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		for i := range quietLobby + 5 {
			online = append(online, chat.Presence{User: chat.UserID(500 + i), Handle: fmt.Sprintf("q%02d", i), Status: chat.Online})
		}
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online)}
	}
	h := newHarness(t, b)
	join := func(id int, name string) chat.Event {
		return chat.PresenceEvent{Presence: chat.Presence{User: chat.UserID(id), Handle: name, Status: chat.Online}, Joined: true}
	}
	// The first line after a quiet spell shows at once.
	_, cmd := h.app.Update(eventsMsg{join(900, "first")})
	if s := h.screen(); !strings.Contains(s, "first joined") {
		t.Fatalf("first join:\n%s", s)
	}
	h.run(cmd)
	// The next ones wait for the rate limit, then come as one line; the
	// counts are live all along.
	_, cmd = h.app.Update(eventsMsg{join(901, "second")})
	_, cmd2 := h.app.Update(eventsMsg{join(902, "third")})
	if s := h.screen(); strings.Contains(s, "second") || !strings.Contains(s, "Online (39)") {
		t.Fatalf("held back:\n%s", s)
	}
	if cmd == nil || cmd2 != nil {
		t.Fatalf("want exactly one scheduled summary: %v %v", cmd != nil, cmd2 != nil)
	}
	h.run(cmd)
	if s := h.screen(); !strings.Contains(s, "second and third joined") {
		t.Fatalf("summary:\n%s", s)
	}
}

func TestOwnRenameShowsOnlyTheSecondPersonLine(t *testing.T) {
	h := newHarness(t, nil)
	me := h.app.me
	h.events(
		chat.PresenceEvent{Presence: chat.Presence{User: me.ID, Handle: "Alice_2", Status: chat.Online}, OldHandle: "alice"},
		chat.NoticeEvent{Text: "you are now known as Alice_2"},
		chat.PresenceEvent{Presence: chat.Presence{User: bobID, Handle: "robert", Status: chat.Online}, OldHandle: "bob"},
	)
	s := h.screen()
	if !strings.Contains(s, "you are now known as Alice_2") || strings.Contains(s, "alice is now known as") {
		t.Fatalf("own rename:\n%s", s)
	}
	if !strings.Contains(s, "bob is now known as robert") {
		t.Fatalf("someone else's rename:\n%s", s)
	}
	if h.app.me.Handle != "Alice_2" {
		t.Fatalf("me = %+v", h.app.me)
	}
}

func TestReadInAnotherSessionClearsTheUnreadCount(t *testing.T) {
	h := newHarness(t, nil)
	h.events(
		chat.MessageEvent{Message: msgAt(5, dmBob.ID, bobID, "bob", "one"), Conversation: dmBob},
		chat.MessageEvent{Message: msgAt(6, dmBob.ID, bobID, "bob", "two"), Conversation: dmBob},
	)
	if s := h.screen(); !strings.Contains(s, "bob (2)") {
		t.Fatalf("no unread count:\n%s", s)
	}
	h.events(chat.ReadEvent{Conv: dmBob.ID, UpTo: 5})
	if s := h.screen(); !strings.Contains(s, "bob (1)") {
		t.Fatalf("read up to 5 of 6 should leave 1:\n%s", s)
	}
	h.events(chat.ReadEvent{Conv: dmBob.ID, UpTo: 6})
	if s := h.screen(); strings.Contains(s, "bob (") {
		t.Fatalf("read elsewhere did not clear the count:\n%s", s)
	}
	// This session does not mark it read again.
	h.send(tea.KeyPressMsg{Code: tea.KeyTab})
	_, _, _, marks, _ := h.sess.calls()
	for _, m := range marks {
		if m.conv == dmBob.ID {
			t.Fatalf("marked again: %+v", marks)
		}
	}
}

func TestFakeMarkReadTellsTheUsersOtherSessions(t *testing.T) {
	b := newFakeBroker()
	acct := chat.Account{ID: 7, Handle: "alice"}
	one, _ := b.Connect(context.Background(), acct)
	two, _ := b.Connect(context.Background(), acct)
	if err := one.MarkRead(context.Background(), chat.Lobby, 3); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-two.Events():
		if ev != (chat.ReadEvent{Conv: chat.Lobby, UpTo: 3}) {
			t.Fatalf("got %#v", ev)
		}
	default:
		t.Fatal("no ReadEvent")
	}
	select {
	case ev := <-one.Events():
		t.Fatalf("the reading session got %#v", ev)
	default:
	}
}

// rateLimitedSends makes the session refuse sends after a burst of n, then
// accept every other attempt, recording the accepted texts.
func rateLimitedSends(s *fakeSession, n int, accepted *[]string) {
	tokens, attempts := n, 0
	var id chat.MessageID
	s.sendFn = func(conv chat.ConvID, text string) (chat.Message, error) {
		attempts++
		if tokens == 0 && attempts%2 == 0 {
			tokens = 1
		}
		if tokens == 0 {
			return chat.Message{}, fmt.Errorf("%w: at most 5 messages per second", chat.ErrRateLimited)
		}
		tokens--
		id++
		*accepted = append(*accepted, text)
		return chat.Message{ID: id, Conv: conv, From: s.acct.ID, FromHandle: s.acct.Handle, Body: text}, nil
	}
}

func TestEveryLineTypedFasterThanTheRateLimitIsSentOnceInOrder(t *testing.T) {
	var accepted []string
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) { rateLimitedSends(s, 10, &accepted) }
	h := newHarness(t, b)
	var want []string
	for i := 1; i <= 25; i++ {
		line := fmt.Sprintf("q%d", i)
		want = append(want, line)
		h.typeText(line)
		h.press(tea.KeyEnter)
	}
	if strings.Join(accepted, ",") != strings.Join(want, ",") {
		t.Fatalf("accepted %v; want %v", accepted, want)
	}
	if v := h.app.composer.Value(); v != "" || h.app.outbox.Len() != 0 {
		t.Fatalf("input %q, outbox %v; want both empty", v, h.app.outbox.items)
	}
	if s := h.screen(); strings.Contains(s, "slow down") || strings.Contains(s, "q24q25") {
		t.Fatalf("screen after the queue drained:\n%s", s)
	}
}

func TestRateLimitedLineWaitsAtTheHeadAndTypingGoesOn(t *testing.T) {
	var accepted []string
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) { rateLimitedSends(s, 0, &accepted) }
	h := newHarness(t, b)
	h.typeText("q1")
	_, first := h.app.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	h.typeText("q2")
	h.app.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	// The first attempt is refused: q1 stays at the head, a retry is due.
	_, retry := h.app.Update(first())
	if s := h.screen(); !strings.Contains(s, "slow down: 2 lines waiting to be sent") {
		t.Fatalf("no slow down status:\n%s", s)
	}
	if v := h.app.composer.Value(); v != "" {
		t.Fatalf("refused line put back into the input: %q", v)
	}
	h.typeText("q3")
	h.press(tea.KeyEnter)
	if v := h.app.composer.Value(); v != "" || h.app.outbox.Len() != 3 {
		t.Fatalf("input %q, outbox %v", v, h.app.outbox.items)
	}
	h.run(retry)
	if strings.Join(accepted, ",") != "q1,q2,q3" {
		t.Fatalf("accepted %v", accepted)
	}
	if s := h.screen(); strings.Contains(s, "slow down") {
		t.Fatalf("slow down still shown after the queue drained:\n%s", s)
	}
}

func TestFullOutboxRefusesTheLineWithoutMerging(t *testing.T) {
	h := newHarness(t, nil)
	var first tea.Cmd
	for i := range maxOutbox {
		h.typeText(fmt.Sprint("m", i))
		_, cmd := h.app.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
		if i == 0 {
			first = cmd
		}
	}
	h.typeText("late")
	h.app.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if v := h.app.composer.Value(); v != "late" {
		t.Fatalf("refused line: input %q; want it kept as typed", v)
	}
	if s := h.screen(); !strings.Contains(s, "this one was not sent") {
		t.Fatalf("refusal not shown:\n%s", s)
	}
	h.run(first)
	sends, _, _, _, _ := h.sess.calls()
	if len(sends) != maxOutbox || sends[0].text != "m0" || sends[maxOutbox-1].text != fmt.Sprint("m", maxOutbox-1) {
		t.Fatalf("sends = %+v", sends)
	}
	if v := h.app.composer.Value(); v != "late" {
		t.Fatalf("input %q after the outbox drained", v)
	}
}

func TestPermanentFailureGoesBackOnlyIntoAnEmptyInput(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.sendFn = func(chat.ConvID, string) (chat.Message, error) {
			return chat.Message{}, fmt.Errorf("%w: nothing visible to send", chat.ErrEmpty)
		}
	}
	h := newHarness(t, b)
	h.typeText("bad")
	_, cmd := h.app.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	h.typeText("new")
	h.run(func() tea.Msg { return cmd() })
	if v := h.app.composer.Value(); v != "new" {
		t.Fatalf("input %q; want the new typing untouched", v)
	}
	if s := h.screen(); !strings.Contains(s, "empty message: nothing visible to send") {
		t.Fatalf("error not shown:\n%s", s)
	}
}

func TestStatusErrorClearsOnEditModeChangeAndAfterAWhile(t *testing.T) {
	now := time.Date(2026, 1, 2, 16, 0, 0, 0, time.UTC)
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(chat.ConvID, string) (chat.Reply, error) {
			return chat.Reply{}, fmt.Errorf("%w: /frob is not a command; /help lists them", chat.ErrUnknownCommand)
		}
	}
	h := newHarness(t, b, func(c *appConfig) { c.now = func() time.Time { return now } })
	fail := func() {
		t.Helper()
		h.typeText("/frob")
		h.press(tea.KeyEnter)
		if !strings.Contains(h.screen(), "/frob is not a command") {
			t.Fatalf("no error:\n%s", h.screen())
		}
	}
	fail()
	h.typeText("x")
	if s := h.screen(); strings.Contains(s, "not a command") {
		t.Fatalf("error kept after an edit:\n%s", s)
	}
	h.press(tea.KeyBackspace)

	fail()
	h.press(tea.KeyEscape)
	if s := h.screen(); strings.Contains(s, "not a command") || !strings.Contains(s, "enter open") {
		t.Fatalf("sidebar focus did not show its hints:\n%s", s)
	}
	h.press(tea.KeyEscape)

	fail()
	h.send(statusExpiredMsg{gen: h.app.status.gen})
	if !strings.Contains(h.screen(), "not a command") {
		t.Fatal("error cleared before its time")
	}
	now = now.Add(statusTTL)
	h.send(statusExpiredMsg{gen: h.app.status.gen - 1})
	if !strings.Contains(h.screen(), "not a command") {
		t.Fatal("an older error's timer cleared the newer error")
	}
	h.send(statusExpiredMsg{gen: h.app.status.gen})
	if s := h.screen(); strings.Contains(s, "not a command") {
		t.Fatalf("error still shown after %v:\n%s", statusTTL, s)
	}
}

func TestLongErrorsWrapToTwoStatusLines(t *testing.T) {
	b := newFakeBroker()
	long := "invalid handle: 'é' (U+00E9) is not allowed; handles are 1-24 ASCII letters, digits, _ - . and the end"
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(chat.ConvID, string) (chat.Reply, error) {
			return chat.Reply{}, fmt.Errorf("%w: %s", chat.ErrHandleInvalid, long[len("invalid handle: "):])
		}
	}
	h := newHarness(t, b)
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.typeText("/nick café")
	h.press(tea.KeyEnter)
	lines := strings.Split(h.screen(), "\n")
	if len(lines) != 24 {
		t.Fatalf("%d lines on a 24-line screen", len(lines))
	}
	got := strings.TrimSpace(lines[22]) + " " + strings.TrimSpace(lines[23])
	if got != long {
		t.Fatalf("status lines = %q; want %q", lines[22:], long)
	}
	if !strings.HasPrefix(lines[21], ">") {
		t.Fatalf("input line not above the status: %q", lines[21])
	}
	h.typeText("x")
	if lines := strings.Split(h.screen(), "\n"); len(lines) != 24 || !strings.HasPrefix(lines[22], ">") {
		t.Fatalf("layout not restored after the error cleared:\n%s", h.screen())
	}
}

func TestSidebarCutsLongNamesNeverCountsOrMarks(t *testing.T) {
	b := newFakeBroker()
	long := "frank_the_very_long_name"
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		online = append(online,
			chat.Presence{User: 50, Handle: "zed_the_very_long_name_x", Status: chat.Away})
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online), Contacts: []chat.Contact{
			{Presence: chat.Presence{User: 51, Handle: "carol_the_very_long_name", Status: chat.Away}},
			{Presence: chat.Presence{User: 52, Handle: "dave_the_very_long_names"}, Blocked: true},
		}}
	}
	h := newHarness(t, b)
	dm := chat.Conversation{ID: "dm:1:60", Kind: chat.KindDirect, Name: long, Peer: 60}
	h.events(chat.MessageEvent{Message: msgAt(5, dm.ID, 60, long, "hi"), Conversation: dm})
	s := h.screen()
	for _, want := range []string{"frank_the_v… (1)", "◌ carol_th… (away)", "⊘ dave_… (blocked)", "zed_the_… (away)"} {
		if !strings.Contains(s, want) {
			t.Errorf("sidebar lacks %q:\n%s", want, s)
		}
	}
}

func TestSidebarSelectionReachesEveryoneOnline(t *testing.T) {
	b := newFakeBroker()
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		for i := range 40 {
			online = append(online, chat.Presence{User: chat.UserID(100 + i), Handle: fmt.Sprintf("user%02d", i), Status: chat.Online})
		}
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online)}
	}
	h := newHarness(t, b)
	if s := h.screen(); !strings.Contains(s, "more") || strings.Contains(s, "user39") {
		t.Fatalf("unfocused list not cut:\n%s", s)
	}
	h.press(tea.KeyEscape)
	for range 45 {
		h.press(tea.KeyDown)
	}
	it, ok := h.app.sidebar.selected()
	if !ok || it.handle != "user39" {
		t.Fatalf("selection stopped at %+v", it)
	}
	if s := h.screen(); !strings.Contains(s, "user39") {
		t.Fatalf("selected row not scrolled into view:\n%s", s)
	}
}

func TestSystemLinesWrapWithAHangingIndent(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(chat.ConvID, string) (chat.Reply, error) {
			return chat.Reply{Lines: []string{
				"Commands:",
				"  /msg HANDLE [TEXT]     open a direct conversation, optionally sending TEXT to them right away",
				"Keys: Tab/Ctrl+N/Ctrl+P switch conversation, Esc/Ctrl+S contacts and people, PgUp/PgDn scroll",
			}}, nil
		}
	}
	h := newHarness(t, b)
	h.typeText("/help")
	h.press(tea.KeyEnter)
	lines := strings.Split(h.screen(), "\n")
	find := func(sub string) int {
		for i, l := range lines {
			if strings.Contains(l, sub) {
				return i
			}
		}
		t.Fatalf("no line with %q:\n%s", sub, h.screen())
		return -1
	}
	column := func(l, sub string) int { return ansi.StringWidth(l[:strings.Index(l, sub)]) }
	text := func(l string) string { _, pane, _ := strings.Cut(l, "│"); return strings.TrimSpace(pane) }
	i := find("/msg HANDLE [TEXT]")
	col := column(lines[i], "open a direct")
	next := lines[i+1]
	if text(next) == "" || column(next, text(next)) != col {
		t.Fatalf("continuation not under the description (column %d):\n%s\n%s", col, lines[i], next)
	}
	k := find("Keys:")
	kcol := column(lines[k], "Keys:")
	if cont := lines[k+1]; column(cont, text(cont)) != kcol+2 {
		t.Fatalf("Keys continuation not indented:\n%s\n%s", lines[k], cont)
	}
}

func TestDirectHeaderShowsBlockedAndLastSeen(t *testing.T) {
	b := newFakeBroker()
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online), Conversations: []chat.Conversation{dmBob},
			Contacts: []chat.Contact{{Presence: chat.Presence{User: bobID, Handle: "bob", LastSeen: time.Date(2026, 1, 2, 15, 55, 0, 0, time.UTC)}}}}
	}
	h := newHarness(t, b)
	h.press(tea.KeyTab)
	if s := h.screen(); !strings.Contains(s, "bob · offline, last seen 5m ago") {
		t.Fatalf("header:\n%s", s)
	}
	h.events(chat.ContactsEvent{Contacts: []chat.Contact{{Presence: chat.Presence{User: bobID, Handle: "bob"}, Blocked: true}}})
	if s := h.screen(); !strings.Contains(s, "bob · blocked · offline") {
		t.Fatalf("header after block:\n%s", s)
	}
}

func TestFamilyEmojiKeepsItsJoiners(t *testing.T) {
	family := "👨\u200d👩\u200d👧"
	if got := safeLine("a " + family + " b\u200dc"); got != "a "+family+" bc" {
		t.Fatalf("safeLine = %+q", got)
	}
	h := newHarness(t, nil)
	h.events(chat.MessageEvent{Message: msgAt(5, chat.Lobby, bobID, "bob", "family "+family), Conversation: chat.Conversation{ID: chat.Lobby}})
	if s := h.screen(); !strings.Contains(s, "family "+family) {
		t.Fatalf("screen:\n%s", s)
	}
}

// With the sidebar hidden (narrow terminals), the header says that other
// conversations have unread messages, so a DM is not missed.
func TestNarrowHeaderTellsUnreadElsewhere(t *testing.T) {
	h := newHarness(t, nil)
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.events(chat.MessageEvent{Message: msgAt(5, dmBob.ID, bobID, "bob", "psst"), Conversation: dmBob})
	if s := h.screen(); !strings.Contains(s, "1 unread elsewhere (esc)") {
		t.Fatalf("no unread hint in the header:\n%s", s)
	}
	h.send(tea.WindowSizeMsg{Width: sidebarMinWidth, Height: 30})
	if s := h.screen(); strings.Contains(s, "unread elsewhere") || !strings.Contains(s, "bob (1)") {
		t.Fatalf("wide layout should show the count in the sidebar instead:\n%s", s)
	}
}

// loginHarness starts an App on the login screen; the fake broker checks
// handles with chat's rule.
func loginHarness(t *testing.T) *harness {
	t.Helper()
	b := newFakeBroker()
	b.register = func(handle string) error {
		_, _, err := chat.NormalizeHandle(handle)
		return err
	}
	h := &harness{t: t, b: b}
	h.app = newApp(appConfig{
		broker: b, serverName: "testchat", key: chat.Key{Fingerprint: "SHA256:new"},
		wanted: "x y", loginReason: "Your SSH user name can't be a handle.", loc: time.UTC,
		quitDelay: time.Millisecond, markDelay: time.Millisecond, statusTTL: time.Millisecond,
	})
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.run(h.app.Init())
	return h
}

func TestLoginRefusesAnOverLongHandleInsteadOfCuttingIt(t *testing.T) {
	h := loginHarness(t)
	long := strings.Repeat("a", chat.MaxHandleLen+6)
	h.typeText(long)
	if got := h.app.login.Value(); got != long {
		t.Fatalf("the field cut the handle to %q", got)
	}
	h.press(tea.KeyEnter)
	s := h.screen()
	if h.app.phase != phaseLogin || !strings.Contains(s, "30 characters is too long") {
		t.Fatalf("over-long handle not refused with its reason (phase %v):\n%s", h.app.phase, s)
	}
}

// TestLoginSaysWhatToDoAndClearsAnOldError checks that Enter on an empty
// field says what to do, and that an error about an earlier attempt goes
// away once the handle is edited.
func TestLoginSaysWhatToDoAndClearsAnOldError(t *testing.T) {
	h := loginHarness(t)
	h.press(tea.KeyEnter)
	if s := h.screen(); !strings.Contains(s, "Type a handle, then press Enter.") {
		t.Fatalf("Enter on an empty field said nothing:\n%s", s)
	}
	h.typeText(strings.Repeat("a", chat.MaxHandleLen+6))
	h.press(tea.KeyEnter)
	if s := h.screen(); !strings.Contains(s, "too long") {
		t.Fatalf("over-long handle not refused:\n%s", s)
	}
	h.press(tea.KeyBackspace)
	if s := h.screen(); strings.Contains(s, "too long") {
		t.Fatalf("the old error stays under the edited handle:\n%s", s)
	}
}

func TestLoginStatesTheHandleRuleInOneSentence(t *testing.T) {
	h := loginHarness(t)
	s := strings.Join(strings.Fields(h.screen()), " ")
	if want := "Choose a handle. " + sentence(chat.HandleRule()); !strings.Contains(s, want) {
		t.Errorf("login screen lacks %q:\n%s", want, h.screen())
	}
	if strings.Contains(s, "_ - .") {
		t.Errorf("the rule is still the bare list of signs:\n%s", h.screen())
	}
}

var dmCarol = chat.Conversation{ID: "dm:1:77", Kind: chat.KindDirect, Name: "carol", Peer: 77}

func TestTabOrderIsStableAndEachConversationKeepsItsDraft(t *testing.T) {
	h := newHarness(t, nil)
	h.events(
		chat.MessageEvent{Message: msgAt(1, dmBob.ID, bobID, "bob", "hi"), Conversation: dmBob},
		chat.MessageEvent{Message: msgAt(2, dmCarol.ID, 77, "carol", "yo"), Conversation: dmCarol},
	)
	order := func() []chat.ConvID {
		var ids []chat.ConvID
		for range len(h.app.order) {
			ids = append(ids, h.app.current)
			h.press(tea.KeyTab)
		}
		return ids
	}
	first := order()
	want := []chat.ConvID{chat.Lobby, dmBob.ID, dmCarol.ID}
	if !slices.Equal(first, want) {
		t.Fatalf("tab order %v, want %v", first, want)
	}

	h.typeText("for the lobby")
	h.press(tea.KeyTab) // → bob
	if v := h.app.composer.Value(); v != "" {
		t.Fatalf("the lobby's draft followed to bob: %q", v)
	}
	h.typeText("for bob")
	// Activity elsewhere while tabbing must not reorder the walk.
	h.events(chat.MessageEvent{Message: msgAt(3, dmCarol.ID, 77, "carol", "still there?"), Conversation: dmCarol})
	h.events(chat.MessageEvent{Message: msgAt(4, chat.Lobby, 77, "carol", "lobby chatter"), Conversation: chat.Conversation{ID: chat.Lobby}})
	h.press(tea.KeyTab) // → carol
	if h.app.current != dmCarol.ID || h.app.composer.Value() != "" {
		t.Fatalf("after bob came %s with draft %q", h.app.current, h.app.composer.Value())
	}
	h.press(tea.KeyTab) // → lobby
	if v := h.app.composer.Value(); h.app.current != chat.Lobby || v != "for the lobby" {
		t.Fatalf("back in %s the draft is %q", h.app.current, v)
	}
	h.press(tea.KeyEnter)
	h.press(tea.KeyTab) // → bob
	if v := h.app.composer.Value(); v != "for bob" {
		t.Fatalf("bob's draft is %q", v)
	}
	h.press(tea.KeyEnter)
	sends, _, _, _, _ := h.sess.calls()
	if len(sends) != 2 || sends[0] != (sendCall{chat.Lobby, "for the lobby"}) || sends[1] != (sendCall{dmBob.ID, "for bob"}) {
		t.Fatalf("sends = %+v", sends)
	}
	h.press(tea.KeyTab)
	h.press(tea.KeyTab) // bob → carol → lobby
	if again := order(); !slices.Equal(again, want) {
		t.Fatalf("tab order changed to %v", again)
	}
}

func TestUpRecallsSentLinesAndDownGoesForward(t *testing.T) {
	h := newHarness(t, nil)
	for _, l := range []string{"one", "two", "three"} {
		h.typeText(l)
		h.press(tea.KeyEnter)
	}
	var seen []string
	for range 5 {
		h.press(tea.KeyUp)
		seen = append(seen, h.app.composer.Value())
	}
	// The first Up offers the last message for editing (edit.go), then
	// the lines entered, newest first.
	if want := []string{"/edit three", "three", "two", "one", "one"}; !slices.Equal(seen, want) {
		t.Fatalf("Up recalled %q, want %q", seen, want)
	}
	h.press(tea.KeyDown)
	h.press(tea.KeyDown)
	if v := h.app.composer.Value(); v != "three" {
		t.Fatalf("Down went to %q", v)
	}
	h.press(tea.KeyDown)
	if v := h.app.composer.Value(); v != "" {
		t.Fatalf("past the newest the input is %q", v)
	}
	// A draft being written is never replaced.
	h.typeText("draft")
	h.press(tea.KeyUp)
	if v := h.app.composer.Value(); v != "draft" {
		t.Fatalf("Up replaced a draft: %q", v)
	}
}

// TestUpNeverRecallsADirectMessageInAnotherConversation checks that the
// recall list is per conversation: a line sent to bob is never offered by
// Up in the lobby, where Enter would post it to everyone.
func TestUpNeverRecallsADirectMessageInAnotherConversation(t *testing.T) {
	h := newHarness(t, newFakeBroker())
	h.app.ensureConv(dmBob)
	h.typeText("lobby line")
	h.press(tea.KeyEnter)
	h.run(h.app.switchTo(dmBob.ID))
	h.typeText("my door code is 4711")
	h.press(tea.KeyEnter)
	h.run(h.app.switchTo(chat.Lobby))
	// The first Up offers the last message for editing (edit.go).
	for range 3 {
		h.press(tea.KeyUp)
		if v := h.app.composer.Value(); v != "lobby line" && v != "/edit lobby line" {
			t.Fatalf("Up in the lobby recalled %q, want only the lobby's own line", v)
		}
	}
	if v := h.app.composer.Value(); v != "lobby line" {
		t.Fatalf("Up in the lobby ended at %q", v)
	}
	h.app.composer.Reset()
	h.run(h.app.switchTo(dmBob.ID))
	for range 3 {
		h.press(tea.KeyUp)
		if v := h.app.composer.Value(); v != "my door code is 4711" && v != "/edit my door code is 4711" {
			t.Fatalf("Up in bob's conversation recalled %q", v)
		}
	}
	if v := h.app.composer.Value(); v != "my door code is 4711" {
		t.Fatalf("Up in bob's conversation ended at %q", v)
	}
}

func TestFoldedSidebarKeepsTheIndentOfTheHighlightedRowAndReachesYou(t *testing.T) {
	h := newHarness(t, nil)
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24}) // folded sidebar
	h.events(chat.PresenceEvent{Presence: chat.Presence{User: bobID, Handle: "bob", Status: chat.Online}, Joined: true})
	h.press(tea.KeyEscape)
	lines := func() []string { return strings.Split(h.screen(), "\n") }
	var lobbyRow string
	for _, l := range lines() {
		if strings.Contains(l, "#lobby") {
			lobbyRow = l
		}
	}
	// The lobby is selected first: "›" and the name stay where they are
	// when not highlighted (" › #lobby").
	if !strings.HasPrefix(lobbyRow, " › #lobby") {
		t.Errorf("highlighted row lost its indent: %q", lobbyRow)
	}
	var visited []string
	for range 6 {
		h.press(tea.KeyDown)
		if it, ok := h.app.sidebar.selected(); ok {
			visited = append(visited, it.handle)
		}
	}
	if !slices.Contains(visited, "alice") {
		t.Fatalf("the cursor skipped (you): visited %q", visited)
	}
	// Rows without a mark are indented two columns past the margin,
	// highlighted or not.
	for it, _ := h.app.sidebar.selected(); it.handle != "bob"; it, _ = h.app.sidebar.selected() {
		h.press(tea.KeyUp)
	}
	for _, l := range lines() {
		if strings.Contains(l, "bob") && !strings.HasPrefix(l, "   bob") {
			t.Errorf("the highlighted row lost its indent: %q", l)
		}
	}
	// Enter on yourself shows your /whois.
	for it, _ := h.app.sidebar.selected(); it.handle != "alice"; it, _ = h.app.sidebar.selected() {
		h.press(tea.KeyUp)
	}
	h.press(tea.KeyEnter)
	if _, execs, _, _, _ := h.sess.calls(); len(execs) != 1 || execs[0].text != "/whois alice" {
		t.Fatalf("execs = %+v", execs)
	}
}

func TestOfflineDialogShowsTheActorOfAnAction(t *testing.T) {
	b := newFakeBroker()
	wave := msgAt(7, dmBob.ID, bobID, "bob", "waves hello")
	wave.Kind = chat.KindAction
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online), Offline: []chat.OfflineGroup{
			{From: bobID, FromHandle: "bob", Conv: dmBob.ID, Count: 1, Messages: []chat.Message{wave}},
		}}
	}
	h := newHarness(t, b)
	if s := h.screen(); !strings.Contains(s, "* bob waves hello") {
		t.Fatalf("the action lost its actor:\n%s", s)
	}
}

func TestDirectMessageToSomeoneAwaySaysSoOnce(t *testing.T) {
	b := newFakeBroker()
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		online = append(online, chat.Presence{User: bobID, Handle: "bob", Status: chat.Away, Reason: "lunch"})
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online), Conversations: []chat.Conversation{dmBob}}
	}
	h := newHarness(t, b)
	h.press(tea.KeyTab)
	if h.app.current != dmBob.ID {
		t.Fatalf("in %s", h.app.current)
	}
	h.typeText("are you there?")
	h.press(tea.KeyEnter)
	h.typeText("ping")
	h.press(tea.KeyEnter)
	s := h.screen()
	if n := strings.Count(s, "bob is away: lunch — they will see it when back"); n != 1 {
		t.Fatalf("away notice shown %d times:\n%s", n, s)
	}
}

// TestMsgCommandToSomeoneAwaySaysSo checks that "/msg bob TEXT" to an away
// user tells the sender, as a line typed in the conversation does.
func TestMsgCommandToSomeoneAwaySaysSo(t *testing.T) {
	b := newFakeBroker()
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		online = append(online, chat.Presence{User: bobID, Handle: "bob", Status: chat.Away, Reason: "lunch"})
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online)}
	}
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(conv chat.ConvID, line string) (chat.Reply, error) {
			m := msgAt(7, dmBob.ID, 1, "alice", "are you there?")
			return chat.Reply{Open: &dmBob, Sent: &m}, nil
		}
	}
	h := newHarness(t, b)
	h.typeText("/msg bob are you there?")
	h.press(tea.KeyEnter)
	s := h.screen()
	if h.app.current != dmBob.ID || !strings.Contains(s, "are you there?") {
		t.Fatalf("the direct conversation with the message is not in front:\n%s", s)
	}
	if n := strings.Count(s, "bob is away: lunch — they will see it when back"); n != 1 {
		t.Fatalf("away notice shown %d times:\n%s", n, s)
	}
}

func TestMentionOfYourHandleIsHighlighted(t *testing.T) {
	h := newHarness(t, nil)
	h.events(chat.MessageEvent{Message: msgAt(1, chat.Lobby, bobID, "bob", "hey @Alice, look"), Conversation: chat.Conversation{ID: chat.Lobby}})
	h.events(chat.MessageEvent{Message: msgAt(2, chat.Lobby, bobID, "bob", "mail @alicex instead"), Conversation: chat.Conversation{ID: chat.Lobby}})
	v := h.app.View().Content
	mp := h.app.st.pMention
	if mp.open == "" || !strings.Contains(v, mp.open+"@Alice"+mp.close) {
		t.Fatalf("the mention is not highlighted: %q", v)
	}
	if strings.Contains(v, mp.open+"@alicex") || strings.Count(v, mp.open) != 1 {
		t.Errorf("something else is highlighted: %q", v)
	}
}

func TestPagingToTheFirstMessageShowsTheStartMarker(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		s.historyFn = func(conv chat.ConvID, before chat.MessageID, n int) ([]chat.Message, error) {
			if before == 0 {
				return pageOf(conv, 61, 100), nil
			}
			return pageOf(conv, max(1, int(before)-n), int(before)-1), nil
		}
	}
	h := newHarness(t, b, func(c *appConfig) { c.pageSize = 40 })
	if strings.Contains(h.screen(), startMarker) {
		t.Fatalf("marker shown while older messages exist:\n%s", h.screen())
	}
	for range 30 {
		h.press(tea.KeyPgUp)
	}
	s := h.screen()
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasSuffix(strings.TrimRight(l, " "), "message number 1") {
			if i == 0 || !strings.Contains(lines[i-1], startMarker) {
				t.Fatalf("no start marker right above the first message:\n%s", s)
			}
			return
		}
	}
	t.Fatalf("first message line not found:\n%s", s)
}
