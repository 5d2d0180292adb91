package chat

import (
	"context"
	"fmt"
	"time"

	"sshchat/model"
)

// Messages across nodes. Every message a node commits (a send's group
// commit, a room's line of record, a rename line) is published on the bus
// as a line (evLine) after its commit, with what the others need to route
// it by their own rules. Every line a node fans out, its own and the
// others', passes through one orderer per conversation (order), which
// delivers a message only after the one its Prev names: the store chains
// each conversation's messages in commit order (model.Message.Prev), so
// every node shows each conversation in the stored order. A line whose
// predecessor has not come is held; after gapWait, or when too many are
// held, the gap is read from the store (which has it: Prev commits first),
// so a line lost on the bus, or never published by a node that died
// between its commit and its publish, is still shown.

// Event kinds of this file.
const (
	evLine = "line" // a committed message (line)
)

const (
	// gapWait is how long a line waits for its predecessor on the bus
	// before the gap is read from the store.
	gapWait = 400 * time.Millisecond
	// maxHeldPerConv and maxHeld bound the lines held: past them the gap
	// is read from the store at once.
	maxHeldPerConv = 256
	maxHeld        = 4096
	// gapPage is how many messages one store read of a gap takes.
	gapPage = 256
	// maxConvs bounds how many conversations the orderer remembers; past
	// it the idle ones are forgotten (each starts again with its next
	// message).
	maxConvs = 16384
)

// line is a committed message on its way to this node's sessions, with
// what routing it needs. Its exported fields are what the bus carries.
type line struct {
	M    Message
	Prev MessageID
	// Direct conversations: the recipient, their handle at the send,
	// whether it was routed offline (nobody delivers it live) and whether
	// the recipient had blocked the sender (stored, never delivered).
	Peer       UserID     `json:",omitempty"`
	PeerHandle string     `json:",omitempty"`
	Offline    bool       `json:",omitempty"`
	PeerGone   bool       `json:",omitempty"`
	Mentions   []UserID   `json:",omitempty"`
	send       *sendOp    // a send of this node: fanned out as flushSends did
	room       *roomState // a room's line of record of this node
	remote     bool       // committed by another node
	stored     bool       // read back from the store, not heard on the bus
	node       string     // the node it was heard from (remote lines)
}

// convOrder is where one conversation's fan-out stands on this node.
// Owned by the sequencer.
type convOrder struct {
	last  MessageID           // the newest message delivered
	held  map[MessageID]*line // lines waiting for their predecessor, by Prev
	timer *time.Timer         // armed while lines are held
	armed bool
}

// orderer holds every conversation's convOrder (sequencer-owned).
type orderer struct {
	convs map[ConvID]*convOrder
	held  int
	// origin is the newest message ID in the store when the node joined
	// (raised to the newest delivered in a conversation it forgot).
	origin MessageID
	// joined is the newest message ID in the store when the node joined.
	joined MessageID
	// downMark is the newest message ID delivered when the bus went down:
	// catching up starts there in conversations never delivered here.
	downMark MessageID
	newest   MessageID
	// unsent are the conversations this node committed to while its
	// lines could not be published (the bus down).
	unsent map[ConvID]bool
}

// evictIdle forgets half of the conversations that hold nothing, the
// lobby excepted.
func (o *orderer) evictIdle() {
	n := len(o.convs) / 2
	for conv, c := range o.convs {
		if n == 0 {
			return
		}
		if conv != Lobby && len(c.held) == 0 && !c.armed {
			if c.timer != nil {
				c.timer.Stop()
			}
			o.origin = max(o.origin, c.last) // so that it is not shown again
			delete(o.convs, conv)
			n--
		}
	}
}

// gapOp asks the sequencer to read a conversation's gap from the store
// (a held line's predecessor did not come in time).
type gapOp struct{ conv ConvID }

func (*gapOp) isOp() {}

// clustered reports whether the hub is part of a cluster.
func (h *Hub) clustered() bool { return h.link.bus != nil }

// commitLine publishes a line this node committed and orders it. In the
// sequencer, Hub.mu not held.
func (h *Hub) commitLine(l *line) {
	if !h.clustered() {
		h.fanLine(l)
		return
	}
	if err := h.publish(evLine, l); err != nil || !h.core.up {
		// The others may never hear of it: named when the bus is back.
		if h.core.ord.unsent == nil {
			h.core.ord.unsent = make(map[ConvID]bool)
		}
		h.core.ord.unsent[l.M.Conv] = true
	}
	h.order(l)
}

// sendLine makes the line of a committed send.
func sendLine(s *sendOp) *line {
	l := &line{M: toMessage(s.msg), Prev: MessageID(s.msg.Prev), send: s}
	if s.peer != 0 {
		l.Peer, l.PeerHandle, l.PeerGone, l.Offline = s.peer, s.peerHandle, s.peerGone, s.msg.OfflineFor != 0
	}
	for _, mt := range s.msg.Mentions {
		l.Mentions = append(l.Mentions, UserID(mt.UserID))
	}
	return l
}

// decodeLine decodes a line another node published (nil: it is not one,
// said in the log). It runs on the bus's goroutine, off the sequencer.
func (h *Hub) decodeLine(ev busEvent) *line {
	var l line
	if !h.decodeBody(ev, &l) {
		return nil
	}
	if l.M.ID == 0 || l.M.Conv == "" {
		h.log.Warn("bus: line without id or conversation", "node", ev.Node)
		return nil
	}
	l.remote, l.node = true, ev.Node
	return &l
}

// applyLine orders a line another node published.
func (h *Hub) applyLine(ev busEvent) {
	if l := h.decodeLine(ev); l != nil {
		h.order(l)
	}
}

// inert reports whether applying l changes nothing that a send's commit
// looks at: a text or action line of another node is only delivered (in
// its conversation's order, by its Prev), while a line of record or a
// rename changes members or handles. The sequencer applies an inert line
// without ending the group commit in progress (Hub.apply).
func (l *line) inert() bool {
	return l.remote && !l.stored && (l.M.Kind == KindText || l.M.Kind == KindAction)
}

// order delivers l in its conversation's order: now if its predecessor
// was delivered (or the conversation is new here), never if it was
// delivered already, else once the gap is filled.
func (h *Hub) order(l *line) {
	if l.node != "" {
		h.locked(func() {
			if n := h.peerLocked(l.node); l.M.ID > n.lastLine {
				n.lastLine = l.M.ID
			}
		})
	}
	o := &h.core.ord
	if o.convs == nil {
		o.convs = make(map[ConvID]*convOrder)
	}
	c := o.convs[l.M.Conv]
	if c == nil {
		// A conversation new here starts after its first message's
		// predecessor if that was committed before the node joined (the
		// sessions here read it from history), else at the node's origin:
		// whatever came after is told or read from the store.
		if len(o.convs) >= maxConvs {
			o.evictIdle()
		}
		c = &convOrder{last: min(l.Prev, o.origin)}
		o.convs[l.M.Conv] = c
	}
	switch {
	case l.M.ID <= c.last:
		return // delivered already
	case l.Prev > c.last:
		if c.held == nil {
			c.held = make(map[MessageID]*line)
		}
		if _, dup := c.held[l.Prev]; !dup {
			o.held++
		}
		c.held[l.Prev] = l
		if len(c.held) > maxHeldPerConv || o.held > maxHeld {
			h.fillGap(l.M.Conv)
			return
		}
		h.armGap(l.M.Conv, c)
		return
	}
	h.deliver(c, l)
	h.drainHeld(l.M.Conv, c)
}

// deliver fans l out and moves the conversation on.
func (h *Hub) deliver(c *convOrder, l *line) {
	c.last = l.M.ID
	if l.M.ID > h.core.ord.newest {
		h.core.ord.newest = l.M.ID
	}
	h.fanLine(l)
}

// drainHeld delivers the held lines that now follow, and forgets those
// delivered meanwhile (read from the store).
func (h *Hub) drainHeld(conv ConvID, c *convOrder) {
	o := &h.core.ord
	for len(c.held) > 0 {
		next, ok := c.held[c.last]
		if !ok {
			break
		}
		delete(c.held, c.last)
		o.held--
		if next.M.ID > c.last {
			h.deliver(c, next)
		}
	}
	for prev, l := range c.held {
		if l.M.ID <= c.last {
			delete(c.held, prev)
			o.held--
		}
	}
	if len(c.held) == 0 {
		if c.timer != nil {
			c.timer.Stop()
		}
		c.armed = false
		return
	}
	h.armGap(conv, c)
}

// armGap starts the wait for a held line's predecessor (once).
func (h *Hub) armGap(conv ConvID, c *convOrder) {
	if c.armed {
		return
	}
	c.armed = true
	if c.timer == nil {
		c.timer = time.AfterFunc(gapWait, func() { _ = h.submit(context.Background(), &gapOp{conv: conv}) })
		return
	}
	c.timer.Reset(gapWait)
}

// applyGap reads a gap whose wait ran out (in the sequencer).
func (h *Hub) applyGap(o *gapOp) {
	c := h.core.ord.convs[o.conv]
	if c == nil {
		return
	}
	c.armed = false
	if len(c.held) > 0 {
		h.fillGap(o.conv)
	}
}

// fillGap reads what was committed in conv after the last message
// delivered here and delivers it in order, then the held lines that
// follow. A line held that the read returns is delivered as held (its
// routing is the one its node decided). If the store cannot be read, the
// held lines wait for the next try; past the bound they are delivered
// without the gap.
func (h *Hub) fillGap(conv ConvID) {
	c := h.core.ord.convs[conv]
	if c == nil {
		return
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rows, err := h.store.HistoryAfter(ctx, string(conv), int64(c.last), gapPage, nil)
		cancel()
		if err != nil {
			h.log.Warn("cluster: read a gap from the store", "conv", conv, "err", err)
			if h.core.ord.held > maxHeld || len(c.held) > 2*maxHeldPerConv {
				h.skipGap(conv, c)
				return
			}
			h.armGap(conv, c)
			return
		}
		for _, row := range rows {
			m := toMessage(row)
			if m.ID <= c.last {
				continue
			}
			l, ok := c.held[c.last]
			if ok && l.M.ID == m.ID {
				delete(c.held, c.last)
				h.core.ord.held--
			} else {
				l = storedLine(m, c.last)
			}
			h.deliver(c, l)
		}
		if len(rows) < gapPage {
			break
		}
	}
	h.drainHeld(conv, c)
}

// skipGap delivers the held lines in order without what is missing
// before them (the store is unreadable and the bound is reached).
func (h *Hub) skipGap(conv ConvID, c *convOrder) {
	for len(c.held) > 0 {
		var first *line
		for _, l := range c.held {
			if first == nil || l.Prev < first.Prev {
				first = l
			}
		}
		c.last = first.Prev
		h.drainHeld(conv, c)
	}
}

// storedLine is the line of a message read from the store, committed by
// another node whose line did not come: routed by this node's rules
// alone (its own blocks; a direct message goes to its parties' sessions).
func storedLine(m Message, prev MessageID) *line {
	l := &line{M: m, Prev: prev, remote: true, stored: true}
	if peer, ok := directPeer(m.Conv, m.From); ok {
		l.Peer = peer
	}
	return l
}

// upBody is what a node whose bus came back tells the others: the newest
// message it had delivered when the bus went down and the conversations
// it committed to meanwhile (which the others may never have seen).
type upBody struct {
	Seq   int64 // tells one return from the next
	Since MessageID
	Convs []ConvID `json:",omitempty"`
}

// catchUp reads from the store what this node missed while a bus was
// down, and delivers it in order. After this node's own return (up nil):
// every conversation delivered here, the lobby, the rooms and the direct
// conversations of the users online here, a conversation not delivered
// here yet starting at the newest message delivered when the bus went
// down. After another node's return: the conversations it committed to
// meanwhile (the others' commits came on the bus), one not delivered here
// starting at the newest message that node had delivered when its bus
// went down, or where this node joined if that is newer.
func (h *Hub) catchUp(up *upBody) {
	o := &h.core.ord
	if o.convs == nil {
		o.convs = make(map[ConvID]*convOrder)
	}
	if up != nil {
		for _, conv := range up.Convs {
			if o.convs[conv] == nil {
				// Not before this node joined: its sessions read that
				// from history (a return repeated in heartbeats reaches
				// nodes that started after it).
				o.convs[conv] = &convOrder{last: max(up.Since, o.joined)}
			}
			h.fillGap(conv)
		}
		return
	}
	from := o.downMark
	if from == 0 {
		from = o.newest
	}
	h.fillAfterLoss(from)
	o.downMark = 0
}

// fillAfterLoss delivers from the store what was committed and not heard
// here: in every conversation delivered here, the lobby and the rooms of
// the users online here (one not delivered here yet from after from).
func (h *Hub) fillAfterLoss(from MessageID) {
	o := &h.core.ord
	if o.convs == nil {
		o.convs = make(map[ConvID]*convOrder)
	}
	want := []ConvID{Lobby}
	var local []UserID
	h.locked(func() {
		for conv, r := range h.rooms {
			for id := range r.members {
				if _, on := h.users[id]; on {
					want = append(want, conv)
					break
				}
			}
		}
		for id := range h.users {
			local = append(local, id)
		}
	})
	// The direct conversations and rooms of the users online here, as the
	// store has them (a room not loaded here is not in h.rooms): the
	// other nodes, which counted these users online meanwhile, routed
	// their messages live.
	for _, id := range local {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		dms, err := h.store.Conversations(ctx, uint64(id))
		var rooms []model.UserRoom
		if err == nil {
			rooms, err = h.store.RoomsOf(ctx, uint64(id))
		}
		cancel()
		if err != nil {
			h.log.Warn("cluster: read a user's conversations to catch up", "user", id, "err", err)
			continue
		}
		for _, dm := range dms {
			if MessageID(dm.LastID) > from {
				want = append(want, ConvID(dm.Conv))
			}
		}
		for _, r := range rooms {
			if !r.Invited {
				want = append(want, ConvID(model.RoomConv(r.Room.NameKey)))
			}
		}
	}
	for _, conv := range want {
		if o.convs[conv] == nil {
			o.convs[conv] = &convOrder{last: from}
		}
	}
	for conv := range o.convs {
		h.fillGap(conv)
	}
}

// startOrder notes where the node joins the cluster (NewHub, before it
// subscribes to the bus): the newest message then.
func (h *Hub) startOrder(ctx context.Context) error {
	id, err := h.store.NewestMessageID(ctx)
	if err != nil {
		return fmt.Errorf("join the cluster: %w", err)
	}
	h.core.ord = orderer{convs: make(map[ConvID]*convOrder), origin: MessageID(id), joined: MessageID(id), newest: MessageID(id)}
	return nil
}

// stopOrder stops the gap timers (Close, after the sequencer exited).
func (h *Hub) stopOrder() {
	for _, c := range h.core.ord.convs {
		if c.timer != nil {
			c.timer.Stop()
		}
	}
}

// fanLine queues a committed message for this node's sessions that may
// see it, by the rules of a single node: the lobby to everyone who has not
// blocked its sender, a room to its members (as this node knows them)
// who have not, a direct message to its two parties unless routed offline
// or blocked; quiet sessions that follow the conversation too. In the
// sequencer, Hub.mu not held.
func (h *Hub) fanLine(l *line) {
	m := l.M
	if l.remote {
		h.remoteLine(m, l.stored)
	}
	if m.Kind == KindRename {
		// Shown as the rename's PresenceEvent, not as a message; handles
		// in cached pages changed.
		h.recent.reset()
		return
	}
	r := l.room
	if l.send != nil {
		r = l.send.room
	}
	_, isRoom := roomKey(m.Conv)
	if r == nil && isRoom && m.Conv != Lobby {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var err error
		r, err = h.room(ctx, m.Conv)
		cancel()
		if err != nil || r == nil {
			h.log.Warn("cluster: a line of a room not found here", "conv", m.Conv, "err", err)
			return
		}
	}
	o := l.send
	if o == nil {
		o = &sendOp{room: r, peer: l.Peer, peerHandle: l.PeerHandle, peerGone: l.PeerGone}
	}
	h.locked(func() {
		h.recent.add(m)
		switch {
		case r != nil:
			if l.remote && m.Kind == KindSystem {
				r.fan = nil // its change may have changed the members
			}
			h.roomFanoutLocked(r, m)
		case m.Conv == Lobby:
			h.lobbyFanoutLocked(m)
		case l.Peer != 0:
			peerHandle := l.PeerHandle
			if p, ok := h.users[l.Peer]; ok {
				peerHandle = p.handle
			}
			if peerHandle == "" {
				if p, ok := h.remotePresenceLocked(l.Peer); ok {
					peerHandle = p.Handle
				}
			}
			h.toUserLocked(m.From, MessageEvent{Message: m, Conversation: Conversation{ID: m.Conv, Kind: KindDirect, Name: peerHandle, Peer: l.Peer}})
			if !l.PeerGone && !l.Offline {
				if p, ok := h.users[l.Peer]; ok && !p.blocked[m.From] {
					h.toUserLocked(l.Peer, MessageEvent{Message: m, Conversation: Conversation{ID: m.Conv, Kind: KindDirect, Name: m.FromHandle, Peer: m.From}})
				}
			}
		}
		h.quietFanOutLocked(o, m)
	})
}

// noticeLine is the line of a room's line of record committed here.
func noticeLine(r *roomState, n *model.Message) *line {
	return &line{M: toMessage(*n), Prev: MessageID(n.Prev), room: r}
}
