// Command sshchat is a multi-user chat server reached with plain ssh: the
// public key is the login and every session gets a full-screen chat.
//
// main.go holds configuration; server.go wires the store, the broker and the
// SSH server; authkeys.go is the authorized-keys allowlist.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"charm.land/log/v2"
)

func main() {
	ctx, stop := signalContext()
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sshchat:", err)
			os.Exit(1)
		}
	}
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
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
	Admins         string
	MaxSessions    int
	MsgRate        float64 // messages per second per user
	MsgBurst       int
	ShutdownWait   time.Duration
	LoginTimeout   time.Duration // to finish the SSH handshake and authentication
	DebugAddr      string        // pprof listener, loopback only; empty = off
}

// envPrefix is the prefix of every configuration variable.
const envPrefix = "SSHCHAT_"

// parseConfig reads flags (which win) and environment variables, then checks
// every value, so that bad configuration fails before anything listens.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("sshchat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(envPrefix + name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.Addr, "addr", env("ADDR", ":2222"), "listen address `host:port` ($SSHCHAT_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", env("DATA_DIR", "data"), "data `directory` holding the database ($SSHCHAT_DATA_DIR)")
	fs.StringVar(&c.DBPath, "db", env("DB", ""), "database `file` (default DATA_DIR/sshchat.db) ($SSHCHAT_DB)")
	fs.StringVar(&c.HostKey, "host-key", env("HOST_KEY", filepath.Join(".ssh", "id_ed25519")), "host key `file`, an ed25519 key is created if missing ($SSHCHAT_HOST_KEY)")
	fs.StringVar(&c.Name, "name", env("NAME", "sshchat"), "server `name` shown in the welcome ($SSHCHAT_NAME)")
	fs.StringVar(&c.MOTDFile, "motd", env("MOTD", ""), "message-of-the-day `file` shown at login ($SSHCHAT_MOTD)")
	fs.StringVar(&c.AuthorizedKeys, "authorized-keys", env("AUTHORIZED_KEYS", ""), "authorized_keys `file`; only its keys may log in; re-read on change; unset = open to any key ($SSHCHAT_AUTHORIZED_KEYS)")
	fs.StringVar(&c.DebugAddr, "debug-addr", env("DEBUG_ADDR", ""), "serve Go pprof profiles on this loopback `host:port` (off when empty) ($SSHCHAT_DEBUG_ADDR)")
	fs.StringVar(&c.LogLevel, "log-level", env("LOG_LEVEL", "info"), "log `level`: debug, info, warn, error ($SSHCHAT_LOG_LEVEL)")
	maxSessions := env("MAX_SESSIONS", "5000")
	fs.Func("max-sessions", "maximum concurrent SSH sessions, `n` (default 5000) ($SSHCHAT_MAX_SESSIONS)", func(v string) error { maxSessions = v; return nil })
	rate := env("MSG_RATE", "5")
	fs.Func("msg-rate", "messages per second one user may send, sustained, a `rate` (default 5) ($SSHCHAT_MSG_RATE)", func(v string) error { rate = v; return nil })
	burst := env("MSG_BURST", "10")
	fs.Func("msg-burst", "messages one user may send in a burst, `n` (default 10) ($SSHCHAT_MSG_BURST)", func(v string) error { burst = v; return nil })
	grace := env("LOGIN_TIMEOUT", "30s")
	fs.Func("login-timeout", "time a client has to complete the handshake and authenticate, a `duration` (default 30s) ($SSHCHAT_LOGIN_TIMEOUT)", func(v string) error { grace = v; return nil })
	wait := env("SHUTDOWN_TIMEOUT", "10s")
	fs.Func("shutdown-timeout", "how long shutdown waits for sessions to end, a `duration` (default 10s) ($SSHCHAT_SHUTDOWN_TIMEOUT)", func(v string) error { wait = v; return nil })
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sshchat [flags]\n\nA chat server for ssh clients. Every flag can also be set with the environment variable in brackets; a flag wins over its variable.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
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
	if c.LoginTimeout, err = time.ParseDuration(grace); err != nil || c.LoginTimeout <= 0 {
		return c, fmt.Errorf("invalid login timeout %q: want a positive duration like 30s", grace)
	}
	if err := checkAddr(c.Addr); err != nil {
		return c, err
	}
	if c.DebugAddr != "" {
		host, _, err := net.SplitHostPort(c.DebugAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return c, fmt.Errorf("invalid debug address %q: want a loopback host:port like 127.0.0.1:6060", c.DebugAddr)
		}
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
