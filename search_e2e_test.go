package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestSearchCommandFindsAcrossConversationsNewestFirstAsJSON(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	alice, bob := newKey(t), newKey(t)
	mustRun(t, ts.addr, "bob", bob, "", "send lobby hi") // bob's account exists
	mustRun(t, ts.addr, "alice", alice, "", "send lobby the deploy is at noon")
	mustRun(t, ts.addr, "alice", alice, "", "send @bob deploy keys are rotated")
	mustRun(t, ts.addr, "alice", alice, "", "send lobby lunch")
	out := mustRun(t, ts.addr, "alice", alice, "", "search deploy")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "@bob\t") || !strings.HasSuffix(lines[0], "alice: deploy keys are rotated") ||
		!strings.HasPrefix(lines[1], "#lobby\t") {
		t.Fatalf("search deploy:\n%s", out)
	}
	msgs := decode(t, strings.Split(strings.TrimSpace(mustRun(t, ts.addr, "alice", alice, "", "search deploy --json --limit 1")), "\n"))
	if len(msgs) != 1 || msgs[0].Body != "deploy keys are rotated" || msgs[0].From != "alice" {
		t.Fatalf("search --json: %+v", msgs)
	}
	// Someone else's direct conversation is never searched.
	carol := newKey(t)
	if out := mustRun(t, ts.addr, "carol", carol, "", "search rotated"); strings.TrimSpace(out) != "" {
		t.Fatalf("carol finds alice and bob's message:\n%s", out)
	}
	if r := runCmd(t, ts.addr, "alice", alice, "", "search ..."); r.code == 0 || !strings.Contains(r.stderr, "search for a word") {
		t.Fatalf("search with no word: %+v", r)
	}
}

// TestSearchOverSSHEnterOpensTheConversationAtTheMessage searches from the
// chat and opens a result that has scrolled far out of view: the room
// comes to the front with the message on screen.
func TestSearchOverSSHEnterOpensTheConversationAtTheMessage(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	aliceKey := newKey(t)
	alice := dial(t, ts.addr, "alice", aliceKey, 100, 30)
	alice.WaitFor("#lobby")
	alice.Line("/join #go")
	alice.WaitFor("│ #go")
	alice.Line("the needle is here")
	alice.WaitFor("the needle is here")
	var filler strings.Builder
	for i := range 80 {
		fmt.Fprintf(&filler, "filler line %d\n", i)
	}
	mustRun(t, ts.addr, "alice", aliceKey, filler.String(), "send '#go'")
	alice.WaitFor("filler line 79")
	alice.Type("\t") // to the lobby
	alice.WaitFor("│ #lobby")
	alice.Line("/search needle")
	alice.WaitFor("enter open there", "the needle is here", "message id ")
	alice.Type("\r")
	alice.WaitGone("enter open there")
	// The result is shown with what followed it (read forwards).
	alice.WaitFor("│ #go", "alice: the needle is here", "filler line 0", "filler line 5")
	if strings.Contains(alice.Screen(), "filler line 79") {
		t.Fatalf("opened at the newest, not at the result:\n%s", alice.Screen())
	}
}

// TestEditAndDeleteOverSSHSeenByAnotherUser: bob sees alice's edit and
// her deletion in place, live and again after reconnecting.
func TestEditAndDeleteOverSSHSeenByAnotherUser(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	aliceKey, bobKey := newKey(t), newKey(t)
	alice := dial(t, ts.addr, "alice", aliceKey, 100, 30)
	alice.WaitFor("#lobby")
	bob := dial(t, ts.addr, "bob", bobKey, 100, 30)
	bob.WaitFor("#lobby")
	alice.Line("first mesage")
	bob.WaitFor("alice: first mesage")
	alice.Line("/edit first message")
	bob.WaitFor("alice: first message (edited)")
	alice.WaitFor("alice: first message (edited)")
	alice.Line("second one")
	bob.WaitFor("alice: second one")
	alice.Line("/delete")
	bob.WaitFor("alice: message deleted")
	bob.WaitGone("second one")
	bob.Close()
	bob = dial(t, ts.addr, "bob", bobKey, 100, 30)
	bob.WaitFor("alice: first message (edited)", "alice: message deleted")
	if strings.Contains(bob.Screen(), "second one") {
		t.Fatalf("deleted text in history:\n%s", bob.Screen())
	}
}
