package chat

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sshchat/model"
)

// TestOldMessagesKeepTheirAuthorAfterTheHandlePassesOn replays issue 7 item
// 9: rca posts, renames to rca_away; nobody else can take "rca" while it is
// held, and history shows the message under rca_away with the rename
// recorded in the lobby.
func TestOldMessagesKeepTheirAuthorAfterTheHandlePassesOn(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	h, _ := newTestHub(t, Options{Now: clock})
	rca := connect(t, h, account(t, h, "rca"))
	posted, err := rca.Send(ctx, Lobby, "send payments to account 999")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rca.Exec(ctx, Lobby, "/nick rca_away"); err != nil {
		t.Fatal(err)
	}

	// Another key cannot take the released handle while it is held.
	_, err = h.Register(ctx, Key{Fingerprint: "SHA256:impostor", Authorized: "x"}, "RCA")
	if !errors.Is(err, ErrHandleTaken) || !strings.Contains(err.Error(), "held for its previous owner until 2026-12-07") {
		t.Fatalf("register of a held handle: %v", err)
	}
	bob := connect(t, h, account(t, h, "bob"))
	if _, err := bob.Exec(ctx, Lobby, "/nick rca"); !errors.Is(err, ErrHandleTaken) {
		t.Fatalf("/nick onto a held handle: %v", err)
	}

	// A newcomer reads history: the message is rca_away's, and the rename
	// is on record.
	newcomer := connect(t, h, account(t, h, "newcomer"))
	hist, err := newcomer.History(ctx, Lobby, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, m := range hist {
		if m.ID == posted.ID && m.FromHandle != "rca_away" {
			t.Errorf("old message shown under %q, want rca_away", m.FromHandle)
		}
		if m.Kind == KindRename {
			lines = append(lines, m.Body)
		}
	}
	if len(lines) != 1 || lines[0] != "rca is now known as rca_away" {
		t.Errorf("rename lines in lobby history = %q", lines)
	}

	// Once the hold runs out the handle is free, and the history still
	// names the old author by their current handle.
	now = now.Add(DefaultHandleHold + time.Minute)
	taker, err := h.Register(ctx, Key{Fingerprint: "SHA256:newrca", Authorized: "x"}, "rca")
	if err != nil || taker.ID == posted.From {
		t.Fatalf("register rca after the hold: %+v, %v", taker, err)
	}
	hist, err = newcomer.History(ctx, Lobby, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range hist {
		if m.ID == posted.ID && (m.From == taker.ID || m.FromHandle != "rca_away") {
			t.Errorf("after the handle passed on, the old message is %+v", m)
		}
	}
}

// TestPreviousOwnerTakesTheirHandleBack checks that a held handle stays
// free for the user who gave it up.
func TestPreviousOwnerTakesTheirHandleBack(t *testing.T) {
	ctx := context.Background()
	h, _ := newTestHub(t, Options{})
	s := connect(t, h, account(t, h, "alice"))
	for _, n := range []string{"/nick alice_away", "/nick Alice"} {
		if _, err := s.Exec(ctx, Lobby, n); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	if acct, err := h.Authenticate(ctx, Key{Fingerprint: "SHA256:alice"}); err != nil || acct.Handle != "Alice" {
		t.Fatalf("after taking the handle back: %+v, %v", acct, err)
	}
	// alice_away is now held for alice in turn.
	if _, err := h.Register(ctx, Key{Fingerprint: "SHA256:x"}, "alice_away"); !errors.Is(err, ErrHandleTaken) {
		t.Fatalf("register alice_away: %v", err)
	}
}

// TestLiveMessagesCarryTheHandleAsOfCommit checks that a message sent after
// a rename is published under the new handle.
func TestLiveMessagesCarryTheHandleAsOfCommit(t *testing.T) {
	ctx := context.Background()
	h, _ := newTestHub(t, Options{})
	s := connect(t, h, account(t, h, "alice"))
	w := connect(t, h, account(t, h, "watcher"))
	if _, err := s.Exec(ctx, Lobby, "/nick alicia"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(ctx, Lobby, "hi"); err != nil {
		t.Fatal(err)
	}
	if ev := next[MessageEvent](t, w); ev.Message.FromHandle != "alicia" {
		t.Fatalf("live message from %q, want alicia", ev.Message.FromHandle)
	}
}

// TestLookAlikeHandlesAreRefused replays issue 7 item 10: "aIice" and
// "a1ice" next to "alice" are refused, at registration and by /nick, with a
// one-line reason naming the handle in the way.
func TestLookAlikeHandlesAreRefused(t *testing.T) {
	ctx := context.Background()
	h, _ := newTestHub(t, Options{})
	account(t, h, "alice")
	_, err := h.Register(ctx, Key{Fingerprint: "SHA256:mallory", Authorized: "x"}, "aIice")
	if !errors.Is(err, ErrHandleTaken) || err.Error() != `handle taken: handle "aIice" is too similar to "alice"; pick another` {
		t.Fatalf("register aIice: %v", err)
	}
	bob := connect(t, h, account(t, h, "bob"))
	_, err = bob.Exec(ctx, Lobby, "/nick a1ice")
	if !errors.Is(err, ErrHandleTaken) || !strings.Contains(err.Error(), `"a1ice" is too similar to "alice"`) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("/nick a1ice: %v", err)
	}
	// Different handles that merely share letters are fine.
	if _, err := bob.Exec(ctx, Lobby, "/nick alicia"); err != nil {
		t.Fatalf("/nick alicia: %v", err)
	}
}

// TestRegisterRaceOfOneKeyGivesItsAccount checks that a key registering
// from two sessions at once gets its one account in both, not "taken".
func TestRegisterRaceOfOneKeyGivesItsAccount(t *testing.T) {
	ctx := context.Background()
	h, _ := newTestHub(t, Options{})
	first := account(t, h, "alice")
	again, err := h.Register(ctx, Key{Fingerprint: "SHA256:alice", Authorized: "x"}, "alice")
	if err != nil || again.ID != first.ID {
		t.Fatalf("second register of the same key: %+v, %v; want account %d", again, err, first.ID)
	}
}

// hookStore is the real store with a hook run once, after the next
// UserByID has read the user, to interleave an operation at that point.
type hookStore struct {
	model.Store
	mu   sync.Mutex
	hook func()
}

func (s *hookStore) afterNextUserByID(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = f
}

func (s *hookStore) UserByID(ctx context.Context, id uint64) (model.User, error) {
	u, err := s.Store.UserByID(ctx, id)
	s.mu.Lock()
	f := s.hook
	s.hook = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return u, err
}

// newHookHub opens a hub over a real SQLite file through a hookStore.
func newHookHub(t *testing.T) (*Hub, *model.DB, *hookStore) {
	t.Helper()
	db, err := model.Open(filepath.Join(t.TempDir(), "chat.db"))
	if err != nil {
		t.Fatal(err)
	}
	st := &hookStore{Store: db}
	h, err := NewHub(st, nopLogger{}, Options{RateBurst: 1000, RatePerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close(context.Background())
		db.Close()
	})
	return h, db, st
}

// TestLoginAfterARenameTakesTheNewHandle checks that a login whose handle
// was read before a rename committed (the user's only other session renamed
// and left meanwhile) comes online under the new handle, not the released
// one: its messages and presence must not carry a handle that may pass to
// someone else.
func TestLoginAfterARenameTakesTheNewHandle(t *testing.T) {
	ctx := context.Background()
	h, db, st := newHookHub(t)
	alice := account(t, h, "alice")
	first := connect(t, h, alice)
	watcher := connect(t, h, account(t, h, "watcher"))

	// The second login reads "alice"; before it joins, the first session
	// renames and logs out.
	st.afterNextUserByID(func() {
		if _, err := first.Exec(ctx, Lobby, "/nick alicia"); err != nil {
			t.Errorf("/nick: %v", err)
		}
		first.Close()
		eventually(t, func() bool { return h.Online() == 1 })
	})
	second := connect(t, h, alice)
	m, err := second.Send(ctx, Lobby, "hi")
	if err != nil {
		t.Fatal(err)
	}
	if m.FromHandle != "alicia" {
		t.Errorf("message sent after the rename carries %q, want alicia", m.FromHandle)
	}
	for {
		ev := next[PresenceEvent](t, watcher)
		if ev.Joined && ev.User == alice.ID {
			if ev.Handle != "alicia" {
				t.Errorf("came online as %q, want alicia", ev.Handle)
			}
			break
		}
	}
	hist, err := db.History(ctx, string(Lobby), 0, 10, nil)
	if err != nil || len(hist) == 0 || hist[len(hist)-1].SenderHandle != "alicia" {
		t.Fatalf("stored %+v, %v; want the last message sent as alicia", hist, err)
	}
}

// TestSendQueuedAfterARenameCarriesTheNewHandle checks that a message whose
// sender's handle was read before a rename, and that is sequenced after it
// (another session of the sender renamed meanwhile), is stored and shown
// under the new handle.
func TestSendQueuedAfterARenameCarriesTheNewHandle(t *testing.T) {
	ctx := context.Background()
	h, db, st := newHookHub(t)
	alice := account(t, h, "alice")
	bob := account(t, h, "bob") // offline: send looks his handle up in the store
	s1 := connect(t, h, alice)
	s2 := connect(t, h, alice)
	st.afterNextUserByID(func() {
		if _, err := s2.Exec(ctx, Lobby, "/nick alicia"); err != nil {
			t.Errorf("/nick: %v", err)
		}
	})
	dm := DirectConv(alice.ID, bob.ID)
	m, err := s1.Send(ctx, dm, "hi")
	if err != nil {
		t.Fatal(err)
	}
	if m.FromHandle != "alicia" {
		t.Errorf("sent as %q, want alicia", m.FromHandle)
	}
	hist, err := db.History(ctx, string(dm), 0, 10, nil)
	if err != nil || len(hist) != 1 || hist[0].SenderHandle != "alicia" {
		t.Fatalf("stored %+v, %v; want one message sent as alicia", hist, err)
	}
}
