package chat

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sshchat/model"
)

// Logger is the logging the hub needs; *charm.land/log.Logger satisfies it.
type Logger interface {
	Debug(msg any, keyvals ...any)
	Info(msg any, keyvals ...any)
	Warn(msg any, keyvals ...any)
	Error(msg any, keyvals ...any)
}

// Options tune a Hub. Zero values take the defaults.
type Options struct {
	// QueueLen bounds each session's event queue (default 256). A session
	// whose queue is full when an event arrives is dropped.
	QueueLen int
	// OfflineLimit caps how many offline messages a login loads for the
	// dialog (default 200); counts always cover all of them.
	OfflineLimit int
	// MaxBatch caps how many messages one group commit writes (default 256).
	MaxBatch int
	// RateBurst and RatePerSecond limit how fast one user may send
	// (defaults 10 and 5).
	RateBurst     int
	RatePerSecond float64
	// HandleHold is how long a handle given up by renaming stays held for
	// its previous owner (default DefaultHandleHold): nobody else may take
	// it meanwhile, so that a newcomer cannot pass for the old owner to
	// people who knew them by it; the previous owner may take it back.
	HandleHold time.Duration
	// Now is the clock (default time.Now); tests may replace it.
	Now func() time.Time
	// KeyRemoved, when set, is called after a user removed one of their
	// keys (/keys remove) with its fingerprint, for the server to end the
	// SSH sessions of that key. It must not block.
	KeyRemoved func(fingerprint string)
	// Metrics observes commits, fan-out, drops and rate refusals (default
	// none; issue 11, operations).
	Metrics Metrics
	// IsAdmin reports whether the key with this fingerprint is a server
	// administrator's, now (nil: nobody is). It is asked at each use
	// (/admin, /who, /whois), so it must be cheap and must not call the
	// hub.
	IsAdmin func(fingerprint string) bool
	// EndKeys, when set, is told after a kick or ban which keys' SSH
	// sessions must end and the line to tell them; the hub has already
	// ended their chat sessions. It is called from the sequencer and must
	// not block.
	EndKeys func(fingerprints []string, line string)
	// Keys edits the authorized-keys file for /admin authorize and
	// /admin revoke (nil: the server has none, it is open).
	Keys KeyEditor
	// Limits, when set, returns the server's lines of /admin limits: each
	// admission limit with its value and who is nearest it. It is called
	// on the administrator's goroutine, outside Hub.mu, and may call the
	// hub.
	Limits func(ctx context.Context) []string
	// AllowlistChanged, when set, is called after /admin authorize or
	// /admin revoke edited the authorized-keys file (Keys), on this node
	// and, through the Bus, on every other: the server re-reads its file
	// at once and ends the sessions it no longer admits, instead of
	// waiting for its watcher's next look. It must not block.
	AllowlistChanged func()
	// Bus, when set, joins this hub to the other nodes that share its
	// store (cluster.go); nil: a single node.
	Bus Bus
}

// DefaultHandleHold is the default Options.HandleHold.
const DefaultHandleHold = 7 * 24 * time.Hour

func (o *Options) defaults() {
	if o.QueueLen <= 0 {
		o.QueueLen = 256
	}
	if o.OfflineLimit <= 0 {
		o.OfflineLimit = 200
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.RateBurst <= 0 {
		o.RateBurst = 10
	}
	if o.RatePerSecond <= 0 {
		o.RatePerSecond = 5
	}
	if o.HandleHold <= 0 {
		o.HandleHold = DefaultHandleHold
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = noMetrics{}
	}
}

// Hub is the in-process Broker: presence, routing, fan-out and offline
// queueing over a model.Store. See doc.go for its invariants.
type Hub struct {
	store model.Store
	log   Logger
	opts  Options
	boot  string // distinguishes this process's offline claims

	health storageHealth // whether the store can be written; logs changes
	recent recentCache   // newest messages per conversation, shared by History

	ops    chan op       // to the sequencer: sends and commands, first served
	logins chan op       // to the sequencer: joins and leaves (see sequence)
	stop   chan struct{} // closed by Close: the sequencer drains and exits
	done   chan struct{} // closed when the sequencer has exited

	seen  lastSeenWriter // records logouts' last-seen times off the sequencer
	marks readMarkWriter // records read markers off the request path

	// renamed is the latest handle of each user renamed while this hub
	// runs, so that a join sequenced after a rename uses it even if its
	// Connect read the account before. Owned by the sequencer goroutine
	// (rename and join), so it needs no lock; one entry per renamed user.
	renamed map[UserID]string

	// admit bounds how many Connects run at once (a few per CPU): a login
	// storm then waits its turn parked, instead of hundreds of runnable
	// logins standing between the sequencer and the CPU.
	admit chan struct{}

	nextSession atomic.Uint64

	submitMu sync.RWMutex // write-held only by Close to stop submissions
	stopped  bool         // guarded by submitMu

	mu      sync.Mutex // guards the fields below; never held across I/O
	closing bool
	users   map[UserID]*userState
	// roster is who is online, shared read-only with every session (in
	// snapshots and presence events); setPresenceLocked replaces it.
	roster *Roster
	// rooms are the rooms loaded so far (see roomState), by conversation.
	rooms map[ConvID]*roomState
	// usersGen changes whenever a user enters or leaves users, so that
	// rooms know when to rebuild their lists of members online.
	usersGen uint64
	quiet    quietSet // sessions of Attach, apart from users (attach.go)

	mod moderation // server-wide bans and mutes (admin.go)

	link busLink     // to the other nodes of a cluster (cluster.go)
	core clusterCore // messages and presence across nodes (cluster_order.go, cluster_presence.go)
}

var _ Broker = (*Hub)(nil)

// userState is an online user.
type userState struct {
	id       UserID
	handle   string
	status   Status
	reason   string
	sessions map[*session]struct{}
	admin    bool            // the Admin last published (Hub.adminChangedLocked)
	blocked  map[UserID]bool // users this user has blocked
	limiter  bucket
}

// live reports whether any of the user's sessions is still open: a closed
// session stays registered until its leave is sequenced, and must not
// receive what an offline user would have kept. Hub.mu is held (lock
// order: Hub.mu, then session.mu).
func (u *userState) live() bool {
	for s := range u.sessions {
		if !s.isClosed() {
			return true
		}
	}
	return false
}

// NewHub starts a hub over store. Close stops it.
func NewHub(store model.Store, logger Logger, opts Options) (*Hub, error) {
	opts.defaults()
	// Offline claims carry the node's name in a cluster, so that a node
	// releases only its own (the others' are held by live sessions).
	claimPrefix := ""
	if opts.Bus != nil {
		claimPrefix = opts.Bus.Node() + "/"
	}
	release := store.ReleaseAllClaims
	if claimPrefix != "" {
		release = func(ctx context.Context) error { return store.ReleaseClaimsPrefix(ctx, claimPrefix) }
	}
	if err := release(context.Background()); err != nil {
		return nil, fmt.Errorf("release offline claims: %w", err)
	}
	h := &Hub{
		renamed: map[UserID]string{},
		store:   store,
		log:     logger,
		opts:    opts,
		boot:    claimPrefix + strconv.FormatInt(opts.Now().UnixNano(), 36),
		ops:     make(chan op, 1024),
		logins:  make(chan op, 1024),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		users:   make(map[UserID]*userState),
		rooms:   make(map[ConvID]*roomState),
		admit:   make(chan struct{}, 2*runtime.GOMAXPROCS(0)),
	}
	h.health.log = logger
	if err := h.mod.load(context.Background(), store); err != nil {
		return nil, err
	}
	h.seen.init()
	h.marks.init()
	if opts.Bus != nil {
		// Where this node joins the cluster's order: anything committed
		// after is told or read from the store (cluster_order.go).
		if err := h.startOrder(context.Background()); err != nil {
			return nil, err
		}
	}
	go h.sequence()
	go h.seen.run(h)
	go h.marks.run(h)
	if err := h.startBus(); err != nil {
		_ = h.Close(context.Background())
		return nil, err
	}
	return h, nil
}

// Online returns how many users are online, on every node of a cluster
// (each once).
func (h *Hub) Online() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.onlineCountLocked()
}

// Authenticate returns the account owning key.
func (h *Hub) Authenticate(ctx context.Context, key Key) (Account, error) {
	u, err := h.store.UserByFingerprint(ctx, key.Fingerprint)
	if errors.Is(err, model.ErrNotFound) {
		return Account{}, ErrUnknownKey
	}
	if err != nil {
		return Account{}, fmt.Errorf("authenticate: %w", err)
	}
	if err := h.checkBan(key.Fingerprint); err != nil {
		return Account{}, err
	}
	return Account{ID: UserID(u.ID), Handle: u.Handle, Fingerprint: key.Fingerprint}, nil
}

// Register creates an account for a new key.
func (h *Hub) Register(ctx context.Context, key Key, handle string) (Account, error) {
	if err := h.checkBan(key.Fingerprint); err != nil {
		return Account{}, err
	}
	display, hkey, err := NormalizeHandle(handle)
	if err != nil {
		return Account{}, err
	}
	u := model.User{Handle: display, HandleKey: hkey, CreatedAt: h.opts.Now(), LastSeen: h.opts.Now()}
	k := model.Key{Fingerprint: key.Fingerprint, PublicKey: key.Authorized}
	if err := h.store.CreateUser(ctx, &u, &k); err != nil {
		if errors.Is(err, model.ErrConflict) {
			// The key may have registered from another session meanwhile
			// (with this handle or another).
			if acct, aerr := h.Authenticate(ctx, key); aerr == nil {
				return acct, nil
			}
		}
		if herr := handleRefusal(display, err); herr != nil {
			return Account{}, herr
		}
		return Account{}, h.wrote(err, "register", "your account was not created; try again later")
	}
	h.health.ok()
	h.log.Info("registered", "user", u.ID, "handle", display, "fingerprint", key.Fingerprint)
	return Account{ID: UserID(u.ID), Handle: display, Fingerprint: key.Fingerprint}, nil
}

// admitted waits for one of the admit slots that bound how many Connects
// and Attaches run at once; release gives it back.
func (h *Hub) admitted(ctx context.Context) (release func(), err error) {
	select {
	case h.admit <- struct{}{}:
		return func() { <-h.admit }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// newSession reads what a session of acct starts from (its account and
// block list) and makes it, not yet registered; claimTag tells the offline
// claims of Connect's sessions ("") from Attach's ("q").
func (h *Hub) newSession(ctx context.Context, acct Account, claimTag string) (*session, model.User, []uint64, error) {
	blocked, err := h.store.BlockedBy(ctx, uint64(acct.ID))
	if err != nil {
		return nil, model.User{}, nil, err
	}
	u, err := h.store.UserByID(ctx, uint64(acct.ID))
	if err != nil {
		return nil, model.User{}, nil, err
	}
	sid := h.nextSession.Add(1)
	return &session{
		hub:   h,
		id:    sid,
		user:  acct.ID,
		fp:    acct.Fingerprint,
		q:     make(chan Event, h.opts.QueueLen),
		done:  make(chan struct{}),
		claim: h.boot + "/" + claimTag + strconv.FormatUint(sid, 36),
	}, u, blocked, nil
}

// Connect opens a session for acct.
func (h *Hub) Connect(ctx context.Context, acct Account) (Session, error) {
	release, err := h.admitted(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer release()
	s, u, blocked, err := h.newSession(ctx, acct, "")
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	bset := make(map[UserID]bool, len(blocked))
	for _, b := range blocked {
		bset[UserID(b)] = true
	}
	res := make(chan joinResult, 1)
	if err := h.submit(ctx, &joinOp{s: s, handle: u.Handle, blocked: bset, res: res}); err != nil {
		return nil, err
	}
	var jr joinResult
	select {
	case jr = <-res:
	case <-ctx.Done():
		// The sequencer will still register the session; undo it.
		go func() {
			r := <-res
			if r.err == nil {
				s.Close()
			}
		}()
		return nil, fmt.Errorf("connect: %w", ctx.Err())
	}
	if jr.err != nil {
		return nil, fmt.Errorf("connect: %w", jr.err)
	}
	batch, err := s.claimOffline(ctx)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	snap, err := h.snapshot(ctx, acct.ID, batch)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if len(snap.Offline) == 0 {
		// All that was claimed is hidden for good (from users blocked
		// since, mentions in rooms left since): settled now, as a shown
		// batch is when dismissed, or it would be claimed again at every
		// login and shown at one after a rejoin or an unblock. On failure
		// it is released at the session's end and settled next time.
		if err := s.DismissOffline(ctx); err != nil {
			h.log.Warn("settle hidden offline messages", "user", acct.ID, "err", err)
		}
	}
	s.snap = snap
	return s, nil
}

// Close tells every session the server is shutting down, after committing
// and publishing every message accepted before it. It is idempotent.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	h.stopBus()
	h.submitMu.Lock()
	if !h.stopped {
		h.stopped = true
		close(h.stop)
	}
	h.submitMu.Unlock()
	select {
	case <-h.done:
	case <-ctx.Done():
		return fmt.Errorf("close hub: %w", ctx.Err())
	}
	h.stopOrder() // the gap timers (cluster_order.go)
	h.sayBye()    // cluster_presence.go
	h.mu.Lock()
	now := h.opts.Now()
	for id, u := range h.users {
		for s := range u.sessions {
			s.push(ShutdownEvent{Reason: "server shutting down"})
			s.drop(ErrShutdown)
		}
		h.seen.touch(id, now)
	}
	h.closeQuietLocked() // sessions of Attach (attach.go)
	h.mu.Unlock()
	if err := h.marks.close(ctx, h); err != nil {
		return err
	}
	return h.seen.close(ctx, h)
}

// handleOf returns a user's current handle ("?" when unknown).
func (h *Hub) handleOf(ctx context.Context, id UserID) string {
	h.mu.Lock()
	if u, ok := h.users[id]; ok {
		h.mu.Unlock()
		return u.handle
	}
	h.mu.Unlock()
	u, err := h.store.UserByID(ctx, uint64(id))
	if err != nil {
		return "?"
	}
	return u.Handle
}

// presence is the user's public state; h.mu must be held.
func (u *userState) presence() Presence {
	return Presence{User: u.id, Handle: u.handle, Status: u.status, Reason: u.reason, Admin: u.admin}
}

// publishPresenceLocked applies ev's presence to the shared roster and
// queues ev, carrying the new roster, for every session; h.mu must be held.
func (h *Hub) publishPresenceLocked(ev PresenceEvent) {
	h.roster = h.roster.With(ev.Presence)
	ev.Online = h.roster
	h.broadcastLocked(ev)
}

// broadcastLocked queues ev for every session; h.mu must be held.
func (h *Hub) broadcastLocked(ev Event) {
	for _, u := range h.users {
		for s := range u.sessions {
			s.push(ev)
		}
	}
}

// toUserLocked queues ev for every session of one user; h.mu must be held.
func (h *Hub) toUserLocked(id UserID, ev Event) {
	if u, ok := h.users[id]; ok {
		for s := range u.sessions {
			s.push(ev)
		}
	}
}

// DirectConv is the conversation ID of the direct conversation of a and b.
func DirectConv(a, b UserID) ConvID {
	if a > b {
		a, b = b, a
	}
	return ConvID("dm:" + strconv.FormatUint(uint64(a), 10) + ":" + strconv.FormatUint(uint64(b), 10))
}

// RoomConv is the conversation ID of the room with name key key (see
// NormalizeRoomName): "#" and the key, as model.RoomConv has it.
// RoomConv("lobby") is Lobby.
func RoomConv(key string) ConvID { return ConvID(model.RoomConv(key)) }

// directPeer returns the other party of a direct conversation me takes part
// in, or false when conv is not a direct conversation of me.
func directPeer(conv ConvID, me UserID) (UserID, bool) {
	rest, ok := strings.CutPrefix(string(conv), "dm:")
	if !ok {
		return 0, false
	}
	as, bs, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, false
	}
	a, err1 := strconv.ParseUint(as, 10, 64)
	b, err2 := strconv.ParseUint(bs, 10, 64)
	if err1 != nil || err2 != nil || a >= b || DirectConv(UserID(a), UserID(b)) != conv {
		return 0, false
	}
	switch me {
	case UserID(a):
		return UserID(b), true
	case UserID(b):
		return UserID(a), true
	}
	return 0, false
}

// toMessage converts a stored message; FromHandle is the sender's current
// handle when the store read it (Author), else the handle it was sent with.
func toMessage(m model.Message) Message {
	from := m.Author
	if from == "" {
		from = m.SenderHandle
	}
	out := Message{
		ID: MessageID(m.ID), Conv: ConvID(m.Conv), From: UserID(m.SenderID), FromHandle: from,
		Kind: MsgKind(m.Kind), Body: m.Body, At: m.CreatedAt, Deleted: m.Deleted,
	}
	if m.EditedAt != nil {
		out.Edited = *m.EditedAt
	}
	return out
}

// bucket is a token bucket; its user's h.mu guards it.
type bucket struct {
	tokens float64
	last   time.Time
}

// take spends one token if one is available.
func (b *bucket) take(now time.Time, burst int, perSec float64) bool {
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else {
		b.tokens += now.Sub(b.last).Seconds() * perSec
		if b.tokens > float64(burst) {
			b.tokens = float64(burst)
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
