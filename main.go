// Command sshchat is a multi-user chat server reached with plain ssh: the
// public key is the login and every session gets a full-screen chat.
//
// main.go holds configuration; server.go wires the store, the broker and the
// SSH server; limits.go admits connections and sessions; logsafe.go keeps
// log lines safe and bounded; authkeys.go is the authorized-keys allowlist,
// keyoptions.go its option rules and revoke.go ends what it no longer admits.
// For operators: cli.go holds --version, healthcheck and backup;
// metrics.go the Prometheus metrics, /healthz and /readyz; retention.go
// the pruner; admins.go says which keys are administrators'.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"charm.land/log/v2"

	"sshchat/cluster"
)

func main() {
	ctx, stop := signalContext()
	defer stop()
	if err := cli(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sshchat:", err)
			os.Exit(1)
		}
	}
}

// signalContext ends on SIGINT or SIGTERM. It also subscribes to SIGPIPE
// for the life of the process: without a subscription Go kills a program
// whose write to a broken stdout or stderr raises SIGPIPE (os/signal, "SIGPIPE"),
// so a server whose log went to an interrupted `| tee` died before closing
// the database. Subscribed, such writes fail with EPIPE and the server
// shuts down normally; the signals themselves are dropped.
func signalContext() (context.Context, context.CancelFunc) {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// Config is the server's configuration, from flags and SSHCHAT_* variables.
type Config struct {
	Addr           string
	DataDir        string
	DBPath         string
	HostKey        string
	Name           string
	MOTDFile       string
	MOTD           string // the MOTD file's text, read at start
	AuthorizedKeys string
	LogLevel       string
	// Admins is an authorized_keys file of the administrators' keys,
	// re-read on change ("": none); AdminFingerprints lists more by
	// SHA256 fingerprint. See admins.go.
	Admins            string
	AdminFingerprints []string
	MaxSessions       int
	MsgRate           float64 // messages per second per user
	MsgBurst          int
	FPS               int // maximum screen writes per second per session
	ShutdownWait      time.Duration
	LoginTimeout      time.Duration // to finish the SSH handshake and authentication
	DebugAddr         string        // pprof listener, loopback only; empty = off
	MetricsAddr       string        // Prometheus metrics, /healthz and /readyz; empty = off
	Retention         time.Duration // messages older than this are pruned; 0 keeps everything

	// Connection admission (limits.go); 0 for a per-source or per-key
	// limit means none.
	MaxStartups          startups // unauthenticated connections at once, sshd's begin:rate:full
	MaxStartupsPerSource int      // unauthenticated connections at once from one address
	MaxConnsPerSource    int      // connections at once from one address
	MaxConnsPerKey       int      // authenticated connections at once per key
	MaxSessionsPerKey    int      // sessions at once per key
	// New accounts one source address may create per hour on an open
	// server (accounts.go); 0 means no limit.
	MaxNewAccountsPerSource int
	OpenTimeout             time.Duration // to start a session after authenticating
	IdleTimeout             time.Duration // a connection may stay open without a session after its last one ended

	// PROXY protocol on the SSH listener (proxy.go): off unless
	// ProxyProtocol; only ProxyTrusted addresses may send a header.
	ProxyProtocol bool
	ProxyTrusted  []netip.Prefix

	// Several nodes behind one address (docs/deploy.md). Parsed and
	// checked here; the store and the bus are chosen from them in
	// newServer. DatabaseURL "" is the SQLite file DBPath; NATSURL ""
	// is a single node; NodeName names this node in the cluster.
	DatabaseURL string
	NATSURL     string
	NodeName    string

	proxyHeaderTimeout time.Duration // 0 means defaultProxyHeaderTimeout (tests lower it)
	pruneEvery         time.Duration // between pruning passes; 0 means defaultPruneEvery (tests lower it)
	maxRevoking        int           // revocations at once; 0 means the constant maxRevoking (tests lower it)
	// allowlistEvery is between the allowlist watcher's looks at the
	// file; 0 means defaultAllowlistEvery (tests raise it).
	allowlistEvery time.Duration
}

// envPrefix is the prefix of every configuration variable.
const envPrefix = "SSHCHAT_"

// parseConfig reads flags (which win) and environment variables, then checks
// every value, so that bad configuration fails before anything listens.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("sshchat", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned as one line; --help prints usage
	env := func(name, def string) string {
		if v := getenv(envPrefix + name); v != "" {
			return v
		}
		return def
	}
	// Every flag is a string with its variable's value as default, so the
	// help shows one format: "usage [$VAR] (default ...)".
	str := func(p *string, name, envName, def, usage string) {
		fs.StringVar(p, name, env(envName, def), usage+" [$"+envPrefix+envName+"]")
	}
	var maxSessions, rate, burst, grace, wait, fps, retention, adminFPs string
	var maxStartups, startupsPerSource, connsPerSource, connsPerKey, sessionsPerKey, openTimeout, idleTimeout, newAccounts string
	var proxyProtocol, proxyTrusted string
	str(&c.Addr, "addr", "ADDR", ":2222", "listen `address` host:port")
	str(&c.DataDir, "data-dir", "DATA_DIR", "data", "data `directory` holding the database")
	str(&c.DBPath, "db", "DB", "", "database `file` (empty: DATA_DIR/sshchat.db)")
	str(&c.HostKey, "host-key", "HOST_KEY", defaultHostKey, "host key `file`; an ed25519 key is created if missing")
	str(&c.Name, "name", "NAME", "sshchat", "server `name` shown in the welcome")
	str(&c.MOTDFile, "motd", "MOTD", "", "message-of-the-day `file` shown at login")
	str(&c.AuthorizedKeys, "authorized-keys", "AUTHORIZED_KEYS", "", "authorized_keys `file`: only its keys may log in, re-read on change (empty: any key)")
	str(&c.Admins, "admins", "ADMINS", "", "authorized_keys `file` of the administrators' keys, re-read on change (empty: none)")
	str(&adminFPs, "admin-fingerprints", "ADMIN_FINGERPRINTS", "", "comma-separated SHA256 key `fingerprints` of administrators, as ssh-keygen -lf prints them")
	str(&c.LogLevel, "log-level", "LOG_LEVEL", "info", "log `level`: debug, info, warn or error")
	str(&maxSessions, "max-sessions", "MAX_SESSIONS", "5000", "maximum concurrent SSH `sessions`")
	str(&rate, "msg-rate", "MSG_RATE", "5", "`messages` per second one user may send, sustained")
	str(&burst, "msg-burst", "MSG_BURST", "10", "`messages` one user may send in a burst")
	str(&fps, "fps", "FPS", "30", "maximum screen `updates` per second per session (bursts are merged)")
	str(&grace, "login-timeout", "LOGIN_TIMEOUT", "30s", "`time` a client has to complete the handshake and authenticate")
	str(&openTimeout, "open-timeout", "OPEN_TIMEOUT", "30s", "`time` an authenticated connection has to start a session")
	str(&idleTimeout, "idle-timeout", "IDLE_TIMEOUT", "60s", "`time` a connection may stay open without a session after its last one ended")
	str(&maxStartups, "max-startups", "MAX_STARTUPS", "64:30:256", "unauthenticated connections at once, sshd's `begin:rate:full`: from begin on, refuse rate % of new ones, rising to all at full")
	str(&startupsPerSource, "max-startups-per-source", "MAX_STARTUPS_PER_SOURCE", "32", "unauthenticated `connections` at once from one IP address (0: no limit)")
	str(&connsPerSource, "max-conns-per-source", "MAX_CONNS_PER_SOURCE", "128", "`connections` at once from one IP address (0: no limit)")
	str(&connsPerKey, "max-conns-per-key", "MAX_CONNS_PER_KEY", "16", "authenticated `connections` at once per SSH key (0: no limit)")
	str(&sessionsPerKey, "max-sessions-per-key", "MAX_SESSIONS_PER_KEY", "32", "`sessions` at once per SSH key (0: no limit)")
	str(&newAccounts, "max-new-accounts-per-source", "MAX_NEW_ACCOUNTS_PER_SOURCE", "5", "new `accounts` one IP address may create per hour on an open server (0: no limit)")
	str(&wait, "shutdown-timeout", "SHUTDOWN_TIMEOUT", "10s", "`time` shutdown waits for sessions to end")
	str(&c.DebugAddr, "debug-addr", "DEBUG_ADDR", "", "loopback `address` serving Go pprof profiles (empty: off)")
	str(&retention, "retention", "RETENTION", "", "delete messages older than this `age`, e.g. 90d or 36h (empty or 0: keep everything)")
	str(&c.MetricsAddr, "metrics-addr", "METRICS_ADDR", "", "`address` host:port serving Prometheus /metrics, /healthz and /readyz over HTTP (empty: off)")
	str(&proxyProtocol, "proxy-protocol", "PROXY_PROTOCOL", "false", "read a PROXY protocol v1 or v2 `header` (true or false) from --proxy-trusted addresses, e.g. a load balancer's, so that limits, from= and the log see the client's address")
	str(&proxyTrusted, "proxy-trusted", "PROXY_TRUSTED", "", "comma-separated `networks` (CIDR) or addresses whose PROXY header is believed; a header from any other address is refused")
	str(&c.DatabaseURL, "database-url", "DATABASE_URL", "", "database `URL`: postgres://user@host/db for PostgreSQL shared by several nodes (empty: the SQLite file of --db)")
	str(&c.NATSURL, "nats-url", "NATS_URL", "", "comma-separated NATS server `URLs` (nats:// or tls://) linking several nodes (empty: a single node)")
	str(&c.NodeName, "node-name", "NODE_NAME", "", "this node's `name`, unique in the cluster: letters, digits, '-', '_', '.', at most 64 (empty: the host name)")
	usage := func() {
		fmt.Fprintf(stderr, "Usage: sshchat [flags]\n       sshchat --version | healthcheck [--addr HOST:PORT] | backup [--data-dir DIR] FILE\n\nA chat server for ssh clients. Every flag can also be set with the environment variable in brackets; a flag wins over its variable.\n\n")
		fs.SetOutput(stderr)
		fs.PrintDefaults()
	}
	fs.Usage = func() {} // the flag package's own calls; we print on --help only
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return c, err
		}
		return c, fmt.Errorf("%w (see --help)", err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	n, err := strconv.Atoi(maxSessions)
	if err != nil || n < 1 {
		return c, fmt.Errorf("invalid max sessions %q: want a positive number", maxSessions)
	}
	c.MaxSessions = n
	if c.MsgRate, err = strconv.ParseFloat(rate, 64); err != nil || c.MsgRate <= 0 {
		return c, fmt.Errorf("invalid message rate %q: want a positive number", rate)
	}
	if c.MsgBurst, err = strconv.Atoi(burst); err != nil || c.MsgBurst < 1 {
		return c, fmt.Errorf("invalid message burst %q: want a positive number", burst)
	}
	if c.ShutdownWait, err = time.ParseDuration(wait); err != nil || c.ShutdownWait < 0 {
		return c, fmt.Errorf("invalid shutdown timeout %q: want a duration like 10s", wait)
	}
	if c.FPS, err = strconv.Atoi(fps); err != nil || c.FPS < 1 || c.FPS > 120 {
		return c, fmt.Errorf("invalid fps %q: want 1 to 120", fps)
	}
	if c.LoginTimeout, err = time.ParseDuration(grace); err != nil || c.LoginTimeout <= 0 {
		return c, fmt.Errorf("invalid login timeout %q: want a positive duration like 30s", grace)
	}
	for _, d := range []struct {
		p       *time.Duration
		v, what string
	}{{&c.OpenTimeout, openTimeout, "open timeout"}, {&c.IdleTimeout, idleTimeout, "idle timeout"}} {
		if *d.p, err = time.ParseDuration(d.v); err != nil || *d.p <= 0 {
			return c, fmt.Errorf("invalid %s %q: want a positive duration like 30s", d.what, d.v)
		}
	}
	if c.MaxStartups, err = parseStartups(maxStartups); err != nil {
		return c, err
	}
	for _, l := range []struct {
		p       *int
		v, what string
	}{{&c.MaxStartupsPerSource, startupsPerSource, "max startups per source"}, {&c.MaxConnsPerSource, connsPerSource, "max connections per source"},
		{&c.MaxConnsPerKey, connsPerKey, "max connections per key"}, {&c.MaxSessionsPerKey, sessionsPerKey, "max sessions per key"},
		{&c.MaxNewAccountsPerSource, newAccounts, "max new accounts per source"}} {
		if *l.p, err = strconv.Atoi(l.v); err != nil || *l.p < 0 {
			return c, fmt.Errorf("invalid %s %q: want a number, 0 for no limit", l.what, l.v)
		}
	}
	if c.AdminFingerprints, err = parseFingerprints(adminFPs); err != nil {
		return c, err
	}
	if err := checkAddr(c.Addr); err != nil {
		return c, err
	}
	if err := checkHostKeyNotIdentity(c.HostKey); err != nil {
		return c, err
	}
	if c.Retention, err = parseRetention(retention); err != nil {
		return c, err
	}
	if c.MetricsAddr != "" {
		if err := checkAddr(c.MetricsAddr); err != nil {
			return c, fmt.Errorf("metrics address: %w", err)
		}
	}
	if c.DebugAddr != "" {
		host, _, err := net.SplitHostPort(c.DebugAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return c, fmt.Errorf("invalid debug address %q: want a loopback host:port like 127.0.0.1:6060", c.DebugAddr)
		}
	}
	if c.ProxyProtocol, c.ProxyTrusted, err = parseProxyFlags(proxyProtocol, proxyTrusted); err != nil {
		return c, err
	}
	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		return c, err
	}
	if err := checkNATSURL(c.NATSURL); err != nil {
		return c, err
	}
	if c.DatabaseURL != "" && c.DBPath != "" {
		return c, errors.New("both --db and --database-url are set: the database is one or the other")
	}
	if c.NodeName == "" {
		if c.NodeName, err = hostNodeName(os.Hostname, c.NATSURL != ""); err != nil {
			return c, err
		}
	} else if err := checkNodeName(c.NodeName); err != nil {
		return c, err
	}
	if _, err := log.ParseLevel(c.LogLevel); err != nil {
		return c, fmt.Errorf("invalid log level %q: want debug, info, warn or error", c.LogLevel)
	}
	if err := checkDataDir(c.DataDir); err != nil {
		return c, err
	}
	if c.DBPath == "" {
		c.DBPath = filepath.Join(c.DataDir, "sshchat.db")
	}
	if c.MOTDFile != "" {
		b, err := os.ReadFile(c.MOTDFile)
		if err != nil {
			return c, fmt.Errorf("read motd: %w", err)
		}
		c.MOTD = strings.TrimRight(string(b), "\n")
	}
	if err := checkHostKeyDir(c.HostKey); err != nil {
		return c, err
	}
	return c, nil
}

// checkAddr validates a listen address.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid listen address %q: want host:port, e.g. :2222", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("invalid listen address %q: bad port", addr)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
		return fmt.Errorf("invalid listen address %q: bad host", addr)
	}
	return nil
}

// checkDatabaseURL accepts "" (the SQLite file of --db) and a PostgreSQL
// URL, postgres:// or postgresql:// as libpq and pgx read them. Its
// errors never quote the URL, which may hold a password.
func checkDatabaseURL(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil {
		return errors.New("invalid database URL: not a URL; want postgres://USER@HOST:5432/DB")
	}
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql":
		return nil
	case "":
		return errors.New("invalid database URL: no scheme; want postgres://USER@HOST:5432/DB (empty: the SQLite file of --db)")
	}
	return fmt.Errorf("invalid database URL: unknown scheme %.20q; want postgres://USER@HOST:5432/DB (empty: the SQLite file of --db)", u.Scheme)
}

// checkNATSURL accepts "" (a single node) and a comma-separated list of
// NATS server URLs, as nats.go takes them: nats:// or tls://, each with a
// host. Its errors quote an entry only without its password.
func checkNATSURL(v string) error {
	if v == "" {
		return nil
	}
	for i, entry := range strings.Split(v, ",") {
		u, err := url.Parse(strings.TrimSpace(entry))
		if err != nil {
			return fmt.Errorf("invalid NATS URL (entry %d): not a URL; want nats://HOST:4222 or tls://HOST:4222", i+1)
		}
		switch strings.ToLower(u.Scheme) {
		case "nats", "tls":
		default:
			return fmt.Errorf("invalid NATS URL %.200q: want nats://HOST:4222 or tls://HOST:4222", u.Redacted())
		}
		if u.Hostname() == "" {
			return fmt.Errorf("invalid NATS URL %.200q: no host; want nats://HOST:4222 or tls://HOST:4222", u.Redacted())
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("invalid NATS URL %.200q: bad port", u.Redacted())
			}
		}
	}
	return nil
}

// checkNodeName accepts a node name of letters, digits, '-', '_' and '.',
// at most maxNodeName bytes: it names the node to the others (and in
// subjects and logs), so it must be unique in the cluster and safe
// anywhere.
func checkNodeName(name string) error {
	if !cluster.ValidNodeName(name) {
		return fmt.Errorf("invalid node name %.80q: want letters, digits, '-', '_' or '.', at most %d", name, cluster.MaxNodeName)
	}
	return nil
}

// hostNodeName is the default node name: the host name, with any rune a
// node name may not hold made '-' and cut to cluster.MaxNodeName. Without a host
// name it is "sshchat" on a single node, and an error in a cluster, where
// names must differ.
func hostNodeName(hostname func() (string, error), inCluster bool) (string, error) {
	h, err := hostname()
	if err == nil && h != "" {
		b := []byte(strings.Map(func(r rune) rune {
			if cluster.NodeNameRune(r) {
				return r
			}
			return '-'
		}, h))
		return string(b[:min(len(b), cluster.MaxNodeName)]), nil
	}
	if inCluster {
		if err == nil {
			err = errors.New("empty")
		}
		return "", fmt.Errorf("node name: cannot read the host name (%v); set --node-name", err)
	}
	return "sshchat", nil
}

// checkDataDir creates the data directory if needed and proves it writable.
func checkDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// defaultHostKey is relative to the working directory; see
// checkHostKeyNotIdentity.
var defaultHostKey = filepath.Join(".ssh", "id_ed25519")

// errHostKeyIsIdentity refuses a host key path that is a user's own SSH
// identity key.
var errHostKeyIsIdentity = errors.New("host key is your own SSH identity key")

// checkHostKeyNotIdentity refuses a host key path that resolves (following
// symlinks) to an identity key in the user's ~/.ssh (id_*): the default
// path, existing or not, since it is relative to the working directory
// and, started from the home directory, the server would otherwise serve
// the operator's login key as its host key or create one where ssh takes
// it for the operator's identity; a path given explicitly, when an
// id_*.pub lies beside it (a login key made by ssh-keygen). A service
// account whose home holds the server's own key, as in the Docker image
// (HOME=/data, SSHCHAT_HOST_KEY=/data/.ssh/id_ed25519), is not refused.
func checkHostKeyNotIdentity(path string) error {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil // no home directory: no identity keys to confuse
	}
	key, sshDir := resolvePath(path), resolvePath(filepath.Join(home, ".ssh"))
	if filepath.Dir(key) != sshDir || !strings.HasPrefix(filepath.Base(key), "id_") {
		return nil
	}
	if _, err := os.Stat(key + ".pub"); path != defaultHostKey && err != nil {
		return nil
	}
	return fmt.Errorf("%w: %s is %s; pass --host-key with a file of the server's own, e.g. --host-key data/host_key", errHostKeyIsIdentity, path, key)
}

// resolvePath is path made absolute with the symlinks of its deepest
// existing part resolved; the parts that do not exist yet are kept.
func resolvePath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	rest := ""
	for p := abs; ; p = filepath.Dir(p) {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(real, rest)
		}
		if filepath.Dir(p) == p {
			return abs
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}

// checkHostKeyDir makes sure the host key exists or can be created.
func checkHostKeyDir(path string) error {
	if _, err := os.Stat(path); err == nil {
		if _, err := os.ReadFile(path); err != nil {
			return fmt.Errorf("host key: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("host key directory: %w", err)
	}
	return nil
}

// newLogger builds the structured stderr logger.
func newLogger(w io.Writer, level string) *log.Logger {
	l := log.NewWithOptions(w, log.Options{ReportTimestamp: true, TimeFormat: time.RFC3339, Formatter: log.LogfmtFormatter})
	lv, _ := log.ParseLevel(level)
	l.SetLevel(lv)
	return l
}

// run is main without the process: it serves until ctx ends, then shuts
// down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.LogLevel)
	srv, err := newServer(cfg, logger)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		srv.closeStore()
		return fmt.Errorf("listen: %w", err)
	}
	if cfg.DebugAddr != "" {
		stopDebug, err := serveDebug(cfg.DebugAddr, logger)
		if err != nil {
			l.Close()
			srv.closeStore()
			return err
		}
		defer stopDebug()
	}
	if cfg.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, srv, logger)
		if err != nil {
			l.Close()
			srv.closeStore()
			return err
		}
		defer stopMetrics()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "reason", "signal")
	case err := <-errc:
		srv.shutdown(cfg.ShutdownWait)
		return fmt.Errorf("serve: %w", err)
	}
	return srv.shutdown(cfg.ShutdownWait)
}
