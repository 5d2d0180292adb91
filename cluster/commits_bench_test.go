package cluster

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"sshchat/chat"
	"sshchat/model/modeltest"
)

var (
	benchSenders = flag.Int("cluster.senders", 192, "concurrent senders in BenchmarkClusterCommits, spread over the nodes")
	benchRooms   = flag.Int("cluster.rooms", 8, "rooms the senders are spread over in BenchmarkClusterCommits/rooms")
	benchQueue   = flag.Int("cluster.queue", 4096, "each session's event queue in BenchmarkClusterCommits (0: the hub's default, 256)")
)

// BenchmarkClusterCommits measures committed messages per second (Send
// returns after the commit) from -cluster.senders concurrent senders,
// each with one message in flight, all into the lobby and spread over
// -cluster.rooms rooms: on 3 hubs sharing PostgreSQL through NATS (the
// senders spread evenly over the nodes), and in the same run on 1 hub on
// PostgreSQL and 1 hub on SQLite, single nodes without a bus (the floor).
// Every session drains its events, so fan-out is part of the cost; each
// gets every message of its conversations (thousands a second), and on a
// saturated machine their goroutines fall behind a queue of the hub's
// default length, so the queue is -cluster.queue long (the sessions
// dropped as slow are reported as "dropped"; a send of one fails the
// run). It needs PostgreSQL (SSHCHAT_TEST_POSTGRES, see .ci/postgres.sh)
// and says so when it skips.
func BenchmarkClusterCommits(b *testing.B) {
	if !modeltest.Available() {
		if modeltest.Required() {
			b.Fatal("BenchmarkClusterCommits: " + modeltest.SkipMessage)
		}
		b.Skip("BenchmarkClusterCommits measures PostgreSQL: " + modeltest.SkipMessage)
	}
	for _, setup := range []struct {
		name   string
		nodes  int
		sqlite bool
	}{{"nodes=3/postgres", 3, false}, {"nodes=1/postgres", 1, false}, {"nodes=1/sqlite", 1, true}} {
		b.Run(setup.name, func(b *testing.B) {
			var env *benchCluster
			if setup.sqlite {
				env = startBenchCluster(b, filepath.Join(b.TempDir(), "chat.db"), setup.nodes)
			} else {
				env = startBenchCluster(b, modeltest.PostgresURL(b), setup.nodes)
			}
			if !setup.sqlite {
				checkSynchronousCommit(b, env.tc.db)
			}
			senders := env.senders(*benchSenders, *benchRooms)
			b.Run("lobby", func(b *testing.B) {
				env.run(b, senders, func(*benchSender) chat.ConvID { return chat.Lobby })
			})
			b.Run(fmt.Sprintf("rooms=%d", *benchRooms), func(b *testing.B) {
				env.run(b, senders, func(s *benchSender) chat.ConvID { return s.room })
			})
		})
	}
}

// benchCluster is n hubs on one database; with more than one they share
// an embedded NATS server, as startCluster's do.
type benchCluster struct {
	tc      *testCluster
	nodes   []*node
	metrics benchMetrics // all nodes'
}

// benchMetrics counts what the hubs report: group commits, the messages
// and time they took, fan-out time and dropped sessions.
type benchMetrics struct {
	commits, messages, dropped atomic.Int64
	commitNs, fanNs            atomic.Int64
}

func (m *benchMetrics) Committed(n int, took time.Duration) {
	m.commits.Add(1)
	m.messages.Add(int64(n))
	m.commitNs.Add(int64(took))
}
func (m *benchMetrics) FannedOut(took time.Duration) { m.fanNs.Add(int64(took)) }
func (m *benchMetrics) SlowConsumerDropped()         { m.dropped.Add(1) }
func (m *benchMetrics) RateLimited()                 {}

func (m *benchMetrics) reset() {
	for _, v := range []*atomic.Int64{&m.commits, &m.messages, &m.dropped, &m.commitNs, &m.fanNs} {
		v.Store(0)
	}
}

// benchSender is one sender: its own account and session, and its room.
type benchSender struct {
	s    chat.Session
	room chat.ConvID
}

// startBenchCluster starts n nodes on db. A single node has no bus (the
// default deployment) and no per-user rate limit; a cluster's nodes are
// the harness's (whose users may send 1,000 messages a second).
func startBenchCluster(b *testing.B, db string, n int) *benchCluster {
	b.Helper()
	env := &benchCluster{}
	tc := &testCluster{t: b, db: db, tune: func(o *chat.Options) { o.QueueLen, o.Metrics = *benchQueue, &env.metrics }}
	env.tc = tc
	if n > 1 {
		tc.nats = startNATS(b)
		for i := range n {
			env.nodes = append(env.nodes, tc.startNode(string(rune('a'+i))))
		}
		tc.nodes = env.nodes
		return env
	}
	store := tc.openStore()
	hub, err := chat.NewHub(store, testLogger{b, "single"}, chat.Options{RateBurst: 1 << 30, RatePerSecond: 1 << 30, QueueLen: *benchQueue, Metrics: &env.metrics})
	if err != nil {
		b.Fatal(err)
	}
	nd := &node{name: "single", hub: hub, store: store}
	b.Cleanup(func() {
		_ = hub.Close(context.Background())
		_ = store.Close()
	})
	env.nodes = []*node{nd}
	tc.nodes = env.nodes
	return env
}

// senders registers n accounts, connects sender i on node i mod nodes and
// puts it in room i mod rooms (created by the first sender of each room).
// Every session's events are read and dropped until the benchmark ends.
func (env *benchCluster) senders(n, rooms int) []*benchSender {
	b := env.tc.t
	out := make([]*benchSender, n)
	for i := range out {
		acct := env.tc.account(fmt.Sprintf("s%d", i))
		nd := env.nodes[i%len(env.nodes)]
		s, err := nd.hub.Connect(context.Background(), acct)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		go func() {
			for range s.Events() {
			}
		}()
		room := chat.ConvID(fmt.Sprintf("#bench%d", i%rooms))
		verb := "/join "
		if i < rooms {
			verb = "/create "
		}
		exec(b, s, chat.Lobby, verb+string(room))
		out[i] = &benchSender{s: s, room: room}
	}
	return out
}

// run sends b.N messages from all senders at once, each sending its next
// message when the last one returned, and reports committed messages per
// second.
func (env *benchCluster) run(b *testing.B, senders []*benchSender, conv func(*benchSender) chat.ConvID) {
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	n := int64(b.N)
	env.metrics.reset()
	b.ResetTimer()
	start := time.Now()
	for _, s := range senders {
		wg.Go(func() {
			to := conv(s)
			for next.Add(1) <= n {
				if _, err := s.s.Send(context.Background(), to, "a typical chat line of a few dozen characters"); err != nil {
					err = fmt.Errorf("send to %s: %w (session: %v)", to, err, s.s.Err())
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(0, "ns/op")
	m := &env.metrics
	if c := m.commits.Load(); c > 0 {
		b.ReportMetric(float64(m.messages.Load())/float64(c), "msgs/commit")
		b.ReportMetric(float64(m.commitNs.Load())/float64(c)/1e6, "commit-ms")
		b.ReportMetric(float64(m.fanNs.Load())/float64(c)/1e6, "fanout-ms")
	}
	b.ReportMetric(float64(m.dropped.Load()), "dropped")
}

// checkSynchronousCommit fails b unless the PostgreSQL at url commits
// synchronously (each commit waits for its WAL flush).
func checkSynchronousCommit(b *testing.B, url string) {
	b.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var sc string
	if err := db.QueryRow(`SHOW synchronous_commit`).Scan(&sc); err != nil || sc != "on" {
		b.Fatalf("synchronous_commit = %q, %v: want on", sc, err)
	}
}
