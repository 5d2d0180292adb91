package chat

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sshchat/model"
)

// exec runs a command line and fails the test on error.
func exec(t *testing.T, s Session, conv ConvID, line string) Reply {
	t.Helper()
	r, err := s.Exec(context.Background(), conv, line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return r
}

// roomMessages returns the next n MessageEvents of conv, skipping others.
func roomMessages(t *testing.T, s Session, conv ConvID, n int) []Message {
	t.Helper()
	var out []Message
	for len(out) < n {
		ev := next[MessageEvent](t, s)
		if ev.Message.Conv == conv {
			out = append(out, ev.Message)
		}
	}
	return out
}

// TestRoomOneOrderEqualsStoredHistory checks that every member of a room
// sees its messages and its membership lines in the order of its stored
// history, while members send at once and people join.
func TestRoomOneOrderEqualsStoredHistory(t *testing.T) {
	h, db := newTestHub(t, Options{QueueLen: 4096})
	ctx := context.Background()
	const users, perUser = 4, 30
	var sessions []Session
	for i := range users {
		s := connect(t, h, account(t, h, fmt.Sprintf("user%d", i)))
		exec(t, s, Lobby, "/join #go")
		sessions = append(sessions, s)
	}
	// Everyone is in; from here on every member sees everything.
	hist0, _ := db.History(ctx, "#go", 0, 500, nil)
	start := hist0[len(hist0)-1].ID
	for _, s := range sessions {
		for {
			ev := next[MessageEvent](t, s)
			if int64(ev.Message.ID) == start {
				break
			}
		}
	}
	var wg sync.WaitGroup
	for i, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perUser {
				if _, err := s.Send(ctx, "#go", fmt.Sprintf("m-%d-%d", i, j)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	late := connect(t, h, account(t, h, "late"))
	exec(t, late, Lobby, "/join #go")
	wg.Wait()
	hist, err := db.History(ctx, "#go", 0, 500, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, m := range hist {
		if m.ID > start {
			want = append(want, m.ID)
		}
	}
	if len(want) != users*perUser+1 {
		t.Fatalf("history has %d new messages", len(want))
	}
	for i, s := range sessions {
		got := roomMessages(t, s, "#go", len(want))
		for k := range want {
			if int64(got[k].ID) != want[k] {
				t.Fatalf("user%d saw %d at %d, history has %d", i, got[k].ID, k, want[k])
			}
		}
	}
}

// TestRoomMessageIsStoredBeforeItIsPublished checks persist-then-publish
// for rooms: when a member receives a room message, it is in the store.
func TestRoomMessageIsStoredBeforeItIsPublished(t *testing.T) {
	h, db := newTestHub(t, Options{})
	ctx := context.Background()
	alice := connect(t, h, account(t, h, "alice"))
	bob := connect(t, h, account(t, h, "bob"))
	exec(t, alice, Lobby, "/join #go")
	exec(t, bob, Lobby, "/join #go")
	go func() {
		for i := range 20 {
			alice.Send(ctx, "#go", fmt.Sprintf("x%d", i))
		}
	}()
	for _, m := range roomMessages(t, bob, "#go", 20) {
		got, err := db.History(ctx, "#go", int64(m.ID)+1, 1, nil)
		if err != nil || len(got) != 1 || got[0].ID != int64(m.ID) {
			t.Fatalf("%d published before stored: %v %v", m.ID, got, err)
		}
	}
}

// TestRoomMessageReachesEachMemberOnceAndOfflineMentionOnce checks that a
// room message reaches every live session of every member exactly once
// and no one else, and that a member mentioned while offline finds it in
// the offline dialog exactly once.
func TestRoomMessageReachesEachMemberOnceAndOfflineMentionOnce(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	ctx := context.Background()
	a, b, c, d := account(t, h, "alice"), account(t, h, "bob"), account(t, h, "carol"), account(t, h, "dave")
	alice := connect(t, h, a)
	bob1, bob2 := connect(t, h, b), connect(t, h, b)
	carol := connect(t, h, c) // not a member
	dave := connect(t, h, d)
	exec(t, alice, Lobby, "/join #ops")
	exec(t, bob1, Lobby, "/join #ops")
	exec(t, dave, Lobby, "/join #ops")
	dave.Close()
	drain(alice)
	drain(bob1)
	drain(bob2)
	var sent []MessageID
	for i := range 3 {
		m, err := alice.Send(ctx, "#ops", fmt.Sprintf("hi @dave and @bob %d", i))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, m.ID)
	}
	last, _ := alice.Send(ctx, Lobby, "lobby line")
	for _, s := range []Session{alice, bob1, bob2} {
		var got []MessageID
		for {
			ev := next[MessageEvent](t, s)
			if ev.Message.ID == last.ID {
				break
			}
			got = append(got, ev.Message.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(sent) {
			t.Fatalf("a member's session got %v, want %v", got, sent)
		}
	}
	for _, ev := range drain(carol) {
		if m, ok := ev.(MessageEvent); ok && m.Message.Conv == "#ops" {
			t.Fatalf("non-member got %+v", m)
		}
	}
	if snap := bob1.Snapshot(); len(snap.Offline) != 0 {
		t.Fatalf("bob was online: offline %+v", snap.Offline)
	}
	dave = connect(t, h, d)
	snap := dave.Snapshot()
	if len(snap.Offline) != 1 || !snap.Offline[0].Room || snap.Offline[0].Name != "#ops" || snap.Offline[0].Count != 3 || len(snap.Offline[0].Messages) != 3 {
		t.Fatalf("dave's offline batch %+v", snap.Offline)
	}
	var ops *Conversation
	for i, cv := range snap.Conversations {
		if cv.ID == "#ops" {
			ops = &snap.Conversations[i]
		}
	}
	if ops == nil || ops.Mentions != 3 || ops.Unread < 3 {
		t.Fatalf("dave's #ops entry %+v", ops)
	}
	if err := dave.DismissOffline(ctx); err != nil {
		t.Fatal(err)
	}
	dave.Close()
	if again := connect(t, h, d).Snapshot(); len(again.Offline) != 0 {
		t.Fatalf("offline mentions offered twice: %+v", again.Offline)
	}
}

// TestBlocksHoldInsideRooms checks that the blocker never sees the blocked
// user's room messages: not live, not in history, not as a mention.
func TestBlocksHoldInsideRooms(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	ctx := context.Background()
	a, b := account(t, h, "alice"), account(t, h, "bob")
	alice, bob := connect(t, h, a), connect(t, h, b)
	exec(t, alice, Lobby, "/join #go")
	exec(t, bob, Lobby, "/join #go")
	exec(t, bob, Lobby, "/block alice")
	if _, err := alice.Send(ctx, "#go", "SECRET-blocked @bob"); err != nil {
		t.Fatal(err)
	}
	m, _ := alice.Exec(ctx, "#go", "/me SECRET-blocked waves")
	_ = m
	mark, err := bob.Send(ctx, "#go", "mark")
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev := next[MessageEvent](t, bob)
		if strings.Contains(ev.Message.Body, "SECRET-") {
			t.Fatalf("blocked message reached bob: %+v", ev)
		}
		if ev.Message.ID == mark.ID {
			break
		}
	}
	hist, _ := bob.History(ctx, "#go", 0, 100)
	for _, m := range hist {
		if strings.Contains(m.Body, "SECRET-") {
			t.Fatalf("history shows %+v", m)
		}
	}
	bob.Close()
	if _, err := alice.Send(ctx, "#go", "SECRET-offline @bob"); err != nil {
		t.Fatal(err)
	}
	snap := connect(t, h, b).Snapshot()
	for _, cv := range snap.Conversations {
		if cv.ID == "#go" && cv.Mentions != 0 {
			t.Fatalf("mentions by a blocked user counted: %+v", cv)
		}
	}
	if len(snap.Offline) != 0 {
		t.Fatalf("offline mention by a blocked user: %+v", snap.Offline)
	}
}

// TestRemovedMemberStopsReceivingAtOnceInEverySession checks kick, ban and
// part: every session of the removed user is told at once and gets nothing
// of the room after it; sending and reading are refused.
func TestRemovedMemberStopsReceivingAtOnceInEverySession(t *testing.T) {
	for _, how := range []string{"/kick bob spam", "/ban bob spam", "/part"} {
		t.Run(how, func(t *testing.T) {
			h, _ := newTestHub(t, Options{})
			ctx := context.Background()
			a, b := account(t, h, "alice"), account(t, h, "bob")
			alice := connect(t, h, a)
			bob1, bob2 := connect(t, h, b), connect(t, h, b)
			exec(t, alice, Lobby, "/create #ops private")
			exec(t, alice, "#ops", "/invite bob")
			exec(t, bob1, Lobby, "/join #ops")
			actor := alice
			if how == "/part" {
				actor = bob2
			}
			exec(t, actor, "#ops", how)
			if _, err := alice.Send(ctx, "#ops", "SECRET-after"); err != nil {
				t.Fatal(err)
			}
			if _, err := alice.Send(ctx, Lobby, "end"); err != nil {
				t.Fatal(err)
			}
			for _, s := range []Session{bob1, bob2} {
				ce := next[ConversationEvent](t, s)
				for !ce.Removed {
					ce = next[ConversationEvent](t, s)
				}
				if ce.Conversation.ID != "#ops" || ce.Reason == "" {
					t.Fatalf("removal event %+v", ce)
				}
				for {
					ev := next[MessageEvent](t, s)
					if ev.Message.Conv == "#ops" {
						t.Fatalf("removed member got %+v", ev)
					}
					if ev.Message.Body == "end" {
						break
					}
				}
				if _, err := s.Send(ctx, "#ops", "x"); !errors.Is(err, ErrNotAllowed) {
					t.Fatalf("removed member sent: %v", err)
				}
				if _, err := s.History(ctx, "#ops", 0, 10); !errors.Is(err, ErrNotAllowed) {
					t.Fatalf("removed member read history: %v", err)
				}
			}
			_, err := bob1.Exec(ctx, Lobby, "/join #ops")
			if how == "/ban bob spam" || how == "/kick bob spam" || how == "/part" {
				// Private: without a new invitation the name is just taken.
				if !errors.Is(err, ErrNameTaken) {
					t.Fatalf("rejoin after %s: %v", how, err)
				}
			}
		})
	}
}

// TestRoomStateSurvivesRestart checks that membership, roles, bans,
// topics, unread and mention counts come back after a restart on the
// same database file.
func TestRoomStateSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	open := func() (*Hub, *model.DB) { return openHubAt(t, path) }
	h, db := open()
	a, b, c := account(t, h, "alice"), account(t, h, "bob"), account(t, h, "carol")
	alice, bob, carol := connect(t, h, a), connect(t, h, b), connect(t, h, c)
	exec(t, alice, Lobby, "/create #ops private")
	exec(t, alice, "#ops", "/invite bob")
	exec(t, alice, "#ops", "/invite carol")
	exec(t, bob, Lobby, "/join #ops")
	exec(t, carol, Lobby, "/join #ops")
	exec(t, alice, "#ops", "/op bob")
	exec(t, alice, "#ops", "/topic deploys")
	exec(t, bob, "#ops", "/ban carol")
	bob.Close()
	for _, text := range []string{"one @bob", "two", "three @bob"} {
		if _, err := alice.Send(ctx, "#ops", text); err != nil {
			t.Fatal(err)
		}
	}
	alice.Close()
	carol.Close()
	h.Close(ctx)
	db.Close()

	h, db = open()
	t.Cleanup(func() { h.Close(ctx); db.Close() })
	bob = connect(t, h, b)
	var ops Conversation
	for _, cv := range bob.Snapshot().Conversations {
		if cv.ID == "#ops" {
			ops = cv
		}
	}
	// Unread since bob joined: alice's three messages (lines of record,
	// joins, /op, /topic, /ban, are not unread).
	if ops.Role != RoleOperator || ops.Topic != "deploys" || !ops.Private || ops.Unread != 3 || ops.Mentions != 2 {
		t.Fatalf("bob's #ops after restart: %+v", ops)
	}
	carol = connect(t, h, c)
	for _, cv := range carol.Snapshot().Conversations {
		if cv.ID == "#ops" {
			t.Fatalf("banned carol lists %+v", cv)
		}
	}
	if _, err := carol.Exec(ctx, Lobby, "/join #ops"); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("banned carol joins: %v", err)
	}
	alice = connect(t, h, a)
	if _, err := alice.Exec(ctx, "#ops", "/invite carol"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("inviting banned carol: %v", err)
	}
	exec(t, bob, "#ops", "/unban carol")
	exec(t, bob, "#ops", "/invite carol")
	exec(t, carol, Lobby, "/join #ops")
}

// TestRoomCommandsRefuseBadInputInOneLine checks that bad names,
// look-alikes, unknown users and acting without the role are refused with
// a one-line reason, and that nothing is changed.
func TestRoomCommandsRefuseBadInputInOneLine(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	ctx := context.Background()
	alice := connect(t, h, account(t, h, "alice"))
	bob := connect(t, h, account(t, h, "bob"))
	account(t, h, "carol")
	exec(t, alice, Lobby, "/create #ops")
	exec(t, alice, Lobby, "/create #secret private")
	exec(t, bob, Lobby, "/join #ops")
	cases := []struct {
		s    Session
		conv ConvID
		line string
		want error
	}{
		{alice, Lobby, "/join", ErrUsage},
		{alice, Lobby, "/join #", ErrRoomNameInvalid},
		{alice, Lobby, "/join #bad name", ErrUsage},
		{alice, Lobby, "/join #héllo", ErrRoomNameInvalid},
		{alice, Lobby, "/join #-x", ErrRoomNameInvalid},
		{alice, Lobby, "/join #" + strings.Repeat("x", 25), ErrRoomNameInvalid},
		{alice, Lobby, "/create #0ps", ErrNameTaken},
		{alice, Lobby, "/create #OPS", ErrNameTaken},
		{alice, Lobby, "/create #l0bby", ErrNameTaken},
		{alice, Lobby, "/create #x sometimes", ErrUsage},
		{bob, Lobby, "/join #secret", ErrNameTaken},
		{bob, Lobby, "/create #secret", ErrNameTaken},
		{bob, Lobby, "/join #Secret", ErrNameTaken},
		{alice, Lobby, "/part", ErrNotAllowed},
		{alice, Lobby, "/kick bob", ErrNotAllowed},
		{alice, DirectConv(1, 2), "/topic x", ErrNotAllowed},
		{alice, "#ops", "/kick nobody", ErrNoSuchUser},
		{alice, "#ops", "/kick carol", ErrNotListed},
		{alice, "#ops", "/op carol", ErrNotListed},
		{alice, "#ops", "/kick", ErrUsage},
		{alice, "#ops", "/invite bob", ErrAlreadyListed},
		{alice, "#ops", "/unban bob", ErrNotListed},
		{alice, "#ops", "/kick alice", ErrNotAllowed},
		{bob, "#ops", "/kick alice", ErrNotAllowed},
		{bob, "#ops", "/topic hi", ErrNotAllowed},
		{bob, "#ops", "/op bob", ErrNotAllowed},
		{bob, "#ops", "/ban alice", ErrNotAllowed},
		{bob, "#secret", "/topic", ErrNotAllowed},
		{bob, "#secret", "/members", ErrNotAllowed},
		{bob, "#secret", "/invite carol", ErrNotAllowed},
		{bob, "#nowhere", "/part", ErrNotAllowed},
	}
	for _, tc := range cases {
		_, err := tc.s.Exec(ctx, tc.conv, tc.line)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s in %s: %v, want %v", tc.line, tc.conv, err, tc.want)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || len(msg) > 200 {
			t.Errorf("%s: not one line: %q", tc.line, msg)
		}
		if strings.Contains(err.Error(), "secret") && tc.s == bob && !strings.Contains(strings.ToLower(tc.line+string(tc.conv)), "secret") {
			t.Errorf("%s names the private room: %v", tc.line, err)
		}
	}
	// bob's refusals about #secret read the same as about a room that
	// does not exist.
	_, e1 := bob.Exec(ctx, "#secret", "/members")
	_, e2 := bob.Exec(ctx, "#nosuch", "/members")
	if strings.ReplaceAll(e1.Error(), "secret", "X") != strings.ReplaceAll(e2.Error(), "nosuch", "X") {
		t.Errorf("refusals differ: %q vs %q", e1, e2)
	}
	if rep := exec(t, alice, "#ops", "/members"); len(rep.Lines) != 1 || !strings.Contains(rep.Lines[0], "2 members") {
		t.Errorf("members: %+v", rep)
	}
}

// TestRoomsListPagesWithTheLobbyInItsPlace checks Session.Rooms paging:
// every visible room once, in key order, the lobby among them, with
// member and online counts.
func TestRoomsListPagesWithTheLobbyInItsPlace(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	ctx := context.Background()
	alice := connect(t, h, account(t, h, "alice"))
	bob := connect(t, h, account(t, h, "bob"))
	for _, r := range []string{"#alpha", "#zulu", "#mike", "#kilo"} {
		exec(t, alice, Lobby, "/join "+r)
	}
	exec(t, alice, Lobby, "/create #hidden private")
	exec(t, bob, Lobby, "/join #mike")
	var got []string
	after := ""
	for {
		page, err := bob.Rooms(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			got = append(got, r.Name)
			if r.Name == "#mike" && (r.Members != 2 || r.Online != 2 || !r.Joined) {
				t.Errorf("#mike listed as %+v", r)
			}
			if r.ID == Lobby && (r.Members != 2 || r.Online != 2) {
				t.Errorf("lobby listed as %+v", r)
			}
		}
		if len(page) < 2 {
			break
		}
		after = string(page[len(page)-1].ID)
	}
	if want := "[#alpha #kilo #lobby #mike #zulu]"; fmt.Sprint(got) != want {
		t.Fatalf("bob's pages list %v, want %v", got, want)
	}
	rep := exec(t, alice, Lobby, "/rooms")
	if len(rep.Rooms) != 6 {
		t.Fatalf("alice's /rooms %+v", rep.Rooms)
	}
}

// TestInvitationsAndRolesAreToldToTheirUser checks the ConversationEvents
// of an invitation, an /op and a /topic, and the snapshot's invited entry.
func TestInvitationsAndRolesAreToldToTheirUser(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	a, b := account(t, h, "alice"), account(t, h, "bob")
	alice, bob := connect(t, h, a), connect(t, h, b)
	exec(t, alice, Lobby, "/create #ops private")
	exec(t, alice, "#ops", "/invite bob")
	if ev := next[ConversationEvent](t, bob); ev.Conversation.ID != "#ops" || !ev.Conversation.Invited || !ev.Conversation.Private {
		t.Fatalf("invitation %+v", ev)
	}
	snap := connect(t, h, b).Snapshot()
	if c := snap.Conversations[1]; c.ID != "#ops" || !c.Invited {
		t.Fatalf("bob's snapshot %+v", snap.Conversations)
	}
	rep := exec(t, bob, Lobby, "/join #ops")
	if rep.Open == nil || rep.Open.ID != "#ops" || rep.Open.Role != RoleMember || rep.Open.Invited {
		t.Fatalf("join reply %+v", rep)
	}
	exec(t, alice, "#ops", "/op bob")
	for {
		ev := next[ConversationEvent](t, bob)
		if ev.Conversation.Role == RoleOperator {
			break
		}
	}
	exec(t, bob, "#ops", "/topic deploys at noon")
	ev := next[ConversationEvent](t, alice)
	for ev.Conversation.Topic == "" {
		ev = next[ConversationEvent](t, alice) // the one of /create
	}
	if ev.Conversation.Topic != "deploys at noon" || ev.Conversation.Role != RoleOwner {
		t.Fatalf("topic event %+v", ev)
	}
}

// TestLobbyMentionOfOfflineUserIsDeliveredOnce checks that a lobby
// mention of an offline user reaches them once, under the lobby.
func TestLobbyMentionOfOfflineUserIsDeliveredOnce(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	ctx := context.Background()
	a, b := account(t, h, "alice"), account(t, h, "bob")
	alice := connect(t, h, a)
	if _, err := alice.Send(ctx, Lobby, "ping @bob, and @nobody"); err != nil {
		t.Fatal(err)
	}
	bob := connect(t, h, b)
	snap := bob.Snapshot()
	if len(snap.Offline) != 1 || snap.Offline[0].Conv != Lobby || !snap.Offline[0].Room || snap.Offline[0].Count != 1 || snap.Conversations[0].Mentions != 1 {
		t.Fatalf("bob's snapshot: offline %+v, lobby %+v", snap.Offline, snap.Conversations[0])
	}
	if err := bob.DismissOffline(ctx); err != nil {
		t.Fatal(err)
	}
	bob.Close()
	if again := connect(t, h, b).Snapshot(); len(again.Offline) != 0 {
		t.Fatalf("offered twice: %+v", again.Offline)
	}
}

// TestRoomNamesFollowTheHandleRules checks NormalizeRoomName: the handle
// rules with a '#', refusals worded for room names, and the lobby's
// look-alikes reserved.
func TestRoomNamesFollowTheHandleRules(t *testing.T) {
	for in, want := range map[string][2]string{
		"#Go-Nuts": {"#Go-Nuts", "go-nuts"}, "ops": {"#ops", "ops"}, " #ｇｏ ": {"#go", "go"}, "#lobby": {"#lobby", "lobby"},
	} {
		d, k, err := NormalizeRoomName(in)
		if err != nil || d != want[0] || k != want[1] {
			t.Errorf("NormalizeRoomName(%q) = %q, %q, %v; want %v", in, d, k, err, want)
		}
	}
	for _, in := range []string{"#", "", "#a b", "#é", "#.x", "#x-", "##x", "#" + strings.Repeat("a", 25)} {
		_, _, err := NormalizeRoomName(in)
		if !errors.Is(err, ErrRoomNameInvalid) || !strings.Contains(err.Error(), "room names") || strings.Contains(err.Error(), "handle") {
			t.Errorf("NormalizeRoomName(%q): %v", in, err)
		}
	}
	for _, k := range []string{"lobby", "l0bby", "LOBBY"} {
		if !reservedRoom(strings.ToLower(k)) {
			t.Errorf("%s not reserved", k)
		}
	}
	if RoomConv(lobbyKey) != Lobby {
		t.Error("RoomConv(lobby) is not Lobby")
	}
}

// TestRoomChangesAreRateLimited checks that room commands, which each
// write a line of history, spend the same tokens as messages.
func TestRoomChangesAreRateLimited(t *testing.T) {
	h, _ := newTestHub(t, Options{RateBurst: 3, RatePerSecond: 0.001})
	alice := connect(t, h, account(t, h, "alice"))
	var err error
	for i := 0; i < 4 && err == nil; i++ {
		_, err = alice.Exec(context.Background(), Lobby, fmt.Sprintf("/join #r%d", i))
	}
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("fourth /join: %v", err)
	}
}

// TestSendSequencedAfterKickIsRefused checks that a room message sent
// while its sender's removal waits in the sequencer is refused at commit:
// stored nowhere, delivered to no one.
func TestSendSequencedAfterKickIsRefused(t *testing.T) {
	h, ps := newPausingHub(t)
	ctx := context.Background()
	a, b := account(t, h, "alice"), account(t, h, "bob")
	alice, bob := connect(t, h, a), connect(t, h, b)
	exec(t, alice, Lobby, "/create #ops")
	exec(t, bob, Lobby, "/join #ops")

	ps.arm("append")
	held := make(chan struct{})
	go func() {
		defer close(held)
		alice.Send(ctx, Lobby, "hold")
	}()
	<-ps.paused // the sequencer is busy with alice's message
	kicked := make(chan error, 1)
	go func() {
		_, err := alice.Exec(ctx, "#ops", "/kick bob")
		kicked <- err
	}()
	eventually(t, func() bool { return h.queued() == 1 })
	sent := make(chan error, 1)
	go func() {
		_, err := bob.Send(ctx, "#ops", "SECRET-late")
		sent <- err
	}()
	eventually(t, func() bool { return h.queued() == 2 })
	ps.release()
	<-held
	if err := <-kicked; err != nil {
		t.Fatal(err)
	}
	if err := <-sent; !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("send after the kick: %v", err)
	}
	hist, err := alice.History(ctx, "#ops", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range hist {
		if strings.Contains(m.Body, "SECRET-") {
			t.Fatalf("stored: %+v", m)
		}
	}
	for _, ev := range drain(alice) {
		if strings.Contains(fmt.Sprint(ev), "SECRET-") {
			t.Fatalf("delivered: %+v", ev)
		}
	}
}

// TestOfflineMentionOfRoomLeftSinceIsNeverOfferedLater checks that a
// mention left for an offline member who is then removed from the room is
// settled at their next login, though not shown (they are not in the
// room): it is not offered at a later login, even once they are back in
// the room, and a login after it has nothing queued.
func TestOfflineMentionOfRoomLeftSinceIsNeverOfferedLater(t *testing.T) {
	h, db := newTestHub(t, Options{})
	ctx := context.Background()
	a, b := account(t, h, "alice"), account(t, h, "bob")
	alice := connect(t, h, a)
	bob := connect(t, h, b)
	exec(t, alice, Lobby, "/create #ops private")
	exec(t, alice, "#ops", "/invite bob")
	exec(t, bob, Lobby, "/join #ops")
	bob.Close()
	if _, err := alice.Send(ctx, "#ops", "old news @bob"); err != nil {
		t.Fatal(err)
	}
	exec(t, alice, "#ops", "/kick bob")

	bob = connect(t, h, b)
	if off := bob.Snapshot().Offline; len(off) != 0 {
		t.Fatalf("a mention of a room bob was kicked from was shown: %+v", off)
	}
	bob.Close()
	if has, err := db.HasOffline(ctx, uint64(b.ID)); err != nil || has {
		t.Fatalf("after a login the hidden mention is still queued (%v, %v)", has, err)
	}
	exec(t, alice, "#ops", "/invite bob")
	bob = connect(t, h, b)
	exec(t, bob, Lobby, "/join #ops")
	bob.Close()
	if off := connect(t, h, b).Snapshot().Offline; len(off) != 0 {
		t.Fatalf("a mention from before the kick was offered after rejoining: %+v", off)
	}
}

// TestTopicWithNothingPrintableIsRefused checks that a /topic whose text
// is all control characters is refused in one line, not taken as a
// request to clear the topic ("-" does that).
func TestTopicWithNothingPrintableIsRefused(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	ctx := context.Background()
	alice := connect(t, h, account(t, h, "alice"))
	exec(t, alice, Lobby, "/create #ops")
	exec(t, alice, "#ops", "/topic keep me")
	for _, line := range []string{"/topic \x1b", "/topic \x07\x1b[2J", "/topic \u200b"} {
		_, err := alice.Exec(ctx, "#ops", line)
		if !errors.Is(err, ErrEmpty) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v; want a one-line ErrEmpty", line, err)
		}
	}
	if r := exec(t, alice, "#ops", "/topic"); len(r.Lines) != 1 || !strings.Contains(r.Lines[0], "keep me") {
		t.Fatalf("topic changed: %+v", r.Lines)
	}
	exec(t, alice, "#ops", "/topic -")
	if r := exec(t, alice, "#ops", "/topic"); len(r.Lines) != 1 || !strings.Contains(r.Lines[0], "no topic") {
		t.Fatalf("/topic - did not clear: %+v", r.Lines)
	}
}

// blockedByHookStore is the real store with a hook run once, when the
// next BlockedBy is called (History calls it after its membership check,
// before it reads).
type blockedByHookStore struct {
	model.Store
	mu   sync.Mutex
	hook func()
}

func (s *blockedByHookStore) BlockedBy(ctx context.Context, id uint64) ([]uint64, error) {
	s.mu.Lock()
	f := s.hook
	s.hook = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return s.Store.BlockedBy(ctx, id)
}

// TestHistoryRacingARemovalServesNothingCommittedAfterIt checks that a
// History call that passed its membership check just before the user was
// kicked does not serve what the room said after the kick: the read is
// refused when the user is no longer a member once it has been made.
func TestHistoryRacingARemovalServesNothingCommittedAfterIt(t *testing.T) {
	db, err := model.Open(filepath.Join(t.TempDir(), "chat.db"))
	if err != nil {
		t.Fatal(err)
	}
	st := &blockedByHookStore{Store: db}
	h, err := NewHub(st, nopLogger{}, Options{RateBurst: 1000, RatePerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close(context.Background())
		db.Close()
	})
	ctx := context.Background()
	alice := connect(t, h, account(t, h, "alice"))
	bob := connect(t, h, account(t, h, "bob"))
	exec(t, alice, Lobby, "/create #ops private")
	exec(t, alice, "#ops", "/invite bob")
	exec(t, bob, Lobby, "/join #ops")
	st.mu.Lock()
	st.hook = func() {
		exec(t, alice, "#ops", "/kick bob")
		if _, err := alice.Send(ctx, "#ops", "SECRET-after-kick"); err != nil {
			t.Error(err)
		}
	}
	st.mu.Unlock()
	msgs, err := bob.History(ctx, "#ops", 0, 50)
	for _, m := range msgs {
		if strings.Contains(m.Body, "SECRET-after-kick") {
			t.Fatalf("a kicked member read a message sent after the kick")
		}
	}
	if err == nil {
		t.Fatalf("History after the kick served %d messages", len(msgs))
	}
}

// TestMembersCountsInGoodEnglish: "1 member", not "1 members".
func TestMembersCountsInGoodEnglish(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	alice := connect(t, h, account(t, h, "alice"))
	exec(t, alice, Lobby, "/join #solo")
	r := exec(t, alice, "#solo", "/members")
	if len(r.Lines) != 1 || !strings.Contains(r.Lines[0], "#solo: 1 member, 1 online: ") {
		t.Fatalf("/members = %q", r.Lines)
	}
}
