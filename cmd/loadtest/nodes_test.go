package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestParseSeveralNodes: -addr takes several nodes, -pid one process per
// node, and the kill flags name a pid, a node and a time in the window.
func TestParseSeveralNodes(t *testing.T) {
	c, err := parseConfig([]string{"-addr", "127.0.0.1:2201,127.0.0.1:2202,localhost:2203", "-pid", "11,12,13"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.dialAddrs) != 3 || c.dialAddrs[1] != "127.0.0.1:2202" || fmt.Sprint(c.pids) != "[11 12 13]" || c.pid != 11 {
		t.Fatalf("addrs %q pids %v pid %d", c.dialAddrs, c.pids, c.pid)
	}
	if c.nodeOf(0) != 0 || c.nodeOf(4) != 1 || c.nodeOf(5) != 2 {
		t.Fatalf("sessions are not spread round-robin: %d %d %d", c.nodeOf(0), c.nodeOf(4), c.nodeOf(5))
	}
	c, err = parseConfig([]string{"-addr", "127.0.0.1:1,127.0.0.1:2", "-kill-pid", "99999", "-kill-node", "2", "-kill-after", "2s", "-duration", "5s"}, &bytes.Buffer{})
	if err != nil || !c.killing() || c.killNode != 1 || c.killAfter != 2*time.Second {
		t.Fatalf("kill flags: %+v %v", c, err)
	}
	two := []string{"-addr", "127.0.0.1:1,127.0.0.1:2", "-duration", "5s"}
	bad := map[string][]string{
		"non-loopback node":      {"-addr", "127.0.0.1:1,10.0.0.1:2"},
		"empty node":             {"-addr", "127.0.0.1:1,"},
		"pid not a number":       {"-pid", "12,x"},
		"pids ≠ nodes":           append([]string{"-pid", "1,2,3"}, two...),
		"kill one node":          {"-kill-pid", "99999", "-kill-node", "1", "-kill-after", "1s"},
		"kill without node":      append([]string{"-kill-pid", "99999", "-kill-after", "1s"}, two...),
		"kill node out of range": append([]string{"-kill-pid", "99999", "-kill-node", "3", "-kill-after", "1s"}, two...),
		"kill after the window":  append([]string{"-kill-pid", "99999", "-kill-node", "2", "-kill-after", "5s"}, two...),
		"kill without pid":       append([]string{"-kill-node", "2"}, two...),
		"kill while idle":        append([]string{"-kill-pid", "99999", "-kill-node", "2", "-kill-after", "1s", "-idle", "3s"}, two...),
	}
	for name, args := range bad {
		var stderr bytes.Buffer
		if _, err := parseConfig(args, &stderr); err == nil {
			t.Errorf("%s: parseConfig(%q) accepted", name, args)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", name, err)
		}
	}
}

// TestNodeObserverSetCoversEveryNode: with sessions spread over 3 nodes,
// observers are shared between the nodes (sampling every 15th session of
// 1,500 would put them all on one node).
func TestNodeObserverSetCoversEveryNode(t *testing.T) {
	for _, tc := range []struct{ n, k, nodes int }{{1500, 100, 3}, {7, 7, 3}, {10, 4, 3}, {6, 2, 3}, {30, 3, 2}} {
		obs := nodeObserverSet(tc.n, tc.k, tc.nodes)
		per := make([]int, tc.nodes)
		total := 0
		for i, on := range obs {
			if on {
				per[i%tc.nodes]++
				total++
			}
		}
		if total != min(tc.k, tc.n) {
			t.Errorf("%+v: %d observers, want %d", tc, total, min(tc.k, tc.n))
		}
		for a, c := range per {
			if want := min(tc.k, tc.n) / tc.nodes; c < want {
				t.Errorf("%+v: node %d has %d observers, want at least %d (%v)", tc, a, c, want, per)
			}
		}
	}
	if fmt.Sprint(nodeObserverSet(8, 3, 1)) != fmt.Sprint(observerSet(8, 3)) {
		t.Fatal("one node must sample as before")
	}
}

// TestOrderMismatches: sequences are compared on the messages they share
// with the longest one; a missing message is not a reordering.
func TestOrderMismatches(t *testing.T) {
	ref, bad, ex := orderMismatches([][]int32{
		{1, 2, 3},       // a prefix: fine
		{1, 2, 3, 4, 5}, // the reference
		{1, 3, 5},       // gaps: fine
		{2, 1, 3, 4, 5}, // swapped
		{5, 4},          // reversed
		{},
	})
	if ref != 1 || fmt.Sprint(bad) != "[3 4]" || !strings.Contains(ex, "slot 2") {
		t.Fatalf("ref %d bad %v example %q", ref, bad, ex)
	}
	if _, bad, _ := orderMismatches(nil); bad != nil {
		t.Fatal("no sequences, mismatches")
	}
}

// TestCountedAfterKill: once a node is killed, its senders' messages count
// only if acknowledged on the sender's screen or received by a survivor;
// the other nodes' messages always count once sent.
func TestCountedAfterKill(t *testing.T) {
	tr := newTracker(1, 2, 3)
	tr.killNode, tr.senderNode = 1, []int{0, 1}
	for _, q := range []int{0, 1, 2} {
		tr.markSent(0, q)
		tr.markSent(1, q)
	}
	tr.acked[3+1].Store(true)    // sender 1, seq 1: acknowledged
	tr.seenSurv[3+2].Store(true) // sender 1, seq 2: a survivor has it
	var got []bool
	for i := range 6 {
		got = append(got, tr.counted(i))
	}
	if fmt.Sprint(got) != "[true true true false true true]" {
		t.Fatalf("counted %v", got)
	}
	tr2 := newTracker(1, 1, 2)
	tr2.markSent(0, 0)
	if !tr2.counted(0) || tr2.counted(1) {
		t.Fatal("without a kill, exactly the sent messages count")
	}
}

// fakeCluster starts fakeChat with nodes listening addresses.
func fakeCluster(t *testing.T, nodes int, opts func(*fakeChat)) (*fakeChat, []string) {
	f := startFakeChat(t, opts)
	addrs := []string{f.addr()}
	for len(addrs) < nodes {
		addrs = append(addrs, f.addNode())
	}
	return f, addrs
}

// TestEndToEndSeveralNodes: sessions and senders are spread round-robin
// over the nodes, every session gets every message in one order, and the
// report has a block per node.
func TestEndToEndSeveralNodes(t *testing.T) {
	f, addrs := fakeCluster(t, 3, nil)
	cfg := testConfig(t, strings.Join(addrs, ","), "-n", "7", "-observers", "6", "-senders", "3", "-rate", "10", "-duration", "1s",
		"-settle", "50ms", "-drain", "10s", "-timeout", "15s")
	rep := run(context.Background(), cfg, nil)
	var out bytes.Buffer
	rep.writeSummary(&out)
	t.Log("\n" + out.String())
	if !rep.OK || rep.DeliveryRatio != 1 || rep.OrderChecked != 6 || rep.OrderMismatches != 0 {
		t.Fatalf("report: %+v", rep)
	}
	if got := f.nodeConns(); got[addrs[0]] != 3 || got[addrs[1]] != 2 || got[addrs[2]] != 2 {
		t.Fatalf("connections per node %v", got)
	}
	if len(rep.Nodes) != 3 {
		t.Fatalf("nodes %+v", rep.Nodes)
	}
	var sum int64
	for i, n := range rep.Nodes {
		if n.Addr != addrs[i] || n.Senders != 1 || n.Connected != n.Sessions || n.DeliveryRatio != 1 || n.LatencyP99Ms <= 0 {
			t.Errorf("node %d: %+v", i+1, n)
		}
		sum += n.Delivered
	}
	if sum != rep.Delivered || !strings.Contains(out.String(), "node 3") {
		t.Fatalf("nodes deliver %d, run %d", sum, rep.Delivered)
	}
}

// TestEndToEndOrderMismatchDetected: a session that is shown a message
// only after the next one fails the run, naming the session.
func TestEndToEndOrderMismatchDetected(t *testing.T) {
	_, addrs := fakeCluster(t, 2, func(f *fakeChat) {
		f.late = func(user string, msg int) bool { return user == "load0004" && msg == 2 }
	})
	cfg := testConfig(t, strings.Join(addrs, ","), "-n", "4", "-senders", "1", "-rate", "10", "-duration", "600ms",
		"-settle", "50ms", "-drain", "10s", "-timeout", "15s")
	rep := run(context.Background(), cfg, nil)
	if rep.OK || rep.OrderMismatches != 1 || !strings.Contains(rep.OrderExample, "load0004") {
		t.Fatalf("report: %+v", rep)
	}
	if rep.DeliveryRatio != 1 || rep.Nodes[1].OrderMismatches != 1 || rep.Nodes[0].OrderMismatches != 0 {
		t.Fatalf("a reordering is not a loss: ratio %v, nodes %+v", rep.DeliveryRatio, rep.Nodes)
	}
}

// killable starts a process for -kill-pid and ends node addr of f when it
// dies, as if the node were that process.
func killable(t *testing.T, f *fakeChat, addr string) int {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cmd.Wait()
		f.killNode(addr)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd.Process.Pid
}

// TestEndToEndKillNode: killing node 2 mid-run drops its sessions, which
// are reported apart; the survivors get every message, including those of
// node 2's sender that were sent before the kill.
func TestEndToEndKillNode(t *testing.T) {
	f, addrs := fakeCluster(t, 3, nil)
	pid := killable(t, f, addrs[1])
	cfg := testConfig(t, strings.Join(addrs, ","), "-n", "9", "-senders", "3", "-rate", "10", "-duration", "1s",
		"-settle", "50ms", "-drain", "10s", "-timeout", "15s", "-kill-pid", fmt.Sprint(pid), "-kill-node", "2", "-kill-after", "400ms")
	rep := run(context.Background(), cfg, nil)
	var out bytes.Buffer
	rep.writeSummary(&out)
	t.Log("\n" + out.String())
	if !rep.OK || rep.KilledDropped != 3 || rep.KilledNotDropped != 0 || rep.Dropped != 0 || rep.KilledAtS < 0.4 {
		t.Fatalf("report: %+v", rep)
	}
	// Node 2's sender sent about 4 messages before the kill; each was
	// acknowledged on its screen, so each counts, but for one typed as the
	// node died (on a loaded machine its echo may not have come back).
	if rep.KilledNodeSent < 2 || rep.KilledNodeCounted < rep.KilledNodeSent-1 || rep.KilledNodeCounted < 2 || rep.Acked < rep.KilledNodeCounted {
		t.Fatalf("killed node's messages: sent %d counted %d acked %d", rep.KilledNodeSent, rep.KilledNodeCounted, rep.Acked)
	}
	// 6 surviving observers, 2 of them senders: all messages but their own.
	if rep.DeliveryRatio != 1 || rep.Expected != 6*rep.Sent-(rep.Sent-rep.KilledNodeSent)*2/2 && rep.Expected == 0 {
		t.Fatalf("survivors: %d of %d", rep.Delivered, rep.Expected)
	}
	if !rep.Nodes[1].Killed || rep.Nodes[1].Dropped != 3 || rep.Nodes[0].Dropped != 0 || rep.Nodes[2].DeliveryRatio != 1 {
		t.Fatalf("nodes: %+v", rep.Nodes)
	}
}

// TestEndToEndKillNodeLossDetected: a message of the killed node's sender
// that its sender saw acknowledged must reach the survivors; one nobody
// saw (never acknowledged) does not count.
func TestEndToEndKillNodeLossDetected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sender bool // the sender sees its lost message
		ok     bool
	}{{"acknowledged then lost", true, false}, {"never acknowledged", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			var f *fakeChat
			f, addrs := fakeCluster(t, 2, func(f *fakeChat) {
				f.lose = func(user, line string) bool {
					return strings.HasPrefix(line, "load0002 ") && strings.HasSuffix(line, firstToken(f, 1)) && (user != "load0002" || !tc.sender)
				}
			})
			pid := killable(t, f, addrs[1])
			cfg := testConfig(t, strings.Join(addrs, ","), "-n", "4", "-senders", "2", "-rate", "10", "-duration", "800ms", "-run-id", "77",
				"-settle", "50ms", "-drain", "2s", "-timeout", "15s", "-kill-pid", fmt.Sprint(pid), "-kill-node", "2", "-kill-after", "400ms")
			rep := run(context.Background(), cfg, nil)
			if rep.OK != tc.ok || rep.KilledDropped != 2 {
				t.Fatalf("report: %+v", rep)
			}
			if tc.ok && rep.KilledNodeCounted != rep.KilledNodeSent-1 || !tc.ok && (rep.KilledNodeCounted != rep.KilledNodeSent || rep.DeliveryRatio >= 1) {
				t.Fatalf("killed node sent %d, counted %d, ratio %v", rep.KilledNodeSent, rep.KilledNodeCounted, rep.DeliveryRatio)
			}
		})
	}
}

// firstToken returns the token of sender's first message in run 77.
func firstToken(_ *fakeChat, sender int) string {
	return string(appendToken(nil, tokenID{Run: 77, Sender: sender, Seq: 0}))
}
