package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sshchat/model"
)

// session is one connected terminal; it implements Session.
type session struct {
	hub   *Hub
	id    uint64
	user  UserID
	fp    string // fingerprint of the key it authenticated with
	claim string // offline-claim token of this session
	quiet bool   // opened by Hub.Attach: no presence, no claim (attach.go)
	snap  Snapshot
	q     chan Event
	done  chan struct{} // closed with q

	claimMu   sync.Mutex  // settles the claim: take, acknowledge or release
	claimed   bool        // guarded by claimMu: Connect claimed a batch
	released  bool        // guarded by claimMu: the session ended; no claim is held
	dismissed atomic.Bool // the offline batch was acknowledged

	mu      sync.Mutex // guards the fields below
	dropped bool       // q is closed
	err     error
	closed  bool
	// noticed holds the offline peers this session was already told about
	// ("bob is offline; ..."); a presence event of the peer clears it.
	noticed map[UserID]bool
}

var _ Session = (*session)(nil)

// Events delivers live events until the session is dropped.
func (s *session) Events() <-chan Event { return s.q }

// Done is closed when Events is.
func (s *session) Done() <-chan struct{} { return s.done }

// Err tells why Events was closed.
func (s *session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Snapshot is the state at connect time.
func (s *session) Snapshot() Snapshot { return s.snap }

// push queues ev without blocking. A full queue drops the session: the slow
// consumer policy (see doc.go). The caller holds the hub mutex.
func (s *session) push(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped {
		return
	}
	if p, ok := ev.(PresenceEvent); ok && len(s.noticed) > 0 {
		delete(s.noticed, p.User)
	}
	select {
	case s.q <- ev:
	default:
		s.dropped = true
		s.err = ErrSlowConsumer
		close(s.q)
		close(s.done)
		s.hub.log.Warn("dropping slow session", "user", s.user, "session", s.id)
		s.hub.opts.Metrics.SlowConsumerDropped()
		// Unregister it; the caller holds the hub mutex, so not inline.
		go s.Close()
	}
}

// drop closes the event queue with err (idempotent).
func (s *session) drop(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped {
		return
	}
	s.dropped = true
	s.err = err
	close(s.q)
	close(s.done)
}

// Close ends the session: it leaves the hub and stops events.
func (s *session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	if s.quiet { // sessions of Attach hold no claim and are not in presence
		s.detach()
		return
	}
	// The claim is given back before the leave is queued, so that a login
	// of the user after Close finds the messages again. Once the hub has
	// shut down, the next start releases every claim instead.
	if !s.hub.isStopped() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		// Only a failure is reported to the health state: most sessions
		// have nothing to release and write nothing.
		if err := s.releaseClaim(ctx); err != nil {
			if werr := s.hub.wrote(err, "release offline claim", ""); !errors.Is(werr, ErrStorageUnavailable) {
				s.hub.log.Error("release offline claim", "err", err)
			}
		}
		cancel()
	}
	if err := s.hub.submit(context.Background(), &leaveOp{s: s}); err != nil {
		// The hub is shutting down (Close unregisters everyone); this is
		// the normal end of every session on a clean shutdown.
		s.hub.log.Debug("session leave after shutdown", "user", s.user)
	}
	s.drop(ErrClosed)
}

// isClosed reports whether Close was called.
func (s *session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Send posts text to conv.
func (s *session) Send(ctx context.Context, conv ConvID, text string) (Message, error) {
	return s.send(ctx, conv, text, KindText)
}

// send validates, rate-limits and sequences one message.
func (s *session) send(ctx context.Context, conv ConvID, text string, kind MsgKind) (Message, error) {
	if s.isClosed() {
		return Message{}, ErrClosed
	}
	if err := s.removedErr(); err != nil {
		return Message{}, err
	}
	body, err := CheckMessage(text)
	if err != nil {
		return Message{}, err
	}
	h := s.hub
	var peer UserID
	var room *roomState
	if _, ok := roomKey(conv); ok {
		if room, err = h.member(ctx, conv, s.user); err != nil {
			return Message{}, fmt.Errorf("send: %w", err)
		}
		if room == nil {
			return Message{}, errNoConversation
		}
	} else if conv != Lobby {
		p, ok := directPeer(conv, s.user)
		if !ok {
			return Message{}, errNoConversation
		}
		peer = p
	}
	if peer == 0 {
		if err := h.mutedErr(s.user); err != nil {
			return Message{}, err
		}
	}
	h.mu.Lock()
	u, ok := h.senderLocked(s) // the online user, or the quiet one (attach.go)
	if !ok {
		h.mu.Unlock()
		return Message{}, ErrClosed
	}
	if peer != 0 && u.blocked[peer] {
		h.mu.Unlock()
		name := h.handleOf(ctx, peer)
		return Message{}, fmt.Errorf("%w: you blocked %s; /unblock %s to write to them", ErrNotAllowed, name, name)
	}
	allowed := u.limiter.take(h.opts.Now(), h.opts.RateBurst, h.opts.RatePerSecond)
	handle := u.handle
	h.mu.Unlock()
	if !allowed {
		h.opts.Metrics.RateLimited()
		return Message{}, fmt.Errorf("%w: at most %g messages per second", ErrRateLimited, h.opts.RatePerSecond)
	}
	gone, peerHandle := false, ""
	if peer != 0 {
		blocked, err := h.store.IsBlocked(ctx, uint64(peer), uint64(s.user))
		if err != nil {
			return Message{}, fmt.Errorf("send: %w", err)
		}
		gone = blocked
		// Looked up here, not under the hub mutex in the sequencer.
		peerHandle = h.handleOf(ctx, peer)
	}
	var mentioned []UserID
	if peer == 0 {
		if mentioned, err = h.resolveMentions(ctx, s.user, body); err != nil {
			return Message{}, fmt.Errorf("send: %w", err)
		}
	}
	o := &sendOp{
		room:      room,
		mentioned: mentioned,
		from:      s,
		msg: model.Message{
			Conv: string(conv), SenderID: uint64(s.user), SenderHandle: handle,
			Kind: int(kind), Body: body, CreatedAt: h.opts.Now(),
		},
		peer:       peer,
		peerHandle: peerHandle,
		peerGone:   gone,
		res:        make(chan sendResult, 1),
	}
	if err := h.submit(ctx, o); err != nil {
		return Message{}, fmt.Errorf("send: %w", err)
	}
	// Once queued the message will be committed; wait for the outcome even
	// if ctx ends, so that an acknowledged message is never reported lost.
	r := <-o.res
	if r.err != nil {
		return Message{}, r.err
	}
	if r.offline && s.firstOfflineNotice(peer) {
		s.notice(conv, h.handleOf(ctx, peer)+" is offline; your message will be delivered when they log in")
	}
	return r.msg, nil
}

// maxMentions bounds how many users one message may mention (the first
// ones count), so that a message costs a bounded number of lookups.
const maxMentions = 20

// resolveMentions returns the users body mentions (chat.Mentioned) who
// exist and have not blocked the sender; membership is checked at commit
// (Hub.mentionsLocked), against the state then.
func (h *Hub) resolveMentions(ctx context.Context, from UserID, body string) ([]UserID, error) {
	keys := Mentioned(body)
	if len(keys) == 0 {
		return nil, nil
	}
	if len(keys) > maxMentions {
		keys = keys[:maxMentions]
	}
	var out []UserID
	for _, k := range keys {
		u, err := h.store.UserByHandle(ctx, k)
		if errors.Is(err, model.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if UserID(u.ID) == from {
			continue
		}
		blocked, err := h.store.IsBlocked(ctx, u.ID, uint64(from))
		if err != nil {
			return nil, err
		}
		if !blocked {
			out = append(out, UserID(u.ID))
		}
	}
	return out, nil
}

// errNoConversation refuses a conversation the user may not use, the same
// whether it exists or not.
var errNoConversation = fmt.Errorf("%w: no such conversation", ErrNotAllowed)

// readable reports whether the user may read conv: the lobby, a direct
// conversation of theirs, a room they are a member of.
func (s *session) readable(ctx context.Context, conv ConvID) error {
	if conv == Lobby {
		return nil
	}
	if _, ok := roomKey(conv); ok {
		r, err := s.hub.member(ctx, conv, s.user)
		if err != nil {
			return err
		}
		if r == nil {
			return errNoConversation
		}
		return nil
	}
	if _, ok := directPeer(conv, s.user); !ok {
		return errNoConversation
	}
	return nil
}

// firstOfflineNotice reports whether the session has not yet been told that
// peer is offline since the peer's presence last changed, and records that
// it now has.
func (s *session) firstOfflineNotice(peer UserID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noticed[peer] {
		return false
	}
	if s.noticed == nil {
		s.noticed = make(map[UserID]bool)
	}
	s.noticed[peer] = true
	return true
}

// notice queues a system line for this session only.
func (s *session) notice(conv ConvID, text string) {
	s.push(NoticeEvent{Conv: conv, Text: text})
}

// History returns older messages of a conversation the user may read.
func (s *session) History(ctx context.Context, conv ConvID, before MessageID, n int) ([]Message, error) {
	n, hidden, err := s.historyRead(ctx, conv, n, "history")
	if err != nil {
		return nil, err
	}
	if msgs, ok := s.hub.recent.page(conv, before, n, hidden); ok {
		return s.stillReadable(ctx, conv, msgs)
	}
	gen := s.hub.recent.generation()
	rows, err := s.hub.store.History(ctx, string(conv), int64(before), n, hidden)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	out := toMessages(rows)
	if before == 0 && len(hidden) == 0 {
		s.hub.recent.seed(conv, gen, out, n)
	}
	return s.stillReadable(ctx, conv, out)
}

// HistoryAfter returns newer messages of a conversation the user may
// read, with the same checks as History (membership again after the read).
func (s *session) HistoryAfter(ctx context.Context, conv ConvID, after MessageID, n int) ([]Message, error) {
	n, hidden, err := s.historyRead(ctx, conv, n, "history after")
	if err != nil {
		return nil, err
	}
	rows, err := s.hub.store.HistoryAfter(ctx, string(conv), int64(after), n, hidden)
	if err != nil {
		return nil, fmt.Errorf("history after: %w", err)
	}
	return s.stillReadable(ctx, conv, toMessages(rows))
}

// historyRead checks that the user may read conv (its refusal returned as
// is) and returns the page size to read (n, at most 500) and the senders
// to leave out (blocked); op names a store failure.
func (s *session) historyRead(ctx context.Context, conv ConvID, n int, op string) (int, []uint64, error) {
	if err := s.readable(ctx, conv); err != nil {
		return 0, nil, err
	}
	if n <= 0 || n > 500 {
		n = 500
	}
	hidden, err := s.hub.store.BlockedBy(ctx, uint64(s.user))
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	return n, hidden, nil
}

// stillReadable returns msgs, read from a room, if the user is still a
// member once they are read. The check before the read is not ordered
// with removals: a user removed meanwhile could otherwise be served what
// the room said after. A removal takes effect in memory before anything
// committed after it, so a read that saw such a message fails this check.
func (s *session) stillReadable(ctx context.Context, conv ConvID, msgs []Message) ([]Message, error) {
	if _, ok := roomKey(conv); !ok {
		return msgs, nil
	}
	if err := s.readable(ctx, conv); err != nil {
		return nil, err
	}
	return msgs, nil
}

// MarkRead records that conv was read up to upTo.
func (s *session) MarkRead(ctx context.Context, conv ConvID, upTo MessageID) error {
	if err := s.readable(ctx, conv); err != nil {
		return err
	}
	h := s.hub
	// Stored by the hub's marker writer within a second (readMarkWriter);
	// the user's other sessions are told now, so that their counts follow.
	h.marks.note(s.user, conv, upTo)
	h.mu.Lock()
	h.readLocked(s.user, s, conv, upTo)
	h.mu.Unlock()
	h.publish(evRead, readChange{User: s.user, Conv: conv, UpTo: upTo}) // other nodes (cluster_sync.go)
	return nil
}

// DismissOffline acknowledges the offline batch of the snapshot.
//
// It settles the claim under claimMu, the same lock the hub's leave takes to
// release an undismissed claim, so a dismissal racing the session's end is
// either acknowledged (and never offered again) or released (and offered
// at the next login), never reported done while released. The store write
// does not depend on the caller's context ending (the UI's ends when the
// user quits right after dismissing).
func (s *session) DismissOffline(ctx context.Context) error {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	if !s.claimed || s.dismissed.Load() {
		return nil
	}
	if s.released {
		return fmt.Errorf("dismiss offline messages: %w", ErrClosed)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.hub.wrote(s.hub.store.AckOffline(wctx, uint64(s.user), s.claim), "dismiss offline messages", "they will be shown again at your next login"); err != nil {
		return err
	}
	s.dismissed.Store(true)
	return nil
}

// releaseClaim returns an undismissed offline batch to the queue when the
// session ends (see DismissOffline), and keeps Connect from claiming one
// for the ended session afterwards.
func (s *session) releaseClaim(ctx context.Context) error {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	if s.released {
		return nil
	}
	s.released = true
	if !s.claimed || s.dismissed.Load() {
		return nil
	}
	return s.hub.store.ReleaseOffline(ctx, uint64(s.user), s.claim)
}

// claimOffline claims the user's offline messages for this session, once it
// is registered (see joinOp). A read tells first whether there is anything
// to claim, so that a login with nothing queued does not write. When the
// store cannot be written the login goes on and the messages stay queued
// for the next one; the session is told why.
func (s *session) claimOffline(ctx context.Context) (model.OfflineBatch, error) {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	if s.released { // ended already (a slow consumer dropped at once)
		return model.OfflineBatch{}, nil
	}
	h := s.hub
	if has, err := h.store.HasOffline(ctx, uint64(s.user)); err == nil && !has {
		return model.OfflineBatch{}, nil
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	batch, err := h.store.ClaimOffline(wctx, uint64(s.user), s.claim, h.opts.OfflineLimit)
	err = h.wrote(err, "claim offline messages", "messages left for you while you were away are kept for your next login")
	if errors.Is(err, ErrStorageUnavailable) {
		s.notice(Lobby, err.Error())
		return model.OfflineBatch{}, nil
	}
	if err != nil {
		return model.OfflineBatch{}, err
	}
	s.claimed = batch.Total > 0
	return batch, nil
}

// Rooms lists, for /rooms, the public rooms and the private rooms the user
// is a member of whose name keys sort after after ('#' and case are
// ignored), with the lobby in its place among them.
func (s *session) Rooms(ctx context.Context, after string, n int) ([]RoomInfo, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	if n <= 0 || n > maxRoomsPage {
		n = maxRoomsPage
	}
	h := s.hub
	after = strings.ToLower(strings.TrimPrefix(after, "#"))
	rows, err := h.store.ListRooms(ctx, uint64(s.user), after, n)
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	// Load the rooms first (off Hub.mu), then count who is online.
	states := make([]*roomState, len(rows))
	for i, l := range rows {
		if states[i], err = h.room(ctx, RoomConv(l.Room.NameKey)); err != nil {
			return nil, fmt.Errorf("list rooms: %w", err)
		}
	}
	out := make([]RoomInfo, 0, len(rows)+1)
	lobby := after < lobbyKey && (len(rows) < n || rows[len(rows)-1].Room.NameKey > lobbyKey)
	var everyone int
	if lobby {
		if everyone, err = h.store.CountUsers(ctx); err != nil {
			return nil, fmt.Errorf("list rooms: %w", err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, l := range rows {
		if lobby && l.Room.NameKey > lobbyKey {
			out = append(out, RoomInfo{ID: Lobby, Name: string(Lobby), Members: everyone, Online: h.onlineCountLocked(), Joined: true})
			lobby = false
		}
		info := RoomInfo{ID: RoomConv(l.Room.NameKey), Name: l.Room.Name, Topic: l.Room.Topic, Members: l.Members, Joined: l.Joined}
		if r := states[i]; r != nil {
			info.Online = h.onlineLocked(r)
		}
		out = append(out, info)
	}
	if lobby {
		out = append(out, RoomInfo{ID: Lobby, Name: string(Lobby), Members: everyone, Online: h.onlineCountLocked(), Joined: true})
	}
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// maxRoomsPage is the largest page Rooms returns.
const maxRoomsPage = 200
