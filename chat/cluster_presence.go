package chat

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Presence across nodes. Each node publishes the presence changes of its
// own users (evPresence: online, offline, away, back, rename, admin mark)
// and, every heartbeatEvery, its whole list of users online
// (evHeartbeat). Every node keeps the others' lists (peerNode, under
// Hub.mu, changed by the sequencer) and counts them in everything that
// asks who is online: Online, /who, /whois, the roster, contacts, room
// member counts, and whether a direct message or a mention is routed
// live or offline. A user with sessions on several nodes is online once;
// their status and handle are the user's, so a change made on one node is
// applied to their sessions on the others. A node silent for deadAfter
// (or that said goodbye) is gone: its users go offline unless online
// elsewhere, and the offline messages its sessions had claimed are
// released for their next login. A node is not declared gone while this
// node's own bus is down.

// Event kinds of this file.
const (
	evPresence  = "presence"  // presenceBody: one local user changed
	evHeartbeat = "heartbeat" // heartbeatBody: a node's users online
	evHello     = "hello"     // a node started: the others send a heartbeat
	evBye       = "bye"       // a node is closing: it is gone
	evUp        = "up"        // a node's bus came back: everyone catches up
	evAnnounce  = "announce"  // an administrator's announcement
)

const (
	// heartbeatEvery is how often a node publishes its users online.
	heartbeatEvery = 2 * time.Second
	// deadAfter is how long a node may be silent before the others take
	// it for dead.
	deadAfter = 10 * time.Second
	// tickEvery is how often the sequencer checks both.
	tickEvery = 500 * time.Millisecond
)

// LinkDownNotice and LinkUpNotice are what sessions are told when this
// node loses the other nodes and when it has them back.
const (
	LinkDownNotice = "cluster link down: other nodes' messages may come late, and who is online there may be out of date"
	LinkUpNotice   = "cluster link back: other nodes' messages and presence are current again"
)

// clusterCore is a hub's state of the cluster (cluster_order.go,
// cluster_presence.go).
type clusterCore struct {
	ord orderer // sequencer-owned

	// Guarded by Hub.mu, changed only by the sequencer:
	peers map[string]*peerNode
	// announce are the local users whose presence the current op changed,
	// with the handle they gave up (rename); published after the op.
	announce map[UserID]string
	// lines are the lines of record committed by the current op, and
	// events what it has for the other nodes; published after it.
	lines  []*line
	events []busEvent

	// Owned by the sequencer:
	up       bool
	lastBeat time.Time
	lastUp   *upBody // this node's last return, repeated in upBeats more heartbeats
	upBeats  int

	stopTick chan struct{}
	tickDone chan struct{}
	stopOnce sync.Once
	byeOnce  sync.Once
}

// peerNode is another node as this one knows it.
type peerNode struct {
	users map[UserID]Presence
	heard time.Time
	upSeq int64 // the node's last return caught up with here
	// lastLine is the newest message heard from the node: what it
	// committed after, if it dies unheard, is read from the store.
	lastLine MessageID
}

type presenceBody struct {
	P         Presence
	Online    bool   // false: the user has no session left on the node
	OldHandle string `json:",omitempty"`
}

type heartbeatBody struct {
	Users []Presence
	// Up repeats the node's last return (evUp) for a few beats, for the
	// nodes that came back after it and missed the event.
	Up *upBody `json:",omitempty"`
}

// upRepeat is for how many heartbeats a return is repeated.
const upRepeat = 5

// clusterTickOp publishes the heartbeat and finds silent nodes.
type clusterTickOp struct{}

// busStateOp tells the sequencer the bus went down or came back.
type busStateOp struct{ up bool }

// busLossOp tells the sequencer the bus dropped events of other nodes
// (LossReporter): it reads what it missed from the store, as after an
// outage, without telling the sessions (they lost nothing for good).
type busLossOp struct{}

func (*clusterTickOp) isOp() {}
func (*busStateOp) isOp()    {}
func (*busLossOp) isOp()     {}

// startCluster starts what a clustered hub runs besides its sequencer:
// the tick, the watch of the bus, the first heartbeat and hello.
func (h *Hub) startCluster() {
	h.link.bus.OnChange(func(up bool) { _ = h.submit(context.Background(), &busStateOp{up: up}) })
	// A change between startBus reading the state and the line above
	// would be missed: the state now is applied too (a no-op if the same).
	_ = h.submit(context.Background(), &busStateOp{up: h.link.bus.Connected()})
	if lr, ok := h.link.bus.(LossReporter); ok {
		lr.OnLoss(func() { _ = h.submit(context.Background(), &busLossOp{}) })
	}
	h.core.stopTick = make(chan struct{})
	h.core.tickDone = make(chan struct{})
	go func() {
		defer close(h.core.tickDone)
		t := time.NewTicker(tickEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if h.submit(context.Background(), &clusterTickOp{}) != nil {
					return
				}
			case <-h.core.stopTick:
				return
			}
		}
	}()
	h.publish(evHello, struct{}{})
}

// applyCluster applies this file's and cluster_order.go's events; false
// for a kind of neither.
func (h *Hub) applyCluster(ev busEvent) bool {
	switch ev.Kind {
	case evLine:
		h.applyLine(ev)
	case evPresence:
		h.applyPresence(ev)
	case evHeartbeat:
		h.applyHeartbeat(ev)
	case evHello:
		h.heard(ev.Node)
		h.heartbeat()
	case evBye:
		h.nodeGone(ev.Node, "closed")
	case evUp:
		var b upBody
		if h.decodeBody(ev, &b) {
			h.heard(ev.Node)
			h.peerUp(ev.Node, &b)
		}
	case evAnnounce:
		var a AnnouncementEvent
		if h.decodeBody(ev, &a) {
			h.heard(ev.Node)
			h.locked(func() { h.announceLocked(a) })
		}
	default:
		return false
	}
	return true
}

// heard notes that node is alive (in the sequencer).
func (h *Hub) heard(node string) {
	h.locked(func() { h.peerLocked(node) })
}

// peerLocked returns node's entry, made if new, and notes it alive.
func (h *Hub) peerLocked(node string) *peerNode {
	if h.core.peers == nil {
		h.core.peers = make(map[string]*peerNode)
	}
	n := h.core.peers[node]
	if n == nil {
		n = &peerNode{users: make(map[UserID]Presence)}
		h.core.peers[node] = n
	}
	n.heard = time.Now()
	return n
}

// remotePresenceLocked returns a user's presence on the other nodes (the
// first node by name that has them) and whether they are online there.
func (h *Hub) remotePresenceLocked(id UserID) (Presence, bool) {
	var p Presence
	found := ""
	for name, n := range h.core.peers {
		if q, ok := n.users[id]; ok && (found == "" || name < found) {
			p, found = q, name
		}
	}
	return p, found != ""
}

// remoteOnlineLocked reports whether a user has a session on another
// node (Hub.mu held).
func (h *Hub) remoteOnlineLocked(id UserID) bool {
	for _, n := range h.core.peers {
		if _, ok := n.users[id]; ok {
			return true
		}
	}
	return false
}

// presenceLocked returns a user's presence across the cluster and
// whether they are online anywhere (Hub.mu held).
func (h *Hub) presenceLocked(id UserID) (Presence, bool) {
	if u, ok := h.users[id]; ok {
		return u.presence(), true
	}
	return h.remotePresenceLocked(id)
}

// onlineAnywhereLocked reports whether a user has a session on any node.
func (h *Hub) onlineAnywhereLocked(id UserID) bool {
	_, ok := h.presenceLocked(id)
	return ok
}

// onlineCountLocked counts the users online on every node, once each.
func (h *Hub) onlineCountLocked() int {
	n := len(h.users)
	if len(h.core.peers) == 0 {
		return n
	}
	seen := map[UserID]bool{}
	for _, p := range h.core.peers {
		for id := range p.users {
			if _, local := h.users[id]; !local && !seen[id] {
				seen[id] = true
				n++
			}
		}
	}
	return n
}

// everyoneOnlineLocked lists the presence of every user online on any
// node, once each (Hub.mu held).
func (h *Hub) everyoneOnlineLocked() []Presence {
	out := make([]Presence, 0, len(h.users))
	for _, u := range h.users {
		p := u.presence()
		p.Admin = h.adminOnlineLocked(u)
		out = append(out, p)
	}
	seen := map[UserID]bool{}
	names := make([]string, 0, len(h.core.peers))
	for name := range h.core.peers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for id, p := range h.core.peers[name].users {
			if _, local := h.users[id]; !local && !seen[id] {
				seen[id] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// localPresenceLocked notes that a local user's presence changed, for the
// other nodes; oldHandle is the handle given up by a rename.
func (h *Hub) localPresenceLocked(id UserID, oldHandle string) {
	if !h.clustered() {
		return
	}
	if h.core.announce == nil {
		h.core.announce = make(map[UserID]string)
	}
	if old, ok := h.core.announce[id]; !ok || old == "" {
		h.core.announce[id] = oldHandle
	}
}

// publishLaterLocked queues an event for the other nodes, published after
// the current op (Hub.mu held, in the sequencer).
func (h *Hub) publishLaterLocked(kind string, body any) {
	if h.clustered() {
		h.core.events = append(h.core.events, busEvent{Kind: kind, Body: mustJSON(body)})
	}
}

// clusterFlush publishes and orders what the op just applied committed or
// changed: lines of record, local presence changes, other events. In the
// sequencer, Hub.mu not held.
func (h *Hub) clusterFlush() {
	// Only the sequencer writes these, so it may look without Hub.mu.
	if !h.clustered() || len(h.core.lines) == 0 && len(h.core.events) == 0 && len(h.core.announce) == 0 {
		return
	}
	var (
		lines  []*line
		pres   []presenceBody
		events []busEvent
	)
	h.locked(func() {
		lines, events = h.core.lines, h.core.events
		h.core.lines, h.core.events = nil, nil
		for id, old := range h.core.announce {
			b := presenceBody{P: Presence{User: id}, OldHandle: old}
			if u, ok := h.users[id]; ok {
				b.P, b.Online = u.presence(), true
			}
			pres = append(pres, b)
		}
		clear(h.core.announce)
	})
	for _, l := range lines {
		h.commitLine(l)
	}
	for _, b := range pres {
		h.publish(evPresence, b)
	}
	for _, ev := range events {
		h.publishRaw(ev.Kind, ev.Body)
	}
}

// remoteChangeLocked applies change to the other nodes' view of a user
// and tells this node's sessions what it changed of the user's presence
// across the cluster (nothing when the user is online here: this node's
// state of them rules).
func (h *Hub) remoteChangeLocked(id UserID, oldHandle string, change func()) {
	before, was := h.remotePresenceLocked(id)
	change()
	if _, local := h.users[id]; local {
		return
	}
	after, is := h.remotePresenceLocked(id)
	switch {
	case is && !was:
		h.publishPresenceLocked(PresenceEvent{Presence: after, Joined: true})
	case !is && was:
		p := before
		p.Status, p.Reason, p.LastSeen, p.Admin = Offline, "", h.opts.Now(), false
		h.publishPresenceLocked(PresenceEvent{Presence: p, Left: true})
	case is && after != before:
		ev := PresenceEvent{Presence: after}
		if after.Handle != before.Handle {
			ev.OldHandle = oldHandle
			if ev.OldHandle == "" {
				ev.OldHandle = before.Handle
			}
		}
		h.publishPresenceLocked(ev)
	}
}

// applyPresence applies another node's change of one of its users.
func (h *Hub) applyPresence(ev busEvent) {
	var b presenceBody
	if !h.decodeBody(ev, &b) || b.P.User == 0 {
		return
	}
	id := b.P.User
	h.locked(func() {
		n := h.peerLocked(ev.Node)
		h.remoteChangeLocked(id, b.OldHandle, func() {
			if b.Online {
				n.users[id] = b.P
			} else {
				delete(n.users, id)
			}
		})
		u, ok := h.users[id]
		if !ok || !b.Online {
			return
		}
		// Also online here: the status is the user's. (A handle changes
		// here with the rename's line, in its place among the messages:
		// remoteLine.)
		if u.status == b.P.Status && u.reason == b.P.Reason {
			return
		}
		u.status, u.reason = b.P.Status, b.P.Reason
		h.publishPresenceLocked(PresenceEvent{Presence: u.presence()})
	})
}

// applyHeartbeat replaces another node's list of users online.
func (h *Hub) applyHeartbeat(ev busEvent) {
	var b heartbeatBody
	if !h.decodeBody(ev, &b) {
		return
	}
	if b.Up != nil {
		h.peerUp(ev.Node, b.Up)
	}
	h.locked(func() {
		n := h.peerLocked(ev.Node)
		seen := make(map[UserID]bool, len(b.Users))
		for _, p := range b.Users {
			seen[p.User] = true
			if old, ok := n.users[p.User]; !ok || old != p {
				h.remoteChangeLocked(p.User, "", func() { n.users[p.User] = p })
			}
		}
		for id := range n.users {
			if !seen[id] {
				h.remoteChangeLocked(id, "", func() { delete(n.users, id) })
			}
		}
	})
}

// peerUp catches up with another node's return, once per return.
func (h *Hub) peerUp(node string, up *upBody) {
	seen := false
	h.locked(func() {
		n := h.peerLocked(node)
		seen = n.upSeq == up.Seq
		n.upSeq = up.Seq
	})
	if !seen {
		h.readMissed(up)
	}
}

// readMissed reads from the store what this node did not hear on the bus
// (an outage of its own, up nil; another node's return, up its news; or
// events the bus dropped): the lines, by their conversations (catchUp),
// and the state other nodes changed, bans, rooms and block lists (resync).
// Both sides of an outage do it: what either published meanwhile never
// reached the other.
func (h *Hub) readMissed(up *upBody) {
	h.catchUp(up)
	h.resync()
}

// heartbeat publishes this node's users online.
func (h *Hub) heartbeat() {
	var b heartbeatBody
	if h.core.upBeats > 0 {
		b.Up = h.core.lastUp
		h.core.upBeats--
	}
	h.locked(func() {
		b.Users = make([]Presence, 0, len(h.users))
		for _, u := range h.users {
			b.Users = append(b.Users, u.presence())
		}
	})
	h.core.lastBeat = time.Now()
	h.publish(evHeartbeat, b)
}

// applyTick publishes the heartbeat when due and takes the nodes silent
// for deadAfter for gone, unless this node's bus is down (then it is this
// node that hears nothing).
func (h *Hub) applyTick() {
	now := time.Now()
	if now.Sub(h.core.lastBeat) >= heartbeatEvery {
		h.heartbeat()
	}
	if !h.core.up || !h.link.bus.Connected() {
		return
	}
	var gone []string
	h.locked(func() {
		for name, n := range h.core.peers {
			if now.Sub(n.heard) > deadAfter {
				gone = append(gone, name)
			}
		}
	})
	for _, name := range gone {
		h.nodeGone(name, "silent")
	}
}

// nodeGone forgets a node: the offline messages its sessions claimed are
// offered again, then its users go offline unless online elsewhere.
func (h *Hub) nodeGone(name, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.store.ReleaseClaimsPrefix(ctx, name+"/"); err != nil {
		h.log.Warn("cluster: release a gone node's offline claims", "node", name, "err", err)
	}
	known := false
	var last MessageID
	h.locked(func() {
		n, ok := h.core.peers[name]
		if !ok {
			return
		}
		known, last = true, n.lastLine
		for id := range n.users {
			h.remoteChangeLocked(id, "", func() { delete(n.users, id) })
		}
		delete(h.core.peers, name)
	})
	if known {
		h.log.Info("cluster: node gone", "node", name, "why", why)
	}
	if known && why != "closed" {
		// It may have died between a commit and its publish, leaving a
		// line nobody heard and nothing after it to show the gap: every
		// conversation delivered here, the lobby and the rooms of the
		// users here are read on from the store (one new here from the
		// last line heard from the node: any later line of another node
		// would have made it known).
		h.fillAfterLoss(max(last, h.core.ord.origin))
	}
}

// applyBusState applies the bus going down or coming back: sessions are
// told, and on return this node says so, sends its heartbeat and catches
// up from the store.
func (h *Hub) applyBusState(o *busStateOp) {
	if o.up == h.core.up {
		return
	}
	h.core.up = o.up
	if !o.up {
		h.core.ord.downMark = h.core.ord.newest
		h.locked(func() {
			h.broadcastLocked(NoticeEvent{Text: LinkDownNotice})
			h.broadcastLocked(LinkEvent{Down: true})
		})
		h.log.Warn("cluster: bus down; local users go on, other nodes' messages will be read from the store when it is back")
		return
	}
	h.locked(func() {
		now := time.Now()
		for _, n := range h.core.peers {
			n.heard = now // they could not be heard meanwhile
		}
	})
	up := &upBody{Seq: time.Now().UnixNano(), Since: h.core.ord.downMark}
	for conv := range h.core.ord.unsent {
		up.Convs = append(up.Convs, conv)
	}
	clear(h.core.ord.unsent)
	if prev := h.core.lastUp; prev != nil && h.core.upBeats > 0 {
		// The previous return was not repeated enough yet: keep its news.
		up.Since = min(up.Since, prev.Since)
		up.Convs = append(up.Convs, prev.Convs...)
	}
	h.core.lastUp, h.core.upBeats = up, upRepeat
	h.publish(evUp, up)
	h.heartbeat()
	h.readMissed(nil)
	h.locked(func() {
		h.broadcastLocked(NoticeEvent{Text: LinkUpNotice})
		h.broadcastLocked(LinkEvent{})
	})
	h.log.Info("cluster: bus back; caught up from the store")
}

// stopCluster stops the tick (Close, before the sequencer stops).
func (h *Hub) stopCluster() {
	if !h.clustered() || h.core.stopTick == nil {
		return
	}
	h.core.stopOnce.Do(func() { close(h.core.stopTick) })
	<-h.core.tickDone
}

// sayBye tells the other nodes this one is gone (Close, once the
// sequencer has exited): the last event it publishes, so that no
// heartbeat or presence of an op still queued at Close shows its users
// online again after it.
func (h *Hub) sayBye() {
	if h.clustered() {
		h.core.byeOnce.Do(func() { h.publish(evBye, struct{}{}) })
	}
}

// announceLocked shows an administrator's announcement to this node's
// sessions (Hub.mu held).
func (h *Hub) announceLocked(ev AnnouncementEvent) {
	h.broadcastLocked(ev)
	// Quiet sessions that follow a conversation read their events (tail);
	// one-shot commands do not, and are not sent it.
	for qs := range h.quiet.follows {
		qs.push(ev)
	}
}
