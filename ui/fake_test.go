package ui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sshchat/chat"
)

// fakeBroker is an in-memory chat.Broker for UI tests: accounts by
// fingerprint, and a Send that fans a MessageEvent out to every session.
type fakeBroker struct {
	mu       sync.Mutex
	accounts map[string]chat.Account // by fingerprint
	handles  map[string]bool         // lowercased handles in use
	sessions []*fakeSession
	nextUser chat.UserID
	nextMsg  atomic.Int64
	history  map[chat.ConvID][]chat.Message
	rooms    []chat.RoomInfo // sorted by lower-cased name

	// Hooks, all optional.
	register  func(handle string) error                                   // refuse a handle
	snapshot  func(me chat.Account, online []chat.Presence) chat.Snapshot // override the snapshot
	onConnect func(*fakeSession)
}

func newFakeBroker() *fakeBroker {
	return &fakeBroker{
		accounts: make(map[string]chat.Account),
		handles:  make(map[string]bool),
		history:  make(map[chat.ConvID][]chat.Message),
	}
}

func (b *fakeBroker) Authenticate(_ context.Context, key chat.Key) (chat.Account, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if a, ok := b.accounts[key.Fingerprint]; ok {
		return a, nil
	}
	return chat.Account{}, chat.ErrUnknownKey
}

func (b *fakeBroker) Register(_ context.Context, key chat.Key, handle string) (chat.Account, error) {
	if b.register != nil {
		if err := b.register(handle); err != nil {
			return chat.Account{}, err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if handle == "" || strings.ContainsAny(handle, " /") {
		return chat.Account{}, fmt.Errorf("%w: %q is not a valid handle", chat.ErrHandleInvalid, handle)
	}
	if b.handles[strings.ToLower(handle)] {
		return chat.Account{}, fmt.Errorf("%w: %s is already in use", chat.ErrHandleTaken, handle)
	}
	b.nextUser++
	a := chat.Account{ID: b.nextUser, Handle: handle, Fingerprint: key.Fingerprint}
	b.accounts[key.Fingerprint] = a
	b.handles[strings.ToLower(handle)] = true
	return a, nil
}

// LinkKey links key to the account with handle when code is "GOODCODE01".
func (b *fakeBroker) LinkKey(_ context.Context, key chat.Key, handle, code string) (chat.Account, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range b.accounts {
		if strings.EqualFold(a.Handle, handle) && code == "GOODCODE01" {
			linked := chat.Account{ID: a.ID, Handle: a.Handle, Fingerprint: key.Fingerprint}
			b.accounts[key.Fingerprint] = linked
			return linked, nil
		}
	}
	return chat.Account{}, fmt.Errorf("%w: ask for a new one with /keys link", chat.ErrLinkCode)
}

func (b *fakeBroker) Connect(_ context.Context, acct chat.Account) (chat.Session, error) {
	s := newFakeSession(b, acct)
	b.mu.Lock()
	b.sessions = append(b.sessions, s)
	var online []chat.Presence
	for _, o := range b.sessions {
		if o.closed.Load() == 0 {
			online = append(online, chat.Presence{User: o.acct.ID, Handle: o.acct.Handle, Status: chat.Online})
		}
	}
	b.mu.Unlock()
	s.snap = chat.Snapshot{
		Me:            acct,
		Online:        chat.NewRoster(online),
		Conversations: []chat.Conversation{{ID: chat.Lobby, Kind: chat.KindRoom, Name: "#lobby"}},
	}
	if b.snapshot != nil {
		s.snap = b.snapshot(acct, online)
	}
	if b.onConnect != nil {
		b.onConnect(s)
	}
	return s, nil
}

func (b *fakeBroker) Online() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sessions)
}

// publish delivers ev to every open session without blocking.
func (b *fakeBroker) publish(ev chat.Event) {
	b.mu.Lock()
	ss := append([]*fakeSession(nil), b.sessions...)
	b.mu.Unlock()
	for _, s := range ss {
		s.push(ev)
	}
}

// sessionOf returns the newest session of handle (nil if none).
func (b *fakeBroker) sessionOf(handle string) *fakeSession {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.sessions) - 1; i >= 0; i-- {
		if b.sessions[i].acct.Handle == handle {
			return b.sessions[i]
		}
	}
	return nil
}

func (b *fakeBroker) allSessions() []*fakeSession {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*fakeSession(nil), b.sessions...)
}

type sendCall struct {
	conv chat.ConvID
	text string
}

type histCall struct {
	conv   chat.ConvID
	before chat.MessageID
	n      int
}

type markCall struct {
	conv chat.ConvID
	upTo chat.MessageID
}

// fakeSession records every call; tests override behaviour with the fn
// fields.
type fakeSession struct {
	b      *fakeBroker
	acct   chat.Account
	snap   chat.Snapshot
	events chan chat.Event
	done   chan struct{}

	mu        sync.Mutex
	err       error
	sends     []sendCall
	execs     []sendCall
	hist      []histCall
	afters    []histCall // HistoryAfter calls (before holds the after)
	marks     []markCall
	dismissed int
	roomsAt   []string // the after of each Rooms call
	closed    atomic.Int32

	sendFn    func(conv chat.ConvID, text string) (chat.Message, error)
	execFn    func(conv chat.ConvID, line string) (chat.Reply, error)
	historyFn func(conv chat.ConvID, before chat.MessageID, n int) ([]chat.Message, error)
	afterFn   func(conv chat.ConvID, after chat.MessageID, n int) ([]chat.Message, error)
}

func newFakeSession(b *fakeBroker, acct chat.Account) *fakeSession {
	return &fakeSession{b: b, acct: acct, events: make(chan chat.Event, 1024), done: make(chan struct{})}
}

func (s *fakeSession) push(ev chat.Event) {
	if s.closed.Load() != 0 {
		return
	}
	select {
	case s.events <- ev:
	default:
	}
}

// drop closes the event stream with a reason, as the broker does.
func (s *fakeSession) drop(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	close(s.events)
	close(s.done)
}

func (s *fakeSession) Done() <-chan struct{} { return s.done }

func (s *fakeSession) Events() <-chan chat.Event { return s.events }

func (s *fakeSession) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *fakeSession) Snapshot() chat.Snapshot { return s.snap }

func (s *fakeSession) Send(_ context.Context, conv chat.ConvID, text string) (chat.Message, error) {
	s.mu.Lock()
	s.sends = append(s.sends, sendCall{conv, text})
	fn := s.sendFn
	s.mu.Unlock()
	if fn != nil {
		return fn(conv, text)
	}
	m := chat.Message{
		ID: chat.MessageID(s.b.nextMsg.Add(1)), Conv: conv, From: s.acct.ID,
		FromHandle: s.acct.Handle, Body: text, At: time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC),
	}
	s.b.publish(chat.MessageEvent{Message: m, Conversation: chat.Conversation{ID: conv, Name: string(conv)}})
	return m, nil
}

func (s *fakeSession) Exec(_ context.Context, conv chat.ConvID, line string) (chat.Reply, error) {
	s.mu.Lock()
	s.execs = append(s.execs, sendCall{conv, line})
	fn := s.execFn
	s.mu.Unlock()
	if fn != nil {
		return fn(conv, line)
	}
	return chat.Reply{Lines: []string{"ran " + line}}, nil
}

func (s *fakeSession) History(_ context.Context, conv chat.ConvID, before chat.MessageID, n int) ([]chat.Message, error) {
	s.mu.Lock()
	s.hist = append(s.hist, histCall{conv, before, n})
	fn := s.historyFn
	s.mu.Unlock()
	if fn != nil {
		return fn(conv, before, n)
	}
	// Otherwise the messages a test stored (fakeBroker.store), a page of
	// them.
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	var page []chat.Message
	for _, m := range s.b.history[conv] {
		if before == 0 || m.ID < before {
			page = append(page, m)
		}
	}
	return page[max(0, len(page)-n):], nil
}

func (s *fakeSession) HistoryAfter(_ context.Context, conv chat.ConvID, after chat.MessageID, n int) ([]chat.Message, error) {
	s.mu.Lock()
	s.afters = append(s.afters, histCall{conv, after, n})
	fn := s.afterFn
	s.mu.Unlock()
	if fn != nil {
		return fn(conv, after, n)
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	var page []chat.Message
	for _, m := range s.b.history[conv] {
		if m.ID > after && len(page) < n {
			page = append(page, m)
		}
	}
	return page, nil
}

// store keeps messages as the conversation's history, served by History.
func (b *fakeBroker) store(msgs ...chat.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range msgs {
		b.history[m.Conv] = append(b.history[m.Conv], m)
	}
}

// MarkRead records the call and, like the hub, tells the user's other
// sessions with a ReadEvent.
func (s *fakeSession) MarkRead(_ context.Context, conv chat.ConvID, upTo chat.MessageID) error {
	s.mu.Lock()
	s.marks = append(s.marks, markCall{conv, upTo})
	s.mu.Unlock()
	for _, o := range s.b.allSessions() {
		if o != s && o.acct.ID == s.acct.ID {
			o.push(chat.ReadEvent{Conv: conv, UpTo: upTo})
		}
	}
	return nil
}

// Search finds nothing: the broker's search is tested in chat.
func (s *fakeSession) Search(context.Context, string, chat.MessageID, int) ([]chat.Message, error) {
	return nil, nil
}

// Rooms serves the broker's rooms list (set by a test), paged by name.
func (s *fakeSession) Rooms(_ context.Context, after string, n int) ([]chat.RoomInfo, error) {
	s.mu.Lock()
	s.roomsAt = append(s.roomsAt, after)
	s.mu.Unlock()
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	var out []chat.RoomInfo
	for _, r := range s.b.rooms {
		if strings.ToLower(r.Name) > after && len(out) < n {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *fakeSession) DismissOffline(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dismissed++
	return nil
}

func (s *fakeSession) Close() { s.closed.Add(1) }

func (s *fakeSession) calls() (sends, execs []sendCall, hist []histCall, marks []markCall, dismissed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sendCall(nil), s.sends...), append([]sendCall(nil), s.execs...),
		append([]histCall(nil), s.hist...), append([]markCall(nil), s.marks...), s.dismissed
}

var (
	_ chat.Broker  = (*fakeBroker)(nil)
	_ chat.Session = (*fakeSession)(nil)
)

// sentBodies is the text of every Send call so far.
func (s *fakeSession) sentBodies() []string {
	sends, _, _, _, _ := s.calls()
	var out []string
	for _, c := range sends {
		out = append(out, c.text)
	}
	return out
}
