package chat

// snapshot.go builds what a session starts from: the user, their contacts
// and blocks, conversations with unread counts, rooms, settings and the
// offline batch.

import (
	"context"

	"sshchat/model"
)

// snapshot builds a session's starting state.
func (h *Hub) snapshot(ctx context.Context, me UserID, batch model.OfflineBatch) (Snapshot, error) {
	u, err := h.store.UserByID(ctx, uint64(me))
	if err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{Me: Account{ID: me, Handle: u.Handle}}
	hidden, contacts, err := h.contacts(ctx, me)
	if err != nil {
		return Snapshot{}, err
	}
	snap.Contacts = contacts
	snap.Settings = h.loadSettings(ctx, me)

	h.mu.Lock()
	snap.Online = h.roster // shared, not copied
	h.mu.Unlock()

	convs, err := h.store.Conversations(ctx, uint64(me))
	if err != nil {
		return Snapshot{}, err
	}
	rooms, err := h.store.RoomsOf(ctx, uint64(me))
	if err != nil {
		return Snapshot{}, err
	}
	ids := []string{string(Lobby)}
	member := map[ConvID]bool{Lobby: true} // rooms whose mentions count
	roomIDs := []string{string(Lobby)}
	for _, r := range rooms {
		if !r.Invited {
			c := model.RoomConv(r.Room.NameKey)
			ids = append(ids, c)
			roomIDs = append(roomIDs, c)
			member[ConvID(c)] = true
		}
	}
	for _, c := range convs {
		ids = append(ids, c.Conv)
	}
	// Counts are read from the markers in the store: write the user's
	// pending ones first (a failed write leaves counts a little high).
	_ = h.marks.flushUser(ctx, h, me)
	unread, err := h.store.Unread(ctx, uint64(me), ids, hidden)
	if err != nil {
		return Snapshot{}, err
	}
	mentions, err := h.store.MentionCounts(ctx, uint64(me), roomIDs, hidden)
	if err != nil {
		return Snapshot{}, err
	}
	snap.Conversations = make([]Conversation, 0, 1+len(rooms)+len(convs))
	snap.Conversations = append(snap.Conversations, Conversation{ID: Lobby, Kind: KindRoom, Name: string(Lobby),
		Unread: unread[string(Lobby)], Mentions: mentions[string(Lobby)]})
	for _, r := range rooms { // joined, then invited, each by key
		c := Conversation{ID: RoomConv(r.Room.NameKey), Kind: KindRoom, Name: r.Room.Name, Topic: r.Room.Topic,
			Private: r.Room.Private, Invited: r.Invited}
		if !r.Invited {
			c.Role, c.Unread, c.Mentions = Role(r.Role), unread[string(c.ID)], mentions[string(c.ID)]
		}
		snap.Conversations = append(snap.Conversations, c)
	}
	for _, c := range convs {
		name := h.handleOf(ctx, UserID(c.PeerID))
		snap.Conversations = append(snap.Conversations, Conversation{
			ID: ConvID(c.Conv), Kind: KindDirect, Name: name, Peer: UserID(c.PeerID), Unread: unread[c.Conv],
		})
	}
	names := make(map[ConvID]string, len(rooms)+1)
	names[Lobby] = string(Lobby)
	for _, r := range rooms {
		names[RoomConv(r.Room.NameKey)] = r.Room.Name
	}

	// Messages from someone blocked after they were queued are not shown
	// (they stay in the claim and are acknowledged with the rest, or by
	// Connect when nothing is shown), nor
	// mentions in a room the user has left since.
	blocked := make(map[UserID]bool, len(hidden))
	for _, id := range hidden {
		blocked[UserID(id)] = true
	}
	type groupKey struct {
		from UserID // direct messages: the sender
		conv ConvID // room mentions: the room
	}
	groups := map[groupKey]*OfflineGroup{}
	var order []groupKey
	for _, m := range batch.Messages {
		from := UserID(m.SenderID)
		if blocked[from] {
			continue
		}
		conv := ConvID(m.Conv)
		k := groupKey{from: from}
		if _, dm := directPeer(conv, me); !dm {
			if !member[conv] {
				continue
			}
			k = groupKey{conv: conv}
		}
		g, ok := groups[k]
		if !ok {
			if k.conv != "" {
				g = &OfflineGroup{Conv: conv, Room: true, Name: names[conv], Count: batch.RoomCounts[m.Conv]}
			} else {
				g = &OfflineGroup{From: from, FromHandle: h.handleOf(ctx, from), Conv: conv, Count: batch.Counts[m.SenderID]}
			}
			groups[k] = g
			order = append(order, k)
		}
		g.Messages = append(g.Messages, toMessage(m))
	}
	// Senders and rooms whose messages were all beyond the display limit
	// still count.
	for id, n := range batch.Counts {
		k := groupKey{from: UserID(id)}
		if _, ok := groups[k]; !ok && !blocked[UserID(id)] {
			groups[k] = &OfflineGroup{From: UserID(id), FromHandle: h.handleOf(ctx, UserID(id)), Conv: DirectConv(me, UserID(id)), Count: n}
			order = append(order, k)
		}
	}
	for conv, n := range batch.RoomCounts {
		k := groupKey{conv: ConvID(conv)}
		if _, ok := groups[k]; !ok && member[ConvID(conv)] {
			groups[k] = &OfflineGroup{Conv: ConvID(conv), Room: true, Name: names[ConvID(conv)], Count: n}
			order = append(order, k)
		}
	}
	for _, k := range order {
		snap.Offline = append(snap.Offline, *groups[k])
	}
	return snap, nil
}

// contacts returns the user's blocked IDs and contact list with presence.
func (h *Hub) contacts(ctx context.Context, me UserID) ([]uint64, []Contact, error) {
	blocked, err := h.store.BlockedBy(ctx, uint64(me))
	if err != nil {
		return nil, nil, err
	}
	bset := map[uint64]bool{}
	for _, b := range blocked {
		bset[b] = true
	}
	users, err := h.store.ContactsOf(ctx, uint64(me))
	if err != nil {
		return nil, nil, err
	}
	out := make([]Contact, 0, len(users))
	h.mu.Lock()
	for _, u := range users {
		p := Presence{User: UserID(u.ID), Handle: u.Handle, LastSeen: h.seen.of(UserID(u.ID), u.LastSeen)}
		if o, ok := h.presenceLocked(UserID(u.ID)); ok {
			p = o
		}
		out = append(out, Contact{Presence: p, Blocked: bset[u.ID]})
	}
	h.mu.Unlock()
	return blocked, out, nil
}
