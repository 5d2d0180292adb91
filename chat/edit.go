package chat

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sshchat/model"
)

// EditEvent tells that a message was edited or deleted: Message is it as
// it now reads (Edited set; Deleted with an empty Body). It is sequenced
// like a send and fanned out to exactly those who could see the message.
type EditEvent struct {
	Message Message
}

func (EditEvent) isEvent() {}

// editOp edits (or, with del, deletes) the user's last message in conv.
// It is sequenced, so the change takes its place among the messages and
// "the last message" is the last one committed before it.
type editOp struct {
	s    *session
	conv ConvID
	body string
	del  bool
	// id, when set, is the message an administrator deletes (any
	// sender's, audited as by); else the user's last message in conv.
	id  MessageID
	by  string
	res chan editResult
}

type editResult struct {
	msg Message
	err error
}

func (*editOp) isOp() {}

// mayChange says whether user may edit (or delete) m: its sender, or, for
// a deletion, an administrator (admin: the session's key is one's now).
func mayChange(user UserID, m Message, del, admin bool) bool {
	return m.From == user || del && admin
}

// EditLast replaces the body of the user's last message in conv (or, with
// del, deletes it) and tells everyone who could see it.
func (s *session) editLast(ctx context.Context, conv ConvID, text string, del bool) (Message, error) {
	if s.isClosed() {
		return Message{}, ErrClosed
	}
	body := ""
	if !del {
		var err error
		if body, err = CheckMessage(text); err != nil {
			return Message{}, err
		}
	}
	if err := s.readable(ctx, conv); err != nil {
		return Message{}, err
	}
	o := &editOp{s: s, conv: conv, body: body, del: del, res: make(chan editResult, 1)}
	if err := s.hub.submit(ctx, o); err != nil {
		return Message{}, err
	}
	select {
	case r := <-o.res:
		return r.msg, r.err
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// edit applies an editOp on the sequencer: store, then tell.
func (h *Hub) edit(o *editOp) editResult {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	what := "edit"
	if o.del {
		what = "delete"
	}
	admin := o.id != 0 && h.isAdmin(o.s.fp)
	var row model.Message
	var err error
	if o.id != 0 {
		row, err = h.store.MessageByID(ctx, int64(o.id))
		if err == nil && (row.Deleted || row.Kind != model.KindText && row.Kind != model.KindAction) {
			err = model.ErrNotFound
		}
		if errors.Is(err, model.ErrNotFound) {
			return editResult{err: fmt.Errorf("%w: no message %d to delete", ErrNotAllowed, o.id)}
		}
		o.conv = ConvID(row.Conv)
	} else {
		row, err = h.store.LastOwnMessage(ctx, string(o.conv), uint64(o.s.user))
		if errors.Is(err, model.ErrNotFound) {
			return editResult{err: fmt.Errorf("%w: you have no message here to %s", ErrNotAllowed, what)}
		}
	}
	if err != nil {
		return editResult{err: fmt.Errorf("/%s: %w", what, err)}
	}
	m := toMessage(row)
	if !mayChange(o.s.user, m, o.del, admin) {
		return editResult{err: fmt.Errorf("%w: you may %s only your own messages", ErrNotAllowed, what)}
	}
	var room *roomState
	if _, ok := roomKey(o.conv); ok {
		if admin {
			room, err = h.room(ctx, o.conv) // an admin need not be a member
		} else {
			room, err = h.member(ctx, o.conv, o.s.user)
		}
		if err != nil || room == nil {
			return editResult{err: errNoConversation}
		}
	}
	now := h.opts.Now().UTC()
	switch {
	case admin:
		err = h.store.AuditedDeleteMessage(ctx, row.ID, now, &model.AuditEntry{ActorID: uint64(o.s.user), Actor: o.by,
			Action: "delete", Target: m.FromHandle, TargetID: uint64(m.From), Reason: fmt.Sprintf("message %d", m.ID)})
	case o.del:
		err = h.store.DeleteMessage(ctx, row.ID, now)
	default:
		err = h.store.EditMessage(ctx, row.ID, o.body, now)
	}
	if err != nil {
		return editResult{err: h.wrote(err, what+" message", "your message was not changed")}
	}
	h.health.ok()
	m.Body, m.Edited, m.Deleted = o.body, now, o.del
	h.locked(func() {
		h.recent.reset() // a stored message now reads differently
		h.editFanoutLocked(room, m)
	})
	h.publish(evEdit, editChange{Message: m}) // other nodes (cluster_sync.go)
	return editResult{msg: m}
}

// editFanoutLocked tells the sessions that could see m (room: its room,
// nil for the lobby and direct conversations) that it now reads as m, by
// the rules of its fan-out (Hub.mu held).
func (h *Hub) editFanoutLocked(room *roomState, m Message) {
	ev := EditEvent{Message: m}
	switch {
	case room != nil:
		if r := room; r.fan == nil || r.fanGen != h.usersGen {
			h.rebuildFanLocked(r)
		}
		for _, e := range room.fan {
			if !e.u.blocked[m.From] {
				for s := range e.u.sessions {
					s.push(ev)
				}
			}
		}
	case m.Conv == Lobby:
		for _, u := range h.users {
			if !u.blocked[m.From] {
				for s := range u.sessions {
					s.push(ev)
				}
			}
		}
	default:
		h.toUserLocked(m.From, ev)
		if peer, ok := directPeer(m.Conv, m.From); ok && peer != m.From {
			if p, ok := h.users[peer]; ok && !p.blocked[m.From] {
				h.toUserLocked(peer, ev)
			}
		}
	}
}

// cmdEdit replaces the body of the user's last message in the
// conversation in front.
func cmdEdit(ctx context.Context, s *session, conv ConvID, arg string) (Reply, error) {
	if arg == "" {
		return Reply{}, fmt.Errorf("%w: /edit NEW TEXT", ErrUsage)
	}
	if _, err := s.editLast(ctx, conv, arg, false); err != nil {
		return Reply{}, err
	}
	return Reply{}, nil
}

// cmdDelete deletes the user's last message in the conversation in front.
func cmdDelete(ctx context.Context, s *session, conv ConvID, _ string) (Reply, error) {
	if _, err := s.editLast(ctx, conv, "", true); err != nil {
		return Reply{}, err
	}
	return Reply{}, nil
}

// adminDelete deletes any message by its ID (/admin delete ID), audited.
func adminDelete(ctx context.Context, s *session, rest string) (Reply, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(rest, "#"), 10, 64)
	if err != nil || n <= 0 {
		return Reply{}, adminUsageErr("delete")
	}
	o := &editOp{s: s, del: true, id: MessageID(n), by: s.adminName(ctx), res: make(chan editResult, 1)}
	if err := s.hub.submit(ctx, o); err != nil {
		return Reply{}, fmt.Errorf("/admin delete: %w", err)
	}
	select {
	case r := <-o.res:
		if r.err != nil {
			return Reply{}, r.err
		}
		return Reply{Lines: []string{fmt.Sprintf("deleted message %d from %s", n, r.msg.FromHandle)}}, nil
	case <-ctx.Done():
		return Reply{}, ctx.Err()
	}
}
