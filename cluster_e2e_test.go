package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"sshchat/model"
	"sshchat/model/modeltest"
)

// The cluster end-to-end tests run three real server processes (this test
// binary re-executed, see crash_test.go) on one fresh PostgreSQL database
// (modeltest.PostgresURL: skipped loudly without SSHCHAT_TEST_POSTGRES,
// failed under SSHCHAT_REQUIRE_POSTGRES=1) and one NATS server embedded in
// the test process, and talk to them over real SSH.

// testCluster is three nodes sharing a database and a NATS server.
type testCluster struct {
	dbURL string
	nodes []*child
}

// startTestCluster starts the NATS server and n nodes, one after the other
// (the first migrates the database).
func startTestCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	dbURL := modeltest.PostgresURL(t)
	_, natsURL := startTestNATS(t)
	c := &testCluster{dbURL: dbURL}
	dir := t.TempDir()
	for i := range n {
		name := fmt.Sprintf("node%d", i+1)
		c.nodes = append(c.nodes, startChildArgs(t, []string{
			"--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, name), "--host-key", filepath.Join(dir, name+".key"),
			"--database-url", dbURL, "--nats-url", natsURL, "--node-name", name,
			"--msg-rate", "1000", "--msg-burst", "1000",
		}))
	}
	return c
}

// stored returns the lobby's stored messages in the stored order, read
// from the database directly.
func (c *testCluster) stored(t *testing.T) []model.Message {
	t.Helper()
	db, err := model.OpenURL(c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	msgs, err := db.History(context.Background(), "#lobby", 0, 5000, nil)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// attach waits until every tail prints a marker sent through node 0, so
// that each follows the lobby before the test's messages are sent.
func attach(t *testing.T, c *testCluster, key gossh.Signer, tails ...*tailer) {
	t.Helper()
	for i := 0; ; i++ {
		marker := fmt.Sprintf("marker-%d", i)
		mustRun(t, c.nodes[0].addr, "marker", key, "", "send lobby "+marker)
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) && !allPrinted(tails, marker) {
			time.Sleep(10 * time.Millisecond)
		}
		if allPrinted(tails, marker) {
			return
		}
		if i == 20 {
			t.Fatalf("the tails did not print a marker within 20 s: %q", tailsLines(tails))
		}
	}
}

func allPrinted(tails []*tailer, s string) bool {
	for _, tl := range tails {
		if !slices.ContainsFunc(tl.Lines(), func(l string) bool { return strings.Contains(l, s) }) {
			return false
		}
	}
	return true
}

func tailsLines(tails []*tailer) [][]string {
	var out [][]string
	for _, tl := range tails {
		out = append(out, tl.Lines())
	}
	return out
}

// TestClusterUsersOnNodeOneAndThreeChat: a user on node 1 and a user on
// node 3 chat in the lobby over real SSH, both in the full-screen UI and
// with send/tail, as if they were on one node.
func TestClusterUsersOnNodeOneAndThreeChat(t *testing.T) {
	c := startTestCluster(t, 3)
	aliceKey, carolKey := newKey(t), newKey(t)
	alice := dial(t, c.nodes[0].addr, "alice", aliceKey, 100, 30)
	carol := dial(t, c.nodes[2].addr, "carol", carolKey, 100, 30)
	alice.WaitFor("#lobby")
	carol.WaitFor("#lobby")
	aliceTail := startTail(t, c.nodes[0].addr, "alice", aliceKey, "tail lobby --json")
	carolTail := startTail(t, c.nodes[2].addr, "carol", carolKey, "tail lobby --json")
	attach(t, c, newKey(t), aliceTail, carolTail)

	alice.Line("hello carol, this is node one")
	carol.WaitFor("hello carol, this is node one")
	carol.Line("hi alice, node three here")
	alice.WaitFor("hi alice, node three here")
	mustRun(t, c.nodes[0].addr, "alice", aliceKey, "", "send lobby sent with ssh on node one")
	mustRun(t, c.nodes[2].addr, "carol", carolKey, "", "send lobby sent with ssh on node three")
	carol.WaitFor("sent with ssh on node one")
	alice.WaitFor("sent with ssh on node three")
	for _, tl := range []*tailer{aliceTail, carolTail} {
		tl.waitLine(t, "sent with ssh on node three")
		tl.waitLine(t, "sent with ssh on node one")
	}
	// Both tails print the same messages in the stored order (from the
	// first both printed: one may have attached a marker earlier).
	a, b := decode(t, aliceTail.Lines()), decode(t, carolTail.Lines())
	from := max(a[0].ID, b[0].ID)
	a = slices.DeleteFunc(a, func(m jsonMessage) bool { return m.ID < from })
	b = slices.DeleteFunc(b, func(m jsonMessage) bool { return m.ID < from })
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("node 1's tail printed\n%v\nnode 3's\n%v", a, b)
	}
	checkStoredOrder(t, "the tails", a, c.stored(t))
}

// checkStoredOrder fails unless got (a tail's messages) is exactly the
// stored messages from got's first one on: each once, in the stored order.
func checkStoredOrder(t *testing.T, who string, got []jsonMessage, stored []model.Message) {
	t.Helper()
	if len(got) == 0 {
		t.Fatalf("%s printed nothing", who)
	}
	var want, have []string
	for _, m := range stored {
		if m.ID >= got[0].ID {
			want = append(want, fmt.Sprintf("%d:%s", m.ID, m.Body))
		}
	}
	for _, m := range got {
		have = append(have, fmt.Sprintf("%d:%s", m.ID, m.Body))
	}
	if strings.Join(want, "\n") != strings.Join(have, "\n") {
		t.Fatalf("%s printed (id:body)\n%s\nthe database holds, from the first one on\n%s", who, strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
}

// trySend runs `send lobby body` over conn and reports whether the server
// acknowledged it (the command exited 0).
func trySend(conn *gossh.Client, body string) error {
	sess, err := conn.NewSession()
	if err != nil {
		return err
	}
	defer sess.Close()
	var stderr strings.Builder
	sess.Stderr = &stderr
	if err := sess.Run("send lobby " + body); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// TestClusterKilledNodeLosesNoAcknowledgedMessage: node 2 is SIGKILLed in
// the middle of a burst of sends through it and through nodes 1 and 3.
// Every message a sender saw acknowledged is in the database once, and
// each surviving node's tail printed every stored message once, in the
// stored order (what node 2 committed before dying included).
func TestClusterKilledNodeLosesNoAcknowledgedMessage(t *testing.T) {
	c := startTestCluster(t, 3)
	reader := newKey(t)
	tails := []*tailer{
		startTail(t, c.nodes[0].addr, "reader", reader, "tail lobby --json"),
		startTail(t, c.nodes[1].addr, "reader", reader, "tail lobby --json"),
		startTail(t, c.nodes[2].addr, "reader", reader, "tail lobby --json"),
	}
	attach(t, c, newKey(t), tails...)

	const perSender, killAfter = 30, 8
	var (
		mu     sync.Mutex
		acked  []string
		failed = map[int]error{}
	)
	killNow := make(chan struct{})
	var wg sync.WaitGroup
	for n := range c.nodes {
		conn, err := gossh.Dial("tcp", c.nodes[n].addr, sshConfig(fmt.Sprintf("writer%d", n+1), newKey(t)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		wg.Go(func() {
			for i := range perSender {
				body := fmt.Sprintf("n%d-%02d", n+1, i)
				if err := trySend(conn, body); err != nil {
					mu.Lock()
					failed[n] = fmt.Errorf("%s: %w", body, err)
					mu.Unlock()
					return
				}
				mu.Lock()
				acked = append(acked, body)
				mu.Unlock()
				if n == 1 && i == killAfter {
					close(killNow)
				}
			}
		})
	}
	<-killNow
	c.nodes[1].kill()
	wg.Wait()

	if failed[0] != nil || failed[2] != nil {
		t.Fatalf("a send through a surviving node failed: %v", failed)
	}
	if failed[1] == nil {
		t.Fatal("every send through the killed node succeeded: the kill came too late to test anything")
	}
	stored := c.stored(t)
	count := map[string]int{}
	for _, m := range stored {
		count[m.Body]++
	}
	for _, body := range acked {
		if count[body] != 1 {
			t.Errorf("acknowledged %q is stored %d times", body, count[body])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// The survivors' tails catch up with everything stored (including
	// node 2's last commits, which it may not have announced), then
	// print it once each, in the stored order.
	last := stored[len(stored)-1].Body
	for _, i := range []int{0, 2} {
		tails[i].waitLine(t, `"body":"`+last+`"`)
		checkStoredOrder(t, fmt.Sprintf("node %d's tail", i+1), decode(t, tails[i].Lines()), stored)
	}
	select {
	case <-tails[1].done:
	case <-time.After(waitTimeout):
		t.Fatal("the killed node's tail did not end")
	}
	t.Logf("%d acknowledged (%d through node 2 before it died: %v), %d stored", len(acked), killAfter+1, failed[1], len(stored))
}
