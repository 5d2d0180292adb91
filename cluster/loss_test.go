package cluster

import (
	"testing"
	"time"

	"sshchat/chat"
)

// TestNodeThatNATSDroppedEventsForCatchesUp: when NATS drops events on
// their way to a node too slow to take them (a slow consumer), that node
// reads what it missed from the store: a ban made meanwhile ends its
// sessions and a message posted meanwhile reaches them. Here the drop is
// the publisher's (its bus loses everything for a moment) and the
// receiver is told as NATS tells a slow consumer.
func TestNodeThatNATSDroppedEventsForCatchesUp(t *testing.T) {
	c := startCluster(t, 1)
	a := c.nodes[0]
	x := c.startLossyNode("x")
	boss, bob, carol := c.account("boss"), c.account("bob"), c.account("carol")
	bossX := c.connect(x, boss)
	carolX := c.connect(x, carol)
	bobA := c.connect(a, bob)
	carolA := c.connect(a, carol)
	send(t, carolX, chat.Lobby, "heard")
	waitFor(t, carolA, soon, "a line heard on the bus", messageText("heard"))

	x.lossy.silence()
	send(t, carolX, chat.Lobby, "dropped on the way")
	exec(t, bossX, chat.Lobby, "/admin ban bob spam")
	x.lossy.speak()
	a.bus.lost()

	waitFor(t, carolA, 2*time.Second, "the dropped line, read from the store", messageText("dropped on the way"))
	waitGone(t, bobA, 2*time.Second)
	if _, banned := a.hub.Banned(bob.Fingerprint); !banned {
		t.Fatal("node a does not hold bob's key banned after catching up")
	}
}
