package main

import (
	"strings"
	"testing"
	"time"
)

// TestRoomsOverSSH drives rooms as people would, over real SSH: a public
// room with a topic, a private room by invitation, a mention rung as a
// bell, a kick that takes the room off the kicked user's screen at once,
// a ban that keeps them out, and, across a restart, membership kept and an
// offline mention delivered once in the "While you were away" dialog.
func TestRoomsOverSSH(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	ts := startServer(t, cfg)
	aliceKey, bobKey, carolKey, daveKey := newKey(t), newKey(t), newKey(t), newKey(t)
	alice := dial(t, ts.addr, "alice", aliceKey, 120, 40)
	alice.WaitFor("#lobby")
	bob := dial(t, ts.addr, "bob", bobKey, 120, 40)
	bob.WaitFor("#lobby")
	carol := dial(t, ts.addr, "carol", carolKey, 120, 40)
	carol.WaitFor("#lobby")
	dave := dial(t, ts.addr, "dave", daveKey, 120, 40)
	dave.WaitFor("#lobby")

	// A public room: created by joining it, listed, with a topic.
	alice.Line("/join #go")
	alice.WaitFor("#go")
	alice.Line("/topic all things Go")
	alice.WaitFor("all things Go")
	bob.Line("/rooms")
	bob.WaitFor("enter join", "#go")
	bob.Type("\x1b")
	bob.WaitGone("enter join")
	bob.Line("/join #go")
	bob.WaitFor("all things Go")
	dave.Line("/join #go")
	dave.WaitFor("all things Go")

	// A private room: invisible to carol, reachable by invitation.
	alice.Line("/create #secret private")
	alice.WaitFor("#secret")
	carol.Line("/rooms")
	carol.WaitFor("enter join", "#go")
	if strings.Contains(carol.Screen(), "#secret") {
		t.Fatal("/rooms showed a private room to a non-member")
	}
	carol.Type("\x1b")
	carol.WaitGone("enter join")
	carol.Line("/join #secret")
	carol.WaitFor("taken")
	alice.Line("/invite bob")
	bob.WaitFor("#secret")
	bob.Line("/join #secret")
	bob.WaitFor("│ #secret · private")
	// A script of bob's follows the room too, as long as he is in it.
	bobTail := startTail(t, ts.addr, "bob", bobKey, "tail '#secret' --since 0")
	alice.Line("secret-one")
	bob.WaitFor("secret-one")
	bobTail.waitLine(t, "secret-one")
	if r := runCmd(t, ts.addr, "carol", carolKey, "", "history '#secret'"); r.code != 1 || strings.Contains(r.stdout, "secret") {
		t.Fatalf("carol's history of #secret: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	// A mention in a room not in front rings bob's bell.
	before := strings.Count(bob.Raw(), "\a")
	alice.Line("/join #go")
	alice.WaitFor("│ #go · owner · all things Go")
	alice.Line("hey @bob look")
	eventually(t, "a bell for the mention", func() bool { return strings.Count(bob.Raw(), "\a") > before })

	// A kick takes the room away at once; nothing after it reaches bob.
	alice.Line("/join #secret")
	alice.WaitFor("│ #secret · private · owner")
	alice.Line("/kick bob enough")
	bob.WaitFor("enough")
	alice.Line("secret-after-kick")
	alice.WaitFor("secret-after-kick")
	// A message sent after it reaches bob's tail iff the kick did not.
	if r := runCmd(t, ts.addr, "bob", bobKey, "", "history '#secret'"); r.code != 1 {
		t.Fatalf("a kicked member read the room's history: exit %d, %q", r.code, r.stdout)
	}
	// A ban keeps bob out of #go.
	alice.Line("/join #go")
	alice.WaitFor("│ #go · owner · all things Go")
	alice.Line("/ban bob spam")
	bob.WaitFor("spam")
	bob.Line("/join #go")
	bob.WaitFor("banned")

	// Dave leaves; a mention while he is away waits for him.
	dave.Line("/quit")
	dave.WaitClosed()
	alice.Line("ping @dave offline-mention")
	alice.WaitFor("offline-mention")

	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	ts = startServer(t, cfg)
	dave = dial(t, ts.addr, "dave", daveKey, 120, 40)
	dave.WaitFor("While you were away", "#go", "offline-mention")
	dave.Type("\x1b")
	dave.WaitGone("While you were away")
	dave.WaitFor("#go")
	alice = dial(t, ts.addr, "alice", aliceKey, 120, 40)
	alice.WaitFor("#go", "#secret")

	for _, c := range []*client{carol} {
		for _, secret := range []string{"secret-one", "secret-after-kick"} {
			if strings.Contains(c.Raw(), secret) {
				t.Fatalf("%s received %q from a private room", c.name, secret)
			}
		}
	}
	if strings.Contains(bob.Raw(), "secret-after-kick") {
		t.Fatal("a kicked member received the room's next message")
	}
	for _, l := range bobTail.Lines() {
		if strings.Contains(l, "secret-after-kick") {
			t.Fatal("a kicked member's tail received the room's next message")
		}
	}
}

// TestTailOfRoomEndsWhenRemoved checks that `ssh host tail '#room'` ends
// (exit 1, with the reason) when its user is kicked from the room, as
// their chat screens drop the room at once, and prints the room's system
// lines as they are committed, as history has them.
func TestTailOfRoomEndsWhenRemoved(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	aliceKey, bobKey := newKey(t), newKey(t)
	alice := dial(t, ts.addr, "alice", aliceKey, 120, 40)
	alice.WaitFor("#lobby")
	bob := dial(t, ts.addr, "bob", bobKey, 120, 40)
	bob.WaitFor("#lobby")
	alice.Line("/create #ops private")
	alice.WaitFor("│ #ops · private · owner")
	alice.Line("/invite bob")
	bob.WaitFor("#ops")
	bob.Line("/join #ops")
	bob.WaitFor("│ #ops · private")
	// With --since the tail follows before it prints the backlog: once a
	// line of it is out, every later one reaches it.
	tl := startTail(t, ts.addr, "bob", bobKey, "tail '#ops' --since 0")
	tl.waitLine(t, "created #ops")
	alice.Line("/topic tail-topic")
	tl.waitLine(t, "tail-topic")
	alice.Line("/kick bob enough")
	bob.WaitFor("enough")
	select {
	case <-tl.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the tail of a kicked member did not end")
	}
	if e := tl.err.String(); !strings.Contains(e, "kicked you") || !strings.Contains(e, "enough") {
		t.Fatalf("tail's stderr %q does not say why it ended", e)
	}
}
