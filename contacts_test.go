package main

import (
	"database/sql"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// The whole contacts / direct message / offline flow over real SSH, across
// a restart, with an onlooker who must see none of it.
func TestContactsPresenceDirectMessagesAndOfflineDelivery(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	ts := startServer(t, cfg)
	aliceKey, bobKey := newKey(t), newKey(t)

	alice := dial(t, ts.addr, "alice", aliceKey, 100, 30)
	alice.WaitFor("#lobby")
	carol := dial(t, ts.addr, "carol", newKey(t), 100, 30)
	carol.WaitFor("#lobby")
	bob1 := dial(t, ts.addr, "bob", bobKey, 100, 30)
	bob1.WaitFor("#lobby")
	bob2 := dial(t, ts.addr, "bob", bobKey, 100, 30)
	bob2.WaitFor("#lobby")

	// Contacts with live presence.
	alice.Line("/add bob")
	alice.WaitFor("Contacts", "● bob")
	alice.Line("/add nobody-here")
	alice.WaitFor("no such user")
	bob1.Line("/away lunch")
	alice.WaitFor("◌ bob (away)")
	alice.Line("/whois bob")
	alice.WaitFor("away: lunch")
	if strings.Contains(alice.Screen(), gossh.FingerprintSHA256(bobKey.PublicKey())) {
		t.Fatal("/whois showed bob's key to alice, who is neither bob nor an administrator")
	}
	bob1.Line("/whois bob")
	bob1.WaitFor("away: lunch", gossh.FingerprintSHA256(bobKey.PublicKey()))
	bob1.Line("/back")
	alice.WaitFor("● bob")

	// A direct message reaches both of bob's sessions, with an unread count
	// and a bell, since bob is looking at the lobby.
	alice.Line("/msg bob secret-one")
	bob1.WaitFor("alice (1)")
	bob2.WaitFor("alice (1)")
	bob1.WaitRaw("\a")
	alice.WaitFor("secret-one")

	// Closing one of two sessions does not take bob offline.
	bob2.Line("/quit")
	bob2.WaitClosed()
	alice.Line("/who")
	alice.WaitFor("● bob")
	bob1.Line("/quit")
	bob1.WaitClosed()
	alice.WaitFor("○ bob")

	// Messages to an offline user are kept, and the sender is told.
	alice.Line("offline-one")
	alice.WaitFor("bob is offline; your message will be delivered when they log in")
	alice.Line("offline-two")
	alice.WaitFor("offline-two")

	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	ts = startServer(t, cfg)
	bob := dial(t, ts.addr, "bob", bobKey, 100, 30)
	bob.WaitFor("While you were away", "alice", "offline-one", "offline-two")
	bob.Type("\x1b") // Esc dismisses
	bob.WaitGone("While you were away")
	bob.Line("/quit")
	bob.WaitClosed()
	again := dial(t, ts.addr, "bob", bobKey, 100, 30)
	again.WaitFor("#lobby")
	again.Line("/who")
	again.WaitFor("online:")
	if strings.Contains(again.Screen(), "While you were away") {
		t.Fatal("a dismissed offline batch was shown again")
	}

	for _, secret := range []string{"secret-one", "offline-one", "offline-two"} {
		if strings.Contains(carol.Raw(), secret) {
			t.Fatalf("carol's terminal received %q", secret)
		}
	}
}

// TestOfflineBatchSurvivesCrashUntilDismissed: a kill -9 before the
// dismissal is committed shows the batch again; one after it never does.
func TestOfflineBatchSurvivesCrashUntilDismissed(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	aliceKey, bobKey := newKey(t), newKey(t)

	srv := startChild(t, cfg)
	bob := dial(t, srv.addr, "bob", bobKey, 100, 30)
	bob.WaitFor("#lobby")
	bob.Line("/quit")
	bob.WaitClosed()
	alice := dial(t, srv.addr, "alice", aliceKey, 100, 30)
	alice.WaitFor("#lobby")
	alice.Line("/msg bob crash-test-message")
	alice.WaitFor("bob is offline")

	bob = dial(t, srv.addr, "bob", bobKey, 100, 30)
	bob.WaitFor("While you were away", "crash-test-message")
	srv.kill() // before dismissal

	srv = startChild(t, cfg)
	bob = dial(t, srv.addr, "bob", bobKey, 100, 30)
	bob.WaitFor("While you were away", "crash-test-message")
	bob.Type("\x1b")
	bob.WaitGone("While you were away")
	eventually(t, "the dismissal to be committed", func() bool { return pendingDeliveries(t, cfg.DBPath) == 0 })
	srv.kill() // after dismissal

	srv = startChild(t, cfg)
	bob = dial(t, srv.addr, "bob", bobKey, 100, 30)
	bob.WaitFor("#lobby")
	bob.Line("/who")
	bob.WaitFor("online:")
	if strings.Contains(bob.Screen(), "While you were away") {
		t.Fatal("batch shown again after its dismissal was committed")
	}
}

// pendingDeliveries counts undelivered offline messages, read-only.
func pendingDeliveries(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM deliveries WHERE delivered_at IS NULL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReadingInOneSessionClearsTheUnreadCountInTheOther(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	ts := startServer(t, cfg)
	bobKey := newKey(t)
	alice := dial(t, ts.addr, "alice", newKey(t), 100, 30)
	alice.WaitFor("#lobby")
	bob1 := dial(t, ts.addr, "bob", bobKey, 100, 30)
	bob1.WaitFor("#lobby")
	bob2 := dial(t, ts.addr, "bob", bobKey, 100, 30)
	bob2.WaitFor("#lobby")

	alice.Line("/msg bob read-me")
	bob1.WaitFor("alice (1)")
	bob2.WaitFor("alice (1)")
	bob1.Type("\t") // open the DM: bob1 reads it
	bob1.WaitFor("read-me")
	bob2.WaitGone("alice (1)")
}
