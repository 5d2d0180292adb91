package chat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sshchat/model"
)

// roomState is a room as the hub keeps it in memory: loaded on first use
// (Hub.room), never evicted while the hub runs, and changed only by the
// sequencer (roomOp), under Hub.mu. Every read of its fields holds Hub.mu.
type roomState struct {
	id      int64
	conv    ConvID
	name    string // with its '#'
	private bool
	topic   string
	owner   UserID
	members map[UserID]Role
	invited map[UserID]bool
	banned  map[UserID]bool
	// fan is the members online, for fan-out; valid while fanGen equals
	// Hub.usersGen and no member changed (publishRoomNoticeLocked clears
	// it after every change).
	fan    []fanEntry
	fanGen uint64
}

// fanEntry is a member online and their role in the room.
type fanEntry struct {
	u    *userState
	role Role
}

func newRoomState(st model.RoomState) *roomState {
	r := &roomState{
		id: st.Room.ID, conv: RoomConv(st.Room.NameKey), name: st.Room.Name,
		private: st.Room.Private, topic: st.Room.Topic, owner: UserID(st.Room.OwnerID),
		members: make(map[UserID]Role, len(st.Members)),
		invited: make(map[UserID]bool, len(st.Invited)),
		banned:  make(map[UserID]bool, len(st.Banned)),
	}
	for _, m := range st.Members {
		r.members[UserID(m.UserID)] = Role(m.Role)
	}
	for _, id := range st.Invited {
		r.invited[UserID(id)] = true
	}
	for _, id := range st.Banned {
		r.banned[UserID(id)] = true
	}
	return r
}

// conversation is the room as user id sees it (Hub.mu held).
func (r *roomState) conversation(id UserID) Conversation {
	c := Conversation{ID: r.conv, Kind: KindRoom, Name: r.name, Topic: r.topic, Private: r.private}
	if role, ok := r.members[id]; ok {
		c.Role = role
	} else if r.invited[id] {
		c.Invited = true
	}
	return c
}

// isMember reports whether id is a member (Hub.mu held).
func (r *roomState) isMember(id UserID) bool {
	_, ok := r.members[id]
	return ok
}

// room returns the state of the room conv names (not the lobby), loading
// it on first use; nil when there is no such room. A load races no change:
// the sequencer loads a room before changing it, and a room once loaded
// stays, so a load that finds the room installed meanwhile uses that one.
func (h *Hub) room(ctx context.Context, conv ConvID) (*roomState, error) {
	key, ok := roomKey(conv)
	if !ok {
		return nil, nil
	}
	h.mu.Lock()
	r, ok := h.rooms[conv]
	h.mu.Unlock()
	if ok {
		return r, nil
	}
	st, err := h.store.RoomState(ctx, key)
	if errors.Is(err, model.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load room: %w", err)
	}
	r = newRoomState(st)
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur, ok := h.rooms[conv]; ok {
		return cur, nil
	}
	h.rooms[conv] = r
	return r, nil
}

// member returns the room conv if user is a member of it, else nil (no
// such room, or not a member: the caller must not tell which).
func (h *Hub) member(ctx context.Context, conv ConvID, user UserID) (*roomState, error) {
	r, err := h.room(ctx, conv)
	if err != nil || r == nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !r.isMember(user) {
		return nil, nil
	}
	return r, nil
}

// roomFanoutLocked queues m for the live sessions of the room's members
// who have not blocked its sender (Hub.mu held). It walks the room's list
// of members online (rebuilt after a login, a logout or a change of
// members) and boxes the event once per role, so that a delivery costs no
// more than a lobby delivery.
func (h *Hub) roomFanoutLocked(r *roomState, m Message) {
	if r.fan == nil || r.fanGen != h.usersGen {
		h.rebuildFanLocked(r)
	}
	var evs [RoleOwner + 1]Event
	for _, e := range r.fan {
		if e.u.blocked[m.From] {
			continue
		}
		if evs[e.role] == nil {
			c := Conversation{ID: r.conv, Kind: KindRoom, Name: r.name, Topic: r.topic, Private: r.private, Role: e.role}
			evs[e.role] = MessageEvent{Message: m, Conversation: c}
		}
		for s := range e.u.sessions {
			s.push(evs[e.role])
		}
	}
}

// rebuildFanLocked lists the room's members online, walking whichever is
// smaller, the members or the online users (Hub.mu held).
func (h *Hub) rebuildFanLocked(r *roomState) {
	r.fan = r.fan[:0]
	if len(r.members) <= len(h.users) {
		for id, role := range r.members {
			if u, ok := h.users[id]; ok {
				r.fan = append(r.fan, fanEntry{u, role})
			}
		}
	} else {
		for id, u := range h.users {
			if role, ok := r.members[id]; ok {
				r.fan = append(r.fan, fanEntry{u, role})
			}
		}
	}
	if r.fan == nil {
		r.fan = []fanEntry{}
	}
	r.fanGen = h.usersGen
}

// onlineLocked counts the room's members online now (Hub.mu held).
func (h *Hub) onlineLocked(r *roomState) int {
	n := 0
	if len(h.core.peers) > 0 {
		for id := range r.members {
			if h.onlineAnywhereLocked(id) {
				n++
			}
		}
		return n
	}
	if len(r.members) <= len(h.users) {
		for id := range r.members {
			if _, ok := h.users[id]; ok {
				n++
			}
		}
		return n
	}
	for id := range h.users {
		if _, ok := r.members[id]; ok {
			n++
		}
	}
	return n
}

// roomOpKind is the change a roomOp makes.
type roomOpKind int

const (
	opJoin roomOpKind = iota
	opCreate
	opPart
	opInvite
	opKick
	opBan
	opUnban
	opOp
	opDeop
	opTopic
)

// roomOp changes a room or its membership. It is sequenced so that the
// change takes one place among the room's messages: a member removed by
// it receives nothing of the room committed after it, and one added by it
// everything committed after it.
type roomOp struct {
	s       *session
	kind    roomOpKind
	conv    ConvID
	name    string // the room's name as typed, normalised (join, create)
	private bool   // create
	target  UserID
	tname   string // the target's handle
	text    string // topic or reason
	res     chan roomResult
	// change is what the other nodes of a cluster are told once it is
	// applied (nil: nothing changed).
	change *roomChange
}

type roomResult struct {
	conv  Conversation
	lines []string
	err   error
}

func (*roomOp) isOp() {}

// taken refuses a name without saying why: the room in the way may be
// private.
func taken(name string) error {
	return fmt.Errorf("%w: %s is taken; pick another name", ErrNameTaken, name)
}

// notIn refuses an act on a room the user is not a member of, naming only
// what they typed, so that it reads the same whether the room exists.
func notIn(conv ConvID) error {
	return fmt.Errorf("%w: you are not in %s", ErrNotAllowed, SanitizeText(clipRunes(string(conv), 32)))
}

// applyRoom applies a roomOp (changeRoom), then tells the other nodes of
// a cluster what changed.
func (h *Hub) applyRoom(o *roomOp) roomResult {
	res := h.changeRoom(o)
	if o.change != nil {
		h.publish(evRoom, o.change)
	}
	return res
}

// changed records the change o made, for the other nodes (applyRoom).
func (o *roomOp) changed(op string, target UserID, reason string) {
	o.change = &roomChange{Conv: o.conv, Op: op, Actor: o.s.user, Target: target, Reason: reason}
}

// changeRoom checks a roomOp against the room's state, writes the change
// with its history line, updates the state and tells those concerned.
func (h *Hub) changeRoom(o *roomOp) roomResult {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	me := o.s.user
	var myHandle string
	h.locked(func() {
		if u, ok := h.users[me]; ok {
			myHandle = u.handle
		}
	})
	if myHandle == "" {
		return roomResult{err: ErrClosed}
	}
	r, err := h.room(ctx, o.conv)
	if err != nil {
		return roomResult{err: err}
	}
	now := h.opts.Now()
	notice := func(body string) *model.Message {
		return &model.Message{Conv: string(o.conv), SenderID: uint64(me), SenderHandle: myHandle, Kind: model.KindSystem, Body: body, CreatedAt: now}
	}
	if o.kind == opCreate || (o.kind == opJoin && r == nil) {
		return h.createRoom(ctx, o, myHandle, notice)
	}
	if r == nil {
		if o.kind == opJoin {
			return roomResult{err: taken(o.name)}
		}
		return roomResult{err: notIn(o.conv)}
	}
	var (
		role, trole      Role
		member, tmember  bool
		banned, tinvited bool
		invited          bool
		private, tbanned bool
		owner            UserID
		name             string
	)
	h.locked(func() {
		role, member = r.members[me]
		trole, tmember = r.members[o.target]
		banned, tbanned, tinvited = r.banned[me], r.banned[o.target], r.invited[o.target]
		invited = r.invited[me]
		private, owner, name = r.private, r.owner, r.name
	})
	if o.kind == opJoin {
		switch {
		case member:
			var c Conversation
			h.locked(func() { c = r.conversation(me) })
			return roomResult{conv: c, lines: []string{"you are already in " + name}}
		case private && (banned || !invited && owner != me):
			return roomResult{err: taken(o.name)}
		case banned:
			return roomResult{err: fmt.Errorf("%w: you are banned from %s", ErrNotAllowed, name)}
		}
		jr := RoleMember
		if owner == me {
			jr = RoleOwner
		}
		n := notice(myHandle + " joined")
		if err := h.wrote(h.store.JoinRoom(ctx, r.id, uint64(me), int(jr), n), "/join", "you did not join "+name); err != nil {
			return roomResult{err: err}
		}
		var c Conversation
		h.locked(func() {
			r.members[me] = jr
			delete(r.invited, me)
			c = r.conversation(me)
			h.toUserLocked(me, ConversationEvent{Conversation: c})
			h.publishRoomNoticeLocked(r, n)
		})
		o.changed("join", me, "")
		return roomResult{conv: c}
	}
	if !member {
		return roomResult{err: notIn(o.conv)}
	}
	cmd := [...]string{opPart: "/part", opInvite: "/invite", opKick: "/kick", opBan: "/ban", opUnban: "/unban", opOp: "/op", opDeop: "/deop", opTopic: "/topic"}[o.kind]
	needOp := func() error {
		if role < RoleOperator {
			return fmt.Errorf("%w: only operators of %s can %s", ErrNotAllowed, name, cmd)
		}
		return nil
	}
	outranks := func() error {
		if o.target == me {
			return fmt.Errorf("%w: you cannot %s yourself", ErrNotAllowed, cmd)
		}
		if o.target == owner || tmember && trole >= role {
			return fmt.Errorf("%w: %s outranks you or is your equal in %s", ErrNotAllowed, o.tname, name)
		}
		return nil
	}
	switch o.kind {
	case opPart:
		n := notice(myHandle + " left")
		if err := h.wrote(h.store.LeaveRoom(ctx, r.id, uint64(me), n), "/part", "you are still in "+name); err != nil {
			return roomResult{err: err}
		}
		h.locked(func() {
			delete(r.members, me)
			h.removedLocked(me, ConversationEvent{Conversation: Conversation{ID: r.conv, Kind: KindRoom, Name: name}, Removed: true, Reason: "you left " + name})
			h.publishRoomNoticeLocked(r, n)
		})
		o.changed("part", me, "you left "+name)
		return roomResult{lines: []string{"you left " + name}}
	case opInvite:
		if private {
			if err := needOp(); err != nil {
				return roomResult{err: fmt.Errorf("%w: only operators can invite to %s", ErrNotAllowed, name)}
			}
		}
		switch {
		case tmember:
			return roomResult{err: fmt.Errorf("%w: %s is already in %s", ErrAlreadyListed, o.tname, name)}
		case tbanned:
			return roomResult{err: fmt.Errorf("%w: %s is banned from %s; /unban %s first", ErrNotAllowed, o.tname, name, o.tname)}
		case tinvited:
			return roomResult{err: fmt.Errorf("%w: %s is already invited to %s", ErrAlreadyListed, o.tname, name)}
		}
		n := notice(myHandle + " invited " + o.tname)
		if err := h.wrote(h.store.InviteToRoom(ctx, r.id, uint64(o.target), uint64(me), n), "/invite", o.tname+" was not invited"); err != nil {
			return roomResult{err: err}
		}
		reason := myHandle + " invited you to " + name + "; /join " + name + " to join"
		h.locked(func() {
			r.invited[o.target] = true
			h.toUserLocked(o.target, ConversationEvent{Conversation: r.conversation(o.target), Reason: reason})
			h.publishRoomNoticeLocked(r, n)
		})
		o.changed("invite", o.target, reason)
		return roomResult{lines: []string{"invited " + o.tname + " to " + name}}
	case opKick:
		if err := needOp(); err != nil {
			return roomResult{err: err}
		}
		if !tmember {
			return roomResult{err: fmt.Errorf("%w: %s is not in %s", ErrNotListed, o.tname, name)}
		}
		if err := outranks(); err != nil {
			return roomResult{err: err}
		}
		line := withReason(myHandle+" kicked "+o.tname, o.text)
		n := notice(line)
		if err := h.wrote(h.store.LeaveRoom(ctx, r.id, uint64(o.target), n), "/kick", o.tname+" is still in "+name); err != nil {
			return roomResult{err: err}
		}
		reason := withReason(myHandle+" kicked you from "+name, o.text)
		h.locked(func() {
			delete(r.members, o.target)
			h.removedLocked(o.target, ConversationEvent{Conversation: Conversation{ID: r.conv, Kind: KindRoom, Name: name}, Removed: true,
				Reason: reason})
			h.publishRoomNoticeLocked(r, n)
		})
		o.changed("kick", o.target, reason)
		return roomResult{}
	case opBan:
		if err := needOp(); err != nil {
			return roomResult{err: err}
		}
		if tbanned {
			return roomResult{err: fmt.Errorf("%w: %s is already banned from %s", ErrAlreadyListed, o.tname, name)}
		}
		if err := outranks(); err != nil {
			return roomResult{err: err}
		}
		n := notice(withReason(myHandle+" banned "+o.tname, o.text))
		if err := h.wrote(h.store.BanFromRoom(ctx, r.id, uint64(o.target), uint64(me), o.text, n), "/ban", o.tname+" is not banned"); err != nil {
			return roomResult{err: err}
		}
		reason := "" // told only to a member or an invited user
		if tmember || tinvited {
			reason = withReason(myHandle+" banned you from "+name, o.text)
		}
		h.locked(func() {
			delete(r.members, o.target)
			delete(r.invited, o.target)
			r.banned[o.target] = true
			if reason != "" {
				h.removedLocked(o.target, ConversationEvent{Conversation: Conversation{ID: r.conv, Kind: KindRoom, Name: name}, Removed: true,
					Reason: reason})
			}
			h.publishRoomNoticeLocked(r, n)
		})
		o.changed("ban", o.target, reason)
		return roomResult{}
	case opUnban:
		if err := needOp(); err != nil {
			return roomResult{err: err}
		}
		if !tbanned {
			return roomResult{err: fmt.Errorf("%w: %s is not banned from %s", ErrNotListed, o.tname, name)}
		}
		n := notice(myHandle + " unbanned " + o.tname)
		if err := h.wrote(h.store.UnbanFromRoom(ctx, r.id, uint64(o.target), n), "/unban", o.tname+" is still banned"); err != nil {
			return roomResult{err: err}
		}
		h.locked(func() {
			delete(r.banned, o.target)
			h.publishRoomNoticeLocked(r, n)
		})
		o.changed("unban", o.target, "")
		return roomResult{}
	case opOp, opDeop:
		if role != RoleOwner {
			return roomResult{err: fmt.Errorf("%w: only the owner of %s can %s", ErrNotAllowed, name, cmd)}
		}
		if !tmember {
			return roomResult{err: fmt.Errorf("%w: %s is not in %s", ErrNotListed, o.tname, name)}
		}
		if o.target == me {
			return roomResult{err: fmt.Errorf("%w: you own %s", ErrNotAllowed, name)}
		}
		want, line := RoleOperator, myHandle+" made "+o.tname+" an operator"
		if o.kind == opDeop {
			want, line = RoleMember, myHandle+" took operator from "+o.tname
		}
		if trole == want {
			return roomResult{lines: []string{"nothing to change: " + o.tname + " is " + roleName(want) + " of " + name}}
		}
		n := notice(line)
		if err := h.wrote(h.store.SetRoomRole(ctx, r.id, uint64(o.target), int(want), n), cmd, "nothing was changed"); err != nil {
			return roomResult{err: err}
		}
		h.locked(func() {
			r.members[o.target] = want
			h.toUserLocked(o.target, ConversationEvent{Conversation: r.conversation(o.target)})
			h.publishRoomNoticeLocked(r, n)
		})
		o.changed(cmd[1:], o.target, "")
		return roomResult{}
	case opTopic:
		if err := needOp(); err != nil {
			return roomResult{err: err}
		}
		line := myHandle + " set the topic: " + o.text
		if o.text == "" {
			line = myHandle + " cleared the topic"
		}
		n := notice(line)
		if err := h.wrote(h.store.SetRoomTopic(ctx, r.id, o.text, n), "/topic", "the topic was not changed"); err != nil {
			return roomResult{err: err}
		}
		h.locked(func() {
			r.topic = o.text
			for id := range r.members {
				h.toUserLocked(id, ConversationEvent{Conversation: r.conversation(id)})
			}
			h.publishRoomNoticeLocked(r, n)
		})
		o.changed("topic", 0, "")
		return roomResult{}
	}
	return roomResult{err: fmt.Errorf("room op %d: %w", o.kind, ErrUsage)}
}

// createRoom creates the room o names with the user as its owner.
func (h *Hub) createRoom(ctx context.Context, o *roomOp, myHandle string, notice func(string) *model.Message) roomResult {
	key, _ := roomKey(o.conv)
	if reservedRoom(key) {
		return roomResult{err: taken(o.name)}
	}
	kind := "public"
	if o.private {
		kind = "private"
	}
	n := notice(myHandle + " created " + o.name + " (" + kind + ")")
	rm := model.Room{Name: o.name, NameKey: key, Private: o.private, OwnerID: uint64(o.s.user), CreatedAt: h.opts.Now()}
	err := h.store.CreateRoom(ctx, &rm, n)
	if errors.Is(err, model.ErrConflict) {
		return roomResult{err: taken(o.name)}
	}
	if err := h.wrote(err, "create room", o.name+" was not created"); err != nil {
		return roomResult{err: err}
	}
	r := newRoomState(model.RoomState{Room: rm, Members: []model.RoomMember{{UserID: uint64(o.s.user), Role: model.RoleOwner}}})
	var c Conversation
	h.locked(func() {
		if cur, ok := h.rooms[r.conv]; ok {
			r = cur // loaded by a reader after the commit: the same state
		} else {
			h.rooms[r.conv] = r
		}
		c = r.conversation(o.s.user)
		h.toUserLocked(o.s.user, ConversationEvent{Conversation: c})
		h.publishRoomNoticeLocked(r, n)
	})
	o.changed("create", o.s.user, "")
	h.log.Info("room created", "user", o.s.user, "room", o.name, "private", o.private)
	return roomResult{conv: c}
}

// publishRoomNoticeLocked publishes a stored history line of the room to
// its members (Hub.mu held; the line was written by the sequencer, in ID
// order, so the recent cache takes it).
func (h *Hub) publishRoomNoticeLocked(r *roomState, n *model.Message) {
	r.fan = nil // every change of the room comes with a notice
	if h.clustered() {
		// Published and fanned out in its conversation's order after the
		// op (clusterFlush, cluster_order.go).
		h.core.lines = append(h.core.lines, noticeLine(r, n))
		return
	}
	m := toMessage(*n)
	h.recent.add(m)
	h.roomFanoutLocked(r, m)
	h.quietFanOutLocked(&sendOp{room: r}, m) // a line of its history, like a message
}

// removedLocked tells every session of a user removed from a room, ev's
// (Removed): their sessions of Connect, and those of Attach that follow
// the room, which stop following it (Hub.mu held).
func (h *Hub) removedLocked(id UserID, ev ConversationEvent) {
	h.toUserLocked(id, ev)
	q, ok := h.quiet.users[id]
	if !ok {
		return
	}
	for s := range q.sessions {
		if f := h.quiet.follows[s]; f[ev.Conversation.ID] {
			delete(f, ev.Conversation.ID)
			s.push(ev)
		}
	}
}

func withReason(line, reason string) string {
	if reason == "" {
		return line
	}
	return line + ": " + reason
}

// roleName names a role as a sentence uses it.
func roleName(r Role) string {
	switch r {
	case RoleOwner:
		return "the owner"
	case RoleOperator:
		return "an operator"
	}
	return "a member"
}
