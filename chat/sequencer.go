package chat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sshchat/model"
)

// op is a state change the sequencer applies in order (doc.go says which
// changes are ops and which are not). Running them on one goroutine gives
// every conversation one order (the commit order, which is also the ID
// order and the history order) and makes the online/offline decision for
// a direct message consistent with logins: a message is either committed
// before a login (and is in the login's offline batch) or routed live
// after it.
type op interface{ isOp() }

// sendOp persists one message and publishes it.
type sendOp struct {
	from       *session
	msg        model.Message
	peer       UserID // direct conversations: the recipient
	peerHandle string // the recipient's handle, looked up before queueing
	peerGone   bool   // recipient blocked the sender: store, never deliver
	// room is the room of a room message (nil for the lobby and direct
	// conversations); membership is checked again at commit.
	room *roomState
	// mentioned are the users the body mentions who had not blocked the
	// sender when send looked (room and lobby messages); the commit keeps
	// those who are members and have not blocked the sender since.
	mentioned []UserID
	res       chan sendResult
}

type sendResult struct {
	msg     Message
	offline bool
	err     error
}

// joinOp registers a session. Its user's offline messages are claimed by
// Connect once it is registered (session.claimOffline), off the sequencer:
// every message routed offline to the user was committed before the
// registration, so the claim that follows finds it.
type joinOp struct {
	s       *session
	handle  string // as Connect read it; see Hub.renamed
	blocked map[UserID]bool
	res     chan joinResult
}

type joinResult struct{ err error }

// leaveOp unregisters a session. Its store writes are not the sequencer's:
// the session's claim is settled by session.Close, the user's last-seen
// time is written by the hub's lastSeenWriter.
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

// statusOp sets a user's status (/away, /back). It is sequenced so that
// the change takes one place among the messages: every session sees it
// after the messages committed before it and before those committed after.
type statusOp struct {
	s      *session
	status Status
	reason string
	res    chan error
}

// listOp changes one of a user's lists (contacts or blocks) in the store,
// then installs the new block list and tells the user's sessions. It is
// sequenced so that a block takes effect at its commit: no message
// committed after it reaches the blocker; and so that the contact list
// pushed carries presence no older than the presence events before it.
type listOp struct {
	s     *session
	name  string // the command, for errors
	other uint64
	do    func(ctx context.Context, owner, other uint64) error
	res   chan error
}

func (*sendOp) isOp()   {}
func (*joinOp) isOp()   {}
func (*leaveOp) isOp()  {}
func (*renameOp) isOp() {}
func (*statusOp) isOp() {}
func (*listOp) isOp()   {}

// submit queues o for the sequencer, or fails when the hub is closing.
// Joins and leaves go to their own queue (see sequence).
func (h *Hub) submit(ctx context.Context, o op) error {
	h.submitMu.RLock()
	defer h.submitMu.RUnlock()
	if h.stopped {
		return ErrClosed
	}
	q := h.ops
	switch o.(type) {
	case *joinOp, *leaveOp:
		q = h.logins
	}
	select {
	case q <- o:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isStopped reports whether Close has stopped submissions.
func (h *Hub) isStopped() bool {
	h.submitMu.RLock()
	defer h.submitMu.RUnlock()
	return h.stopped
}

// sequence is the hub's single writer. It batches consecutive sends into
// one transaction (group commit) and exits once stop is closed and the ops
// already queued have been applied.
//
// Sends and commands are served first: after each group commit it applies
// joins and leaves only while no send waits, and at least one per round
// so that a steady stream of messages cannot starve logins. A message thus
// waits for at most one join or leave, never for a queue of them. This
// reorders nothing a caller could observe: every op but a leave is
// answered before its submitter goes on, and joins and leaves keep their
// own order.
func (h *Hub) sequence() {
	defer close(h.done)
	batch := make([]op, 0, h.opts.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case o := <-h.ops:
			batch = append(batch, o)
		default:
			select {
			case o := <-h.ops:
				batch = append(batch, o)
			case o := <-h.logins:
				h.apply([]op{o})
				continue
			case <-h.stop:
				// Apply whatever was accepted before the stop, then exit.
				for {
					select {
					case o := <-h.ops:
						h.apply([]op{o})
					case o := <-h.logins:
						h.apply([]op{o})
					default:
						return
					}
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
	logins:
		for n := 0; n == 0 || len(h.ops) == 0; n++ {
			select {
			case o := <-h.logins:
				h.apply([]op{o})
			default:
				break logins
			}
		}
	}
}

// apply runs a batch in order, committing runs of sends together. A
// message another node committed (an inert line) does not end a run: it
// is delivered where it stands, ahead of the run's commit, which comes
// after it in the store's order too (it is committed already, the run is
// not), and it changes nothing the run's commit looks at. Without this,
// on several nodes each remote line would cut the group commit short.
func (h *Hub) apply(batch []op) {
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("sequencer panic", "panic", r)
			for _, o := range batch {
				h.fail(o, fmt.Errorf("internal error"))
			}
		}
	}()
	run := make([]op, 0, len(batch))
	for _, o := range batch {
		switch o := o.(type) {
		case *sendOp:
			run = append(run, o)
			continue
		case *remoteOp:
			if o.line != nil && o.line.inert() {
				h.order(o.line)
				continue
			}
		}
		h.flushSends(run)
		run = run[:0]
		switch o := o.(type) {
		case *joinOp:
			h.join(o)
		case *leaveOp:
			h.leave(o.s)
		case *renameOp:
			o.res <- h.rename(o)
		case *statusOp:
			o.res <- h.setStatus(o)
		case *listOp:
			o.res <- h.changeList(o)
		case *roomOp:
			o.res <- h.applyRoom(o)
		case *adminOp:
			o.res <- h.applyAdmin(o)
		case *refreshAdminsOp:
			h.locked(func() {
				for _, u := range h.users {
					h.adminChangedLocked(u)
				}
			})
		case *settingOp:
			o.res <- h.setSetting(o)
		case *editOp: // edit.go
			o.res <- h.edit(o)
		case *remoteOp: // cluster.go
			h.applyRemote(o)
		case *gapOp: // cluster_order.go
			h.applyGap(o)
		case *clusterTickOp: // cluster_presence.go
			h.applyTick()
		case *busLossOp: // cluster_presence.go
			h.readMissed(nil)
		case *busStateOp:
			h.applyBusState(o)
		}
		h.clusterFlush() // what the op committed or changed, for the other nodes
	}
	h.flushSends(run)
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
	case *statusOp:
		select {
		case o.res <- err:
		default:
		}
	case *settingOp:
		select {
		case o.res <- err:
		default:
		}
	case *listOp:
		select {
		case o.res <- err:
		default:
		}
	case *roomOp:
		select {
		case o.res <- roomResult{err: err}:
		default:
		}
	case *editOp:
		select {
		case o.res <- editResult{err: err}:
		default:
		}
	case *adminOp:
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
	sends := make([]*sendOp, 0, len(ops))
	msgs := make([]*model.Message, 0, len(ops))
	h.locked(func() {
		for _, o := range ops {
			s := o.(*sendOp)
			// The handle as of the commit: a rename sequenced between
			// send and here has already taken effect.
			if u, ok := h.users[UserID(s.msg.SenderID)]; ok {
				s.msg.SenderHandle = u.handle
			}
			// A kick or ban sequenced before this send ended its session;
			// a mute sequenced before it refuses a shared post.
			if err := s.from.removedErr(); err != nil {
				s.res <- sendResult{err: err}
				continue
			}
			if s.peer == 0 {
				if err := h.mutedErr(UserID(s.msg.SenderID)); err != nil {
					s.res <- sendResult{err: err}
					continue
				}
			}
			if s.room != nil && !s.room.isMember(UserID(s.msg.SenderID)) {
				// Removed since send looked: the removal is in force,
				// nothing is stored (res is buffered).
				s.res <- sendResult{err: notIn(s.room.conv)}
				continue
			}
			sends = append(sends, s)
			if s.peer != 0 && !s.peerGone {
				if p, online := h.users[s.peer]; (!online || !p.live()) && !h.remoteOnlineLocked(s.peer) {
					// Offline, or its last sessions are closing (their
					// leaves wait behind sends), and on no other node:
					// kept for the next login.
					s.msg.OfflineFor = uint64(s.peer)
				} else if online && p.blocked[UserID(s.msg.SenderID)] {
					// Blocked since send checked the store: the in-memory
					// block list is current.
					s.peerGone = true
				}
			}
			s.msg.Mentions = h.mentionsLocked(s)
			msgs = append(msgs, &s.msg)
		}
	})
	if len(sends) == 0 {
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	start := time.Now()
	err := h.store.AppendMessages(ctx, msgs)
	cancel()
	committed := time.Now() // metrics (issue 11): commit latency, then fan-out from here
	if err != nil {
		// Nothing was stored: every sender is told. An unavailable store is
		// logged once per change of state (health), not per message.
		werr := h.wrote(err, "append messages", "your message was not sent")
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
	h.opts.Metrics.Committed(len(msgs), committed.Sub(start))

	for _, s := range sends {
		h.commitLine(sendLine(s)) // cluster_order.go: published, then in order
	}
	h.opts.Metrics.FannedOut(time.Since(committed))
	for _, s := range sends {
		s.res <- sendResult{msg: toMessage(s.msg), offline: s.msg.OfflineFor != 0}
	}
}

// lobbyFanoutLocked queues a lobby message for every session of every
// user who has not blocked its sender (Hub.mu held). The event is boxed
// into an Event once, not once per session.
func (h *Hub) lobbyFanoutLocked(m Message) {
	var ev Event = MessageEvent{Message: m, Conversation: Conversation{ID: m.Conv, Kind: KindRoom, Name: string(m.Conv)}}
	for _, u := range h.users {
		if u.blocked[m.From] {
			continue
		}
		for sess := range u.sessions {
			sess.push(ev)
		}
	}
}

// mentionsLocked resolves a send's mentions at its commit: the members of
// its room (everyone, in the lobby) other than the sender who have not
// blocked the sender, each marked Offline when no session of theirs is
// live (a pending delivery, claimed at their next login). Hub.mu is held.
func (h *Hub) mentionsLocked(s *sendOp) []model.Mention {
	if len(s.mentioned) == 0 {
		return nil
	}
	from := UserID(s.msg.SenderID)
	out := make([]model.Mention, 0, len(s.mentioned))
	for _, id := range s.mentioned {
		if id == from || s.room != nil && !s.room.isMember(id) {
			continue
		}
		u, online := h.users[id]
		if online && u.blocked[from] {
			continue
		}
		out = append(out, model.Mention{UserID: uint64(id), Offline: (!online || !u.live()) && !h.remoteOnlineLocked(id)})
	}
	return out
}

// join registers a session; the first one takes its user online.
func (h *Hub) join(o *joinOp) {
	s := o.s
	handle := o.handle
	if h, ok := h.renamed[s.user]; ok {
		// Renamed after Connect read the account (the sequencer applies
		// renames, so this is current).
		handle = h
	}
	// A join sequenced after a ban of its key is refused.
	if err := h.checkBan(s.fp); err != nil {
		o.res <- joinResult{err: err}
		return
	}
	h.locked(func() {
		u, ok := h.users[s.user]
		if !ok {
			u = &userState{id: s.user, handle: handle, status: Online, sessions: map[*session]struct{}{}, blocked: o.blocked}
			h.users[s.user] = u
			h.usersGen++
		}
		u.sessions[s] = struct{}{}
		if !ok {
			u.admin = h.adminOnlineLocked(u)
			if rp, elsewhere := h.remotePresenceLocked(s.user); elsewhere {
				// Online on another node already: the same user, with the
				// status they have there; not a newcomer.
				u.status, u.reason = rp.Status, rp.Reason
				if p := u.presence(); p != rp {
					h.publishPresenceLocked(PresenceEvent{Presence: p})
				}
			} else {
				h.publishPresenceLocked(PresenceEvent{Presence: u.presence(), Joined: true})
			}
			h.localPresenceLocked(s.user, "")
		} else {
			h.adminChangedLocked(u)
		}
		if h.clustered() && !h.core.up {
			s.push(NoticeEvent{Text: LinkDownNotice})
			s.push(LinkEvent{Down: true})
		}
	})
	o.res <- joinResult{}
}

// leave unregisters a session; the last one takes its user offline.
func (h *Hub) leave(s *session) {
	last := false
	now := h.opts.Now()
	h.locked(func() {
		u, ok := h.users[s.user]
		if !ok {
			return
		}
		delete(u.sessions, s)
		last = len(u.sessions) == 0
		if !last {
			h.adminChangedLocked(u)
		}
		if last {
			delete(h.users, s.user)
			h.usersGen++
			h.localPresenceLocked(s.user, "")
			if rp, elsewhere := h.remotePresenceLocked(s.user); elsewhere {
				// Still online on another node.
				if rp != u.presence() {
					h.publishPresenceLocked(PresenceEvent{Presence: rp})
				}
				return
			}
			p := u.presence()
			p.Status = Offline
			p.Reason = ""
			p.LastSeen = now
			h.publishPresenceLocked(PresenceEvent{Presence: p, Left: true})
		}
	})
	if last {
		h.seen.touch(s.user, now)
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
	notice := &model.Message{
		Conv: string(Lobby), SenderID: uint64(id), SenderHandle: o.display,
		Kind: model.KindRename, Body: old + " is now known as " + o.display, CreatedAt: now,
	}
	err := h.wrote(h.store.RenameUser(ctx, model.Rename{
		UserID: uint64(id), Handle: o.display, HandleKey: o.key,
		At: now, HoldUntil: now.Add(h.opts.HandleHold),
		Notice: notice,
	}), "rename", "your handle was not changed")
	h.recent.reset() // the rename line bypassed it, and shown handles changed
	if err != nil {
		return err
	}
	// The line takes its place in the lobby's order on every node (it is
	// shown as the PresenceEvent below, not as a message).
	h.commitLine(&line{M: toMessage(*notice), Prev: MessageID(notice.Prev)})
	h.renamed[id] = o.display
	h.locked(func() {
		if u, ok := h.users[id]; ok {
			u.handle = o.display
			h.publishPresenceLocked(PresenceEvent{Presence: u.presence(), OldHandle: old})
			h.localPresenceLocked(id, old)
			// The user's sessions get this line at once (presence is
			// throttled in the UI, notices are not).
			h.toUserLocked(id, NoticeEvent{Text: "you are now known as " + o.display})
		}
	})
	h.log.Info("renamed", "user", id, "old", old, "new", o.display)
	return nil
}

// setStatus applies /away or /back and tells everyone.
func (h *Hub) setStatus(o *statusOp) error {
	err := ErrClosed
	h.locked(func() {
		if u, ok := h.users[o.s.user]; ok {
			u.status, u.reason = o.status, o.reason
			h.publishPresenceLocked(PresenceEvent{Presence: u.presence()})
			h.localPresenceLocked(u.id, "")
			err = nil
		}
	})
	return err
}

// changeList applies a contact-list or block command: the store write, then
// the user's new block list and contact list (see listOp). The store's
// model.ErrNotFound (removing what is not listed) is returned as is.
func (h *Hub) changeList(o *listOp) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := o.do(ctx, uint64(o.s.user), o.other)
	if errors.Is(err, model.ErrNotFound) {
		return err
	}
	if err := h.wrote(err, "/"+o.name, "nothing was changed"); err != nil {
		return err
	}
	// Presence changes only here, in the sequencer, so the contacts'
	// presence read now is what the user's sessions have been told.
	blocked, contacts, err := h.contacts(ctx, o.s.user)
	if err != nil {
		return fmt.Errorf("/%s: load contacts: %w", o.name, err)
	}
	h.locked(func() { h.installListsLocked(o.s.user, blocked, contacts) })
	h.publish(evList, userRef{User: o.s.user}) // other nodes (cluster_sync.go)
	return nil
}
