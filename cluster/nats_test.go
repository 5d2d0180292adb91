package cluster

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestBusDeliversToOtherNodesInOrderNeverToItself: what one node publishes
// reaches every other node once, in its order, and not itself.
func TestBusDeliversToOtherNodesInOrderNeverToItself(t *testing.T) {
	ns := startNATS(t)
	var got [3]chan string
	var buses [3]*NATS
	for i := range buses {
		b, err := Connect(ns.url(), fmt.Sprint("n", i), testLogger{t, fmt.Sprint("n", i)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		got[i] = make(chan string, 100)
		ch := got[i]
		if _, err := b.Subscribe(func(d []byte) { ch <- string(d) }); err != nil {
			t.Fatal(err)
		}
		buses[i] = b
	}
	// A subscription is live once the server has it: flush each.
	for _, b := range buses {
		if err := b.nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		if err := buses[0].Publish([]byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{1, 2} {
		for i := range 50 {
			select {
			case s := <-got[n]:
				if s != fmt.Sprint(i) {
					t.Fatalf("node %d got %q, want %d", n, s, i)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("node %d: event %d did not arrive", n, i)
			}
		}
	}
	if err := buses[0].nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got[0]:
		t.Fatalf("the publisher received its own event %q", s)
	default:
	}
}

// TestBusSaysWhenNATSGoesAndComesBack: a NATS outage is reported (so the
// node can say so and catch up), Publish fails while it lasts, and the
// bus reconnects by itself.
func TestBusSaysWhenNATSGoesAndComesBack(t *testing.T) {
	ns := startNATS(t)
	b, err := Connect(ns.url(), "n0", testLogger{t, "n0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	changes := make(chan bool, 10)
	b.OnChange(func(up bool) { changes <- up })
	ns.stop()
	for down := false; !down; {
		select {
		case up := <-changes:
			down = !up // the word of the first connection may come late
		case <-time.After(10 * time.Second):
			t.Fatal("no word of the outage")
		}
	}
	if err := b.Publish([]byte("x")); err == nil {
		t.Fatal("Publish succeeded while NATS was down")
	}
	ns.start()
	select {
	case up := <-changes:
		if !up {
			t.Fatal("told down, want up")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no word of the reconnection")
	}
	if !b.Connected() {
		t.Fatal("not connected after the word")
	}
	if err := b.Publish([]byte("x")); err != nil {
		t.Fatal(err)
	}
}

// TestNodeNameIsChecked: a node name NATS cannot carry is refused with a
// one-line reason.
func TestNodeNameIsChecked(t *testing.T) {
	for _, name := range []string{"", "a b", "x*", string(make([]byte, 65))} {
		if _, err := Connect("nats://127.0.0.1:1", name, testLogger{t, "x"}); !errors.Is(err, ErrNodeName) {
			t.Errorf("node name %q: err %v, want ErrNodeName", name, err)
		}
	}
}

// TestBusReportsEventsDroppedForASlowNode: when a node cannot keep up and
// NATS drops events for it, the bus says so (OnLoss), so that the node
// reads what it missed from the store.
func TestBusReportsEventsDroppedForASlowNode(t *testing.T) {
	ns := startNATS(t)
	slow, err := Connect(ns.url(), "slow", testLogger{t, "slow"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(slow.Close)
	slow.pending = 2
	lost := make(chan struct{}, 10)
	slow.OnLoss(func() { lost <- struct{}{} })
	release := make(chan struct{})
	if _, err := slow.Subscribe(func([]byte) { <-release }); err != nil {
		t.Fatal(err)
	}
	defer close(release)
	if err := slow.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	fast, err := Connect(ns.url(), "fast", testLogger{t, "fast"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fast.Close)
	for i := range 20 {
		if err := fast.Publish([]byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("no word of the events dropped for the slow node")
	}
}
