package cluster

import (
	"testing"

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
