package chat

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sshchat/model"
)

// pausingStore is the real SQLite store with one pause point: once armed,
// the next Block or AppendMessages commits, says so on paused and waits
// for resume before returning to the hub.
type pausingStore struct {
	*model.DB
	mu     sync.Mutex
	armed  string // "block" or "append"; cleared when taken
	paused chan struct{}
	resume chan struct{}
}

func (p *pausingStore) arm(what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = what
	p.paused = make(chan struct{})
	p.resume = make(chan struct{})
}

// release lets a paused call go on (idempotent); tests call it through
// ps.resume or, on failure, through cleanup, so the hub can close.
func (p *pausingStore) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume != nil {
		select {
		case <-p.resume:
		default:
			close(p.resume)
		}
	}
}

func (p *pausingStore) pause(what string) {
	p.mu.Lock()
	if p.armed != what {
		p.mu.Unlock()
		return
	}
	p.armed = ""
	paused, resume := p.paused, p.resume
	p.mu.Unlock()
	close(paused)
	<-resume
}

func (p *pausingStore) Block(ctx context.Context, owner, blocked uint64) error {
	err := p.DB.Block(ctx, owner, blocked)
	p.pause("block")
	return err
}

func (p *pausingStore) AppendMessages(ctx context.Context, msgs []*model.Message) error {
	err := p.DB.AppendMessages(ctx, msgs)
	p.pause("append")
	return err
}

// newPausingHub is newTestHub over a pausingStore.
func newPausingHub(t *testing.T) (*Hub, *pausingStore) {
	t.Helper()
	db, err := model.Open(filepath.Join(t.TempDir(), "chat.db"))
	if err != nil {
		t.Fatal(err)
	}
	ps := &pausingStore{DB: db}
	h, err := NewHub(ps, nopLogger{}, Options{RateBurst: 1000, RatePerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close(context.Background())
		db.Close()
	})
	t.Cleanup(ps.release) // runs first
	return h, ps
}

// waitingOrDone polls until done is closed or an op waits in the
// sequencer's queue (it is then ordered after the op being applied).
func waitingOrDone(t *testing.T, h *Hub, done <-chan struct{}) {
	t.Helper()
	eventually(t, func() bool {
		select {
		case <-done:
			return true
		default:
			return h.queued() > 0
		}
	})
}

// queued is how many ops wait for the sequencer.
func (h *Hub) queued() int { return len(h.ops) + len(h.logins) }

// A block takes its place in the one order: a message sequenced after the
// block's commit never reaches the blocker, live or in history.
func TestBlockIsOrderedBeforeLaterMessages(t *testing.T) {
	h, ps := newPausingHub(t)
	a, c := account(t, h, "alice"), account(t, h, "carol")
	alice, carol := connect(t, h, a), connect(t, h, c)
	ctx := context.Background()
	drain(alice)

	ps.arm("block")
	blocked := make(chan error, 1)
	go func() {
		_, err := alice.Exec(ctx, Lobby, "/block carol")
		blocked <- err
	}()
	<-ps.paused // the block is committed
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if _, err := carol.Send(ctx, Lobby, "after the block"); err != nil {
			t.Error(err)
		}
	}()
	waitingOrDone(t, h, sent)
	ps.release()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	<-sent

	if _, err := alice.Send(ctx, Lobby, "sync"); err != nil {
		t.Fatal(err)
	}
	for {
		ev := next[MessageEvent](t, alice)
		if ev.Message.Body == "sync" {
			break
		}
		t.Fatalf("blocker received %q, sent after the block was committed", ev.Message.Body)
	}
	hist, err := alice.History(ctx, Lobby, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range hist {
		if m.From == c.ID {
			t.Fatalf("blocked user's message in history: %q", m.Body)
		}
	}
}

// An away change takes its place in the one order: every session, the
// user's own included, sees it after a message committed before /away
// was typed, never before it.
func TestAwayChangeIsSeenInOneOrder(t *testing.T) {
	h, ps := newPausingHub(t)
	a := account(t, h, "alice")
	alice := connect(t, h, a)
	watchers := []Session{alice, connect(t, h, account(t, h, "bob")), connect(t, h, account(t, h, "carol"))}
	ctx := context.Background()
	for _, w := range watchers {
		drain(w)
	}

	ps.arm("append")
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if _, err := alice.Send(ctx, Lobby, "brb"); err != nil {
			t.Error(err)
		}
	}()
	<-ps.paused // "brb" is committed, not yet published
	away := make(chan struct{})
	go func() {
		defer close(away)
		if _, err := alice.Exec(ctx, Lobby, "/away lunch"); err != nil {
			t.Error(err)
		}
	}()
	waitingOrDone(t, h, away)
	ps.release()
	<-sent
	<-away

	for i, w := range watchers {
		var order []string
		for len(order) < 2 {
			var ev Event
			select {
			case ev = <-w.Events():
			case <-time.After(20 * time.Second):
				t.Fatalf("session %d saw only %q", i, order)
			}
			switch ev := ev.(type) {
			case MessageEvent:
				order = append(order, "message "+ev.Message.Body)
			case PresenceEvent:
				if ev.User == a.ID {
					order = append(order, "presence "+ev.Status.String())
				}
			}
		}
		if order[0] != "message brb" || order[1] != "presence "+Away.String() {
			t.Fatalf("session %d saw %q; want the committed message, then the away change", i, order)
		}
	}
}

// A message waits for at most one login, never for a queue of them: the
// sequencer serves sends first and applies joins and leaves between group
// commits.
func TestMessagesAreNotQueuedBehindLogins(t *testing.T) {
	h, ps := newPausingHub(t)
	alice := connect(t, h, account(t, h, "alice"))
	watcher := connect(t, h, account(t, h, "watcher"))
	crowd := cap(h.admit) // that many logins get as far as the queue
	var accts []Account
	for i := range crowd {
		accts = append(accts, account(t, h, fmt.Sprintf("crowd%d", i)))
	}
	ctx := context.Background()
	drain(watcher)

	ps.arm("append")
	first := make(chan struct{})
	go func() {
		defer close(first)
		if _, err := alice.Send(ctx, Lobby, "first"); err != nil {
			t.Error(err)
		}
	}()
	<-ps.paused // the sequencer is busy with "first"
	var wg sync.WaitGroup
	for _, a := range accts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := h.Connect(ctx, a)
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(s.Close)
		}()
	}
	eventually(t, func() bool { return h.queued() == crowd })
	second := make(chan struct{})
	go func() {
		defer close(second)
		if _, err := alice.Send(ctx, Lobby, "second"); err != nil {
			t.Error(err)
		}
	}()
	eventually(t, func() bool { return h.queued() == crowd+1 })
	ps.release()
	<-first
	<-second
	wg.Wait()

	joins := 0
	for {
		switch ev := next[Event](t, watcher).(type) {
		case PresenceEvent:
			if ev.Joined {
				joins++
			}
			continue
		case MessageEvent:
			if ev.Message.Body != "second" {
				continue
			}
		default:
			continue
		}
		break
	}
	if joins > 1 {
		t.Fatalf("%d logins were applied before a message queued after them; want at most 1", joins)
	}
}

// A logout's last-seen time is served at once and stored by the time the
// hub has closed, for more users than one transaction writes.
func TestLastSeenIsRecordedForLogouts(t *testing.T) {
	h, db := newTestHub(t, Options{})
	a, b := account(t, h, "alice"), account(t, h, "bob")
	ids := []UserID{a.ID, b.ID}
	alice := connect(t, h, a)
	var leaving []Session
	for i := range lastSeenChunk + 6 {
		acct := b
		if i > 0 {
			acct = account(t, h, fmt.Sprintf("crowd%d", i))
			ids = append(ids, acct.ID)
		}
		s, err := h.Connect(context.Background(), acct)
		if err != nil {
			t.Fatal(err)
		}
		leaving = append(leaving, s)
	}
	before := time.Now() // after every account was created (and seen)
	for _, s := range leaving {
		s.Close()
	}
	eventually(t, func() bool { return h.Online() == 1 })
	rep, err := alice.Exec(context.Background(), Lobby, "/whois bob")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(rep.Lines, "\n"), "last seen:") {
		t.Fatalf("/whois right after logout: %q", rep.Lines)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		u, err := db.UserByID(context.Background(), uint64(id))
		if err != nil || u.LastSeen.Before(before) {
			t.Fatalf("user %d LastSeen %v (%v); want about %v", id, u.LastSeen, err, before)
		}
	}
}

// gateStore is the real store whose BlockedBy (the first store call of a
// login) waits for gate to close, counting the callers inside.
type gateStore struct {
	*model.DB
	gate    chan struct{}
	mu      sync.Mutex
	in, max int
}

func (g *gateStore) BlockedBy(ctx context.Context, owner uint64) ([]uint64, error) {
	g.mu.Lock()
	g.in++
	g.max = max(g.max, g.in)
	g.mu.Unlock()
	<-g.gate
	g.mu.Lock()
	g.in--
	g.mu.Unlock()
	return g.DB.BlockedBy(ctx, owner)
}

func (g *gateStore) inside() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.in
}

// A login storm is let in a few logins at a time: the rest wait parked,
// not runnable, so that the sequencer and the senders keep the CPU.
func TestLoginsAreAdmittedAFewAtATime(t *testing.T) {
	db, err := model.Open(filepath.Join(t.TempDir(), "chat.db"))
	if err != nil {
		t.Fatal(err)
	}
	gs := &gateStore{DB: db, gate: make(chan struct{})}
	h, err := NewHub(gs, nopLogger{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close(context.Background())
		db.Close()
	})
	limit := cap(h.admit)
	var wg sync.WaitGroup
	for i := range 3 * limit {
		a := account(t, h, fmt.Sprintf("crowd%d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := h.Connect(context.Background(), a)
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		}()
	}
	eventually(t, func() bool { return gs.inside() == limit && len(h.admit) == limit })
	close(gs.gate)
	wg.Wait()
	if gs.max > limit {
		t.Fatalf("%d logins ran at once; want at most %d", gs.max, limit)
	}
}

// A direct message sequenced after the recipient's last session closed,
// but before that session's leave was applied (leaves wait behind sends),
// is kept for the recipient's next login like any message to someone
// offline: it is not handed to the closed session.
func TestDirectMessageToAClosingSessionIsKeptForTheNextLogin(t *testing.T) {
	h, ps := newPausingHub(t)
	a, b := account(t, h, "alice"), account(t, h, "bob")
	alice, bob := connect(t, h, a), connect(t, h, b)
	carol := connect(t, h, account(t, h, "carol"))
	ctx := context.Background()

	ps.arm("append")
	first := make(chan struct{})
	go func() {
		defer close(first)
		if _, err := alice.Send(ctx, Lobby, "first"); err != nil {
			t.Error(err)
		}
	}()
	<-ps.paused // the sequencer is busy with "first"
	var closed sync.WaitGroup
	for i, s := range []Session{carol, bob} { // carol's leave is applied first
		closed.Go(s.Close)
		eventually(t, func() bool { return h.queued() == i+1 })
	}
	dm := make(chan struct{})
	go func() {
		defer close(dm)
		if _, err := alice.Send(ctx, DirectConv(a.ID, b.ID), "are you there?"); err != nil {
			t.Error(err)
		}
	}()
	eventually(t, func() bool { return h.queued() == 3 })
	ps.release()
	<-first
	<-dm
	closed.Wait()

	again := connect(t, h, b)
	off := again.Snapshot().Offline
	if len(off) != 1 || len(off[0].Messages) != 1 || off[0].Messages[0].Body != "are you there?" {
		t.Fatalf("offline batch at the next login = %+v; want the direct message", off)
	}
}
