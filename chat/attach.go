package chat

import (
	"context"
	"fmt"

	"sshchat/model"
)

// quietSet holds the quiet sessions (Hub.Attach) by user, apart from
// Hub.users so that they count for neither presence nor routing. An entry
// outlives its sessions for its rate-limit bucket, so that a script
// opening one SSH session per message is limited like a person typing;
// entries whose bucket has refilled are swept once the set has doubled.
// Hub.mu guards it.
type quietSet struct {
	users   map[UserID]*userState
	follows map[*session]map[ConvID]bool // what each quiet session follows (Follow)
	sweepAt int                          // sweep idle entries when the set grows to this size
}

// Attach opens a quiet session for acct, for commands run over SSH without
// a terminal (`ssh host send ...`, `ssh host tail ...`). It is a Session
// like Connect's, with the same rules for sending (rate limit, blocks,
// privacy) and reading, but it is kept apart from presence and routing:
//
//   - it announces nothing: the user does not come online or go offline,
//     and the roster and Online() do not count it;
//   - it does not decide routing: a direct message to a user who has only
//     quiet sessions is routed offline, queued for their next login;
//   - it claims no offline messages: its Snapshot has no Offline groups
//     (unread counts come from the store) and they stay queued;
//   - it receives no messages until it follows a conversation (Follow):
//     a one-shot command never reads its events and must not be dropped
//     as a slow consumer for it.
//
// Its registration needs no place in the sequencer's order: it changes
// nothing another session sees.
func (h *Hub) Attach(ctx context.Context, acct Account) (Session, error) {
	release, err := h.admitted(ctx)
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	defer release()
	s, u, blocked, err := h.newSession(ctx, acct, "q")
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	s.quiet = true
	s.released = true // holds no offline claim, and never takes one
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return nil, fmt.Errorf("attach: %w", ErrClosed)
	}
	// Under Hub.mu, where a ban is installed and its sessions ended: a
	// session attached before the ban is ended by it, one after refused.
	if err := h.checkBan(acct.Fingerprint); err != nil {
		h.mu.Unlock()
		return nil, err
	}
	q := h.quiet.users[acct.ID]
	if q == nil {
		if h.quiet.users == nil {
			h.quiet.users = make(map[UserID]*userState)
		}
		q = &userState{id: acct.ID, sessions: map[*session]struct{}{}}
		h.quiet.users[acct.ID] = q
	}
	if len(q.sessions) == 0 {
		// Its block list is kept current only while it has sessions
		// (quietBlockedLocked); refresh it from the store's.
		q.handle = u.Handle
		q.blocked = make(map[UserID]bool, len(blocked))
		for _, b := range blocked {
			q.blocked[UserID(b)] = true
		}
	}
	if on, ok := h.users[acct.ID]; ok {
		// Online: the in-memory list is current (changed in the sequencer).
		q.handle, q.blocked = on.handle, on.blocked
	}
	q.sessions[s] = struct{}{}
	h.mu.Unlock()
	snap, err := h.snapshot(ctx, acct.ID, model.OfflineBatch{})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("attach: %w", err)
	}
	s.snap = snap
	return s, nil
}

// Follow makes s, a session of Attach, receive as MessageEvents the
// messages of conv committed from now on that its user may see, in commit
// order: in the lobby, those of users they have not blocked; in one of
// their direct conversations, all of them, including those routed offline
// (which stay queued). It is done under Hub.mu, under which every message
// is fanned out, so s gets exactly the messages fanned out after it: read
// history after Follow and skip the IDs already read for a gapless join.
// In another room, the messages and system lines committed while the
// user is a member of it (the check is made at each fan-out); a removal
// of the user from it ends the follow with a ConversationEvent (Removed),
// as it does for their other sessions. A room the user is not in is
// refused like one that does not exist.
func (h *Hub) Follow(ctx context.Context, s Session, conv ConvID) error {
	qs, ok := s.(*session)
	if !ok || !qs.quiet {
		return fmt.Errorf("follow: %w: not a session of Attach", ErrNotAllowed)
	}
	if _, isRoom := roomKey(conv); isRoom && conv != Lobby {
		r, err := h.member(ctx, conv, qs.user)
		if err != nil {
			return fmt.Errorf("follow: %w", err)
		}
		if r == nil {
			return fmt.Errorf("follow: %w", notIn(conv))
		}
	} else if conv != Lobby {
		if _, ok := directPeer(conv, qs.user); !ok {
			return fmt.Errorf("follow: %w: no such conversation", ErrNotAllowed)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if qs.isClosed() {
		return fmt.Errorf("follow: %w", ErrClosed)
	}
	if h.quiet.follows == nil {
		h.quiet.follows = make(map[*session]map[ConvID]bool)
	}
	if h.quiet.follows[qs] == nil {
		h.quiet.follows[qs] = make(map[ConvID]bool)
	}
	h.quiet.follows[qs][conv] = true
	return nil
}

// detach unregisters a quiet session and closes its events (see Close).
func (s *session) detach() {
	h := s.hub
	h.locked(func() {
		q, ok := h.quiet.users[s.user]
		if !ok {
			return
		}
		delete(q.sessions, s)
		delete(h.quiet.follows, s)
		if len(q.sessions) == 0 && len(h.quiet.users) >= h.quiet.sweepAt {
			h.sweepQuietLocked()
		}
	})
	s.drop(ErrClosed)
}

// sweepQuietLocked forgets the quiet users with no session whose bucket
// has refilled (a fresh bucket is the same); h.mu is held.
func (h *Hub) sweepQuietLocked() {
	now := h.opts.Now()
	for id, q := range h.quiet.users {
		if len(q.sessions) > 0 {
			continue
		}
		b := q.limiter
		if b.last.IsZero() || b.tokens+now.Sub(b.last).Seconds()*h.opts.RatePerSecond >= float64(h.opts.RateBurst) {
			delete(h.quiet.users, id)
		}
	}
	h.quiet.sweepAt = max(64, 2*len(h.quiet.users))
}

// senderLocked is the state session.send checks and rate-limits against:
// the online user for a session of Connect, the quiet entry (its own
// bucket, shared by the user's quiet sessions) for one of Attach; h.mu is
// held.
func (h *Hub) senderLocked(s *session) (*userState, bool) {
	if !s.quiet {
		u, ok := h.users[s.user]
		return u, ok
	}
	q, ok := h.quiet.users[s.user]
	if !ok || len(q.sessions) == 0 {
		return nil, false
	}
	if on, ok := h.users[s.user]; ok {
		q.handle = on.handle // renamed meanwhile
	}
	return q, true
}

// quietFanOutLocked queues a committed message for the quiet sessions
// that follow its conversation and may see it, by the rules flushSends
// applies to the others: a lobby message for users who have not blocked
// its author; a direct one for its author and, unless they blocked the
// author, its recipient, whether it was delivered live or queued offline.
// a room message for members who have not blocked its author, checked
// now. h.mu is held.
func (h *Hub) quietFanOutLocked(o *sendOp, m Message) {
	for s, convs := range h.quiet.follows {
		if !convs[m.Conv] {
			continue
		}
		q := h.quiet.users[s.user]
		switch {
		case o.room != nil && o.room.isMember(s.user) && !q.blocked[m.From]:
			s.push(MessageEvent{Message: m, Conversation: o.room.conversation(s.user)})
		case o.peer == 0 && o.room == nil && m.Conv == Lobby && !q.blocked[m.From]:
			s.push(MessageEvent{Message: m, Conversation: Conversation{ID: m.Conv, Kind: KindRoom, Name: string(m.Conv)}})
		case o.peer != 0 && s.user == m.From:
			peerHandle := o.peerHandle
			if p, ok := h.users[o.peer]; ok {
				peerHandle = p.handle
			}
			s.push(MessageEvent{Message: m, Conversation: Conversation{ID: m.Conv, Kind: KindDirect, Name: peerHandle, Peer: o.peer}})
		case o.peer != 0 && s.user == o.peer && !o.peerGone && !q.blocked[m.From]:
			s.push(MessageEvent{Message: m, Conversation: Conversation{ID: m.Conv, Kind: KindDirect, Name: m.FromHandle, Peer: m.From}})
		}
	}
}

// quietBlockedLocked installs a user's new block list for their quiet
// sessions (changeList does it for their online state); h.mu is held.
func (h *Hub) quietBlockedLocked(id UserID, blocked []uint64) {
	q, ok := h.quiet.users[id]
	if !ok {
		return
	}
	q.blocked = make(map[UserID]bool, len(blocked))
	for _, b := range blocked {
		q.blocked[UserID(b)] = true
	}
}

// closeQuietLocked tells every quiet session the server is shutting down
// and closes its events (Hub.Close); h.mu is held.
func (h *Hub) closeQuietLocked() {
	for _, q := range h.quiet.users {
		for s := range q.sessions {
			s.push(ShutdownEvent{Reason: "server shutting down"})
			s.drop(ErrShutdown)
		}
	}
}
