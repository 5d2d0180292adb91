package main

import (
	"strings"
	"testing"
)

// TestOldMessagesShowTheirAuthorsCurrentHandleOverSSH replays issue 7 items
// 9 and 10 end to end: rca posts and renames to rca_away; a new key asking
// for "rca" (held for its previous owner) or for a look-alike of a taken
// handle is refused, and a newcomer sees the old message under rca_away,
// with the rename on record.
func TestOldMessagesShowTheirAuthorsCurrentHandleOverSSH(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	rca := dial(t, ts.addr, "rca", newKey(t), 80, 24)
	rca.WaitFor("#lobby")
	rca.Line("send payments to account 999")
	rca.WaitFor("rca: send payments to account 999")
	rca.Line("/nick rca_away")
	rca.WaitFor("you are now known as rca_away", "rca_away: send payments to account 999")

	// The released handle is held: a new key asking for it (in any case)
	// gets the login screen instead.
	for _, name := range []string{"rca", "RCA"} {
		imp := dial(t, ts.addr, name, newKey(t), 80, 24)
		imp.WaitFor("Choose a handle")
		imp.Close()
	}

	carol := dial(t, ts.addr, "carol", newKey(t), 80, 24)
	carol.WaitFor("rca_away: send payments to account 999", "rca is now known as rca_away")
	if s := carol.Screen(); strings.Contains(s, "rca: send payments") {
		t.Fatalf("old message shown under the released handle:\n%s", s)
	}

	// Look-alikes of a taken handle: at login and by /nick.
	imp := dial(t, ts.addr, "caro1", newKey(t), 80, 24)
	imp.WaitFor("Choose a handle")
	imp.Line("mallory")
	imp.WaitFor("#lobby")
	imp.Line("/nick car0l")
	imp.WaitFor(`handle "car0l" is too similar to "carol"`)
	imp.Line("/nick rca")
	imp.WaitFor(`"rca" is held for its previous owner until`)
}
