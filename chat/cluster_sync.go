package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"sshchat/model"
)

// State changes made on other nodes (cluster.go says how events travel).
// Every node holds in memory some state the store also keeps: rooms'
// members, users' block lists, bans and mutes. A node that changes one
// publishes an event after its commit; the others apply it in their
// sequencer (remoteOp), re-reading what they hold from the store, which
// stays the truth, and telling their own sessions what a local change
// would have told them. Changes with nothing in memory (settings, edits,
// read markers, removed keys, the allowlist file) only tell sessions or
// the server.
//
// Event kinds published here; each body is the struct named.
const (
	evRoom       = "room"        // roomChange: a room's state changed
	evList       = "list"        // userRef: a user's contacts or blocks changed
	evMod        = "mod"         // modChange: a ban, unban, mute, unmute or kick
	evSetting    = "setting"     // userRef: a user's settings changed
	evEdit       = "edit"        // editChange: a message was edited or deleted
	evRead       = "read"        // readChange: a user read a conversation
	evKeyRemoved = "key-removed" // keyRef: a user removed one of their keys
	evAllowlist  = "allowlist"   // no body: the authorized-keys file was edited
)

// syncTimeout bounds the store reads of applying another node's change.
const syncTimeout = 10 * time.Second

// roomChange is a room change as the node that made it tells the others:
// what to tell whom. The room's state itself is re-read from the store.
type roomChange struct {
	Conv   ConvID `json:"c"`
	Op     string `json:"op"` // join, create, part, invite, kick, ban, unban, op, deop, topic
	Actor  UserID `json:"a"`
	Target UserID `json:"t,omitempty"`
	// Reason is the line the target is told (a removal, an invitation);
	// for a ban, empty when the target was neither member nor invited.
	Reason string `json:"r,omitempty"`
}

// userRef names a user whose lists or settings changed.
type userRef struct {
	User UserID `json:"u"`
}

// modChange is a moderation action; bans and mutes are re-read from the
// store, the sessions it ends are named here.
type modChange struct {
	Action string   `json:"a"` // ban, unban, mute, unmute, kick
	User   UserID   `json:"u,omitempty"`
	Keys   []string `json:"k,omitempty"` // ban: the keys banned; kick: the user's keys
	Line   string   `json:"l,omitempty"` // what ended sessions are told, or the notice
}

// editChange is a message as it reads after an edit or a deletion.
type editChange struct {
	Message Message `json:"m"`
}

// readChange is a read marker of a user.
type readChange struct {
	User UserID    `json:"u"`
	Conv ConvID    `json:"c"`
	UpTo MessageID `json:"i"`
}

// keyRef names a key removed from its account.
type keyRef struct {
	Fingerprint string `json:"f"`
}

// applySynced applies the events of this file; false: not one of them.
func (h *Hub) applySynced(ev busEvent) bool {
	switch ev.Kind {
	case evRoom:
		var c roomChange
		if h.decodeBody(ev, &c) {
			h.remoteRoom(c)
		}
	case evList:
		var u userRef
		if h.decodeBody(ev, &u) {
			h.remoteList(u.User)
		}
	case evMod:
		var c modChange
		if h.decodeBody(ev, &c) {
			h.remoteMod(c)
		}
	case evSetting:
		var u userRef
		if h.decodeBody(ev, &u) {
			h.remoteSettings(u.User)
		}
	case evEdit:
		var c editChange
		if h.decodeBody(ev, &c) {
			h.remoteEdit(c.Message)
		}
	case evRead:
		var c readChange
		if h.decodeBody(ev, &c) {
			h.locked(func() { h.readLocked(c.User, nil, c.Conv, c.UpTo) })
		}
	case evKeyRemoved:
		var k keyRef
		if h.decodeBody(ev, &k) && h.opts.KeyRemoved != nil && k.Fingerprint != "" {
			h.opts.KeyRemoved(k.Fingerprint)
		}
	case evAllowlist:
		if h.opts.AllowlistChanged != nil {
			h.opts.AllowlistChanged()
		}
	default:
		return false
	}
	return true
}

// remoteLine is called in the sequencer, with Hub.mu not held, just before
// a message another node committed is fanned out here, so that a line of
// record (a room's join, kick, topic...; a rename) changes this node's
// state first: a room loaded here is re-read from the store (its members
// then are those the store has, at least as new as the line), and a
// rename takes effect as a local one does. Telling the sessions concerned
// is left to the room event (remoteRoom), which says whom; a line alone
// does not.
func (h *Hub) remoteLine(m Message, stored bool) {
	switch {
	case m.Kind == KindSystem && m.Conv != Lobby:
		h.mu.Lock()
		_, loaded := h.rooms[m.Conv]
		h.mu.Unlock()
		if !loaded {
			return // read from the store, change included, at first use
		}
		st, ok := h.readRoom(m.Conv)
		if !ok {
			return
		}
		if stored {
			// Read back from the store (a gap, an outage): the room
			// event telling who is concerned was probably lost with
			// it, so what changed is told here. The store may be ahead
			// of this line, so the line is not the reason given.
			h.locked(func() { h.resyncRoomLocked(m.Conv, st, "") })
			return
		}
		h.locked(func() { h.syncRoomLocked(m.Conv, st) })
	case m.Kind == KindRename:
		h.remoteRename(m)
	}
}

// readRoom reads a room's state from the store (Hub.mu not held).
func (h *Hub) readRoom(conv ConvID) (model.RoomState, bool) {
	key, ok := roomKey(conv)
	if !ok {
		return model.RoomState{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	st, err := h.store.RoomState(ctx, key)
	if err != nil {
		if !errors.Is(err, model.ErrNotFound) {
			h.log.Warn("bus: reload room", "room", conv, "err", err)
		}
		return model.RoomState{}, false
	}
	return st, true
}

// syncRoomLocked installs the stored state st of room conv, in place when
// the room is loaded (sends in flight hold it), and returns it (Hub.mu
// held, in the sequencer).
func (h *Hub) syncRoomLocked(conv ConvID, st model.RoomState) *roomState {
	next := newRoomState(st)
	r, ok := h.rooms[conv]
	if !ok {
		h.rooms[conv] = next
		return next
	}
	r.id, r.name, r.private, r.topic, r.owner = next.id, next.name, next.private, next.topic, next.owner
	r.members, r.invited, r.banned = next.members, next.invited, next.banned
	r.fan = nil
	return r
}

// remoteRoom applies a room change made on another node: the room is
// re-read from the store and installed, then the sessions here of those
// concerned are told what applyRoom tells them on its node.
func (h *Hub) remoteRoom(c roomChange) {
	st, ok := h.readRoom(c.Conv)
	if !ok {
		return
	}
	h.locked(func() {
		r := h.syncRoomLocked(c.Conv, st)
		gone := ConversationEvent{Conversation: Conversation{ID: r.conv, Kind: KindRoom, Name: r.name}, Removed: true, Reason: c.Reason}
		switch c.Op {
		case "join", "create":
			if r.isMember(c.Actor) {
				h.toUserLocked(c.Actor, ConversationEvent{Conversation: r.conversation(c.Actor)})
			}
		case "part":
			h.removedLocked(c.Actor, gone)
		case "kick":
			h.removedLocked(c.Target, gone)
		case "ban":
			if c.Reason != "" {
				h.removedLocked(c.Target, gone)
			}
		case "invite":
			if r.invited[c.Target] {
				h.toUserLocked(c.Target, ConversationEvent{Conversation: r.conversation(c.Target), Reason: c.Reason})
			}
		case "op", "deop":
			if r.isMember(c.Target) {
				h.toUserLocked(c.Target, ConversationEvent{Conversation: r.conversation(c.Target)})
			}
		case "topic":
			for id := range r.members {
				h.toUserLocked(id, ConversationEvent{Conversation: r.conversation(id)})
			}
		}
	})
}

// remoteRename applies a rename recorded on another node (its KindRename
// line: "OLD is now known as NEW"): joins sequenced after it use the new
// handle, and if the user has sessions here, they and everyone here are
// told as on the node that made it. It is the one place a rename made
// elsewhere reaches the renamed user's sessions here (their presence
// event only updates the cluster's roster), and it does nothing twice.
func (h *Hub) remoteRename(m Message) {
	old, nu, ok := strings.Cut(m.Body, " is now known as ")
	if !ok || nu == "" {
		h.log.Warn("bus: unreadable rename line", "id", m.ID)
		return
	}
	h.renamed[m.From] = nu
	h.recent.reset() // cached lines carry the old handle
	h.locked(func() {
		if q, ok := h.quiet.users[m.From]; ok {
			q.handle = nu
		}
		if u, ok := h.users[m.From]; ok && u.handle != nu {
			u.handle = nu
			h.publishPresenceLocked(PresenceEvent{Presence: u.presence(), OldHandle: old})
			h.toUserLocked(m.From, NoticeEvent{Text: "you are now known as " + nu})
		}
	})
}

// remoteList installs a user's block list and contact list after another
// node changed them, for their sessions here (changeList's second half).
func (h *Hub) remoteList(id UserID) {
	h.mu.Lock()
	_, online := h.users[id]
	_, quiet := h.quiet.users[id]
	h.mu.Unlock()
	if !online && !quiet {
		return // read from the store at their next session
	}
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	blocked, contacts, err := h.contacts(ctx, id)
	if err != nil {
		h.log.Warn("bus: reload contacts", "user", id, "err", err)
		return
	}
	h.locked(func() { h.installListsLocked(id, blocked, contacts) })
}

// installListsLocked installs a user's block list and tells their
// sessions their contact list (Hub.mu held, in the sequencer).
func (h *Hub) installListsLocked(id UserID, blocked []uint64, contacts []Contact) {
	if u, ok := h.users[id]; ok {
		u.blocked = make(map[UserID]bool, len(blocked))
		for _, b := range blocked {
			u.blocked[UserID(b)] = true
		}
	}
	h.toUserLocked(id, ContactsEvent{Contacts: contacts})
	h.quietBlockedLocked(id, blocked) // sessions of Attach (attach.go)
}

// remoteMod applies a moderation action taken on another node: the bans
// and mutes in force are re-read from the store, then the sessions here
// of a banned or kicked key end, or a muted user is told.
func (h *Hub) remoteMod(c modChange) {
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	var next moderation
	if err := next.load(ctx, h.store); err != nil {
		h.log.Warn("bus: reload bans and mutes", "action", c.Action, "err", err)
		return
	}
	end := c.Action == "ban" || c.Action == "kick"
	h.locked(func() {
		h.mod.mu.Lock()
		h.mod.bans, h.mod.mutes = next.bans, next.mutes
		h.mod.mu.Unlock()
		switch {
		case end && c.User != 0:
			var fps map[string]bool // kick: every session of the user
			if c.Action == "ban" {
				fps = make(map[string]bool, len(c.Keys))
				for _, fp := range c.Keys {
					fps[fp] = true
				}
			}
			h.endUserLocked(c.User, fps, fmt.Errorf("%w: %s", ErrRemoved, c.Line))
		case (c.Action == "mute" || c.Action == "unmute") && c.Line != "":
			h.toUserLocked(c.User, NoticeEvent{Text: c.Line})
		}
	})
	if end {
		h.endKeys(c.Keys, c.Line)
	}
}

// remoteSettings tells a user's sessions here their settings after
// another node stored a change.
func (h *Hub) remoteSettings(id UserID) {
	h.mu.Lock()
	_, online := h.users[id]
	h.mu.Unlock()
	if !online {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	st := h.loadSettings(ctx, id)
	h.locked(func() { h.toUserLocked(id, SettingsEvent{Settings: st}) })
}

// remoteEdit tells the sessions here that could see a message that
// another node edited or deleted it.
func (h *Hub) remoteEdit(m Message) {
	var room *roomState
	if _, ok := roomKey(m.Conv); ok {
		ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
		var err error
		room, err = h.room(ctx, m.Conv)
		cancel()
		if err != nil || room == nil {
			if err != nil {
				h.log.Warn("bus: edit in a room", "room", m.Conv, "err", err)
			}
			return
		}
	}
	h.locked(func() {
		h.recent.reset() // a stored message now reads differently
		h.editFanoutLocked(room, m)
	})
}

// readLocked tells the sessions of user (but not except) that conv was
// read up to upTo (Hub.mu held).
func (h *Hub) readLocked(user UserID, except *session, conv ConvID, upTo MessageID) {
	if u, ok := h.users[user]; ok {
		for o := range u.sessions {
			if o != except {
				o.push(ReadEvent{Conv: conv, UpTo: upTo})
			}
		}
	}
}

// allowlistChanged tells this node's server and the other nodes that the
// authorized-keys file was edited, so that each re-reads it at once and
// ends the sessions it no longer admits (Options.AllowlistChanged).
func (h *Hub) allowlistChanged() {
	if h.opts.AllowlistChanged != nil {
		h.opts.AllowlistChanged()
	}
	h.publish(evAllowlist, struct{}{})
}

// resync re-reads from the store the state other nodes may have changed
// while this one did not hear them (the bus was down): bans and mutes
// (ending the sessions of keys banned meanwhile), the rooms loaded here
// (telling members what changed for them) and the block lists of the
// users with sessions here. It runs in the sequencer.
func (h *Hub) resync() {
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	var next moderation
	if err := next.load(ctx, h.store); err != nil {
		h.log.Warn("bus: reload bans and mutes", "err", err)
	} else {
		ended := map[string]string{} // fingerprint: line
		h.locked(func() {
			h.mod.mu.Lock()
			h.mod.bans, h.mod.mutes = next.bans, next.mutes
			h.mod.mu.Unlock()
			end := func(u *userState) {
				for s := range u.sessions {
					if b, banned := h.Banned(s.fp); banned {
						s.drop(bannedErr(b))
						ended[s.fp] = "this key is " + b.Line()
					}
				}
			}
			for _, u := range h.users {
				end(u)
			}
			for _, q := range h.quiet.users {
				end(q)
			}
		})
		for fp, line := range ended {
			h.endKeys([]string{fp}, line)
		}
	}

	h.mu.Lock()
	convs := make([]ConvID, 0, len(h.rooms))
	for c := range h.rooms {
		convs = append(convs, c)
	}
	ids := make([]UserID, 0, len(h.users)+len(h.quiet.users))
	for id := range h.users {
		ids = append(ids, id)
	}
	for id, q := range h.quiet.users {
		if _, on := h.users[id]; !on && len(q.sessions) > 0 {
			ids = append(ids, id)
		}
	}
	h.mu.Unlock()
	for _, conv := range convs {
		if st, ok := h.readRoom(conv); ok {
			h.locked(func() { h.resyncRoomLocked(conv, st, "") })
		}
	}
	for _, id := range ids {
		h.resyncLists(id)
	}
}

// resyncLists re-reads one user's block list and, if it changed, installs
// it with the contact list (resync). Each user has a deadline of their
// own, so that a slow store cannot leave the users after it unread.
func (h *Hub) resyncLists(id UserID) {
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	blocked, err := h.store.BlockedBy(ctx, uint64(id))
	if err != nil {
		h.log.Warn("bus: reload block list", "user", id, "err", err)
		return
	}
	same := true
	h.locked(func() {
		cur := map[UserID]bool(nil)
		if u, ok := h.users[id]; ok {
			cur = u.blocked
		} else if q, ok := h.quiet.users[id]; ok {
			cur = q.blocked
		}
		same = len(cur) == len(blocked)
		for _, b := range blocked {
			same = same && cur[UserID(b)]
		}
	})
	if same {
		return
	}
	blocked, contacts, err := h.contacts(ctx, id)
	if err != nil {
		h.log.Warn("bus: reload contacts", "user", id, "err", err)
		return
	}
	h.locked(func() { h.installListsLocked(id, blocked, contacts) })
}

// resyncRoomLocked installs a room's stored state and tells the members
// here what changed for them since the state it replaces: removal (with
// reason when not empty), a new membership, invitation or role, or a new
// topic (Hub.mu held).
func (h *Hub) resyncRoomLocked(conv ConvID, st model.RoomState, reason string) {
	r := h.rooms[conv]
	oldMembers, oldInvited, oldTopic := r.members, r.invited, r.topic
	h.syncRoomLocked(conv, st)
	for id := range oldMembers {
		if !r.isMember(id) {
			why := reason
			if why == "" {
				why = "you are no longer in " + r.name
			}
			h.removedLocked(id, ConversationEvent{Conversation: Conversation{ID: r.conv, Kind: KindRoom, Name: r.name}, Removed: true,
				Reason: why})
		}
	}
	for id := range oldInvited {
		if !r.invited[id] && !r.isMember(id) {
			h.removedLocked(id, ConversationEvent{Conversation: Conversation{ID: r.conv, Kind: KindRoom, Name: r.name}, Removed: true,
				Reason: "your invitation to " + r.name + " was withdrawn"})
		}
	}
	for id, role := range r.members {
		if old, was := oldMembers[id]; !was || old != role || r.topic != oldTopic {
			h.toUserLocked(id, ConversationEvent{Conversation: r.conversation(id)})
		}
	}
	for id := range r.invited {
		if !oldInvited[id] {
			h.toUserLocked(id, ConversationEvent{Conversation: r.conversation(id)})
		}
	}
}
