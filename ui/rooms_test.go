package ui

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"sshchat/chat"
)

func roomConv(name string) chat.Conversation {
	return chat.Conversation{ID: chat.ConvID(name), Kind: chat.KindRoom, Name: name}
}

var lobbyConv = chat.Conversation{ID: chat.Lobby, Kind: chat.KindRoom, Name: "#lobby"}

// roomsBroker serves a snapshot with the lobby, then convs, then contacts
// and extra people online.
func roomsBroker(convs []chat.Conversation, contacts []chat.Contact, extra []chat.Presence) *fakeBroker {
	b := newFakeBroker()
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		return chat.Snapshot{
			Me: me, Online: chat.NewRoster(append(online, extra...)), Contacts: contacts,
			Conversations: append([]chat.Conversation{lobbyConv}, convs...),
		}
	}
	return b
}

func roomsHarness(t *testing.T, convs ...chat.Conversation) *harness {
	t.Helper()
	return newHarness(t, roomsBroker(convs, nil, nil))
}

// sidebarRows is the sidebar's rows in order, as plain text, trimmed.
func sidebarRows(h *harness) []string {
	h.app.sidebar.ensure()
	var out []string
	for i := range h.app.sidebar.items {
		out = append(out, strings.TrimSpace(ansi.Strip(h.app.sidebar.rowText(i))))
	}
	return out
}

func roomMsg(id int, conv chat.ConvID, from chat.UserID, handle, body string) chat.MessageEvent {
	return chat.MessageEvent{Message: msgAt(id, conv, from, handle, body), Conversation: roomConv(string(conv))}
}

func TestSidebarGroupsRoomsDirectContactsOnlineAndScrollsThrough200Rooms(t *testing.T) {
	var convs []chat.Conversation
	for i := 199; i >= 0; i-- { // given out of order: the sidebar sorts by name
		convs = append(convs, roomConv(fmt.Sprintf("#room%03d", i)))
	}
	inv := roomConv("#secret")
	inv.Invited, inv.Private = true, true
	convs = append(convs, inv, dmBob)
	contacts := []chat.Contact{{Presence: chat.Presence{User: 77, Handle: "carol"}}}
	h := newHarness(t, roomsBroker(convs, contacts, nil))
	rows := sidebarRows(h)
	want := []string{"Rooms", "› #lobby", "#room000", "#room001"}
	if !slices.Equal(rows[:4], want) {
		t.Fatalf("first rows %q, want %q", rows[:4], want)
	}
	at := func(s string) int { return slices.Index(rows, s) }
	if !(at("#room199") < at("#secret invited") && at("#secret invited") < at("Direct messages") &&
		at("Direct messages") < at("bob") && at("bob") < at("Contacts") && at("Contacts") < at("Online (1)")) {
		t.Fatalf("groups out of order: %q", rows)
	}
	// Tab passes over the invited room, from the last joined one to the DM.
	h.send(openConvMsg{"#room199"})
	h.press(tea.KeyTab)
	if h.app.current != dmBob.ID {
		t.Fatalf("tab from the last room went to %s", h.app.current)
	}
	// Without focus the sidebar scrolls to the conversation in front.
	h.send(openConvMsg{"#room150"})
	if s := h.screen(); !strings.Contains(s, "› #room150") {
		t.Fatalf("the room in front is not on screen:\n%s", s)
	}
	// With focus the cursor reaches every row, each scrolled into view.
	h.press(tea.KeyEscape)
	for range 260 {
		h.press(tea.KeyUp)
	}
	seen := map[string]bool{}
	for range 210 {
		h.press(tea.KeyDown)
		it, _ := h.app.sidebar.selected()
		seen[it.handle] = true
		if it.handle == "#room120" || it.handle == "#secret" || it.handle == "carol" {
			if s := h.screen(); !strings.Contains(s, it.handle) {
				t.Fatalf("selected %s not on screen:\n%s", it.handle, s)
			}
		}
	}
	for _, name := range []string{"#room000", "#room199", "#secret", "bob", "carol", "alice"} {
		if !seen[name] {
			t.Errorf("the cursor never reached %s", name)
		}
	}
	// PgUp and PgDn move the cursor a page at a time.
	for range 20 {
		h.press(tea.KeyPgUp)
	}
	if it, _ := h.app.sidebar.selected(); it.handle != "#lobby" {
		t.Fatalf("PgUp stopped at %s", it.handle)
	}
	h.press(tea.KeyPgDown)
	if it, _ := h.app.sidebar.selected(); it.handle != fmt.Sprintf("#room%03d", h.app.sidebar.height-3) || !strings.Contains(h.screen(), it.handle) {
		t.Fatalf("PgDn went to %s:\n%s", it.handle, h.screen())
	}
	// Enter on the invited room joins it the way /join does.
	for i := 0; i < 300; i++ {
		if it, _ := h.app.sidebar.selected(); it.handle == "#secret" {
			break
		}
		h.press(tea.KeyDown)
	}
	h.press(tea.KeyEnter)
	if _, execs, _, _, _ := h.sess.calls(); len(execs) != 1 || execs[0].text != "/join #secret" {
		t.Fatalf("execs = %+v", execs)
	}
}

func TestMentionInARoomInTheBackRingsOnceAndItsBadgeClearsOnRead(t *testing.T) {
	h := roomsHarness(t, roomConv("#ops"))
	h.events(roomMsg(1, "#ops", bobID, "bob", "deploy at noon"))
	if h.bells() != 0 {
		t.Fatalf("a plain room line rang: %d", h.bells())
	}
	h.events(roomMsg(2, "#ops", bobID, "bob", "@alice can you look?"), roomMsg(3, "#ops", bobID, "bob", "thanks @Alice."))
	h.events(roomMsg(4, "#ops", bobID, "bob", "@alice ping"))
	c := h.app.convs["#ops"]
	if c.info.Unread != 4 || c.info.Mentions != 3 {
		t.Fatalf("unread=%d mentions=%d, want 4 and 3", c.info.Unread, c.info.Mentions)
	}
	if h.bells() != 1 {
		t.Fatalf("bells = %d, want one for the first mention only", h.bells())
	}
	if s := h.screen(); !strings.Contains(s, "#ops (4) @3") {
		t.Fatalf("no badge beside the room:\n%s", s)
	}
	h.send(openConvMsg{"#ops"})
	if c.info.Unread != 0 || c.info.Mentions != 0 || strings.Contains(h.screen(), "@3") {
		t.Fatalf("not cleared on read: unread=%d mentions=%d", c.info.Unread, c.info.Mentions)
	}
	// Read, it rings again for the next mention while in the back.
	h.send(openConvMsg{chat.Lobby})
	h.events(roomMsg(5, "#ops", bobID, "bob", "@alice again"))
	if h.bells() != 2 {
		t.Fatalf("bells = %d after a mention in a read room", h.bells())
	}
	// In front, a mention is highlighted and does not ring.
	h.send(openConvMsg{"#ops"})
	h.events(roomMsg(6, "#ops", bobID, "bob", "@alice here"))
	if h.bells() != 2 {
		t.Fatalf("a mention in front rang")
	}
	if mp := h.app.st.pMention; !strings.Contains(h.app.View().Content, mp.open+"@alice"+mp.close) {
		t.Error("the mention in front is not highlighted")
	}
}

func TestReadElsewhereLowersTheMentionBadge(t *testing.T) {
	h := roomsHarness(t, roomConv("#ops"))
	h.send(openConvMsg{"#ops"})
	h.send(openConvMsg{chat.Lobby})
	h.events(roomMsg(1, "#ops", bobID, "bob", "@alice one"), roomMsg(2, "#ops", bobID, "bob", "two"))
	h.events(chat.ReadEvent{Conv: "#ops", UpTo: 2})
	if c := h.app.convs["#ops"]; c.info.Unread != 0 || c.info.Mentions != 0 {
		t.Fatalf("unread=%d mentions=%d after a read elsewhere", c.info.Unread, c.info.Mentions)
	}
}

func TestMentionHighlightFollowsMyRename(t *testing.T) {
	h := roomsHarness(t)
	me := h.app.me
	h.events(chat.PresenceEvent{Presence: chat.Presence{User: me.ID, Handle: "alicia", Status: chat.Online}, OldHandle: "alice"})
	h.events(roomMsg(1, chat.Lobby, bobID, "bob", "@alice old name"), roomMsg(2, chat.Lobby, bobID, "bob", "@Alicia new name"))
	v, mp := h.app.View().Content, h.app.st.pMention
	if !strings.Contains(v, mp.open+"@Alicia"+mp.close) || strings.Contains(v, mp.open+"@alice"+mp.close) {
		t.Fatalf("highlight does not follow the rename: %q", v)
	}
}

func TestRemovedRoomDisappearsAtOnceAndTheViewMovesToTheLobby(t *testing.T) {
	h := roomsHarness(t, roomConv("#ops"), roomConv("#dev"))
	h.send(openConvMsg{"#ops"})
	h.events(roomMsg(1, "#ops", bobID, "bob", "the secret plan"))
	h.events(roomMsg(2, "#dev", bobID, "bob", "dev talk"))
	h.typeText("half a reply")
	h.events(chat.ConversationEvent{Conversation: roomConv("#ops"), Removed: true, Reason: "bob kicked you from #ops: spam"})
	if h.app.current != chat.Lobby {
		t.Fatalf("view stayed in %s", h.app.current)
	}
	if h.app.convs["#ops"] != nil || slices.ContainsFunc(h.app.order, func(c *Conversation) bool { return c.info.ID == "#ops" }) {
		t.Fatal("the removed room is still held")
	}
	s := h.screen()
	if strings.Contains(s, "the secret plan") || slices.Contains(sidebarRows(h), "#ops") {
		t.Fatalf("the removed room still shows:\n%s", s)
	}
	if !strings.Contains(s, "bob kicked you from #ops: spam") {
		t.Fatalf("the reason is not shown:\n%s", s)
	}
	if _, ok := h.app.mem.drafts["#ops"]; ok {
		t.Error("the removed room's draft is kept")
	}
	// A room in the back goes without moving the view.
	h.events(chat.ConversationEvent{Conversation: roomConv("#dev"), Removed: true, Reason: "you were banned from #dev"})
	if h.app.current != chat.Lobby || h.app.convs["#dev"] != nil || slices.Contains(sidebarRows(h), "#dev (1)") {
		t.Fatalf("current=%s, #dev held=%v", h.app.current, h.app.convs["#dev"] != nil)
	}
	// The lobby is never removed.
	h.events(chat.ConversationEvent{Conversation: lobbyConv, Removed: true})
	if h.app.convs[chat.Lobby] == nil {
		t.Fatal("the lobby was removed")
	}
}

func TestReplyClosedDropsTheRoomAndShowsTheReplyInTheLobby(t *testing.T) {
	b := roomsBroker([]chat.Conversation{roomConv("#ops")}, nil, nil)
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(conv chat.ConvID, line string) (chat.Reply, error) {
			return chat.Reply{Closed: conv, Lines: []string{"you left " + string(conv)}}, nil
		}
	}
	h := newHarness(t, b)
	h.send(openConvMsg{"#ops"})
	h.events(roomMsg(1, "#ops", bobID, "bob", "ops chatter"))
	h.typeText("/part")
	h.press(tea.KeyEnter)
	if h.app.current != chat.Lobby || h.app.convs["#ops"] != nil {
		t.Fatalf("current=%s, #ops held=%v", h.app.current, h.app.convs["#ops"] != nil)
	}
	if s := h.screen(); strings.Contains(s, "ops chatter") || !strings.Contains(s, "you left #ops") {
		t.Fatalf("after /part:\n%s", s)
	}
}

func TestConversationEventAddsAnInvitationThenTheJoinedRoomWithItsTopic(t *testing.T) {
	h := roomsHarness(t, roomConv("#ops"))
	inv := roomConv("#secret")
	inv.Invited, inv.Private = true, true
	h.events(chat.ConversationEvent{Conversation: inv, Reason: "bob invited you to #secret"})
	if !slices.Contains(sidebarRows(h), "#secret invited") || !strings.Contains(h.screen(), "bob invited you to #secret") {
		t.Fatalf("invitation not shown: %q\n%s", sidebarRows(h), h.screen())
	}
	// Opening an invited room joins it.
	h.send(openConvMsg{"#secret"})
	if _, execs, _, _, _ := h.sess.calls(); len(execs) != 1 || execs[0].text != "/join #secret" || h.app.current != chat.Lobby {
		t.Fatalf("execs = %+v, current %s", execs, h.app.current)
	}
	joined := inv
	joined.Invited, joined.Topic, joined.Role, joined.Unread = false, "plans for the party", chat.RoleOperator, 2
	h.events(chat.ConversationEvent{Conversation: joined})
	rows := sidebarRows(h)
	if i, j := slices.Index(rows, "#ops"), slices.Index(rows, "#secret (2)"); j < 0 || j > i+1 || i < 0 {
		t.Fatalf("joined room not among the joined ones by name: %q", rows)
	}
	h.send(openConvMsg{"#secret"})
	header := strings.Split(h.screen(), "\n")[0]
	if !strings.Contains(header, "#secret · private · operator · plans for the party") {
		t.Fatalf("header = %q", header)
	}
	// A topic change reaches the header; a long one is cut to the pane.
	joined.Topic = strings.Repeat("a very long topic ", 20)
	h.events(chat.ConversationEvent{Conversation: joined})
	header = strings.Split(h.screen(), "\n")[0]
	if !strings.Contains(header, "a very long topic") || !strings.Contains(header, "…") || ansi.StringWidth(header) > h.app.w {
		t.Fatalf("long topic header = %q", header)
	}
}

func TestRoomSystemLinesAreDrawnAsSystemLinesAndNotCounted(t *testing.T) {
	h := roomsHarness(t, roomConv("#ops"))
	kick := msgAt(1, "#ops", bobID, "bob", "bob kicked carol: spam")
	kick.Kind = chat.KindSystem
	h.b.store(kick)
	h.events(chat.MessageEvent{Message: kick, Conversation: roomConv("#ops")})
	if c := h.app.convs["#ops"]; c.info.Unread != 0 {
		t.Fatalf("a system line counted as unread: %d", c.info.Unread)
	}
	h.send(openConvMsg{"#ops"})
	s := h.screen()
	if !strings.Contains(s, "bob kicked carol: spam") || strings.Contains(s, "bob: bob kicked") || strings.Contains(s, "09:30") {
		t.Fatalf("system line drawn as a message:\n%s", s)
	}
}

func TestOfflineDialogGroupsRoomMentionsWithTheirSenders(t *testing.T) {
	b := newFakeBroker()
	ops := chat.ConvID("room:7") // a room's id need not be its name
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online),
			Conversations: []chat.Conversation{lobbyConv, {ID: ops, Kind: chat.KindRoom, Name: "#ops", Unread: 5, Mentions: 3}},
			Offline: []chat.OfflineGroup{
				{From: bobID, FromHandle: "bob", Conv: dmBob.ID, Count: 2, Messages: []chat.Message{
					msgAt(3, dmBob.ID, bobID, "bob", "are you there?"), msgAt(4, dmBob.ID, bobID, "bob", "call me")}},
				{Conv: ops, Room: true, Name: "#ops", Count: 3, Messages: []chat.Message{
					msgAt(5, ops, 77, "carol", "@alice the build is red"),
					msgAt(6, ops, 78, "dave", "@alice ping"),
					msgAt(9, ops, 77, "carol", "@alice never mind")}},
			}}
	}
	h := newHarness(t, b)
	s := h.screen()
	for _, want := range []string{"2 messages from 1 person · 3 mentions in 1 room", "bob — 2 messages",
		"3 mentions in #ops", "carol: @alice the build is red", "dave: @alice ping", "carol: @alice never mind"} {
		if !strings.Contains(s, want) {
			t.Errorf("dialog lacks %q:\n%s", want, s)
		}
	}
	h.press(tea.KeyDown)
	h.press(tea.KeyEnter)
	if h.app.current != ops || h.app.convs[ops].info.Name != "#ops" || h.app.convs[ops].info.Kind != chat.KindRoom {
		t.Fatalf("enter opened %s (%+v)", h.app.current, h.app.convs[h.app.current].info)
	}
	if strings.Contains(strings.Join(sidebarRows(h), "\n"), "room:7") {
		t.Fatalf("the room is listed under its id: %q", sidebarRows(h))
	}
}

func sysMsg(id int, conv chat.ConvID, from chat.UserID, handle, body string) chat.MessageEvent {
	m := msgAt(id, conv, from, handle, body)
	m.Kind = chat.KindSystem
	return chat.MessageEvent{Message: m, Conversation: roomConv(string(conv))}
}

func TestJoinAndPartLinesOfARoomAreSummarisedInRuns(t *testing.T) {
	h := roomsHarness(t, roomConv("#ops"))
	h.send(openConvMsg{"#ops"})
	h.events(sysMsg(1, "#ops", 10, "u0", "u0 joined #ops"))
	if s := h.screen(); !strings.Contains(s, "u0 joined #ops") {
		t.Fatalf("a lone join is not shown as it is:\n%s", s)
	}
	// Live joins extend the run: one summary line instead of one each.
	for i := 1; i < 5; i++ {
		h.events(sysMsg(1+i, "#ops", chat.UserID(10+i), fmt.Sprintf("u%d", i), fmt.Sprintf("u%d joined #ops", i)))
	}
	h.events(sysMsg(6, "#ops", 20, "v", "v left #ops"))
	s := h.screen()
	if !strings.Contains(s, "u0, u1, u2 and 2 others joined; v left") || strings.Contains(s, "u0 joined #ops") || strings.Contains(s, "u3 joined") {
		t.Fatalf("run not summarised:\n%s", s)
	}
	// Someone who came and went within the run is not named at all; other
	// system lines and messages end a run and stay as they are.
	h.events(roomMsg(7, "#ops", bobID, "bob", "hello"),
		sysMsg(8, "#ops", 30, "w", "w joined #ops"), sysMsg(9, "#ops", 30, "w", "w left #ops"),
		sysMsg(10, "#ops", 31, "x", "x joined #ops"),
		sysMsg(11, "#ops", bobID, "bob", "bob kicked carol: spam"))
	s = h.screen()
	for _, want := range []string{"bob: hello", "x joined", "bob kicked carol: spam"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "w joined") || strings.Contains(s, "w left") {
		t.Errorf("who came and went is named:\n%s", s)
	}
}

func TestOverSSHQuickSwitcherOpensARoomAndTabCompletesAMention(t *testing.T) {
	ops := roomConv("#devops")
	ops.Topic = "deploys and pagers"
	b := roomsBroker([]chat.Conversation{roomConv("#design"), ops}, nil,
		[]chat.Presence{{User: bobID, Handle: "bobby_tables", Status: chat.Online}})
	addr := startServer(t, b, Options{ServerName: "testchat"})
	alice := dial(t, addr, termOpt{user: "alice"})
	alice.waitScreen("Welcome to testchat, alice!")
	alice.write("\x0b") // Ctrl+K
	alice.waitScreen("go to")
	alice.write("dops")
	alice.waitScreen("› #devops")
	alice.write("\r")
	alice.waitScreen("#devops · deploys and pagers")
	alice.write("hi @bob\t")
	alice.waitScreen("> hi @bobby_tables")
}

func TestJoiningAnInvitedRoomRunsJoinOnceAndOpensIt(t *testing.T) {
	inv := roomConv("#secret")
	inv.Invited, inv.Private = true, true
	b := roomsBroker([]chat.Conversation{inv}, nil, nil)
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(_ chat.ConvID, line string) (chat.Reply, error) {
			joined := inv
			joined.Invited, joined.Topic = false, "hush"
			return chat.Reply{Open: &joined}, nil // the ConversationEvent comes later
		}
	}
	h := newHarness(t, b)
	openSwitcher(h)
	h.typeText("secret")
	h.press(tea.KeyEnter)
	_, execs, _, _, _ := h.sess.calls()
	if len(execs) != 1 || execs[0].text != "/join #secret" {
		t.Fatalf("execs = %+v", execs)
	}
	if c := h.app.convs["#secret"]; h.app.current != "#secret" || c.info.Invited {
		t.Fatalf("current %s, invited %v", h.app.current, c.info.Invited)
	}
	if header := strings.Split(h.screen(), "\n")[0]; !strings.Contains(header, "#secret · private · hush") {
		t.Fatalf("header = %q", header)
	}
}

func TestSnapshotGivesTheLobbyItsTopic(t *testing.T) {
	b := newFakeBroker()
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		l := lobbyConv
		l.Topic = "be excellent to each other"
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online), Conversations: []chat.Conversation{l}}
	}
	h := newHarness(t, b)
	if header := strings.Split(h.screen(), "\n")[0]; !strings.Contains(header, "#lobby · 1 online · be excellent to each other") {
		t.Fatalf("header = %q", header)
	}
}

func TestNarrowHeaderTellsMentionsElsewhere(t *testing.T) {
	h := roomsHarness(t, roomConv("#ops"))
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.events(roomMsg(1, "#ops", bobID, "bob", "hi"), roomMsg(2, "#ops", bobID, "bob", "@alice?"))
	if s := h.screen(); !strings.Contains(s, "2 unread elsewhere, @1 (esc)") {
		t.Fatalf("no mention hint in the header:\n%s", s)
	}
}

func TestSwitcherNeverOffersABlockedContact(t *testing.T) {
	contacts := []chat.Contact{{Presence: chat.Presence{User: 77, Handle: "troll", Status: chat.Online}, Blocked: true}}
	h := newHarness(t, roomsBroker(nil, contacts, []chat.Presence{{User: 77, Handle: "troll", Status: chat.Online}}))
	s := openSwitcher(h)
	h.typeText("troll")
	if names := switcherNames(s); len(names) != 0 {
		t.Fatalf("offered %q", names)
	}
}

// TestOfflineDialogPickOfARoomLeftMeanwhileDoesNotBringItBack checks that
// picking, in the "While you were away" dialog, the mentions of a room the
// user was removed from while the dialog was open does not put the room
// back in the sidebar: it is gone, and the view stays where it is.
func TestOfflineDialogPickOfARoomLeftMeanwhileDoesNotBringItBack(t *testing.T) {
	b := newFakeBroker()
	b.snapshot = func(me chat.Account, online []chat.Presence) chat.Snapshot {
		return chat.Snapshot{Me: me, Online: chat.NewRoster(online),
			Conversations: []chat.Conversation{lobbyConv, roomConv("#ops")},
			Offline: []chat.OfflineGroup{{Conv: "#ops", Room: true, Name: "#ops", Count: 1, Messages: []chat.Message{
				msgAt(5, "#ops", 77, "carol", "@alice the build is red")}}},
		}
	}
	h := newHarness(t, b)
	if h.app.dialog == nil {
		t.Fatal("no offline dialog")
	}
	h.events(chat.ConversationEvent{Conversation: roomConv("#ops"), Removed: true, Reason: "carol kicked you from #ops"})
	h.press(tea.KeyEnter)
	if h.app.dialog != nil {
		t.Fatal("the dialog stayed open")
	}
	if h.app.convs["#ops"] != nil || slices.Contains(sidebarRows(h), "#ops") || h.app.current != chat.Lobby {
		t.Fatalf("the room came back: current=%s, sidebar %q", h.app.current, sidebarRows(h))
	}
}

// TestJoinReplyAfterAKickDoesNotBringTheRoomBack checks that the answer to
// a /join that reaches the App after the user was removed from the room
// (kicked right after joining) does not put the room back: the removal,
// which the broker ordered after the join, wins. A /join typed after a
// removal opens the room as usual.
func TestJoinReplyAfterAKickDoesNotBringTheRoomBack(t *testing.T) {
	ops := roomConv("#ops")
	b := roomsBroker(nil, nil, nil)
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(chat.ConvID, string) (chat.Reply, error) {
			return chat.Reply{Open: &ops}, nil
		}
	}
	h := newHarness(t, b)
	call := h.app.runLine("/join #ops") // in flight: its answer comes later
	h.events(chat.ConversationEvent{Conversation: ops})
	h.events(chat.ConversationEvent{Conversation: ops, Removed: true, Reason: "carol kicked you from #ops"})
	h.run(call)
	if h.app.convs["#ops"] != nil || slices.Contains(sidebarRows(h), "#ops") || h.app.current != chat.Lobby {
		t.Fatalf("the room came back: current=%s, sidebar %q", h.app.current, sidebarRows(h))
	}
	// Joining again, now: the answer opens it, before or after its event.
	h.run(h.app.runLine("/join #ops"))
	if h.app.convs["#ops"] == nil || h.app.current != "#ops" {
		t.Fatalf("a new /join did not open the room: current=%s", h.app.current)
	}
}

// TestMentionBadgeIsCountedInRoomsOnly checks that the live mention count
// follows the broker's rule (chat doc: a room or lobby message records a
// mention; a direct message is all for its reader): an @handle in a direct
// message adds to its unread count, not to a mention badge that would be
// gone after the next login.
func TestMentionBadgeIsCountedInRoomsOnly(t *testing.T) {
	h := roomsHarness(t, roomConv("#ops"), dmBob)
	h.events(chat.MessageEvent{Message: msgAt(1, dmBob.ID, bobID, "bob", "@alice look"), Conversation: dmBob})
	h.events(roomMsg(2, "#ops", bobID, "bob", "@alice look"))
	if c := h.app.convs[dmBob.ID].info; c.Unread != 1 || c.Mentions != 0 {
		t.Errorf("direct conversation: unread %d, mentions %d; want 1, 0", c.Unread, c.Mentions)
	}
	if c := h.app.convs["#ops"].info; c.Unread != 1 || c.Mentions != 1 {
		t.Errorf("room: unread %d, mentions %d; want 1, 1", c.Unread, c.Mentions)
	}
}
