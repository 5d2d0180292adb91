package cluster

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"sshchat/chat"
	"sshchat/model"
	"sshchat/model/modeltest"
)

// The harness runs a cluster inside the test process: a real NATS server
// (embedded), a real shared database, and one chat.Hub with its own store
// handle and NATS connection per node.

type testLogger struct {
	t    testing.TB
	node string
}

func (l testLogger) log(level string, msg any, kv ...any) {
	l.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %v", l.node, level, msg)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	l.t.Log(b.String())
}

func (l testLogger) Debug(any, ...any)             {}
func (l testLogger) Info(msg any, kv ...any)       { l.log("INFO", msg, kv...) }
func (l testLogger) Warn(msg any, kv ...any)       { l.log("WARN", msg, kv...) }
func (l testLogger) Error(msg any, kv ...any)      { l.log("ERROR", msg, kv...) }
func (l testLogger) Print(format string, a ...any) { l.t.Logf(format, a...) }

// natsServer is an embedded NATS server that can be stopped and started
// again on the same port (a NATS outage).
type natsServer struct {
	t    testing.TB
	port int
	srv  *natsserver.Server
}

func startNATS(t testing.TB) *natsServer {
	t.Helper()
	n := &natsServer{t: t, port: -1}
	n.start()
	n.port = n.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(n.stop)
	return n
}

func (n *natsServer) start() {
	n.t.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: n.port, NoLog: true, NoSigs: true})
	if err != nil {
		n.t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		n.t.Fatal("embedded NATS server did not start")
	}
	n.srv = srv
}

func (n *natsServer) stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

func (n *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// node is one member of a test cluster.
type node struct {
	name  string
	hub   *chat.Hub
	bus   *NATS
	lossy *lossyBus // the bus the hub uses, when the test can make it lose events
	store *model.DB
}

// testCluster is n nodes over one database and one NATS server.
type testCluster struct {
	t     testing.TB
	nats  *natsServer
	db    string // the shared database: a PostgreSQL URL or a SQLite path
	nodes []*node
	keys  int
	mu    sync.Mutex
	// tune, when set, changes the options of the nodes started next.
	tune func(*chat.Options)
}

// startCluster starts n nodes named a, b, c, ...
func startCluster(t testing.TB, n int) *testCluster {
	t.Helper()
	c := &testCluster{t: t, nats: startNATS(t), db: sharedDatabase(t)}
	for i := range n {
		c.nodes = append(c.nodes, c.startNode(string(rune('a'+i))))
	}
	return c
}

// sharedDatabase is the database the nodes of a test share: a fresh
// PostgreSQL schema when the tests have a server (always in CI, where
// SSHCHAT_REQUIRE_POSTGRES makes its absence fail), else a SQLite file,
// which several stores in one process can share, said so in the log.
func sharedDatabase(t testing.TB) string {
	t.Helper()
	if modeltest.Available() || modeltest.Required() {
		return modeltest.PostgresURL(t)
	}
	t.Logf("%s: this cluster shares a SQLite file instead", modeltest.SkipMessage)
	return filepath.Join(t.TempDir(), "chat.db")
}

// openStore opens the shared database for one node.
func (c *testCluster) openStore() *model.DB {
	c.t.Helper()
	db, err := model.OpenURL(c.db)
	if err != nil {
		c.t.Fatal(err)
	}
	return db
}

// startNode starts one node; it is stopped at the end of the test.
func (c *testCluster) startNode(name string) *node { return c.startNodeWith(name, false) }

// startLossyNode starts a node whose hub publishes through a lossyBus.
func (c *testCluster) startLossyNode(name string) *node { return c.startNodeWith(name, true) }

func (c *testCluster) startNodeWith(name string, lossy bool) *node {
	c.t.Helper()
	store := c.openStore()
	bus, err := Connect(c.nats.url(), name, testLogger{c.t, name})
	if err != nil {
		c.t.Fatal(err)
	}
	nd := &node{name: name, bus: bus, store: store}
	var hbus chat.Bus = bus
	if lossy {
		nd.lossy = &lossyBus{NATS: bus}
		hbus = nd.lossy
	}
	opts := chat.Options{RateBurst: 1000, RatePerSecond: 1000, Bus: hbus,
		IsAdmin: func(fp string) bool { return strings.HasPrefix(fp, "SHA256:test-boss-") }}
	if c.tune != nil {
		c.tune(&opts)
	}
	hub, err := chat.NewHub(store, testLogger{c.t, name}, opts)
	if err != nil {
		c.t.Fatal(err)
	}
	nd.hub = hub
	c.t.Cleanup(nd.stop)
	return nd
}

// stop closes the node in order (a clean shutdown); idempotent.
func (nd *node) stop() {
	if nd.hub == nil {
		return
	}
	_ = nd.hub.Close(context.Background())
	nd.bus.Close()
	_ = nd.store.Close()
	nd.hub = nil
}

// account registers a user (on node 0) with a fresh key; "boss" is an
// administrator.
func (c *testCluster) account(handle string) chat.Account {
	c.t.Helper()
	c.mu.Lock()
	c.keys++
	fp := fmt.Sprintf("SHA256:test-%s-%d", handle, c.keys)
	c.mu.Unlock()
	a, err := c.nodes[0].hub.Register(context.Background(), chat.Key{Fingerprint: fp, Authorized: "ssh-ed25519 x"}, handle)
	if err != nil {
		c.t.Fatal(err)
	}
	return a
}

// connect opens a session of acct on nd; it is closed at the end of the
// test.
func (c *testCluster) connect(nd *node, acct chat.Account) chat.Session {
	c.t.Helper()
	s, err := nd.hub.Connect(context.Background(), acct)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(s.Close)
	return s
}

// waitFor reads s's events until match says yes, failing after d.
func waitFor(t testing.TB, s chat.Session, d time.Duration, what string, match func(chat.Event) bool) chat.Event {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("waiting for %s: session closed: %v", what, s.Err())
			}
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("waiting for %s: nothing after %s", what, d)
		}
	}
}

// messageText matches a MessageEvent with the given body.
func messageText(body string) func(chat.Event) bool {
	return func(ev chat.Event) bool {
		m, ok := ev.(chat.MessageEvent)
		return ok && m.Message.Body == body
	}
}

// lossyBus is a node's bus that the test can make lose what it publishes:
// the next few lines (a publish lost, or a node killed between its commit
// and its publish), or everything (a node gone silent).
type lossyBus struct {
	*NATS
	mu        sync.Mutex
	dropLines int
	silent    bool
}

// Publish drops what the test asked it to, reporting it sent.
func (b *lossyBus) Publish(data []byte) error {
	b.mu.Lock()
	drop := b.silent
	if !drop && b.dropLines > 0 && strings.Contains(string(data), `"k":"line"`) {
		b.dropLines--
		drop = true
	}
	b.mu.Unlock()
	if drop {
		return nil
	}
	return b.NATS.Publish(data)
}

func (b *lossyBus) dropNextLines(n int) {
	b.mu.Lock()
	b.dropLines = n
	b.mu.Unlock()
}

func (b *lossyBus) silence() {
	b.mu.Lock()
	b.silent = true
	b.mu.Unlock()
}

// speak ends a silence: what was published meanwhile stays lost.
func (b *lossyBus) speak() {
	b.mu.Lock()
	b.silent = false
	b.mu.Unlock()
}

// recorder keeps every event of a session, read on its own goroutine, for
// tests that look at the whole sequence.
type recorder struct {
	t   testing.TB
	s   chat.Session
	mu  sync.Mutex
	evs []chat.Event
}

// record starts reading s's events.
func record(t testing.TB, s chat.Session) *recorder {
	r := &recorder{t: t, s: s}
	go func() {
		for ev := range s.Events() {
			r.mu.Lock()
			r.evs = append(r.evs, ev)
			r.mu.Unlock()
		}
	}()
	return r
}

// events returns a copy of what was received so far.
func (r *recorder) events() []chat.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]chat.Event(nil), r.evs...)
}

// messages returns the messages of conv received so far, in order.
func (r *recorder) messages(conv chat.ConvID) []chat.Message {
	var out []chat.Message
	for _, ev := range r.events() {
		if m, ok := ev.(chat.MessageEvent); ok && m.Message.Conv == conv {
			out = append(out, m.Message)
		}
	}
	return out
}

// wait polls until cond holds for the events so far, failing after d.
func (r *recorder) wait(d time.Duration, what string, cond func([]chat.Event) bool) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for !cond(r.events()) {
		if time.Now().After(deadline) {
			r.t.Fatalf("waiting for %s: nothing after %s (session err: %v)", what, d, r.s.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitBody waits for a message with this body.
func (r *recorder) waitBody(d time.Duration, body string) chat.Message {
	r.t.Helper()
	var got chat.Message
	r.wait(d, "message "+body, func(evs []chat.Event) bool {
		for _, ev := range evs {
			if m, ok := ev.(chat.MessageEvent); ok && m.Message.Body == body {
				got = m.Message
				return true
			}
		}
		return false
	})
	return got
}

// waitUntil polls cond until it holds, failing after d.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not after %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
