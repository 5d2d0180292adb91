package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/log/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"

	"sshchat/chat"
	"sshchat/cluster"
	"sshchat/model"
	"sshchat/ui"
)

// server is one running sshchat: store, hub and SSH server.
type server struct {
	cfg       Config
	log       *log.Logger
	store     *model.DB
	bus       *cluster.NATS // nil on a single node
	hub       *chat.Hub
	broker    *broker // the hub as sessions see it (accounts.go)
	ssh       *ssh.Server
	authz     *allowlist
	keys      *KeysFile     // edits --authorized-keys (/admin authorize, revoke); nil on an open server
	admit     *admission    // connection and session limits
	proxy     *proxyHeaders // reads PROXY headers (proxy.go); nil when --proxy-protocol is off
	warns     *logLimiter   // rate of refusal lines per source
	sessLines *logLimiter   // rate of session start and end lines per source
	active    atomic.Int64  // open sessions
	metrics   *metrics      // Prometheus metrics (metrics.go)
	conns     atomic.Int64  // open TCP connections

	mu        sync.Mutex // guards the fields below
	listeners []net.Listener
	stopping  bool
	sessions  map[ssh.Session]chan struct{} // open sessions, for revocation; closed when each ends
	serving   sync.WaitGroup                // running Serve calls; Add under mu

	ending    sync.WaitGroup // endKeys revocations (bans, kicks, removed keys); Add under mu while not stopping
	stopWatch chan struct{}  // closed at shutdown; ends the allowlist watcher
	watchDone chan struct{}
	// recheck asks the allowlist watcher to look at the file now
	// (capacity 1): it was edited here or on another node.
	recheck   chan struct{}
	stopPrune chan struct{} // closed by stopPruner; ends the pruner (retention.go)
	pruneDone chan struct{}
	pruneOnce sync.Once

	admins     *admins
	adminsDone chan struct{} // closed when the admins watcher has ended
}

// refusals is per-connection state of the public-key handler: the refused
// fingerprints, for the keyboard-interactive explanation, and whether it
// was given. It is never used for identity.
type refusals struct {
	mu        sync.Mutex
	keys      []string
	expired   []string          // of keys, those refused because their line expired
	banned    map[string]string // of keys, those banned: the line to tell
	unusable  bool              // a key was refused because the file could not be used
	explained bool
}

type refusalsKey struct{}

// refusalsOf returns the connection's refusal record, creating it.
func refusalsOf(ctx ssh.Context) *refusals {
	if r, ok := ctx.Value(refusalsKey{}).(*refusals); ok {
		return r
	}
	r := &refusals{}
	ctx.SetValue(refusalsKey{}, r)
	return r
}

// newServer opens the store and builds the hub and the SSH server.
func newServer(cfg Config, logger *log.Logger) (*server, error) {
	pemBytes, err := loadOrCreateHostKey(cfg.HostKey)
	if err != nil {
		return nil, err
	}
	signer, err := gossh.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("parse host key %s: %w", cfg.HostKey, err)
	}
	// Several nodes (docs/deploy.md): the store is chosen from
	// cfg.DatabaseURL and the bus from cfg.NATSURL.
	store, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	var bus *cluster.NATS
	if cfg.NATSURL != "" {
		if cfg.DatabaseURL == "" {
			logger.Warn("--nats-url without --database-url: every node must open this same SQLite file, so all must run on this machine; use PostgreSQL for nodes on several machines")
		}
		if bus, err = cluster.Connect(cfg.NATSURL, cfg.NodeName, logger.WithPrefix("nats")); err != nil {
			store.Close()
			return nil, err
		}
	}
	adm := &admins{fps: map[string]bool{}}
	for _, fp := range cfg.AdminFingerprints {
		adm.fps[fp] = true
	}
	if cfg.Admins != "" {
		adm.file = newAllowlist(cfg.Admins, logger.WithPrefix("admins"))
		adm.file.words = adminsWords
	}
	s := &server{cfg: cfg, log: logger, store: store, sessions: map[ssh.Session]chan struct{}{},
		admit: newAdmission(cfg), proxy: newProxyHeaders(cfg), stopWatch: make(chan struct{}), watchDone: make(chan struct{}), recheck: make(chan struct{}, 1),
		stopPrune: make(chan struct{}), pruneDone: make(chan struct{}),
		admins: adm, adminsDone: make(chan struct{})}
	s.metrics = newMetrics(s)
	var keys chat.KeyEditor // nil on an open server
	if cfg.AuthorizedKeys != "" {
		s.keys, _ = NewKeysFile(cfg.AuthorizedKeys) // the path is not empty
		keys = s.keys
	}
	hub, err := chat.NewHub(store, logger.WithPrefix("chat"), chat.Options{RateBurst: cfg.MsgBurst, RatePerSecond: cfg.MsgRate,
		Metrics: s.metrics, KeyRemoved: func(fp string) { s.endKeySessions(fp) },
		IsAdmin: adm.isAdmin, EndKeys: func(fps []string, line string) { s.endKeys(fps, line) }, Keys: keys,
		Limits: s.limitLines, AllowlistChanged: s.allowlistChanged, Bus: optionalBus(bus)})
	if err != nil {
		closeBus(bus)
		store.Close()
		return nil, err
	}
	s.bus = bus
	s.hub = hub
	s.warns = s.limiter("refusal", refusalLinesPerMinute)
	s.sessLines = s.limiter("session", sessionLinesPerMinute)
	if cfg.AuthorizedKeys != "" {
		s.authz = newAllowlist(cfg.AuthorizedKeys, logger.WithPrefix("authz"))
		s.authz.refresh()
	}
	s.broker = &broker{Hub: hub, links: newLinkLimit(time.Now)}
	if cfg.AuthorizedKeys == "" && cfg.MaxNewAccountsPerSource > 0 {
		s.broker.accounts = newAccountLimit(cfg.MaxNewAccountsPerSource, time.Now)
	}
	uiMW := ui.Middleware(s.broker, ui.Options{ServerName: cfg.Name, MOTD: cfg.MOTD, Logger: logger.WithPrefix("ui"), FPS: cfg.FPS})
	s.ssh, err = wish.NewServer(
		wish.WithHostKeyPEM(pemBytes),
		wish.WithVersion("SSH-2.0-sshchat"),
		wish.WithPublicKeyAuth(s.publicKeyAuth),
		wish.WithKeyboardInteractiveAuth(s.explainRefusal),
		wish.WithMiddleware(s.commands, uiMW, s.countSessions, s.liveSession, s.keyStillAdmitted, s.limitSessions, s.logSessions),
	)
	if err != nil {
		hub.Close(context.Background())
		closeBus(bus)
		store.Close()
		return nil, fmt.Errorf("build ssh server: %w", err)
	}
	// Like OpenSSH's LoginGraceTime: a client that has not authenticated in
	// time is disconnected, however slowly it trickles bytes.
	s.ssh.HandshakeTimeout = cfg.LoginTimeout
	s.ssh.ConnCallback = s.admitConn
	s.ssh.AuthenticatedCallback = s.authenticated
	s.ssh.EnvCallback = acceptEnv
	s.ssh.ChannelHandlers = map[string]ssh.ChannelHandler{"session": s.limitChannels(ssh.DefaultSessionHandler)}
	logger.Info("host key", "path", cfg.HostKey, "fingerprint", gossh.FingerprintSHA256(signer.PublicKey()))
	if cfg.DatabaseURL != "" {
		logger.Info("database", "postgres", redactedURL(cfg.DatabaseURL))
	} else {
		logger.Info("database", "path", cfg.DBPath)
	}
	if s.proxy != nil {
		logger.Info("PROXY protocol on: a header from a trusted address gives the client's address; one from any other is refused", "trusted", fmt.Sprint(cfg.ProxyTrusted))
	}
	if s.authz == nil {
		logger.Warn("no authorized-keys file: any SSH key may join (open server)")
		close(s.watchDone)
	} else {
		every := cfg.allowlistEvery
		if every <= 0 {
			every = defaultAllowlistEvery
		}
		go s.watchAllowlist(every)
	}
	every := cfg.pruneEvery
	if every <= 0 {
		every = defaultPruneEvery
	}
	go s.pruneLoop(every)
	if adm.file != nil {
		adm.file.refresh()
		adm.current()
		go s.watchAdmins(2 * time.Second)
	} else {
		close(s.adminsDone)
	}
	return s, nil
}

// Serve accepts SSH connections on l until shutdown.
func (s *server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners = append(s.listeners, l)
	s.serving.Add(1) // under mu, before stopping is set: never concurrent with Wait
	s.mu.Unlock()
	defer s.serving.Done()
	s.log.Info("listening", "addr", l.Addr().String(), "name", s.cfg.Name)
	if a, ok := l.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
		s.log.Info("listening on all interfaces: reachable from every network this machine is on; --addr 127.0.0.1:PORT (or one address) limits it")
	}
	err := s.ssh.Serve(l)
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if errors.Is(err, ssh.ErrServerClosed) || stopping {
		return nil
	}
	return err
}

// shutdown tells every session, commits what is in flight, waits up to wait
// for sessions to end, then closes the database.
func (s *server) shutdown(wait time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// Stop accepting first, even if Serve has not registered with the SSH
	// server yet.
	s.mu.Lock()
	first := !s.stopping
	s.stopping = true
	for _, l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
	if first {
		close(s.stopWatch)
	}
	// Wait for Serve to return (its listener is closed) before the SSH
	// server's Shutdown: charm.land/ssh's Serve adds to a WaitGroup that
	// Shutdown waits on, and the two must not run at the same time.
	s.serving.Wait()
	<-s.watchDone
	<-s.adminsDone
	s.stopPruner()
	var errs []error
	if err := s.hub.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.ssh.Shutdown(ctx); err != nil {
		s.log.Warn("sessions still open at shutdown; closing them", "err", err)
		s.ssh.Close()
	}
	s.ending.Wait() // each ends with its session or at stopWatch
	closeBus(s.bus)
	if err := s.closeStore(); err != nil {
		errs = append(errs, err)
	}
	s.warns.stop() // the counts of suppressed lines are not lost
	s.sessLines.stop()
	s.log.Info("stopped")
	return errors.Join(errs...)
}

// closeStore stops the pruner and closes the database.
func (s *server) closeStore() error {
	s.stopPruner()
	if err := s.store.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// publicKeyAuth accepts any key on an open server, and only keys the
// allowlist admits from the client's address when an authorized-keys file
// is configured.
func (s *server) publicKeyAuth(ctx ssh.Context, key ssh.PublicKey) bool {
	fp := gossh.FingerprintSHA256(key)
	if ban, banned := s.hub.Banned(fp); banned {
		r := refusalsOf(ctx)
		r.mu.Lock()
		if !slices.Contains(r.keys, fp) {
			r.keys = append(r.keys, fp)
		}
		if r.banned == nil {
			r.banned = map[string]string{}
		}
		r.banned[fp] = "key " + fp + " is " + ban.Line()
		r.mu.Unlock()
		s.metrics.authRefusal(reasonBanned)
		s.logLimited(log.InfoLevel, sourceOf(ctx.RemoteAddr()), "refused key", "fingerprint", fp, "user", logSafe(ctx.User()), "remote", ctx.RemoteAddr().String(), "reason", "banned")
		return false
	}
	if s.authz == nil {
		return true
	}
	ok, reason := s.authz.allowed(key, addrIP(ctx.RemoteAddr()), time.Now())
	if ok {
		return true
	}
	s.metrics.authRefusal(reason)
	r := refusalsOf(ctx)
	r.mu.Lock()
	if !slices.Contains(r.keys, fp) {
		r.keys = append(r.keys, fp)
	}
	if reason == reasonExpired && !slices.Contains(r.expired, fp) {
		r.expired = append(r.expired, fp)
	}
	if fileUnusable(reason) {
		r.unusable = true
	}
	r.mu.Unlock()
	s.logLimited(log.InfoLevel, sourceOf(ctx.RemoteAddr()), "refused key", "fingerprint", fp, "user", logSafe(ctx.User()), "remote", ctx.RemoteAddr().String(), "reason", reason)
	return false
}

// explainRefusal is the keyboard-interactive method: it never accepts, and
// tells a client that offered no acceptable key why, in one line.
// OpenSSH retries keyboard-interactive, so the line is sent only once per
// connection.
func (s *server) explainRefusal(ctx ssh.Context, challenge gossh.KeyboardInteractiveChallenge) bool {
	r := refusalsOf(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.explained {
		return false
	}
	r.explained = true
	msg := "sshchat: a public key is required to log in; create one with: ssh-keygen -t ed25519"
	switch len(r.keys) {
	case 0:
	case 1:
		msg = "sshchat: key " + r.keys[0] + " is not authorized on this server; send this fingerprint to the operator"
		if strings.EqualFold(ctx.User(), ui.LinkUser) {
			// The key is to be linked to an account: that needs the operator too.
			msg = "sshchat: key " + r.keys[0] + " is not authorized on this server: the operator must add it before it can be linked to your account; send them this fingerprint"
		}
		if slices.Contains(r.expired, r.keys[0]) {
			msg = "sshchat: key " + r.keys[0] + " has expired on this server; ask the operator to renew it"
		}
	default:
		msg = "sshchat: keys " + strings.Join(r.keys, ", ") + " are not authorized on this server; send a fingerprint to the operator"
	}
	if r.unusable {
		msg = "sshchat: " + unusableLine
	}
	for _, fp := range r.keys { // a ban says more than "not authorized"
		if line, ok := r.banned[fp]; ok {
			msg = "sshchat: " + line
			break
		}
	}
	_, _ = challenge("", msg, nil, nil)
	return false
}

// limitSessions refuses sessions beyond Config.MaxSessions and beyond
// Config.MaxSessionsPerKey.
func (s *server) limitSessions(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		st := connStateOf(sess.Context())
		if st == nil {
			wish.Fatalln(sess, "sshchat: connection not admitted")
			return
		}
		n := s.active.Add(1)
		defer s.active.Add(-1)
		if n > int64(s.cfg.MaxSessions) {
			s.warnLimited(st.source, "session limit reached", "max", s.cfg.MaxSessions)
			wish.Fatalln(sess, "sshchat: the server is full, try again later")
			return
		}
		st.mu.Lock()
		key := st.key
		st.mu.Unlock()
		if reason := s.admit.startSession(key); reason != "" {
			s.warnLimited(st.source, "session refused", "reason", reason, "fingerprint", key)
			wish.Fatalln(sess, "sshchat: "+reason)
			return
		}
		defer s.admit.endSession(key)
		ended := make(chan struct{})
		s.mu.Lock()
		s.sessions[sess] = ended
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.sessions, sess)
			s.mu.Unlock()
			close(ended)
		}()
		next(sess)
	}
}

// liveSession marks the connection live while a session that passed
// every check runs the chat (see connState). A session refused at once
// (server or key over its limit, key revoked) is not activity: it neither
// stops nor restarts the connection's timer, so a client cannot keep an
// idle connection open by asking for sessions it is refused. Nor is one
// without a PTY until its command runs as the account (cmdEnv.session):
// help and usage errors are not activity either.
func (s *server) liveSession(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		st := connStateOf(sess.Context())
		if _, _, pty := sess.Pty(); st != nil && pty {
			st.sessionStarted()
			defer s.sessionEnded(st)
		}
		next(sess)
	}
}

// logSessions logs each session's start and end, at most
// sessionLinesPerMinute lines per source address: a client looping
// sessions cannot flood the log.
func (s *server) logSessions(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		start := time.Now()
		fp := ""
		if k := sess.PublicKey(); k != nil {
			fp = gossh.FingerprintSHA256(k)
		}
		source := sourceOf(sess.RemoteAddr())
		_, _, pty := sess.Pty()
		// The command's name only: its arguments may be a message.
		command, _, _ := strings.Cut(strings.TrimSpace(sess.RawCommand()), " ")
		s.logThrough(s.sessLines, log.InfoLevel, source, "session start", "user", logSafe(sess.User()), "fingerprint", fp,
			"remote", sess.RemoteAddr().String(), "pty", pty, "command", logSafe(command), "client", logSafe(sess.Context().ClientVersion()))
		next(sess)
		s.logThrough(s.sessLines, log.InfoLevel, source, "session end", "fingerprint", fp, "duration", time.Since(start).Round(time.Millisecond))
	}
}

// loadOrCreateHostKey reads the host key, creating an ed25519 key (0600, in
// a 0700 directory) when the file does not exist.
func loadOrCreateHostKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read host key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create host key directory: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "sshchat host key")
	if err != nil {
		return nil, fmt.Errorf("encode host key: %w", err)
	}
	b = pem.EncodeToMemory(block)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write host key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("write host key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write host key: %w", err)
	}
	return b, nil
}

// optionalBus is bus as a chat.Bus: nil stays an untyped nil (a single
// node), not a nil *cluster.NATS the hub would call.
func optionalBus(bus *cluster.NATS) chat.Bus {
	if bus == nil {
		return nil
	}
	return bus
}

// closeBus closes the NATS connection, if any.
func closeBus(bus *cluster.NATS) {
	if bus != nil {
		bus.Close()
	}
}

// openStore opens the PostgreSQL database of cfg.DatabaseURL, or else the
// SQLite file of cfg.DBPath.
func openStore(cfg Config) (*model.DB, error) {
	if cfg.DatabaseURL != "" {
		store, err := model.OpenURL(cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("open database %s: %s", redactedURL(cfg.DatabaseURL), withoutPassword(err.Error(), cfg.DatabaseURL))
		}
		return store, nil
	}
	store, err := model.Open(cfg.DBPath)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return store, nil
}

// withoutPassword removes the password of the URL raw from msg (a driver's
// error may quote what it was given).
func withoutPassword(msg, raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if p, ok := u.User.Password(); ok && p != "" {
			return strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// redactedURL is a database URL without its password, for logs.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
