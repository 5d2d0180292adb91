// Package cluster joins sshchat nodes into one chat over NATS: it is the
// NATS implementation of chat.Bus. Everything stored stays in the shared
// database; NATS only carries the news of it between nodes (see
// chat/cluster.go). It imports chat, never the reverse, so that the chat
// core does not depend on NATS.
package cluster

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"sshchat/chat"
)

// Subject is the one NATS subject nodes publish events on: one subject,
// one subscription per node, so that a node's events reach every other
// node in the order it published them.
const Subject = "sshchat.events"

// ErrNodeName means a node name is empty, too long or has characters NATS
// names cannot carry.
var ErrNodeName = errors.New("invalid node name")

// MaxNodeName is the longest node name.
const MaxNodeName = 64

// NodeNameRune reports whether r may appear in a node name: it names the
// node to the others, in NATS client names and logs, so it must be safe
// anywhere.
func NodeNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
}

// ValidNodeName reports whether name is a node name: 1 to MaxNodeName
// bytes of NodeNameRune.
func ValidNodeName(name string) bool {
	return name != "" && len(name) <= MaxNodeName && strings.IndexFunc(name, func(r rune) bool { return !NodeNameRune(r) }) < 0
}

// Logger is the logging the bus needs; *charm.land/log.Logger has it.
type Logger interface {
	Info(msg any, keyvals ...any)
	Warn(msg any, keyvals ...any)
}

// NATS is a chat.Bus over one NATS connection. It reconnects forever;
// while it is down Publish fails at once instead of buffering, so that a
// node never shows others a stale burst when it comes back (the others
// read what they missed from the store).
type NATS struct {
	nc   *nats.Conn
	node string

	mu      sync.Mutex
	watches []func(up bool)
	losses  []func()

	pending int // events a subscription may hold unread (0: defaultPending; tests lower it)
}

// defaultPending is how many events a node's subscription holds before
// NATS drops them (the node then catches up from the store).
const defaultPending = 1 << 20

var (
	_ chat.Bus          = (*NATS)(nil)
	_ chat.LossReporter = (*NATS)(nil)
)

// Connect dials url as node. The first connection is retried in the
// background when the server is not up yet: a node starts without NATS
// and joins the others when it comes.
func Connect(url, node string, log Logger) (*NATS, error) {
	if !ValidNodeName(node) {
		return nil, fmt.Errorf("connect to NATS: %w: %q (letters, digits, '-', '_', '.'; at most 64)", ErrNodeName, node)
	}
	b := &NATS{node: node}
	nc, err := nats.Connect(url,
		nats.Name("sshchat "+node),
		nats.NoEcho(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.ReconnectBufSize(-1), // fail Publish while down: see NATS
		nats.RetryOnFailedConnect(true),
		nats.PingInterval(2*time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("NATS disconnected", "node", node, "err", err)
			b.changed(false)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("NATS connected", "node", node, "server", c.ConnectedUrlRedacted())
			b.changed(true)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				// The server or the client dropped events for this node:
				// it reads what it missed from the store.
				log.Warn("NATS dropped events for this node (slow consumer); catching up from the database", "node", node)
				b.lost()
				return
			}
			log.Warn("NATS error", "node", node, "err", err)
		}),
		nats.ConnectHandler(func(c *nats.Conn) {
			log.Info("NATS connected", "node", node, "server", c.ConnectedUrlRedacted())
			b.changed(true)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	if !nc.IsConnected() {
		log.Warn("NATS not reachable yet; this node serves its own users and joins the others when it is", "node", node)
	}
	b.nc = nc
	return b, nil
}

// Node is this node's name.
func (b *NATS) Node() string { return b.node }

// Publish sends data on Subject; it fails at once while disconnected.
func (b *NATS) Publish(data []byte) error {
	if !b.nc.IsConnected() {
		return fmt.Errorf("publish: %w", nats.ErrConnectionClosed)
	}
	if err := b.nc.Publish(Subject, data); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

// Subscribe delivers the other nodes' events to fn on one goroutine, in
// order. A subscriber too slow for the server loses events (NATS drops
// them); chat reads what it missed from the store.
func (b *NATS) Subscribe(fn func(data []byte)) (func(), error) {
	sub, err := b.nc.Subscribe(Subject, func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	limit := b.pending
	if limit <= 0 {
		limit = defaultPending
	}
	if err := sub.SetPendingLimits(limit, 1<<30); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// Connected reports whether the connection is up.
func (b *NATS) Connected() bool { return b.nc.IsConnected() }

// OnChange registers fn for each change of the connection's state.
func (b *NATS) OnChange(fn func(up bool)) {
	b.mu.Lock()
	b.watches = append(b.watches, fn)
	b.mu.Unlock()
}

// OnLoss registers fn for each time events for this node were dropped.
func (b *NATS) OnLoss(fn func()) {
	b.mu.Lock()
	b.losses = append(b.losses, fn)
	b.mu.Unlock()
}

func (b *NATS) lost() {
	b.mu.Lock()
	fs := append([]func(){}, b.losses...)
	b.mu.Unlock()
	for _, fn := range fs {
		fn()
	}
}

func (b *NATS) changed(up bool) {
	b.mu.Lock()
	ws := append([]func(up bool){}, b.watches...)
	b.mu.Unlock()
	for _, fn := range ws {
		fn(up)
	}
}

// Close drains nothing: what was published is sent, what was not is in
// the store.
func (b *NATS) Close() {
	b.nc.Close()
}
