package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// Connection admission: every limit a client could otherwise exhaust
// before or between sessions, and the bookkeeping behind them. The limits
// are Config fields, documented in README's Configuration table.

// maxSessionsPerConn caps session channels open at once on one SSH
// connection, as OpenSSH's MaxSessions does. A channel counts from the
// moment it is opened, whether or not it ever starts a shell.
const maxSessionsPerConn = 10

// maxEnvValue is the longest environment value a session may set; the
// variables acceptEnv lets through hold short names.
const maxEnvValue = 256

// acceptEnv is sshchat's AcceptEnv: a session may set only the variables
// its UI reads (the colour profile: TERM, COLORTERM, NO_COLOR, CLICOLOR,
// CLICOLOR_FORCE, TERM_PROGRAM; the time zone of timestamps: TZ) and the
// locale (LANG, LC_*), with short values. Anything else is refused, so
// env requests cannot grow a session's memory (the SSH fork bounds the
// count and total size, see third_party/ssh/PATCHES.md).
func acceptEnv(_ ssh.Context, key, value string) bool {
	if len(value) > maxEnvValue {
		return false
	}
	switch key {
	case "TERM", "COLORTERM", "NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TERM_PROGRAM", "TZ", "LANG":
		return true
	}
	return strings.HasPrefix(key, "LC_") && len(key) <= 32
}

// startups is sshd's MaxStartups "begin:rate:full": with begin or more
// unauthenticated connections open, a new one is refused with probability
// rate percent, rising linearly to 100 % at full.
type startups struct{ begin, rate, full int }

// String formats s as the flag is written.
func (s startups) String() string { return fmt.Sprintf("%d:%d:%d", s.begin, s.rate, s.full) }

// parseStartups reads "begin:rate:full", or "n" for "n:100:n".
func parseStartups(v string) (startups, error) {
	bad := fmt.Errorf("invalid max startups %q: want begin:rate:full like 64:30:256, or one number", v)
	parts := strings.Split(v, ":")
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return startups{}, bad
		}
		nums[i] = n
	}
	var s startups
	switch len(nums) {
	case 1:
		s = startups{nums[0], 100, nums[0]}
	case 3:
		s = startups{nums[0], nums[1], nums[2]}
	default:
		return startups{}, bad
	}
	if s.begin < 1 || s.full < s.begin || s.rate > 100 {
		return startups{}, bad
	}
	return s, nil
}

// admission counts connections by state, source address and key, and
// decides whether a new connection, an authenticated connection or a
// session is admitted. Zero for a per-source or per-key limit means none.
type admission struct {
	startups          startups
	startupsPerSource int
	connsPerSource    int
	connsPerKey       int
	sessionsPerKey    int
	roll              func() int // uniform in [0, 100): the early-drop dice

	mu             sync.Mutex // guards the fields below
	unauth         int        // connections not yet authenticated
	unauthBySource map[string]int
	connsBySource  map[string]int
	connsByKey     map[string]int
	sessionsByKey  map[string]int
}

// newAdmission builds the admission state from the configuration.
func newAdmission(cfg Config) *admission {
	return &admission{
		startups: cfg.MaxStartups, startupsPerSource: cfg.MaxStartupsPerSource,
		connsPerSource: cfg.MaxConnsPerSource, connsPerKey: cfg.MaxConnsPerKey, sessionsPerKey: cfg.MaxSessionsPerKey,
		roll:           func() int { return rand.IntN(100) },
		unauthBySource: map[string]int{}, connsBySource: map[string]int{},
		connsByKey: map[string]int{}, sessionsByKey: map[string]int{},
	}
}

// admitConn counts a new, unauthenticated connection from source, or
// returns the one-line reason it is refused.
func (a *admission) admitConn(source string) (refusal string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.connsPerSource > 0 && a.connsBySource[source] >= a.connsPerSource {
		return fmt.Sprintf("too many connections from your address (at most %d)", a.connsPerSource)
	}
	if a.startupsPerSource > 0 && a.unauthBySource[source] >= a.startupsPerSource {
		return fmt.Sprintf("too many logins in progress from your address (at most %d); try again later", a.startupsPerSource)
	}
	if a.dropStartup() {
		return "the server is busy with other logins; try again later"
	}
	a.unauth++
	a.unauthBySource[source]++
	a.connsBySource[source]++
	return ""
}

// dropStartup is sshd's random early drop; a.mu is held.
func (a *admission) dropStartup() bool {
	s := a.startups
	switch {
	case a.unauth < s.begin:
		return false
	case a.unauth >= s.full:
		return true
	}
	p := s.rate + (100-s.rate)*(a.unauth-s.begin)/(s.full-s.begin)
	return a.roll() < p
}

// authenticated moves a connection from source out of the unauthenticated
// count and counts it for key, or returns the reason the key may not hold
// another connection (the connection then stays counted for its source
// only).
func (a *admission) authenticated(source, key string) (refusal string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unauth--
	decr(a.unauthBySource, source)
	if a.connsPerKey > 0 && a.connsByKey[key] >= a.connsPerKey {
		return fmt.Sprintf("too many connections for your key (at most %d); close one and try again", a.connsPerKey)
	}
	a.connsByKey[key]++
	return ""
}

// closed releases a connection's counts: authed tells whether it left the
// unauthenticated state, key is "" unless it was counted for a key.
func (a *admission) closed(source string, authed bool, key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !authed {
		a.unauth--
		decr(a.unauthBySource, source)
	}
	decr(a.connsBySource, source)
	if key != "" {
		decr(a.connsByKey, key)
	}
}

// startSession counts a session for key, or returns why it is refused.
func (a *admission) startSession(key string) (refusal string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sessionsPerKey > 0 && a.sessionsByKey[key] >= a.sessionsPerKey {
		return fmt.Sprintf("too many sessions for your key (at most %d); close one and try again", a.sessionsPerKey)
	}
	a.sessionsByKey[key]++
	return ""
}

// endSession releases a session counted by startSession.
func (a *admission) endSession(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	decr(a.sessionsByKey, key)
}

// decr decrements m[k], deleting it at zero so that maps shrink.
func decr(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

// sourceOf is the address a connection's limits are counted by: its IPv4
// address, or the /64 network of its IPv6 address. One host is commonly
// given a whole /64, so counting IPv6 addresses one by one would let a
// single machine bypass every per-address limit.
func sourceOf(addr net.Addr) string {
	if addr == nil {
		return "unknown"
	}
	ip := addrIP(addr)
	switch {
	case !ip.IsValid():
		return addr.String()
	case ip.Is6():
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// connState is per-connection bookkeeping kept in the connection context.
// Its timer closes a connection that has gone without a live session (one
// admitted to the chat, see liveSession; a refused session does not count)
// for too long: OpenTimeout after authentication, IdleTimeout after its
// last live session ended.
type connState struct {
	source   string
	conn     net.Conn // closed by the timer
	channels atomic.Int64

	mu       sync.Mutex // guards the fields below
	authed   bool
	key      string // fingerprint, once counted for the key
	refusal  string // set when the key is over its limit: every channel is refused with it
	live     int
	timer    *time.Timer
	released bool
}

type connStateKey struct{}

// connStateOf returns the connection's state, or nil.
func connStateOf(ctx ssh.Context) *connState {
	st, _ := ctx.Value(connStateKey{}).(*connState)
	return st
}

// admitConn is the SSH server's ConnCallback. It caps open TCP
// connections (sessions plus connections still authenticating) so that a
// flood cannot exhaust the process, then applies the MaxStartups and
// per-source limits. A refused client gets one line before the SSH
// version exchange (RFC 4253 allows lines before it) and is closed.
// With --proxy-protocol the PROXY header is read here, on the
// connection's goroutine, once the connection counts against the cap:
// from then on c.RemoteAddr() is the client's address (proxy.go).
func (s *server) admitConn(ctx ssh.Context, c net.Conn) net.Conn {
	refuse := func(reason string) net.Conn {
		s.metrics.connRefusedConnect.Inc()
		s.warnLimited(sourceOf(c.RemoteAddr()), "connection refused", "reason", reason, "remote", c.RemoteAddr().String())
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write([]byte("sshchat: " + reason + "\r\n"))
		return nil
	}
	limit := int64(s.cfg.MaxSessions) + 256
	if n := s.conns.Add(1); n > limit {
		s.conns.Add(-1)
		return refuse(fmt.Sprintf("the server is full (%d connections); try again later", limit))
	}
	if s.proxy != nil {
		pc, err := s.proxy.read(c)
		if err != nil {
			s.conns.Add(-1)
			return refuse(err.Error())
		}
		c = pc
	}
	source := sourceOf(c.RemoteAddr())
	if reason := s.admit.admitConn(source); reason != "" {
		s.conns.Add(-1)
		return refuse(reason)
	}
	st := &connState{source: source}
	cc := &countedConn{Conn: c, release: func() { s.connClosed(st) }}
	st.conn = cc
	ctx.SetValue(connStateKey{}, st)
	return cc
}

// connClosed releases everything a connection holds.
func (s *server) connClosed(st *connState) {
	s.conns.Add(-1)
	st.mu.Lock()
	st.released = true
	if st.timer != nil {
		st.timer.Stop()
	}
	authed, key := st.authed, st.key
	st.mu.Unlock()
	s.admit.closed(st.source, authed, key)
}

// authenticated is the SSH server's AuthenticatedCallback: the connection
// leaves the unauthenticated count, is counted for its key (or marked
// refused when the key holds too many connections), and has OpenTimeout
// to start a session.
func (s *server) authenticated(ctx ssh.Context, _ *gossh.ServerConn) bool {
	st := connStateOf(ctx)
	if st == nil {
		return false
	}
	fp := ""
	if k, ok := ctx.Value(ssh.ContextKeyPublicKey).(ssh.PublicKey); ok {
		fp = gossh.FingerprintSHA256(k)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.released {
		return false
	}
	st.authed = true
	if reason := s.admit.authenticated(st.source, fp); reason != "" {
		st.refusal = reason
		s.metrics.connRefusedKey.Inc()
		s.warnLimited(st.source, "connection refused", "reason", reason, "fingerprint", fp, "remote", st.source)
	} else {
		st.key = fp
	}
	st.timer = time.AfterFunc(s.cfg.OpenTimeout, func() { s.expire(st, "no session opened in time") })
	return true
}

// expire closes a connection whose timer fired while it had no live
// session.
func (s *server) expire(st *connState, why string) {
	st.mu.Lock()
	idle := st.live == 0 && !st.released
	st.mu.Unlock()
	if idle {
		s.warnLimited(st.source, "closing connection without a session", "reason", why, "remote", st.source)
		_ = st.conn.Close()
	}
}

// sessionStarted marks a live session on the connection: its timer stops.
func (st *connState) sessionStarted() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.live++
	if st.timer != nil {
		st.timer.Stop()
	}
}

// sessionEnded restarts the idle timer when the last live session ends.
func (s *server) sessionEnded(st *connState) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.live--
	if st.live == 0 && !st.released && st.timer != nil {
		st.timer = time.AfterFunc(s.cfg.IdleTimeout, func() { s.expire(st, "idle without a session") })
	}
}

// countedConn runs release once, when the connection is closed.
type countedConn struct {
	net.Conn
	release func()
	once    sync.Once
}

// Close closes the connection and releases its counts.
func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// limitChannels wraps the "session" channel handler: a connection may
// hold maxSessionsPerConn session channels at once, counted from the
// channel's opening until its handler returns; more are rejected at once,
// before they cost a goroutine or a buffer. A connection whose key is over
// its connection limit has every channel refused with the reason, and is
// closed.
func (s *server) limitChannels(next ssh.ChannelHandler) ssh.ChannelHandler {
	return func(srv *ssh.Server, conn *gossh.ServerConn, ch gossh.NewChannel, ctx ssh.Context) {
		st := connStateOf(ctx)
		if st == nil {
			_ = ch.Reject(gossh.ConnectionFailed, "sshchat: connection not admitted")
			return
		}
		st.mu.Lock()
		refusal := st.refusal
		st.mu.Unlock()
		if refusal != "" {
			_ = ch.Reject(gossh.ResourceShortage, "sshchat: "+refusal)
			_ = conn.Close()
			return
		}
		defer st.channels.Add(-1)
		if st.channels.Add(1) > maxSessionsPerConn {
			_ = ch.Reject(gossh.ResourceShortage, fmt.Sprintf("sshchat: at most %d sessions per connection", maxSessionsPerConn))
			return
		}
		next(srv, conn, ch, ctx)
	}
}
