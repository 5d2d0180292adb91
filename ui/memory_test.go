package ui

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// retainedAfter is the heap an App (and its test harness) keeps after
// receiving n lobby messages at 80×24 in batches, as the feeder delivers
// them, drawing the screen after each batch.
func retainedAfter(t *testing.T, n int) int64 {
	t.Helper()
	heap := func() int64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	base := heap()
	// The renderings shared by every session belong to the server (one
	// set per Theme), not to this session: leave them out of its count.
	h := newHarness(t, nil, func(c *appConfig) { c.theme = NewTheme(); c.theme.lines = nil })
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	const batch = 50
	for id := 1; id <= n; id += batch {
		evs := make([]chat.Event, 0, batch)
		for j := id; j < id+batch && j <= n; j++ {
			body := fmt.Sprintf("message %d: a line of ordinary chat, long enough to be typical", j)
			evs = append(evs, chat.MessageEvent{Message: msgAt(j, chat.Lobby, bobID, "bob", body), Conversation: chat.Conversation{ID: chat.Lobby}})
		}
		h.events(evs...)
		h.app.View()
	}
	if c := h.app.convs[chat.Lobby]; c.newestID() != chat.MessageID(n) {
		t.Fatalf("newest shown = %d, want %d", c.newestID(), n)
	}
	used := heap() - base
	runtime.KeepAlive(h)
	return used
}

// TestSessionMemoryDoesNotGrowWithHistory: what a session keeps is bounded
// by its screen, not by how many messages it has received. Ten times the
// messages may cost only noise.
func TestSessionMemoryDoesNotGrowWithHistory(t *testing.T) {
	const few, many = 500, 5000
	retainedAfter(t, few) // warm up lazily built tables (styles, widths)
	small := retainedAfter(t, few)
	large := retainedAfter(t, many)
	t.Logf("retained after %d messages: %d KiB; after %d: %d KiB", few, small/1024, many, large/1024)
	if growth := large - small; growth > 24<<10 {
		t.Errorf("heap grew by %d KiB from %d to %d messages", growth/1024, few, many)
	}
	if large > 256<<10 {
		t.Errorf("a session keeps %d KiB after %d messages", large/1024, many)
	}
}

// TestReadMarkerOlderThanTheWindowKeepsTheUnreadCount: a read marker from
// another session that is older than every message this session keeps says
// nothing about how many are unread after it.
func TestReadMarkerOlderThanTheWindowKeepsTheUnreadCount(t *testing.T) {
	h := newHarness(t, nil, func(c *appConfig) { c.maxWindow = 100 })
	var evs []chat.Event
	for id := 1000; id < 1400; id++ {
		evs = append(evs, chat.MessageEvent{Message: msgAt(id, dmBob.ID, bobID, "bob", "hi"), Conversation: dmBob})
	}
	h.events(evs...)
	c := h.app.convs[dmBob.ID]
	if c.info.Unread != 400 || len(c.entries) >= 400 {
		t.Fatalf("unread %d, window %d entries", c.info.Unread, len(c.entries))
	}
	h.events(chat.ReadEvent{Conv: dmBob.ID, UpTo: 1100})
	if c.info.Unread != 400 {
		t.Fatalf("unread = %d after a marker older than the window, want 400 kept", c.info.Unread)
	}
	h.events(chat.ReadEvent{Conv: dmBob.ID, UpTo: 1390})
	if c.info.Unread != 9 {
		t.Fatalf("unread = %d after reading up to 1390, want 9", c.info.Unread)
	}
}

// TestConversationInTheBackgroundKeepsOnlyAFewScreens: a conversation left
// scrolled back and then switched away from follows its new messages with
// the small window, not the reading-back one.
func TestConversationInTheBackgroundKeepsOnlyAFewScreens(t *testing.T) {
	h := newHarness(t, nil)
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	var evs []chat.Event
	for id := 1; id <= 200; id++ {
		evs = append(evs, chat.MessageEvent{Message: msgAt(id, chat.Lobby, bobID, "bob", "hi"), Conversation: chat.Conversation{ID: chat.Lobby}})
	}
	evs = append(evs, chat.MessageEvent{Message: msgAt(201, dmBob.ID, bobID, "bob", "psst"), Conversation: dmBob})
	h.events(evs...)
	h.press(tea.KeyPgUp)
	lobby := h.app.convs[chat.Lobby]
	if lobby.offset == 0 {
		t.Fatal("PgUp did not scroll")
	}
	h.send(tea.KeyPressMsg{Code: tea.KeyTab})
	if h.app.current == chat.Lobby {
		t.Fatal("Tab did not switch away from the lobby")
	}
	evs = evs[:0]
	for id := 300; id < 1300; id++ {
		evs = append(evs, chat.MessageEvent{Message: msgAt(id, chat.Lobby, bobID, "bob", "hi"), Conversation: chat.Conversation{ID: chat.Lobby}})
	}
	h.events(evs...)
	if n, limit := len(lobby.entries), h.app.window(lobby); n > limit+limit/10 || limit >= h.app.cfg.maxWindow {
		t.Fatalf("background lobby keeps %d entries (window %d)", n, limit)
	}
}

// TestReadElsewhereClearsTheCountOfAConversationNeverOpened: a conversation
// with unread messages from before login that this session has not opened
// holds none of them; another session of the user reading it clears its
// count here too.
func TestReadElsewhereClearsTheCountOfAConversationNeverOpened(t *testing.T) {
	b := newFakeBroker()
	unread := dmBob
	unread.Unread = 31
	b.snapshot = func(acct chat.Account, online []chat.Presence) chat.Snapshot {
		return chat.Snapshot{Me: acct, Online: chat.NewRoster(online), Conversations: []chat.Conversation{
			{ID: chat.Lobby, Kind: chat.KindRoom, Name: "#lobby"}, unread,
		}}
	}
	h := newHarness(t, b)
	if s := h.screen(); !strings.Contains(s, "bob (31)") {
		t.Fatalf("no unread count:\n%s", s)
	}
	h.events(chat.ReadEvent{Conv: dmBob.ID, UpTo: 40})
	if s := h.screen(); strings.Contains(s, "bob (") {
		t.Fatalf("read elsewhere did not clear the count:\n%s", s)
	}
}

// TestGrowingTheTerminalFillsTheScreenFromHistory: a conversation that
// follows its new messages keeps a few screens of them; when the terminal
// grows past that, the older messages are fetched again rather than the
// top of the screen left empty.
func TestGrowingTheTerminalFillsTheScreenFromHistory(t *testing.T) {
	h := newHarness(t, nil)
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	all := make([]chat.Message, 0, 300)
	var evs []chat.Event
	for id := 1; id <= 300; id++ {
		m := msgAt(id, chat.Lobby, bobID, "bob", fmt.Sprintf("m%d", id))
		all = append(all, m)
		evs = append(evs, chat.MessageEvent{Message: m, Conversation: chat.Conversation{ID: chat.Lobby}})
	}
	h.sess.historyFn = func(conv chat.ConvID, before chat.MessageID, n int) ([]chat.Message, error) {
		var page []chat.Message
		for _, m := range all {
			if m.Conv == conv && (before == 0 || m.ID < before) {
				page = append(page, m)
			}
		}
		return page[max(0, len(page)-n):], nil
	}
	h.events(evs...)
	lobby := h.app.convs[chat.Lobby]
	if len(lobby.entries) >= 200 {
		t.Fatalf("following window holds %d entries", len(lobby.entries))
	}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 200})
	lines := strings.Split(h.screen(), "\n")
	if len(lines) < 10 || !strings.Contains(lines[2], "bob: m") {
		t.Fatalf("top of a taller screen is empty (%d entries held):\n%s", len(lobby.entries), strings.Join(lines[:min(10, len(lines))], "\n"))
	}
}

// TestPageDownMovesAfterTheBackgroundWindowWasCut: a conversation left
// scrolled back follows its new messages in the background with a small
// window; back in front, the first PgDn moves the view instead of using
// up the scroll distance the cut window no longer has.
func TestPageDownMovesAfterTheBackgroundWindowWasCut(t *testing.T) {
	h := newHarness(t, nil)
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	var evs []chat.Event
	for id := 1; id <= 200; id++ {
		evs = append(evs, chat.MessageEvent{Message: msgAt(id, chat.Lobby, bobID, "bob", fmt.Sprintf("m%d", id)), Conversation: chat.Conversation{ID: chat.Lobby}})
	}
	evs = append(evs, chat.MessageEvent{Message: msgAt(201, dmBob.ID, bobID, "bob", "psst"), Conversation: dmBob})
	h.sess.historyFn = func(conv chat.ConvID, before chat.MessageID, n int) ([]chat.Message, error) {
		var page []chat.Message
		for _, ev := range evs {
			if m := ev.(chat.MessageEvent).Message; m.Conv == conv && m.ID < before {
				page = append(page, m)
			}
		}
		return page[max(0, len(page)-n):], nil
	}
	h.events(evs...)
	for range 5 {
		h.press(tea.KeyPgUp)
	}
	h.send(tea.KeyPressMsg{Code: tea.KeyTab})
	var more []chat.Event
	for id := 300; id < 600; id++ {
		more = append(more, chat.MessageEvent{Message: msgAt(id, chat.Lobby, bobID, "bob", fmt.Sprintf("m%d", id)), Conversation: chat.Conversation{ID: chat.Lobby}})
	}
	h.events(more...)
	h.send(tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift})
	if h.app.current != chat.Lobby {
		t.Fatal("not back in the lobby")
	}
	before := h.screen()
	h.press(tea.KeyPgDown)
	if after := h.screen(); after == before {
		t.Fatalf("PgDn did not move:\n%s", after)
	}
}

// TestNewMessagesBelowAreCountedWhenReadingFarBack: reading back so far
// that the window let go of the newest messages, new ones are not added
// to it but still counted in the header, as when scrolled up a little.
func TestNewMessagesBelowAreCountedWhenReadingFarBack(t *testing.T) {
	h := newHarness(t, nil, func(c *appConfig) { c.maxWindow = 100 })
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	var all []chat.Message
	for id := 1; id <= 400; id++ {
		all = append(all, msgAt(id, chat.Lobby, bobID, "bob", fmt.Sprintf("m%d", id)))
	}
	h.sess.historyFn = func(conv chat.ConvID, before chat.MessageID, n int) ([]chat.Message, error) {
		var page []chat.Message
		for _, m := range all {
			if m.Conv == conv && (before == 0 || m.ID < before) {
				page = append(page, m)
			}
		}
		return page[max(0, len(page)-n):], nil
	}
	var evs []chat.Event
	for _, m := range all {
		evs = append(evs, chat.MessageEvent{Message: m, Conversation: chat.Conversation{ID: chat.Lobby}})
	}
	h.events(evs...)
	lobby := h.app.convs[chat.Lobby]
	for i := 0; i < 40 && !lobby.hasNewer; i++ {
		h.press(tea.KeyPgUp)
	}
	if !lobby.hasNewer {
		t.Fatal("reading back did not let go of the newest messages")
	}
	h.events(chat.MessageEvent{Message: msgAt(401, chat.Lobby, bobID, "bob", "new"), Conversation: chat.Conversation{ID: chat.Lobby}})
	if s := h.screen(); !strings.Contains(s, "↓ 1 new") {
		t.Fatalf("no count of the new message:\n%s", s)
	}
}

// TestSwitchingToAConversationCutSmallerFillsTheScreen: a conversation in
// the background keeps a few screens of the terminal's size then; brought
// to the front after the terminal grew, it fetches the older messages the
// screen now shows.
func TestSwitchingToAConversationCutSmallerFillsTheScreen(t *testing.T) {
	h := newHarness(t, nil)
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	var all []chat.Message
	var evs []chat.Event
	for id := 1; id <= 300; id++ {
		m := msgAt(id, dmBob.ID, bobID, "bob", fmt.Sprintf("m%d", id))
		all = append(all, m)
		evs = append(evs, chat.MessageEvent{Message: m, Conversation: dmBob})
	}
	h.sess.historyFn = func(conv chat.ConvID, before chat.MessageID, n int) ([]chat.Message, error) {
		var page []chat.Message
		for _, m := range all {
			if m.Conv == conv && (before == 0 || m.ID < before) {
				page = append(page, m)
			}
		}
		return page[max(0, len(page)-n):], nil
	}
	h.events(evs...)
	h.send(tea.KeyPressMsg{Code: tea.KeyTab}) // to bob: loads, then cut to a few screens
	if h.app.current != dmBob.ID {
		t.Fatal("not in the DM")
	}
	h.send(tea.KeyPressMsg{Code: tea.KeyTab}) // back to the lobby
	h.send(tea.WindowSizeMsg{Width: 80, Height: 200})
	h.send(tea.KeyPressMsg{Code: tea.KeyTab})
	lines := strings.Split(h.screen(), "\n")
	if len(lines) < 10 || !strings.Contains(lines[2], "bob: m") {
		t.Fatalf("top of the screen is empty:\n%s", strings.Join(lines[:min(10, len(lines))], "\n"))
	}
}

// retainedIn200Rooms is the heap an App in 200 rooms keeps after perRoom
// messages arrived in each room (none opened), at 80×24, in batches.
func retainedIn200Rooms(t *testing.T, perRoom int) (int64, *harness) {
	t.Helper()
	heap := func() int64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	var convs []chat.Conversation
	for i := range 200 {
		convs = append(convs, roomConv(fmt.Sprintf("#room-%03d", i)))
	}
	b := roomsBroker(convs, nil, nil)
	base := heap()
	// The shared renderings belong to the server, as in retainedAfter.
	h := newHarness(t, b, func(c *appConfig) { c.theme = NewTheme(); c.theme.lines = nil })
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	id := 1
	for range perRoom {
		evs := make([]chat.Event, 0, len(convs))
		for _, c := range convs {
			body := fmt.Sprintf("message %d: a line of ordinary chat, long enough to be typical", id)
			evs = append(evs, chat.MessageEvent{Message: msgAt(id, c.ID, bobID, "bob", body), Conversation: c})
			id++
		}
		h.events(evs...)
		h.app.View()
	}
	used := heap() - base
	runtime.KeepAlive(h)
	return used, h
}

// TestSessionIn200BusyRoomsHoldsAboutWhatALobbySessionHolds: rooms not
// opened keep no messages (only their counts), so a session in 200 busy
// rooms costs about what a lobby session does, and opening a room reads
// its newest page.
func TestSessionIn200BusyRoomsHoldsAboutWhatALobbySessionHolds(t *testing.T) {
	retainedAfter(t, 500) // warm up lazily built tables (styles, widths)
	lobby := retainedAfter(t, 5000)
	rooms, h := retainedIn200Rooms(t, 25)
	t.Logf("retained: lobby session after 5,000 messages %d KiB; 200 rooms after 5,000 messages %d KiB", lobby/1024, rooms/1024)
	for _, c := range h.app.order[1:] {
		if len(c.entries) != 0 || c.info.Unread != 25 || len(c.unread) > maxUnreadMarks {
			t.Fatalf("%s keeps %d entries, %d marks, unread %d", c.info.Name, len(c.entries), len(c.unread), c.info.Unread)
		}
	}
	if _, _, hist, _, _ := h.sess.calls(); len(hist) != 1 || hist[0].conv != chat.Lobby {
		t.Fatalf("history read for rooms not opened: %+v", hist)
	}
	if rooms > lobby+160<<10 {
		t.Errorf("a session in 200 rooms keeps %d KiB, a lobby session %d KiB", rooms/1024, lobby/1024)
	}
	m := msgAt(7, "#room-007", bobID, "bob", "in the history")
	h.b.store(m)
	h.send(openConvMsg{"#room-007"})
	if c := h.app.convs["#room-007"]; !c.contains(7) || c.info.Unread != 0 {
		t.Fatalf("opening the room did not read its newest page")
	}
}
