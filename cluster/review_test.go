package cluster

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"sshchat/chat"
)

// Tests of what a second reading of the cluster code found (issue 12).

func TestNodeStartedWithoutNATSDoesNotReplayOldHistoryOnReturn(t *testing.T) {
	c := startCluster(t, 1)
	alice, bob := c.account("alice"), c.account("bob")
	as := c.connect(c.nodes[0], alice)
	dm := chat.DirectConv(alice.ID, bob.ID)
	send(t, as, dm, "old 1")
	send(t, as, dm, "old 2")
	// Node b starts after those: it has never delivered the conversation.
	b := c.startNode("b")
	c.nodes = append(c.nodes, b)
	bs := c.connect(b, bob)
	// Node d starts while NATS is down and commits to the conversation:
	// when NATS comes, the others catch up with what d committed, which
	// is not the conversation's whole history.
	c.nats.stop()
	d := c.startNode("d")
	ad := c.connect(d, alice)
	send(t, ad, dm, "new during")
	c.nats.start()
	markerFirst(t, bs, "old 1", "new during")
}

// cutProxy is a TCP proxy between one node and NATS that the test can cut
// (that node alone loses NATS) and restore.
type cutProxy struct {
	t      testing.TB
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func startCutProxy(t testing.TB, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{t: t, ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.sever(false) })
	go p.serve()
	return p
}

func (p *cutProxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			in.Close()
			continue
		}
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); out.Close(); in.Close() }()
		go func() { _, _ = io.Copy(in, out); out.Close(); in.Close() }()
	}
}

// sever closes the connections through the proxy and, with cut, refuses
// new ones; without, lets them through again.
func (p *cutProxy) sever(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// startNodeVia starts a node that reaches NATS at url.
func (c *testCluster) startNodeVia(name, url string) *node {
	c.t.Helper()
	store := c.openStore()
	bus, err := Connect(url, name, testLogger{c.t, name})
	if err != nil {
		c.t.Fatal(err)
	}
	hub, err := chat.NewHub(store, testLogger{c.t, name}, chat.Options{RateBurst: 1000, RatePerSecond: 1000, Bus: bus})
	if err != nil {
		c.t.Fatal(err)
	}
	nd := &node{name: name, bus: bus, store: store, hub: hub}
	c.t.Cleanup(nd.stop)
	return nd
}

func noticeText(text string) func([]chat.Event) bool {
	return func(evs []chat.Event) bool {
		for _, ev := range evs {
			if n, ok := ev.(chat.NoticeEvent); ok && n.Text == text {
				return true
			}
		}
		return false
	}
}

func TestDirectMessageToUserOnNodeCutFromNATSShownWhenItReturns(t *testing.T) {
	c := startCluster(t, 1)
	proxy := startCutProxy(t, strings.TrimPrefix(c.nats.url(), "nats://"))
	cn := c.startNodeVia("c", proxy.url())
	c.nodes = append(c.nodes, cn)
	alice, carol := c.account("alice"), c.account("carol")
	as, cs := c.connect(c.nodes[0], alice), c.connect(cn, carol)
	cr := record(t, cs)
	c.online(2)

	// Node c alone loses NATS. Node a still counts carol online (c is not
	// taken for gone yet), so its message to her, in a conversation c has
	// never delivered, is routed live and published, and c misses it.
	proxy.sever(true)
	cr.wait(soon, "carol told the link is down", noticeText(chat.LinkDownNotice))
	dm := chat.DirectConv(alice.ID, carol.ID)
	if m := send(t, as, dm, "while c is cut"); m.ID == 0 {
		t.Fatal("not sent")
	}
	proxy.sever(false)
	cr.wait(10*time.Second, "carol told the link is back", noticeText(chat.LinkUpNotice))
	cr.waitBody(soon, "while c is cut")
}

func TestNodeJoiningAfterAnotherReturnsDoesNotReplayWhatWasBefore(t *testing.T) {
	c := startCluster(t, 1)
	proxy := startCutProxy(t, strings.TrimPrefix(c.nats.url(), "nats://"))
	d := c.startNodeVia("d", proxy.url())
	c.nodes = append(c.nodes, d)
	alice, bob := c.account("alice"), c.account("bob")
	ad := c.connect(d, alice)
	ar := record(t, ad)
	c.online(1)

	proxy.sever(true)
	ar.wait(soon, "alice told the link is down", noticeText(chat.LinkDownNotice))
	send(t, ad, chat.Lobby, "during d's outage")
	proxy.sever(false)
	ar.wait(10*time.Second, "alice told the link is back", noticeText(chat.LinkUpNotice))

	// Node e starts while d still repeats its return in its heartbeats:
	// what d committed before e joined is in e's sessions' history, not
	// news to fan out.
	e := c.startNode("e")
	c.nodes = append(c.nodes, e)
	be := c.connect(e, bob)
	waitUntil(t, soon, "e hears d's heartbeat", func() bool { return e.hub.Online() == 2 })
	send(t, ad, chat.Lobby, "after e joined")
	markerFirst(t, be, "during d's outage", "after e joined")
}

func TestRoomMessageToUserOnNodeCutFromNATSShownWhenItReturns(t *testing.T) {
	c := startCluster(t, 1)
	alice, bob := c.account("alice"), c.account("bob")
	bs := c.connect(c.nodes[0], bob)
	exec(t, bs, chat.Lobby, "/create #quiet")
	as0 := c.connect(c.nodes[0], alice)
	exec(t, as0, chat.Lobby, "/join #quiet")
	as0.Close()

	// Node c starts after the room was made: nothing of it is loaded
	// there, though alice, online there, is a member.
	proxy := startCutProxy(t, strings.TrimPrefix(c.nats.url(), "nats://"))
	cn := c.startNodeVia("c", proxy.url())
	c.nodes = append(c.nodes, cn)
	as := c.connect(cn, alice)
	ar := record(t, as)
	c.online(2)

	proxy.sever(true)
	ar.wait(soon, "alice told the link is down", noticeText(chat.LinkDownNotice))
	send(t, bs, "#quiet", "while c is cut")
	proxy.sever(false)
	ar.wait(10*time.Second, "alice told the link is back", noticeText(chat.LinkUpNotice))
	ar.waitBody(soon, "while c is cut")
}
