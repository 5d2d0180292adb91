package chat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sshchat/model"
)

// op is a state change the sequencer applies in order: sends, joins and
// leaves. Running them on one goroutine gives every conversation one order
// (the commit order, which is also the ID order and the history order) and
// makes the online/offline decision for a direct message consistent with
// logins: a message is either committed before a login (and is in the
// login's offline batch) or routed live after it.
type op interface{ isOp() }

// sendOp persists one message and publishes it.
type sendOp struct {
	from       *session
	msg        model.Message
	peer       UserID // direct conversations: the recipient
	peerHandle string // the recipient's handle, looked up before queueing
	peerGone   bool   // recipient blocked the sender: store, never deliver
	res        chan sendResult
}

type sendResult struct {
	msg     Message
	offline bool
	err     error
}

// joinOp registers a session and claims its user's offline messages.
type joinOp struct {
	s       *session
	blocked map[UserID]bool
	res     chan joinResult
}

type joinResult struct {
	batch model.OfflineBatch
	err   error
}

// leaveOp unregisters a session.
type leaveOp struct{ s *session }

// renameOp changes a user's handle. It is sequenced so that the line of
// lobby history recording it takes its place among the messages, and so
// that every message committed after it carries the new handle.
type renameOp struct {
	s       *session
	display string // the new handle
	key     string // its key
	res     chan error
}

func (*sendOp) isOp()   {}
func (*joinOp) isOp()   {}
func (*leaveOp) isOp()  {}
func (*renameOp) isOp() {}

// submit queues o for the sequencer, or fails when the hub is closing.
func (h *Hub) submit(ctx context.Context, o op) error {
	h.submitMu.RLock()
	defer h.submitMu.RUnlock()
	if h.stopped {
		return ErrClosed
	}
	select {
	case h.ops <- o:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sequence is the hub's single writer. It batches consecutive sends into
// one transaction (group commit) and exits once stop is closed and the ops
// already queued have been applied.
func (h *Hub) sequence() {
	defer close(h.done)
	batch := make([]op, 0, h.opts.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case o := <-h.ops:
			batch = append(batch, o)
		case <-h.stop:
			// Apply whatever was accepted before the stop, then exit.
			for {
				select {
				case o := <-h.ops:
					h.apply([]op{o})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < h.opts.MaxBatch {
			select {
			case o := <-h.ops:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		h.apply(batch)
	}
}

// apply runs a batch in order, committing runs of sends together.
func (h *Hub) apply(batch []op) {
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("sequencer panic", "panic", r)
			for _, o := range batch {
				h.fail(o, fmt.Errorf("internal error"))
			}
		}
	}()
	start := 0
	for i, o := range batch {
		if _, ok := o.(*sendOp); ok {
			continue
		}
		h.flushSends(batch[start:i])
		start = i + 1
		switch o := o.(type) {
		case *joinOp:
			h.join(o)
		case *leaveOp:
			h.leave(o.s)
		case *renameOp:
			o.res <- h.rename(o)
		}
	}
	h.flushSends(batch[start:])
}

// locked runs f with the hub mutex held, releasing it even if f panics (the
// sequencer recovers panics and must not leave the hub locked).
func (h *Hub) locked(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f()
}

// fail answers an op that could not be applied.
func (h *Hub) fail(o op, err error) {
	switch o := o.(type) {
	case *sendOp:
		select {
		case o.res <- sendResult{err: err}:
		default:
		}
	case *joinOp:
		select {
		case o.res <- joinResult{err: err}:
		default:
		}
	case *renameOp:
		select {
		case o.res <- err:
		default:
		}
	}
}

// flushSends commits a run of sends in one transaction, then publishes each
// message in commit order and answers its sender.
func (h *Hub) flushSends(ops []op) {
	if len(ops) == 0 {
		return
	}
	sends := make([]*sendOp, len(ops))
	msgs := make([]*model.Message, len(ops))
	h.locked(func() {
		for i, o := range ops {
			s := o.(*sendOp)
			sends[i] = s
			// The handle as of the commit: a rename sequenced between
			// send and here has already taken effect.
			if u, ok := h.users[UserID(s.msg.SenderID)]; ok {
				s.msg.SenderHandle = u.handle
			}
			if s.peer != 0 && !s.peerGone {
				if p, online := h.users[s.peer]; !online {
					s.msg.OfflineFor = uint64(s.peer)
				} else if p.blocked[UserID(s.msg.SenderID)] {
					// Blocked since send checked the store: the in-memory
					// block list is current.
					s.peerGone = true
				}
			}
			msgs[i] = &s.msg
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := h.store.AppendMessages(ctx, msgs)
	cancel()
	if err != nil {
		// Nothing was stored: every sender is told. An unavailable store is
		// logged once per change of state (health), not per message.
		werr := h.wrote(err, "append messages", "yours was not sent")
		if !errors.Is(werr, ErrStorageUnavailable) {
			h.log.Error("append messages", "err", err, "count", len(msgs))
			werr = fmt.Errorf("message not saved: %w", err)
		}
		for _, s := range sends {
			s.res <- sendResult{err: werr}
		}
		return
	}
	h.health.ok()

	h.locked(func() {
		for _, s := range sends {
			m := toMessage(s.msg)
			h.recent.add(m)
			if s.peer == 0 {
				ev := MessageEvent{Message: m, Conversation: Conversation{ID: m.Conv, Kind: KindRoom, Name: string(m.Conv)}}
				for _, u := range h.users {
					if u.blocked[m.From] {
						continue
					}
					for sess := range u.sessions {
						sess.push(ev)
					}
				}
			} else {
				sender := m.FromHandle
				peerHandle := s.peerHandle
				if p, ok := h.users[s.peer]; ok {
					peerHandle = p.handle
				}
				h.toUserLocked(m.From, MessageEvent{Message: m, Conversation: Conversation{ID: m.Conv, Kind: KindDirect, Name: peerHandle, Peer: s.peer}})
				if !s.peerGone && s.msg.OfflineFor == 0 {
					h.toUserLocked(s.peer, MessageEvent{Message: m, Conversation: Conversation{ID: m.Conv, Kind: KindDirect, Name: sender, Peer: m.From}})
				}
			}
		}
	})
	for _, s := range sends {
		s.res <- sendResult{msg: toMessage(s.msg), offline: s.msg.OfflineFor != 0}
	}
}

// join registers a session and claims the user's offline messages.
func (h *Hub) join(o *joinOp) {
	s := o.s
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The first session of a user reads the handle here, in sequence: a
	// rename (applied only by the sequencer) may have committed since the
	// login read the account.
	var online bool
	h.locked(func() { _, online = h.users[s.user] })
	var handle string
	if !online {
		u, err := h.store.UserByID(ctx, uint64(s.user))
		if err != nil {
			o.res <- joinResult{err: fmt.Errorf("read handle: %w", err)}
			return
		}
		handle = u.Handle
	}
	batch, err := h.store.ClaimOffline(ctx, uint64(s.user), s.claim, h.opts.OfflineLimit)
	err = h.wrote(err, "claim offline messages", "messages left for you while you were away are kept for your next login")
	var unclaimed error
	if errors.Is(err, ErrStorageUnavailable) {
		// Log in anyway, reading what can be read; the offline messages
		// stay queued (unclaimed) for the next login.
		unclaimed, batch = err, model.OfflineBatch{}
	} else if err != nil {
		o.res <- joinResult{err: err}
		return
	}
	s.claimed = batch.Total > 0
	h.locked(func() {
		u, ok := h.users[s.user]
		if !ok {
			u = &userState{id: s.user, handle: handle, status: Online, sessions: map[*session]struct{}{}, blocked: o.blocked}
			h.users[s.user] = u
		}
		u.sessions[s] = struct{}{}
		if !ok {
			h.publishPresenceLocked(PresenceEvent{Presence: u.presence(), Joined: true})
		}
		if unclaimed != nil {
			s.notice(Lobby, unclaimed.Error())
		}
	})
	o.res <- joinResult{batch: batch}
}

// leave unregisters a session; the last one takes its user offline.
func (h *Hub) leave(s *session) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.wrote(s.releaseClaim(ctx), "release offline claim", ""); err != nil && !errors.Is(err, ErrStorageUnavailable) {
		h.log.Error("release offline claim", "err", err)
	}
	last := false
	h.locked(func() {
		u, ok := h.users[s.user]
		if !ok {
			return
		}
		delete(u.sessions, s)
		last = len(u.sessions) == 0
		if last {
			delete(h.users, s.user)
			p := u.presence()
			p.Status = Offline
			p.Reason = ""
			p.LastSeen = h.opts.Now()
			h.publishPresenceLocked(PresenceEvent{Presence: p, Left: true})
		}
	})
	if last {
		if err := h.wrote(h.store.TouchLastSeen(ctx, uint64(s.user), h.opts.Now()), "touch last seen", ""); err != nil && !errors.Is(err, ErrStorageUnavailable) {
			h.log.Error("touch last seen", "err", err)
		}
	}
}

// rename applies a /nick: in one transaction the handle changes, the old
// one is held for the user for Options.HandleHold, and a line recording the
// rename is appended to the lobby's history. Then everyone is told (a
// PresenceEvent with OldHandle; the user's own sessions get a notice).
func (h *Hub) rename(o *renameOp) error {
	id := o.s.user
	var old string
	h.locked(func() {
		if u, ok := h.users[id]; ok {
			old = u.handle
		}
	})
	if old == "" {
		return ErrClosed
	}
	now := h.opts.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := h.wrote(h.store.RenameUser(ctx, model.Rename{
		UserID: uint64(id), Handle: o.display, HandleKey: o.key,
		At: now, HoldUntil: now.Add(h.opts.HandleHold),
		Notice: &model.Message{
			Conv: string(Lobby), SenderID: uint64(id), SenderHandle: o.display,
			Kind: model.KindRename, Body: old + " is now known as " + o.display, CreatedAt: now,
		},
	}), "rename", "your handle was not changed")
	h.recent.reset() // the rename line bypassed it, and shown handles changed
	if err != nil {
		return err
	}
	h.locked(func() {
		if u, ok := h.users[id]; ok {
			u.handle = o.display
			h.publishPresenceLocked(PresenceEvent{Presence: u.presence(), OldHandle: old})
			// The user's sessions get this line at once (presence is
			// throttled in the UI, notices are not).
			h.toUserLocked(id, NoticeEvent{Text: "you are now known as " + o.display})
		}
	})
	h.log.Info("renamed", "user", id, "old", old, "new", o.display)
	return nil
}
