package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sshchat/chat"
)

const soon = 5 * time.Second

// exec runs a command line in a session, failing the test on error.
func exec(t testing.TB, s chat.Session, conv chat.ConvID, line string) chat.Reply {
	t.Helper()
	rep, err := s.Exec(context.Background(), conv, line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return rep
}

// send posts text, failing the test on error.
func send(t testing.TB, s chat.Session, conv chat.ConvID, text string) chat.Message {
	t.Helper()
	m, err := s.Send(context.Background(), conv, text)
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	return m
}

// online waits until every node counts n users online.
func (c *testCluster) online(n int) {
	c.t.Helper()
	for _, nd := range c.nodes {
		waitUntil(c.t, soon, fmt.Sprintf("%d online on node %s", n, nd.name), func() bool { return nd.hub.Online() == n })
	}
}

func TestUsersOnTwoNodesChatInLobbyRoomAndDirect(t *testing.T) {
	c := startCluster(t, 3)
	a, cn := c.nodes[0], c.nodes[2]
	alice, carol := c.account("alice"), c.account("carol")
	as, cs := c.connect(a, alice), c.connect(cn, carol)
	ar, cr := record(t, as), record(t, cs)
	c.online(2)

	send(t, as, chat.Lobby, "hello from a")
	cr.waitBody(soon, "hello from a")
	send(t, cs, chat.Lobby, "hello from c")
	ar.waitBody(soon, "hello from c")

	exec(t, as, chat.Lobby, "/create #ops")
	room := chat.RoomConv("ops")
	exec(t, cs, chat.Lobby, "/join #ops")
	ar.waitBody(soon, "carol joined")
	send(t, cs, room, "carol in ops")
	send(t, as, room, "alice in ops")
	ar.waitBody(soon, "carol in ops")
	cr.waitBody(soon, "alice in ops")

	dm := chat.DirectConv(alice.ID, carol.ID)
	m := send(t, as, dm, "psst carol")
	got := cr.waitBody(soon, "psst carol")
	if got.ID != m.ID || got.From != alice.ID {
		t.Fatalf("carol got %+v, alice sent %+v", got, m)
	}
	send(t, cs, dm, "psst alice")
	ar.waitBody(soon, "psst alice")
	// carol is online (on another node): a mention of her is not kept
	// for her next login, nor is the direct message.
	send(t, as, chat.Lobby, "@carol look")
	cr.waitBody(soon, "@carol look")
	if n := offlineCount(c.connect(cn, carol)); n != 0 {
		t.Fatalf("carol's next login was offered %d offline messages sent while she was online on another node", n)
	}
	// Her contact list marks alice online.
	exec(t, cs, chat.Lobby, "/add alice")
	cr.wait(soon, "alice online in carol's contacts", func(evs []chat.Event) bool {
		for _, ev := range evs {
			if ce, ok := ev.(chat.ContactsEvent); ok {
				for _, k := range ce.Contacts {
					if k.User == alice.ID && k.Status == chat.Online {
						return true
					}
				}
			}
		}
		return false
	})
	for _, ev := range cr.events() {
		if n, ok := ev.(chat.NoticeEvent); ok && strings.Contains(n.Text, "offline") {
			t.Fatalf("carol was told alice is offline: %q", n.Text)
		}
	}
}

func TestUserWithSessionsOnTwoNodesGetsEveryEventInBoth(t *testing.T) {
	c := startCluster(t, 2)
	a, cn := c.nodes[0], c.nodes[1]
	alice, bob := c.account("alice"), c.account("bob")
	bs := c.connect(cn, bob)
	br := record(t, bs)
	exec(t, bs, chat.Lobby, "/create #den")
	room := chat.RoomConv("den")
	a1 := c.connect(a, alice)
	r1 := record(t, a1)
	exec(t, a1, chat.Lobby, "/join #den")
	br.waitBody(soon, "alice joined")
	// The third node starts now, so that it reads the room's members
	// after alice's join: carrying a join made on another node to a room
	// already loaded is state sync's (chat/cluster_sync.go), not this test's.
	b := c.startNode("b2")
	c.nodes = append(c.nodes, b)
	a2 := c.connect(b, alice)
	r2 := record(t, a2)
	c.online(2)

	dm := chat.DirectConv(alice.ID, bob.ID)
	send(t, bs, chat.Lobby, "lobby 1")
	send(t, bs, room, "room 1")
	send(t, bs, dm, "dm 1")
	send(t, a1, chat.Lobby, "own from a")
	send(t, a2, dm, "own dm from b")
	exec(t, bs, chat.Lobby, "/away lunch")
	want := []string{"lobby 1", "room 1", "dm 1", "own from a", "own dm from b"}
	for i, r := range []*recorder{r1, r2} {
		for _, body := range want {
			r.waitBody(soon, body)
		}
		r.wait(soon, "bob away", func(evs []chat.Event) bool {
			for _, ev := range evs {
				if p, ok := ev.(chat.PresenceEvent); ok && p.User == bob.ID && p.Status == chat.Away {
					return true
				}
			}
			return false
		})
		t.Logf("session %d got all", i+1)
	}
	br.waitBody(soon, "own dm from b")
}

func TestOneOrderPerConversationOnEveryNodeEqualsStoredHistory(t *testing.T) {
	c := startCluster(t, 3)
	users := []chat.Account{c.account("u1"), c.account("u2"), c.account("u3")}
	var ss []chat.Session
	var rs []*recorder
	for i, nd := range c.nodes {
		s := c.connect(nd, users[i])
		ss, rs = append(ss, s), append(rs, record(t, s))
	}
	room := chat.RoomConv("race")
	exec(t, ss[0], chat.Lobby, "/create #race")
	exec(t, ss[1], chat.Lobby, "/join #race")
	exec(t, ss[2], chat.Lobby, "/join #race")
	for _, r := range rs {
		r.waitBody(soon, "u3 joined")
	}

	const goroutines, each = 4, 15
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range ss {
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for k := range each {
					if _, err := s.Send(context.Background(), room, fmt.Sprintf("burst %d.%d.%d", i, g, k)); err != nil {
						t.Errorf("send: %v", err)
						return
					}
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	total := len(ss) * goroutines * each

	texts := func(ms []chat.Message) []chat.MessageID {
		var ids []chat.MessageID
		for _, m := range ms {
			if strings.HasPrefix(m.Body, "burst ") {
				ids = append(ids, m.ID)
			}
		}
		return ids
	}
	stored, err := ss[0].History(context.Background(), room, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	want := texts(stored)
	if len(want) != total {
		t.Fatalf("stored %d burst messages, want %d", len(want), total)
	}
	for i, r := range rs {
		r.wait(10*time.Second, fmt.Sprintf("node %d: %d messages", i, total), func([]chat.Event) bool {
			return len(texts(r.messages(room))) >= total
		})
		if got := texts(r.messages(room)); !slices.Equal(got, want) {
			t.Fatalf("node %s shows another order than the stored history:\n got %v\nwant %v", c.nodes[i].name, got, want)
		}
	}
}

func TestMessageWhosePublishIsLostIsFilledFromStore(t *testing.T) {
	c := startCluster(t, 2)
	lossy := c.startLossyNode("x")
	c.nodes = append(c.nodes, lossy)
	alice, carol := c.account("alice"), c.account("carol")
	as := c.connect(lossy, alice)
	cs := c.connect(c.nodes[1], carol)
	cr := record(t, cs)
	c.online(2)

	// The first is committed but never published (as if its node died
	// between the two); the second names it as its predecessor.
	lossy.lossy.dropNextLines(1)
	m1 := send(t, as, chat.Lobby, "lost on the bus")
	m2 := send(t, as, chat.Lobby, "published")
	cr.waitBody(soon, "published")
	var got []chat.MessageID
	for _, m := range cr.messages(chat.Lobby) {
		got = append(got, m.ID)
	}
	if !slices.Equal(got, []chat.MessageID{m1.ID, m2.ID}) {
		t.Fatalf("carol got %v, want %v in that order", got, []chat.MessageID{m1.ID, m2.ID})
	}
}

func TestWhoCountsSessionsOnEveryNode(t *testing.T) {
	c := startCluster(t, 3)
	var ss []chat.Session
	for i, h := range []string{"ann", "ben", "cat"} {
		ss = append(ss, c.connect(c.nodes[i], c.account(h)))
	}
	// ann on a second node is online once.
	c.connect(c.nodes[2], chat.Account{ID: ss[0].Snapshot().Me.ID, Handle: "ann"})
	c.online(3)
	rep := exec(t, ss[1], chat.Lobby, "/who")
	if len(rep.Lines) != 1 || !strings.HasPrefix(rep.Lines[0], "3 online: ann, ben, cat") {
		t.Fatalf("/who on node b: %q", rep.Lines)
	}
	rep = exec(t, ss[0], chat.Lobby, "/whois cat")
	if !slices.ContainsFunc(rep.Lines, func(l string) bool { return strings.Contains(l, "presence:  online") }) {
		t.Fatalf("/whois cat on node a: %q", rep.Lines)
	}
}

// A node that dies between a commit and its publish leaves a line nobody
// heard, with nothing after it to show the gap: the others read it from
// the store once they declare the node gone.
func TestSilentNodesUsersGoOfflineWithin15sAndTheirClaimsAreReleased(t *testing.T) {
	c := startCluster(t, 2)
	lossy := c.startLossyNode("x")
	alice, bob := c.account("alice"), c.account("bob")
	as := c.connect(c.nodes[0], alice)
	ar := record(t, as)
	// Two messages wait for bob; his session on x claims them and never
	// dismisses them.
	dm := chat.DirectConv(alice.ID, bob.ID)
	send(t, as, dm, "while away 1")
	send(t, as, dm, "while away 2")
	bx := c.connect(lossy, bob)
	if n := offlineCount(bx); n != 2 {
		t.Fatalf("bob's session on x claimed %d, want 2", n)
	}
	waitUntil(t, soon, "bob online on a", func() bool { return c.nodes[0].hub.Online() == 2 })

	lossy.lossy.dropNextLines(1)
	send(t, bx, chat.Lobby, "last words")
	lossy.lossy.silence()
	silent := time.Now()
	ar.wait(15*time.Second, "bob offline on a", func(evs []chat.Event) bool {
		for _, ev := range evs {
			if p, ok := ev.(chat.PresenceEvent); ok && p.User == bob.ID && p.Left {
				return true
			}
		}
		return false
	})
	t.Logf("bob offline on node a %s after his node went silent", time.Since(silent).Round(time.Millisecond))
	ar.waitBody(soon, "last words")
	if n := c.nodes[0].hub.Online(); n != 1 {
		t.Fatalf("node a counts %d online, want 1", n)
	}
	// He comes back on another node, and is offered what x had claimed.
	bc := c.connect(c.nodes[1], bob)
	if n := offlineCount(bc); n != 2 {
		t.Fatalf("bob's session on b was offered %d, want the 2 claimed on the gone node", n)
	}
	waitUntil(t, soon, "bob online again on a", func() bool { return c.nodes[0].hub.Online() == 2 })
}

// offlineCount is how many offline messages a session's snapshot offers.
func offlineCount(s chat.Session) int {
	n := 0
	for _, g := range s.Snapshot().Offline {
		n += g.Count
	}
	return n
}

func TestOfflineMessagesClaimedOnceBySimultaneousLoginsOnTwoNodes(t *testing.T) {
	c := startCluster(t, 3)
	alice, bob := c.account("alice"), c.account("bob")
	as := c.connect(c.nodes[0], alice)
	dm := chat.DirectConv(alice.ID, bob.ID)
	const queued = 5
	for i := range queued {
		send(t, as, dm, fmt.Sprint("queued ", i))
	}
	for round := range 5 {
		var wg sync.WaitGroup
		var got [2]chat.Session
		start := make(chan struct{})
		for i, nd := range c.nodes[1:] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				s, err := nd.hub.Connect(context.Background(), bob)
				if err != nil {
					t.Errorf("connect on %s: %v", nd.name, err)
					return
				}
				got[i] = s
			}()
		}
		close(start)
		wg.Wait()
		if got[0] == nil || got[1] == nil {
			t.FailNow()
		}
		n0, n1 := offlineCount(got[0]), offlineCount(got[1])
		want := queued
		if round > 0 {
			want = 0 // dismissed in round 0
		}
		if n0+n1 != want || n0 != 0 && n1 != 0 {
			t.Fatalf("round %d: the two logins were offered %d and %d, want %d once", round, n0, n1, want)
		}
		// Whoever claimed dismisses; the next round finds nothing.
		for _, s := range got {
			if err := s.DismissOffline(context.Background()); err != nil {
				t.Fatal(err)
			}
			s.Close()
		}
		waitUntil(t, soon, "bob offline", func() bool { return c.nodes[0].hub.Online() == 1 })
	}
}

func TestNATSOutageCatchesUpInOrderWithoutDuplicatesAndSaysSo(t *testing.T) {
	c := startCluster(t, 3)
	alice, carol := c.account("alice"), c.account("carol")
	as, cs := c.connect(c.nodes[0], alice), c.connect(c.nodes[2], carol)
	ar, cr := record(t, as), record(t, cs)
	c.online(2)
	send(t, as, chat.Lobby, "before")
	cr.waitBody(soon, "before")

	notice := func(text string) func([]chat.Event) bool {
		return func(evs []chat.Event) bool {
			for _, ev := range evs {
				if n, ok := ev.(chat.NoticeEvent); ok && n.Text == text {
					return true
				}
			}
			return false
		}
	}
	link := func(down bool) func([]chat.Event) bool {
		return func(evs []chat.Event) bool {
			for _, ev := range evs {
				if l, ok := ev.(chat.LinkEvent); ok && l.Down == down {
					return true
				}
			}
			return false
		}
	}
	c.nats.stop()
	ar.wait(soon, "alice told the link is down", notice(chat.LinkDownNotice))
	cr.wait(soon, "carol told the link is down", notice(chat.LinkDownNotice))
	ar.wait(soon, "alice's status line told the link is down", link(true))
	for i := range 5 {
		send(t, as, chat.Lobby, fmt.Sprint("during a ", i))
	}
	send(t, cs, chat.Lobby, "during c")
	// A direct conversation that begins during the outage: carol's node
	// has never seen it.
	dm := chat.DirectConv(alice.ID, carol.ID)
	send(t, as, dm, "first words, during")
	c.nats.start()
	ar.wait(10*time.Second, "alice told the link is back", notice(chat.LinkUpNotice))
	cr.wait(10*time.Second, "carol told the link is back", notice(chat.LinkUpNotice))
	cr.wait(soon, "carol's status line told the link is back", link(false))
	cr.waitBody(soon, "during a 4")
	ar.waitBody(soon, "during c")
	cr.waitBody(soon, "first words, during")
	send(t, cs, chat.Lobby, "after")
	ar.waitBody(soon, "after")

	stored, err := as.History(context.Background(), chat.Lobby, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(ms []chat.Message) []chat.MessageID {
		var out []chat.MessageID
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	want := ids(stored)
	for name, r := range map[string]*recorder{"alice": ar, "carol": cr} {
		if got := ids(r.messages(chat.Lobby)); !slices.Equal(got, want) {
			t.Fatalf("%s's lobby is not the stored history:\n got %v\nwant %v", name, got, want)
		}
	}
}

func TestNodeStartingKeepsOtherNodesOfflineClaims(t *testing.T) {
	c := startCluster(t, 2)
	alice, bob := c.account("alice"), c.account("bob")
	as := c.connect(c.nodes[0], alice)
	dm := chat.DirectConv(alice.ID, bob.ID)
	send(t, as, dm, "held by b 1")
	send(t, as, dm, "held by b 2")
	bs := c.connect(c.nodes[1], bob)
	if n := offlineCount(bs); n != 2 {
		t.Fatalf("bob's session on b claimed %d, want 2", n)
	}
	// A node (re)starting releases its own old claims, not those of the
	// live sessions of the others: bob's second login is offered nothing
	// his first is showing.
	d := c.startNode("d")
	c.nodes = append(c.nodes, d)
	bd := c.connect(d, bob)
	if n := offlineCount(bd); n != 0 {
		t.Fatalf("bob's session on the new node was offered %d already claimed by his session on b", n)
	}
}

func TestQuietSessionFollowingGetsMessagesOfOtherNodes(t *testing.T) {
	c := startCluster(t, 2)
	alice, carol := c.account("alice"), c.account("carol")
	as := c.connect(c.nodes[0], alice)
	tail, err := c.nodes[1].hub.Attach(context.Background(), carol)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tail.Close)
	if err := c.nodes[1].hub.Follow(context.Background(), tail, chat.Lobby); err != nil {
		t.Fatal(err)
	}
	tr := record(t, tail)
	send(t, as, chat.Lobby, "for the tail")
	tr.waitBody(soon, "for the tail")
}

func TestAnnouncementReachesSessionsOnEveryNode(t *testing.T) {
	c := startCluster(t, 3)
	boss, carol := c.account("boss"), c.account("carol")
	rs := c.connect(c.nodes[0], boss)
	cr := record(t, c.connect(c.nodes[2], carol))
	exec(t, rs, chat.Lobby, "/admin announce maintenance at noon")
	cr.wait(soon, "the announcement", func(evs []chat.Event) bool {
		for _, ev := range evs {
			if a, ok := ev.(chat.AnnouncementEvent); ok && a.Text == "maintenance at noon" {
				return true
			}
		}
		return false
	})
}
