package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sshchat/chat"
	"sshchat/model"
)

// errorLog records the errors a hub logs (and logs everything to the test).
type errorLog struct {
	testLogger
	mu   sync.Mutex
	errs []string
}

func (l *errorLog) Error(msg any, kv ...any) {
	l.testLogger.Error(msg, kv...)
	l.mu.Lock()
	l.errs = append(l.errs, fmt.Sprint(msg))
	l.mu.Unlock()
}

func (l *errorLog) said(part string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.errs {
		if strings.Contains(e, part) {
			return true
		}
	}
	return false
}

// startOutsider starts a hub on the cluster's NATS with its own store and
// logger, as a misconfigured process would be.
func (c *testCluster) startOutsider(name string, store *model.DB, log chat.Logger) *chat.Hub {
	c.t.Helper()
	bus, err := Connect(c.nats.url(), name, testLogger{c.t, name})
	if err != nil {
		c.t.Fatal(err)
	}
	hub, err := chat.NewHub(store, log, chat.Options{RateBurst: 1000, RatePerSecond: 1000, Bus: bus})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		_ = hub.Close(context.Background())
		bus.Close()
		_ = store.Close()
	})
	return hub
}

// TestNodeOnAnotherDatabaseIsNotTakenForAPeer: a node started on the
// cluster's NATS with a database of its own (--nats-url without the
// cluster's --database-url) is ignored by the nodes, and says so in its
// log: its users are not counted online, its messages not shown.
func TestNodeOnAnotherDatabaseIsNotTakenForAPeer(t *testing.T) {
	c := startCluster(t, 1)
	a := c.nodes[0]
	own, err := model.Open(filepath.Join(t.TempDir(), "own.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := &errorLog{testLogger: testLogger{t, "z"}}
	z := c.startOutsider("z", own, log)
	alice := c.account("alice")
	as := c.connect(a, alice)
	// IDs of z's users and messages must not collide with a's, or a
	// node taking z for a peer would not show it either.
	for i := range 3 {
		if _, err := z.Register(context.Background(), chat.Key{Fingerprint: fmt.Sprint("SHA256:z", i), Authorized: "x"}, fmt.Sprint("zz", i)); err != nil {
			t.Fatal(err)
		}
	}
	zed, err := z.Register(context.Background(), chat.Key{Fingerprint: "SHA256:zed", Authorized: "x"}, "zed")
	if err != nil {
		t.Fatal(err)
	}
	zs, err := z.Connect(context.Background(), zed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(zs.Close)
	for i := range 3 {
		send(t, zs, chat.Lobby, fmt.Sprint("earlier on z ", i))
	}
	send(t, zs, chat.Lobby, "from another database")
	send(t, as, chat.Lobby, "marker")
	waitUntil(t, soon, "node z to log that node a is on another database", func() bool { return log.said("another database") })
	// A negative needs a window: z's heartbeat (every 2 s) would have
	// counted zed online on a within it.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		if n := a.hub.Online(); n != 1 {
			t.Fatalf("node a counts %d online, want 1 (its own alice)", n)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-t.Context().Done():
			return
		}
	}
	for ev := range drain(as) {
		if m, ok := ev.(chat.MessageEvent); ok && m.Message.Body == "from another database" {
			t.Fatal("node a showed a message of a node on another database")
		}
	}
}

// TestSecondProcessWithANodesNameIsLogged: two processes given one
// --node-name cannot be told apart by the others; each of the two sees
// the other's events under its own name and logs it as an error.
func TestSecondProcessWithANodesNameIsLogged(t *testing.T) {
	c := startCluster(t, 1)
	log := &errorLog{testLogger: testLogger{t, "a-again"}}
	c.startOutsider(c.nodes[0].name, c.openStore(), log)
	waitUntil(t, soon, "the second process to log the name it shares", func() bool {
		return log.said("under this node's name")
	})
}

// drain returns what s has queued now, without waiting.
func drain(s chat.Session) chan chat.Event {
	out := make(chan chat.Event, 1024)
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				close(out)
				return out
			}
			out <- ev
		default:
			close(out)
			return out
		}
	}
}
