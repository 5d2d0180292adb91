package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"sshchat/chat"
	"sshchat/model"
)

// Each test here makes changes on one node of three and checks, within
// syncDeadline, that the other nodes applied them: their in-memory state
// (what they route and refuse by) and what their sessions were told.

// members is the /members reply of s for conv, as one string.
func members(t testing.TB, s chat.Session, conv chat.ConvID) string {
	t.Helper()
	r, err := s.Exec(context.Background(), conv, "/members")
	if err != nil {
		return "error: " + err.Error()
	}
	return strings.Join(r.Lines, "\n")
}

func TestClusterRoomChangesApplyOnEveryNode(t *testing.T) {
	ctx := context.Background()
	c, n := startSyncCluster(t, 3)
	a, b, cn := n[0], n[1], n[2]
	alice, bob, carol := c.account("alice"), c.account("bob"), c.account("carol")
	aliceA := c.connect(a.node, alice)
	bobB := c.connect(b.node, bob)
	bobC := c.connect(cn.node, bob)
	carolA := c.connect(a.node, carol)
	carolC := c.connect(cn.node, carol)
	const room = chat.ConvID("#r")

	exec(t, aliceA, chat.Lobby, "/create #r")
	// A join on b: bob's session on c is told, and a counts him in.
	exec(t, bobB, chat.Lobby, "/join #r")
	waitFor(t, bobC, syncDeadline, "bob's join, on c", convEvent(room, func(e chat.ConversationEvent) bool {
		return !e.Removed && e.Conversation.Role == chat.RoleMember
	}))
	within(t, "a lists bob in #r", func() bool { return strings.Contains(members(t, aliceA, room), "bob") })
	quiet, err := cn.hub.Attach(ctx, bob) // `ssh c tail #r`
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(quiet.Close)
	if err := cn.hub.Follow(ctx, quiet, room); err != nil {
		t.Fatal(err)
	}

	// Topic and role changes on a reach bob's sessions on b and c.
	exec(t, aliceA, room, "/topic release on friday")
	for _, s := range []chat.Session{bobB, bobC} {
		waitFor(t, s, syncDeadline, "the topic", convEvent(room, func(e chat.ConversationEvent) bool {
			return e.Conversation.Topic == "release on friday"
		}))
	}
	exec(t, aliceA, room, "/op bob")
	waitFor(t, bobC, syncDeadline, "bob made operator, on c", convEvent(room, func(e chat.ConversationEvent) bool {
		return e.Conversation.Role == chat.RoleOperator
	}))
	// c knows bob is an operator: he kicks carol there, and a tells
	// carol's session on a.
	exec(t, carolC, chat.Lobby, "/join #r")
	exec(t, bobC, room, "/kick carol flooding")
	waitFor(t, carolA, syncDeadline, "carol kicked on c, told on a", convEvent(room, func(e chat.ConversationEvent) bool {
		return e.Removed && e.Reason == "bob kicked you from #r: flooding"
	}))
	within(t, "a no longer lists carol", func() bool { return !strings.Contains(members(t, aliceA, room), "carol") })
	exec(t, aliceA, room, "/deop bob")
	waitFor(t, bobB, syncDeadline, "bob's operator taken, on b", convEvent(room, func(e chat.ConversationEvent) bool {
		return e.Conversation.Role == chat.RoleMember
	}))

	// A kick on a removes bob on b and c, ends his tail on c, and c's
	// fan-out leaves him out from then on.
	exec(t, aliceA, room, "/kick bob spam")
	for _, s := range []chat.Session{bobB, bobC, quiet} {
		waitFor(t, s, syncDeadline, "bob's removal", convEvent(room, func(e chat.ConversationEvent) bool {
			return e.Removed && e.Reason == "alice kicked you from #r: spam"
		}))
	}
	exec(t, carolC, chat.Lobby, "/join #r")
	if _, err := carolC.Send(ctx, room, "after the kick"); err != nil {
		t.Fatal(err)
	}
	if _, err := carolC.Send(ctx, chat.DirectConv(carol.ID, bob.ID), "marker"); err != nil {
		t.Fatal(err)
	}
	markerFirst(t, bobC, "after the kick", "marker")
	if _, err := bobB.Send(ctx, room, "still here?"); !errors.Is(err, chat.ErrNotAllowed) {
		t.Fatalf("bob's post to #r on b after his kick: %v, want ErrNotAllowed", err)
	}
	if got := members(t, carolC, room); strings.Contains(got, "bob") {
		t.Fatalf("c still lists bob in #r:\n%s", got)
	}

	// A private room: an invitation on a reaches carol on c, who joins
	// there; a ban on a removes her on c.
	const priv = chat.ConvID("#p")
	exec(t, aliceA, chat.Lobby, "/create #p private")
	exec(t, aliceA, priv, "/invite carol")
	waitFor(t, carolC, syncDeadline, "carol's invitation, on c", convEvent(priv, func(e chat.ConversationEvent) bool {
		return e.Conversation.Invited && strings.Contains(e.Reason, "alice invited you to #p")
	}))
	exec(t, carolC, chat.Lobby, "/join #p")
	within(t, "a lists carol in #p", func() bool { return strings.Contains(members(t, aliceA, priv), "carol") })
	exec(t, aliceA, priv, "/ban carol")
	for i, s := range []chat.Session{carolA, carolC} {
		waitFor(t, s, syncDeadline, fmt.Sprintf("carol's ban from #p (%d)", i), convEvent(priv, func(e chat.ConversationEvent) bool {
			return e.Removed && e.Reason == "alice banned you from #p"
		}))
	}
	if _, err := carolC.Exec(ctx, chat.Lobby, "/join #p"); err == nil {
		t.Fatal("carol joined #p on c after her ban on a")
	}
}

func TestClusterBlocksAndContactsApplyOnEveryNode(t *testing.T) {
	ctx := context.Background()
	c, n := startSyncCluster(t, 3)
	_, b, cn := n[0], n[1], n[2]
	bob, carol := c.account("bob"), c.account("carol")
	bobB := c.connect(b.node, bob)
	bobC := c.connect(cn.node, bob)
	carolC := c.connect(cn.node, carol)

	exec(t, bobB, chat.Lobby, "/add carol")
	waitFor(t, bobC, syncDeadline, "bob's contact list on c", func(ev chat.Event) bool {
		cs, ok := ev.(chat.ContactsEvent)
		return ok && len(cs.Contacts) == 1 && cs.Contacts[0].Handle == "carol" && !cs.Contacts[0].Blocked
	})
	exec(t, bobB, chat.Lobby, "/block carol")
	waitFor(t, bobC, syncDeadline, "bob's block list on c", func(ev chat.Event) bool {
		cs, ok := ev.(chat.ContactsEvent)
		return ok && len(cs.Contacts) == 1 && cs.Contacts[0].Blocked
	})
	// c's fan-out now skips bob for carol's messages.
	if _, err := carolC.Send(ctx, chat.Lobby, "blocked words"); err != nil {
		t.Fatal(err)
	}
	marker := c.account("dave")
	daveC := c.connect(cn.node, marker)
	if _, err := daveC.Send(ctx, chat.Lobby, "marker"); err != nil {
		t.Fatal(err)
	}
	markerFirst(t, bobC, "blocked words", "marker")

	exec(t, bobB, chat.Lobby, "/unblock carol")
	waitFor(t, bobC, syncDeadline, "bob's unblock on c", func(ev chat.Event) bool {
		cs, ok := ev.(chat.ContactsEvent)
		return ok && len(cs.Contacts) == 1 && !cs.Contacts[0].Blocked
	})
	if _, err := carolC.Send(ctx, chat.Lobby, "heard again"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bobC, syncDeadline, "carol heard again on c", messageText("heard again"))
	exec(t, bobB, chat.Lobby, "/remove carol")
	waitFor(t, bobC, syncDeadline, "bob's empty contact list on c", func(ev chat.Event) bool {
		cs, ok := ev.(chat.ContactsEvent)
		return ok && len(cs.Contacts) == 0
	})
}

func TestClusterModerationAppliesOnEveryNode(t *testing.T) {
	ctx := context.Background()
	c, n := startSyncCluster(t, 3)
	a, b, cn := n[0], n[1], n[2]
	admin, bob, carol := c.account("maria"), c.account("bob"), c.account("carol")
	adminA := c.connect(a.node, admin)
	bobA := c.connect(a.node, bob) // the kick and ban commands look bob up online
	bobB := c.connect(b.node, bob)
	bobC := c.connect(cn.node, bob)
	carolA := c.connect(a.node, carol)
	carolC := c.connect(cn.node, carol)

	// A mute on a refuses bob's posts on c.
	exec(t, adminA, chat.Lobby, "/admin mute bob 1h noise")
	waitFor(t, bobC, syncDeadline, "the mute notice on c", func(ev chat.Event) bool {
		nt, ok := ev.(chat.NoticeEvent)
		return ok && strings.HasPrefix(nt.Text, "you were muted by maria")
	})
	if _, err := bobC.Send(ctx, chat.Lobby, "muted?"); !errors.Is(err, chat.ErrNotAllowed) {
		t.Fatalf("muted bob's post on c: %v, want ErrNotAllowed", err)
	}
	within(t, "b refuses muted bob's post", func() bool {
		_, err := bobB.Send(ctx, chat.Lobby, "muted on b?")
		return errors.Is(err, chat.ErrNotAllowed)
	})
	exec(t, adminA, chat.Lobby, "/admin unmute bob")
	waitFor(t, bobC, syncDeadline, "the unmute notice on c", func(ev chat.Event) bool {
		nt, ok := ev.(chat.NoticeEvent)
		return ok && strings.HasPrefix(nt.Text, "you were unmuted")
	})
	if _, err := bobC.Send(ctx, chat.Lobby, "heard again"); err != nil {
		t.Fatalf("unmuted bob's post on c: %v", err)
	}

	// A kick on a ends carol's session on c and has c's server end her
	// key's SSH sessions.
	exec(t, adminA, chat.Lobby, "/admin kick carol calm down")
	waitRemoved(t, carolA, "carol's session on a")
	waitRemoved(t, carolC, "carol's session on c")
	kicked := carol.Fingerprint + "|you were kicked by maria: calm down"
	within(t, "c ends carol's SSH sessions", func() bool {
		return cn.calls.has(func(s *serverCalls) []string { return s.ended }, kicked)
	})

	// A ban on a ends bob's sessions on b and c; b and c refuse his key.
	exec(t, adminA, chat.Lobby, "/admin ban bob spam")
	for _, s := range []chat.Session{bobA, bobB, bobC} {
		waitRemoved(t, s, "bob's session")
	}
	for _, nd := range []*syncNode{b, cn} {
		if _, banned := nd.hub.Banned(bob.Fingerprint); !banned {
			t.Fatalf("node %s does not hold bob's key banned", nd.name)
		}
		within(t, "node "+nd.name+" ends bob's SSH sessions", func() bool {
			return nd.calls.has(func(s *serverCalls) []string { return s.ended }, bob.Fingerprint+"|this key is banned from this server: spam")
		})
		if _, err := nd.hub.Connect(ctx, bob); !errors.Is(err, chat.ErrRemoved) {
			t.Fatalf("bob connects to %s after his ban: %v", nd.name, err)
		}
	}
	exec(t, adminA, chat.Lobby, "/admin unban bob")
	within(t, "b and c lift bob's ban", func() bool {
		_, onB := b.hub.Banned(bob.Fingerprint)
		_, onC := cn.hub.Banned(bob.Fingerprint)
		return !onB && !onC
	})
	c.connect(b.node, bob)
}

func TestClusterSettingsEditsAndReadMarkersReachOtherNodes(t *testing.T) {
	ctx := context.Background()
	c, n := startSyncCluster(t, 3)
	a, b, cn := n[0], n[1], n[2]
	alice, bob := c.account("alice"), c.account("bob")
	aliceA := c.connect(a.node, alice)
	bobB := c.connect(b.node, bob)
	bobC := c.connect(cn.node, bob)

	// Settings changed on b reach bob's session on c.
	exec(t, bobB, chat.Lobby, "/theme dark")
	waitFor(t, bobC, syncDeadline, "the theme on c", func(ev chat.Event) bool {
		st, ok := ev.(chat.SettingsEvent)
		return ok && st.Settings.Theme == chat.ThemeDark
	})
	exec(t, bobB, chat.Lobby, "/tz Europe/Paris")
	waitFor(t, bobC, syncDeadline, "the time zone on c", func(ev chat.Event) bool {
		st, ok := ev.(chat.SettingsEvent)
		return ok && st.Settings.TZ == "Europe/Paris" && st.Settings.Theme == chat.ThemeDark
	})

	// An edit and a deletion on a reach bob on b and c.
	m, err := aliceA.Send(ctx, chat.Lobby, "helo")
	if err != nil {
		t.Fatal(err)
	}
	exec(t, aliceA, chat.Lobby, "/edit hello")
	for _, s := range []chat.Session{bobB, bobC} {
		waitFor(t, s, syncDeadline, "the edit", func(ev chat.Event) bool {
			e, ok := ev.(chat.EditEvent)
			return ok && e.Message.ID == m.ID && e.Message.Body == "hello" && !e.Message.Edited.IsZero()
		})
	}
	exec(t, aliceA, chat.Lobby, "/delete")
	waitFor(t, bobC, syncDeadline, "the deletion on c", func(ev chat.Event) bool {
		e, ok := ev.(chat.EditEvent)
		return ok && e.Message.ID == m.ID && e.Message.Deleted && e.Message.Body == ""
	})
	// A blocker on another node is not told of the blocked sender's edits.
	exec(t, bobB, chat.Lobby, "/block alice")
	waitFor(t, bobC, syncDeadline, "bob's block on c", func(ev chat.Event) bool {
		_, ok := ev.(chat.ContactsEvent)
		return ok
	})
	m2, err := aliceA.Send(ctx, chat.Lobby, "second")
	if err != nil {
		t.Fatal(err)
	}
	exec(t, aliceA, chat.Lobby, "/edit second, edited")

	// A read marker on b reaches bob's session on c (and, after the
	// edit above, proves nothing of it reached him).
	if err := bobB.MarkRead(ctx, chat.Lobby, m2.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bobC, syncDeadline, "the read marker on c", func(ev chat.Event) bool {
		if e, ok := ev.(chat.EditEvent); ok && e.Message.ID == m2.ID {
			t.Fatal("bob's session on c was told of an edit by alice, whom he blocked")
		}
		r, ok := ev.(chat.ReadEvent)
		return ok && r.Conv == chat.Lobby && r.UpTo == m2.ID
	})
}

func TestClusterRemovedKeyEndsSessionsOnEveryNode(t *testing.T) {
	ctx := context.Background()
	c, n := startSyncCluster(t, 3)
	bob := c.account("bob")
	bobA := c.connect(n[0].node, bob)
	r := exec(t, bobA, chat.Lobby, "/keys link")
	var code string
	for _, l := range r.Lines {
		if rest, ok := strings.CutPrefix(l, "Link code: "); ok {
			code, _, _ = strings.Cut(rest, " ")
		}
	}
	if code == "" {
		t.Fatalf("no link code in %q", r.Lines)
	}
	second := chat.Key{Fingerprint: "SHA256:test-bob-second", Authorized: "ssh-ed25519 y"}
	if _, err := n[1].hub.LinkKey(ctx, second, "bob", code); err != nil {
		t.Fatal(err)
	}
	exec(t, bobA, chat.Lobby, "/keys remove "+second.Fingerprint)
	for _, nd := range n {
		within(t, "node "+nd.name+" ends the removed key's SSH sessions", func() bool {
			return nd.calls.has(func(s *serverCalls) []string { return s.removed }, second.Fingerprint)
		})
	}
}

func TestClusterStateCatchesUpAfterNATSOutage(t *testing.T) {
	ctx := context.Background()
	c, n := startSyncCluster(t, 3)
	a, b, cn := n[0], n[1], n[2]
	admin, alice, bob, carol, dave := c.account("maria"), c.account("alice"), c.account("bob"), c.account("carol"), c.account("dave")
	adminA := c.connect(a.node, admin)
	aliceA := c.connect(a.node, alice)
	c.connect(a.node, bob) // the ban looks bob up online
	bobB := c.connect(b.node, bob)
	bobC := c.connect(cn.node, bob)
	carolA := c.connect(a.node, carol)
	carolC := c.connect(cn.node, carol)
	daveB := c.connect(b.node, dave)
	const room = chat.ConvID("#r")
	exec(t, aliceA, chat.Lobby, "/create #r")
	exec(t, daveB, chat.Lobby, "/join #r")
	within(t, "a lists dave in #r", func() bool { return strings.Contains(members(t, aliceA, room), "dave") })

	// NATS goes away; a bans bob, kicks dave from #r, and carol blocks
	// dave there, while no other node hears of it.
	c.nats.stop()
	within(t, "every node sees NATS gone", func() bool {
		return !a.bus.Connected() && !b.bus.Connected() && !cn.bus.Connected()
	})
	exec(t, adminA, chat.Lobby, "/admin ban bob spam")
	exec(t, aliceA, room, "/kick dave")
	exec(t, carolA, chat.Lobby, "/block dave")

	// NATS comes back: b and c read what they missed from the store.
	c.nats.start()
	const catchUp = 10 * time.Second
	for _, s := range []chat.Session{bobB, bobC} {
		waitGone(t, s, catchUp)
	}
	if _, banned := cn.hub.Banned(bob.Fingerprint); !banned {
		t.Fatal("c does not hold bob's key banned after catching up")
	}
	waitFor(t, daveB, catchUp, "dave's removal from #r, on b", convEvent(room, func(e chat.ConversationEvent) bool { return e.Removed }))
	if _, err := daveB.Send(ctx, room, "still in?"); !errors.Is(err, chat.ErrNotAllowed) {
		t.Fatalf("dave's post to #r on b after catching up: %v, want ErrNotAllowed", err)
	}
	waitFor(t, carolC, catchUp, "carol's block list on c", func(ev chat.Event) bool {
		_, ok := ev.(chat.ContactsEvent)
		return ok
	})
	daveC := c.connect(cn.node, dave)
	if _, err := daveC.Send(ctx, chat.Lobby, "blocked words"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.connect(cn.node, c.account("erin")).Send(ctx, chat.Lobby, "marker"); err != nil {
		t.Fatal(err)
	}
	markerFirst(t, carolC, "blocked words", "marker")
}

// waitGone waits until s is ended with ErrRemoved, failing after d.
func waitGone(t testing.TB, s chat.Session, d time.Duration) {
	t.Helper()
	waitEnded(t, s, d, "the session's end")
}

func TestClusterNodesResyncWhenAnotherNodeComesBack(t *testing.T) {
	ctx := context.Background()
	c, n := startSyncCluster(t, 3)
	_, b, cn := n[0], n[1], n[2]
	bob := c.account("bob")
	bobB := c.connect(b.node, bob)
	bobC := c.connect(cn.node, bob)

	// Node a bans bob while it alone is cut off from NATS: the store has
	// the ban, the others never heard of it.
	err := n[0].store.BanKeys(ctx, []model.Ban{{Fingerprint: bob.Fingerprint, UserID: uint64(bob.ID), Reason: "spam", CreatedAt: time.Now()}},
		&model.AuditEntry{Action: "ban", Target: "bob", TargetID: uint64(bob.ID)})
	if err != nil {
		t.Fatal(err)
	}
	// Its bus comes back: it asks every node to re-read.
	back, err := Connect(c.nats.url(), "a", testLogger{t, "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	within(t, "a's bus up", back.Connected)
	db, err := n[0].store.InstallationID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Publish([]byte(`{"n":"a","k":"up","b":{"Seq":1},"d":"` + db + `"}`)); err != nil {
		t.Fatal(err)
	}
	waitRemoved(t, bobB, "bob's session on b")
	waitRemoved(t, bobC, "bob's session on c")
	if _, banned := cn.hub.Banned(bob.Fingerprint); !banned {
		t.Fatal("c does not hold bob's key banned after the resync")
	}
}

// TestRenameReachesTheUsersSessionsOnOtherNodesOnce: a /nick on one node
// renames the user in their sessions on another (told once, by the
// rename's line in its place), and everyone elsewhere sees the new handle.
func TestRenameReachesTheUsersSessionsOnOtherNodesOnce(t *testing.T) {
	c, n := startSyncCluster(t, 3)
	a, b, cn := n[0], n[1], n[2]
	alice, carol := c.account("alice"), c.account("carol")
	aliceA := c.connect(a.node, alice)
	aliceB := c.connect(b.node, alice)
	carolC := c.connect(cn.node, carol)
	br := record(t, aliceB)
	cr := record(t, carolC)
	within(t, "c counts alice online", func() bool { return cn.hub.Online() == 2 })
	exec(t, aliceA, chat.Lobby, "/nick alicia")
	send(t, aliceA, chat.Lobby, "after the rename")
	br.waitBody(soon, "after the rename")
	cr.wait(soon, "carol sees alicia", func(evs []chat.Event) bool {
		for _, ev := range evs {
			if p, ok := ev.(chat.PresenceEvent); ok && p.User == alice.ID && p.Handle == "alicia" {
				return true
			}
		}
		return false
	})
	told := 0
	for _, ev := range br.events() {
		if nt, ok := ev.(chat.NoticeEvent); ok && nt.Text == "you are now known as alicia" {
			told++
		}
	}
	if told != 1 {
		t.Fatalf("alice's session on b was told of her rename %d times, want 1", told)
	}
}
