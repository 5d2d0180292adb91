package cluster

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sshchat/chat"
)

// The state-sync tests (sync_test.go) need nodes with hooks: an
// administrator's key, and what the hub asks of its server (EndKeys,
// KeyRemoved) recorded per node.

// syncDeadline is how soon a change made on one node must show on the
// others.
const syncDeadline = 2 * time.Second

// adminPrefix starts the fingerprints of the administrators' keys:
// maria's (startSyncCluster, testCluster.account).
const adminPrefix = "SHA256:test-maria-"

// serverCalls records what a node's hub asked of its server.
type serverCalls struct {
	mu         sync.Mutex
	ended      []string // fingerprints of EndKeys, with the line: "fp|line"
	removed    []string // fingerprints of KeyRemoved
	allowlists int      // AllowlistChanged calls
}

func (s *serverCalls) has(list func(*serverCalls) []string, want string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range list(s) {
		if v == want {
			return true
		}
	}
	return false
}

// syncNode is a node with its recorded server calls.
type syncNode struct {
	*node
	calls *serverCalls
}

// startSyncCluster starts n nodes named a, b, c, ... whose hubs treat
// keys starting with adminPrefix as administrators' and record their
// server calls.
func startSyncCluster(t testing.TB, n int) (*testCluster, []*syncNode) {
	t.Helper()
	c := &testCluster{t: t, nats: startNATS(t), db: sharedDatabase(t)}
	var out []*syncNode
	for i := range n {
		name := string(rune('a' + i))
		calls := &serverCalls{}
		store := c.openStore()
		bus, err := Connect(c.nats.url(), name, testLogger{t, name})
		if err != nil {
			t.Fatal(err)
		}
		hub, err := chat.NewHub(store, testLogger{t, name}, chat.Options{
			RateBurst: 1000, RatePerSecond: 1000, Bus: bus,
			IsAdmin: func(fp string) bool { return strings.HasPrefix(fp, adminPrefix) },
			EndKeys: func(fps []string, line string) {
				calls.mu.Lock()
				for _, fp := range fps {
					calls.ended = append(calls.ended, fp+"|"+line)
				}
				calls.mu.Unlock()
			},
			KeyRemoved: func(fp string) {
				calls.mu.Lock()
				calls.removed = append(calls.removed, fp)
				calls.mu.Unlock()
			},
			AllowlistChanged: func() {
				calls.mu.Lock()
				calls.allowlists++
				calls.mu.Unlock()
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		nd := &node{name: name, hub: hub, bus: bus, store: store}
		t.Cleanup(nd.stop)
		c.nodes = append(c.nodes, nd)
		out = append(out, &syncNode{node: nd, calls: calls})
	}
	return c, out
}

// within polls cond until it holds, failing after syncDeadline.
func within(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitUntil(t, syncDeadline, what, cond)
}

// convEvent matches a ConversationEvent of conv for which ok says yes.
func convEvent(conv chat.ConvID, ok func(chat.ConversationEvent) bool) func(chat.Event) bool {
	return func(ev chat.Event) bool {
		c, is := ev.(chat.ConversationEvent)
		return is && c.Conversation.ID == conv && ok(c)
	}
}

// waitRemoved waits until s is ended with ErrRemoved, failing after
// syncDeadline.
func waitRemoved(t testing.TB, s chat.Session, what string) {
	t.Helper()
	waitEnded(t, s, syncDeadline, what)
}

// waitEnded waits until s is ended with ErrRemoved, failing after d.
func waitEnded(t testing.TB, s chat.Session, d time.Duration, what string) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case _, ok := <-s.Events():
			if !ok {
				if !errors.Is(s.Err(), chat.ErrRemoved) {
					t.Fatalf("%s: session ended with %v, want ErrRemoved", what, s.Err())
				}
				return
			}
		case <-deadline:
			t.Fatalf("%s: session still open after %s", what, d)
		}
	}
}

// markerFirst reads s's events until a MessageEvent with body marker,
// failing if one with body unwanted comes first (or the marker does not
// come within syncDeadline).
func markerFirst(t testing.TB, s chat.Session, unwanted, marker string) {
	t.Helper()
	waitFor(t, s, syncDeadline, fmt.Sprintf("%q (and never %q)", marker, unwanted), func(ev chat.Event) bool {
		m, ok := ev.(chat.MessageEvent)
		if ok && m.Message.Body == unwanted {
			t.Fatalf("%q reached a session that must not see it", unwanted)
		}
		return ok && m.Message.Body == marker
	})
}
