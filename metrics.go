package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"charm.land/log/v2"
	"charm.land/ssh"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sshchat/chat"
)

// metrics are the server's Prometheus metrics, in a registry of their own
// (never the client library's global one). They implement chat.Metrics
// for the hub's observations; the rest are counted by the SSH layer.
type metrics struct {
	reg           *prometheus.Registry
	committed     prometheus.Counter
	commitSeconds prometheus.Histogram
	fanoutSeconds prometheus.Histogram
	slowDropped   prometheus.Counter
	rateLimited   prometheus.Counter
	authRefused   *prometheus.CounterVec
	sessionsOpen  *prometheus.GaugeVec
	pruned        *prometheus.CounterVec
	connRefused   *prometheus.CounterVec
	// connRefused{limit="connect"} and {limit="key"}
	connRefusedConnect, connRefusedKey prometheus.Counter
	uiSessions                         prometheus.Gauge // sessionsOpen{kind="ui"}
	cmdSessions                        prometheus.Gauge // sessionsOpen{kind="command"}
}

var _ chat.Metrics = (*metrics)(nil)

// latencyBuckets span 100 µs to about 2.4 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2.5, 12)

// newMetrics builds the registry for s: the server's own metrics, the
// build info and the Go runtime's and process's.
func newMetrics(s *server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		committed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sshchat_messages_committed_total", Help: "Messages stored (committed to the database)."}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sshchat_store_commit_seconds", Help: "Time of each group commit of messages to the database.", Buckets: latencyBuckets}),
		fanoutSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sshchat_fanout_seconds", Help: "Time from a group's commit to its last message queued for the last session that gets it.", Buckets: latencyBuckets}),
		slowDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sshchat_slow_consumers_dropped_total", Help: "Sessions dropped because they did not read their events fast enough."}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sshchat_rate_limited_total", Help: "Sends and room changes refused for going over the user's rate."}),
		authRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sshchat_auth_refusals_total", Help: "Public keys refused at authentication, by reason."}, []string{"reason"}),
		sessionsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sshchat_sessions_open", Help: "SSH sessions open: kind ui (a terminal) or command (ssh host COMMAND)."}, []string{"kind"}),
	}
	m.pruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sshchat_pruned_total", Help: "Rows deleted by retention: messages, and acknowledged offline deliveries."}, []string{"what"})
	m.pruned.WithLabelValues("messages")
	m.pruned.WithLabelValues("deliveries")
	m.connRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sshchat_connections_refused_total",
		Help: "Connections refused by the admission limits: limit connect (server full, --max-startups, per-address limits, before the handshake) or key (--max-conns-per-key, after authentication)."},
		[]string{"limit"})
	m.connRefusedConnect = m.connRefused.WithLabelValues("connect")
	m.connRefusedKey = m.connRefused.WithLabelValues("key")
	m.uiSessions = m.sessionsOpen.WithLabelValues("ui")
	m.cmdSessions = m.sessionsOpen.WithLabelValues("command")
	for _, r := range authReasonLabels {
		m.authRefused.WithLabelValues(r) // every reason shows, at 0
	}
	m.reg.MustRegister(m.pruned, m.connRefused, m.committed, m.commitSeconds, m.fanoutSeconds, m.slowDropped, m.rateLimited, m.authRefused, m.sessionsOpen,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sshchat_connections_open", Help: "TCP connections open, authenticated or not."},
			func() float64 { return float64(s.conns.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sshchat_users_online", Help: "Users with at least one chat session."},
			func() float64 { return float64(s.hub.Online()) }),
		collectors.NewBuildInfoCollector(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if s.cfg.NATSURL != "" {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sshchat_cluster_connected", Help: "1 while this node reaches the other nodes over NATS, else 0 (only with --nats-url)."},
			func() float64 {
				if s.bus != nil && s.bus.Connected() {
					return 1
				}
				return 0
			}))
	}
	return m
}

// Committed implements chat.Metrics.
func (m *metrics) Committed(n int, took time.Duration) {
	m.committed.Add(float64(n))
	m.commitSeconds.Observe(took.Seconds())
}

// FannedOut implements chat.Metrics.
func (m *metrics) FannedOut(took time.Duration) { m.fanoutSeconds.Observe(took.Seconds()) }

// SlowConsumerDropped implements chat.Metrics.
func (m *metrics) SlowConsumerDropped() { m.slowDropped.Inc() }

// RateLimited implements chat.Metrics.
func (m *metrics) RateLimited() { m.rateLimited.Inc() }

// authReasonLabels are the label values of sshchat_auth_refusals_total,
// by the allowlist's reasons (authkeys.go).
var authReasonLabels = map[string]string{
	reasonNotListed:   "not_listed",
	reasonExpired:     "expired",
	reasonFrom:        "from",
	reasonUnusable:    "file_unusable",
	reasonUnsupported: "unsupported_option",
	reasonBanned:      "banned",
}

// reasonBanned is the refusal of a key an administrator banned (the
// allowlist's reasons are in authkeys.go).
const reasonBanned = "banned by an administrator"

// authRefusal counts a key refused for reason.
func (m *metrics) authRefusal(reason string) {
	label, ok := authReasonLabels[reason]
	if !ok {
		label = "other"
	}
	m.authRefused.WithLabelValues(label).Inc()
}

// countSessions keeps sshchat_sessions_open: a session with a terminal is
// a ui one, one without a command one. It runs inside the session limits,
// so refused sessions are not counted.
func (s *server) countSessions(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		g := s.metrics.cmdSessions
		if _, _, pty := sess.Pty(); pty {
			g = s.metrics.uiSessions
		}
		g.Inc()
		defer g.Dec()
		next(sess)
	}
}

// ready reports why the server should not be sent traffic, or nil: it
// must be serving on a listener and its database must take a write.
func (s *server) ready(ctx context.Context) error {
	s.mu.Lock()
	up := len(s.listeners) > 0 && !s.stopping
	s.mu.Unlock()
	if !up {
		return errors.New("not listening")
	}
	if err := s.store.Writable(ctx); err != nil {
		return err
	}
	return nil
}

// serveMetrics serves /metrics, /healthz (the process is up) and /readyz
// (see server.ready) on addr. It returns a function that stops it.
func serveMetrics(addr string, s *server, logger *log.Logger) (func(), error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server", "err", err)
		}
	}()
	logger.Info("metrics listening", "addr", l.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
