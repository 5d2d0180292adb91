package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Several nodes. Hubs that share one database form a cluster when each is
// given a Bus (Options.Bus): a hub publishes on it what it committed or
// changed and applies, through its sequencer, what the others published.
// The database stays the truth; the bus only tells the other nodes sooner
// than they would find out. Whatever a node missed on the bus (it was
// disconnected, or the publisher died between its commit and its publish)
// it reads back from the store.
//
// Events of one node reach another in the order it published them (one
// subject, one subscription). Each event is a busEvent: the publishing
// node, a kind naming what happened, and a JSON body of that kind.

// Bus carries events between the hubs of a cluster. The NATS
// implementation is in package cluster; tests may use an in-memory one.
type Bus interface {
	// Node is this node's name, unique in the cluster.
	Node() string
	// Publish sends data to the other nodes without waiting for them. An
	// error means it was not sent (the bus is down); the others catch up
	// from the store.
	Publish(data []byte) error
	// Subscribe calls fn, on one goroutine, in order, with what the other
	// nodes publish (never this node's own), until unsubscribe is called.
	// fn must not block for long.
	Subscribe(fn func(data []byte)) (unsubscribe func(), err error)
	// Connected reports whether the bus reaches the other nodes now.
	Connected() bool
	// OnChange registers fn to be told, on the bus's goroutine, each time
	// the connection goes down (false) or comes back (true).
	OnChange(fn func(up bool))
}

// LossReporter is what a Bus may also do: say that it dropped events of
// other nodes (a subscriber too slow for the server), so that the hub
// reads what it missed from the store: lines by their conversations,
// state changes (bans, blocks, rooms) by a resync.
type LossReporter interface {
	// OnLoss registers fn to be told, on the bus's goroutine, of each
	// loss.
	OnLoss(fn func())
}

// busEvent is one event on the bus.
type busEvent struct {
	Node string          `json:"n"`
	Kind string          `json:"k"`
	Body json.RawMessage `json:"b,omitempty"`
	// DB is the publisher's database (model InstallationID): events of a
	// node on another database are not this cluster's.
	DB string `json:"d,omitempty"`
}

// remoteOp applies an event another node published, in the sequencer: it
// takes its place among this node's own changes. A line (a committed
// message) is decoded on the bus's goroutine, before it is queued.
type remoteOp struct {
	ev   busEvent
	line *line // ev's line when ev is one (evLine), decoded
}

func (*remoteOp) isOp() {}

// busLink is a hub's connection to the cluster (nil Bus: none).
type busLink struct {
	bus   Bus
	unsub func()

	db string // this node's database (InstallationID)

	mu      sync.Mutex
	failing bool                 // the last Publish failed (logged once per change)
	warned  map[string]time.Time // strangers on the bus, by node: last logged
}

// strangerLogEvery is how often a node on another database, or a second
// process using this node's name, is logged.
const strangerLogEvery = time.Minute

// stranger logs, at most once per strangerLogEvery and node, that ev is not
// from a node of this cluster, and says whether it is not.
func (h *Hub) stranger(ev busEvent) bool {
	var why string
	switch {
	case ev.Node == h.link.bus.Node():
		// NATS never echoes a node's own events: another process
		// uses this node's name.
		why = "another process publishes under this node's name: every node needs a --node-name of its own; its events are ignored"
	case ev.DB != h.link.db:
		why = "a node on another database publishes on this NATS: every node of a cluster needs the same --database-url; its events are ignored"
	default:
		return false
	}
	now := time.Now()
	h.link.mu.Lock()
	if h.link.warned == nil {
		h.link.warned = map[string]time.Time{}
	}
	log := now.Sub(h.link.warned[ev.Node]) >= strangerLogEvery
	if log {
		h.link.warned[ev.Node] = now
	}
	h.link.mu.Unlock()
	if log {
		h.log.Error("cluster: "+why, "node", ev.Node)
	}
	return true
}

// startBus subscribes the hub to the other nodes' events. Events are
// queued for the sequencer; a full queue makes the bus wait (NATS then
// drops what overflows its own buffer, and the gap is read back from the
// store).
func (h *Hub) startBus() error {
	if h.opts.Bus == nil {
		return nil
	}
	h.link.bus = h.opts.Bus
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	db, err := h.store.InstallationID(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("join the cluster: %w", err)
	}
	h.link.db = db
	h.core.up = h.link.bus.Connected()
	if !h.core.up {
		// Started without the bus: its return catches up from where the
		// node joined (startOrder), not from the beginning of history.
		h.core.ord.downMark = h.core.ord.newest
	}
	unsub, err := h.link.bus.Subscribe(func(data []byte) {
		var ev busEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			h.log.Warn("bus: undecodable event", "err", err)
			return
		}
		if h.stranger(ev) {
			return
		}
		o := &remoteOp{ev: ev}
		if ev.Kind == evLine {
			if o.line = h.decodeLine(ev); o.line == nil {
				return
			}
		}
		if err := h.submit(context.Background(), o); err != nil {
			return // closing
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe to the cluster bus: %w", err)
	}
	h.link.unsub = unsub
	h.startCluster() // cluster_presence.go
	return nil
}

// stopBus unsubscribes; events still queued are applied by the sequencer
// before it exits.
func (h *Hub) stopBus() {
	h.stopCluster() // cluster_presence.go
	if h.link.unsub != nil {
		h.link.unsub()
	}
}

// publish tells the other nodes about a change of kind (no-op on a single
// node). It never blocks on them: a failure is logged once per change of
// state and the others catch up from the store. The error says whether
// it was sent; most callers need not look.
func (h *Hub) publish(kind string, body any) error {
	if h.link.bus == nil {
		return nil
	}
	data, err := json.Marshal(body)
	if err != nil {
		h.log.Error("bus: encode event", "kind", kind, "err", err)
		return err
	}
	return h.publishRaw(kind, data)
}

// publishRaw publishes an event whose body is encoded already.
func (h *Hub) publishRaw(kind string, body json.RawMessage) error {
	if h.link.bus == nil {
		return nil
	}
	data, err := json.Marshal(busEvent{Node: h.link.bus.Node(), Kind: kind, Body: body, DB: h.link.db})
	if err != nil {
		h.log.Error("bus: encode event", "kind", kind, "err", err)
		return err
	}
	err = h.link.bus.Publish(data)
	h.link.mu.Lock()
	changed := (err != nil) != h.link.failing
	h.link.failing = err != nil
	h.link.mu.Unlock()
	if changed && err != nil {
		h.log.Warn("bus: publish failed; other nodes will catch up from the store", "err", err)
	} else if changed {
		h.log.Info("bus: publishing again")
	}
	return err
}

// applyRemote applies another node's event (in the sequencer).
func (h *Hub) applyRemote(o *remoteOp) {
	if o.line != nil {
		h.order(o.line) // cluster_order.go
		return
	}
	if h.applyCluster(o.ev) { // cluster_order.go, cluster_presence.go
		return
	}
	switch o.ev.Kind {
	default:
		if h.applySynced(o.ev) { // cluster_sync.go
			return
		}
		h.log.Debug("bus: event of unknown kind", "kind", o.ev.Kind, "node", o.ev.Node)
	}
}

// decodeBody decodes an event's body into v, logging what it could not.
func (h *Hub) decodeBody(ev busEvent, v any) bool {
	if err := json.Unmarshal(ev.Body, v); err != nil {
		h.log.Warn("bus: undecodable event body", "kind", ev.Kind, "node", ev.Node, "err", err)
		return false
	}
	return true
}

// mustJSON encodes v, which is one of this package's event bodies (that
// always encode); null if it did not.
func mustJSON(v any) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return data
}
