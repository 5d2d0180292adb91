package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	gossh "golang.org/x/crypto/ssh"

	"sshchat/model"
)

// runningServer is the whole program (run) serving in the background, as
// the binary does; its addresses are read from its log.
type runningServer struct {
	logs    *syncBuffer
	cancel  context.CancelFunc
	done    chan error
	addr    string // SSH
	metrics string // HTTP, when --metrics-addr was given
}

var (
	sshListening     = regexp.MustCompile(`msg=listening addr=(\S+)`)
	metricsListening = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)
)

// runServer runs the program with args (plus a loopback address and
// the data under dir) until the test ends.
func runServer(t *testing.T, dir string, args ...string) *runningServer {
	t.Helper()
	base := []string{"--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--host-key", filepath.Join(dir, "ssh", "host_ed25519"), "--shutdown-timeout", "3s"}
	ctx, cancel := context.WithCancel(context.Background())
	rs := &runningServer{logs: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { rs.done <- run(ctx, append(base, args...), func(string) string { return "" }, rs.logs) }()
	t.Cleanup(func() { rs.stop(t) })
	eventually(t, "the server to listen", func() bool {
		m := sshListening.FindStringSubmatch(rs.logs.String())
		if m != nil {
			rs.addr = m[1]
		}
		return m != nil
	})
	if m := metricsListening.FindStringSubmatch(rs.logs.String()); m != nil {
		rs.metrics = m[1]
	}
	return rs
}

// stop ends the program as SIGTERM would and checks it exits cleanly
// (idempotent).
func (rs *runningServer) stop(t *testing.T) {
	t.Helper()
	if rs.cancel == nil {
		return
	}
	rs.cancel()
	rs.cancel = nil
	select {
	case err := <-rs.done:
		if err != nil {
			t.Errorf("run returned %v at shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("server did not stop")
	}
}

// get fetches url and returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// metricValue is the value of one series (name with its labels, as the
// text format writes it) in a scrape, or -1 when absent.
func metricValue(scrape, series string) float64 {
	for _, line := range strings.Split(scrape, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// scrapeOf is the text a scrape of s's registry returns.
func scrapeOf(s *server) string {
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestMetricsAddrFlagAndEnvironmentParse(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--data-dir", filepath.Join(dir, "d"), "--host-key", filepath.Join(dir, "k")}
	env := map[string]string{"SSHCHAT_METRICS_ADDR": "127.0.0.1:9100"}
	cfg, err := parseConfig(base, func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.MetricsAddr != "127.0.0.1:9100" {
		t.Fatalf("from env: %q, %v", cfg.MetricsAddr, err)
	}
	cfg, err = parseConfig(append(base, "--metrics-addr", ":9200"), func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.MetricsAddr != ":9200" {
		t.Fatalf("flag over env: %q, %v", cfg.MetricsAddr, err)
	}
	cfg, err = parseConfig(base, func(string) string { return "" }, io.Discard)
	if err != nil || cfg.MetricsAddr != "" {
		t.Fatalf("default: %q, %v; want off", cfg.MetricsAddr, err)
	}
	_, err = parseConfig(append(base, "--metrics-addr", "nonsense"), func(string) string { return "" }, io.Discard)
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("bad metrics address: %v; want one line", err)
	}
}

// A scrape over HTTP after real SSH traffic shows the sessions, the
// connections, the committed messages with their commit and fan-out
// latencies, a refused key by reason and a rate-limit refusal; /healthz
// and /readyz answer beside it.
func TestMetricsScrapeShowsRealSSHTraffic(t *testing.T) {
	dir := t.TempDir()
	alice := newKey(t)
	keys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(keys, gossh.MarshalAuthorizedKey(alice.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	rs := runServer(t, dir, "--metrics-addr", "127.0.0.1:0", "--authorized-keys", keys, "--msg-burst", "2", "--msg-rate", "0.01")
	if rs.metrics == "" {
		t.Fatalf("no metrics listener logged:\n%s", rs.logs.String())
	}
	base := "http://" + rs.metrics
	if code, body := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	eventually(t, "/readyz to answer 200", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })

	ui := dial(t, rs.addr, "alice", alice, 80, 24)
	defer ui.Close()
	mustRun(t, rs.addr, "alice", alice, "", "send lobby one")
	mustRun(t, rs.addr, "alice", alice, "", "send lobby two")
	if r := runCmd(t, rs.addr, "alice", alice, "", "send lobby three"); r.code == 0 {
		t.Fatal("third send not rate limited")
	}
	if _, err := gossh.Dial("tcp", rs.addr, sshConfig("mallory", newKey(t))); err == nil {
		t.Fatal("unlisted key admitted")
	}

	want := map[string]float64{
		"sshchat_messages_committed_total":                 2,
		"sshchat_store_commit_seconds_count":               1,
		"sshchat_fanout_seconds_count":                     1,
		`sshchat_auth_refusals_total{reason="not_listed"}`: 1,
		"sshchat_rate_limited_total":                       1,
		`sshchat_sessions_open{kind="ui"}`:                 1,
		"sshchat_connections_open":                         1,
		"sshchat_users_online":                             1,
	}
	var scrape string
	eventually(t, "the counters to move", func() bool {
		_, scrape = get(t, base+"/metrics")
		for series, min := range want {
			if metricValue(scrape, series) < min {
				return false
			}
		}
		return true
	})
	for _, series := range []string{`sshchat_sessions_open{kind="command"}`, "sshchat_slow_consumers_dropped_total", "go_goroutines"} {
		if metricValue(scrape, series) < 0 {
			t.Errorf("%s missing from the scrape", series)
		}
	}
}

// /readyz says not ready once the server has stopped listening and
// closed its database.
func TestReadyzFailsOnceTheServerStops(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	srv := ts.srv
	eventually(t, "ready", func() bool { return srv.ready(context.Background()) == nil })
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.ready(context.Background()); err == nil {
		t.Fatal("ready after shutdown")
	}
}

// The hub's hooks run on the sequencer with its lock held: observing a
// commit, a fan-out, a drop or a rate refusal allocates nothing.
func TestMetricsHooksDoNotAllocate(t *testing.T) {
	m := newMetrics(&server{})
	allocs := testing.AllocsPerRun(100, func() {
		m.Committed(3, time.Millisecond)
		m.FannedOut(200 * time.Microsecond)
		m.SlowConsumerDropped()
		m.RateLimited()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per observation; want 0", allocs)
	}
}

func TestVersionPrintsModuleCommitAndGoVersion(t *testing.T) {
	var out strings.Builder
	if err := cli(context.Background(), []string{"--version"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	line := out.String()
	if !strings.HasPrefix(line, "sshchat ") || !strings.Contains(line, " commit ") || !strings.Contains(line, runtime.Version()) || strings.Count(line, "\n") != 1 {
		t.Fatalf("version line %q; want sshchat VERSION commit REV ... %s", line, runtime.Version())
	}
}

// healthcheck exits 0 against a server that reaches authentication, with
// the address from SSHCHAT_ADDR as in the Docker image, and fails with one
// line when nothing (or something other than SSH) answers.
func TestHealthcheckPassesOnlyWhenTheServerCompletesAHandshake(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	env := func(k string) string {
		if k == "SSHCHAT_ADDR" {
			return ts.addr
		}
		return ""
	}
	if err := cli(context.Background(), []string{"healthcheck"}, env, io.Discard, io.Discard); err != nil {
		t.Fatalf("healthcheck of a running server: %v", err)
	}
	// Not SSH: an HTTP server that never speaks first.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			c.Close()
		}
	}()
	ts.stop()
	for name, addr := range map[string]string{"stopped": ts.addr, "not ssh": l.Addr().String()} {
		err := cli(context.Background(), []string{"healthcheck", "--addr", addr, "--timeout", "2s"}, env, io.Discard, io.Discard)
		if !errors.Is(err, errUnhealthy) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line of errUnhealthy", name, err)
		}
	}
}

// sendLoop sends numbered lobby messages over SSH, one command session
// each on one connection, until stop is closed; it returns how many it
// sent or the first error.
func sendLoop(addr, user string, key gossh.Signer, stop <-chan struct{}) (int, error) {
	conn, err := gossh.Dial("tcp", addr, sshConfig(user, key))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return n, nil
		default:
		}
		sess, err := conn.NewSession()
		if err != nil {
			return n, err
		}
		err = sess.Run(fmt.Sprintf("send lobby %s-%d", user, n))
		sess.Close()
		if err != nil {
			return n, err
		}
	}
}

// lobbyOverSSH reads the whole lobby history with `history --json`.
func lobbyOverSSH(t *testing.T, addr string, key gossh.Signer) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	before := int64(0)
	for {
		raw := mustRun(t, addr, "reader", key, "", fmt.Sprintf("history lobby --json --limit 500 --before %d", before))
		page := decode(t, strings.Split(strings.TrimSpace(raw), "\n"))
		for _, m := range page {
			out[m.ID] = m.Body
		}
		if len(page) < 500 {
			return out
		}
		before = page[0].ID
	}
}

// A backup taken while writers send over SSH, restored into a new data
// directory, serves every message committed before the backup began.
func TestBackupUnderLoadRestoresEveryMessageCommittedBeforeIt(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	stop := make(chan struct{})
	type result struct {
		n   int
		err error
	}
	results := make(chan result, 3)
	for i := range 3 {
		go func() {
			n, err := sendLoop(ts.addr, fmt.Sprintf("writer%d", i), newKey(t), stop)
			results <- result{n, err}
		}()
	}
	stopWriters := func() int {
		if stop == nil {
			return 0
		}
		close(stop)
		stop = nil
		total := 0
		for range 3 {
			r := <-results
			if r.err != nil {
				t.Errorf("writer: %v", r.err)
			}
			total += r.n
		}
		return total
	}
	defer stopWriters()

	ctx := context.Background()
	var before []model.Message
	eventually(t, "writers to commit 30 messages", func() bool {
		var err error
		before, err = ts.srv.store.History(ctx, "#lobby", 0, 100000, nil)
		return err == nil && len(before) >= 30
	})
	// before is what was committed when the backup begins.
	dest := filepath.Join(t.TempDir(), "sshchat-backup.db")
	var out strings.Builder
	if err := cli(ctx, []string{"backup", "--db", ts.cfg.DBPath, dest}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if sent := stopWriters(); sent <= len(before) {
		t.Fatalf("%d sent in all, %d before the backup: no load during it", sent, len(before))
	}
	ts.stop()

	// Restore: the backup becomes the database of a new data directory.
	restored := t.TempDir()
	cfg := testConfig(t, restored)
	b, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.DBPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ts2 := startServer(t, cfg)
	got := lobbyOverSSH(t, ts2.addr, newKey(t))
	for _, m := range before {
		if body, ok := got[m.ID]; !ok || body != m.Body {
			t.Fatalf("message %d %q committed before the backup: restored as %q, %v", m.ID, m.Body, body, ok)
		}
	}
}

// A backup to an existing file is refused with one line, the file untouched.
func TestBackupRefusesAnExistingFileWithOneLine(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testConfig(t, dir))
	dest := filepath.Join(dir, "taken.db")
	if err := os.WriteFile(dest, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := cli(context.Background(), []string{"backup", "--db", ts.cfg.DBPath, dest}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("backup over an existing file: %v; want one line saying it exists", err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "keep me" {
		t.Fatalf("existing file changed: %q", b)
	}
}

func TestRetentionFlagAndEnvironmentParse(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--data-dir", filepath.Join(dir, "d"), "--host-key", filepath.Join(dir, "k")}
	for in, want := range map[string]time.Duration{"": 0, "0": 0, "90d": 90 * 24 * time.Hour, "36h": 36 * time.Hour} {
		cfg, err := parseConfig(base, func(k string) string {
			if k == "SSHCHAT_RETENTION" {
				return in
			}
			return ""
		}, io.Discard)
		if err != nil || cfg.Retention != want {
			t.Errorf("SSHCHAT_RETENTION=%q: %v, %v; want %v", in, cfg.Retention, err, want)
		}
	}
	cfg, err := parseConfig(append(base, "--retention", "7d"), func(k string) string {
		if k == "SSHCHAT_RETENTION" {
			return "90d"
		}
		return ""
	}, io.Discard)
	if err != nil || cfg.Retention != 7*24*time.Hour {
		t.Fatalf("flag over env: %v, %v", cfg.Retention, err)
	}
	for _, bad := range []string{"90", "-1d", "ninety", "30m", "1.5d"} {
		_, err := parseConfig(append(base, "--retention", bad), func(string) string { return "" }, io.Discard)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("--retention %q: %v; want one line", bad, err)
		}
	}
}

// A server started with --retention 90d prunes the messages older than
// that and keeps the newer ones and an old one still waiting for its
// offline recipient; what it serves over SSH agrees.
func TestRetentionRemovesOldKeepsNewAndPending(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, "--retention", "90d")
	alice, bob := newKey(t), newKey(t)
	db, err := model.Open(cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var users []model.User
	for _, u := range []struct {
		handle string
		key    gossh.Signer
	}{{"alice", alice}, {"bob", bob}} {
		row := model.User{Handle: u.handle, HandleKey: u.handle}
		k := model.Key{Fingerprint: gossh.FingerprintSHA256(u.key.PublicKey()), PublicKey: string(gossh.MarshalAuthorizedKey(u.key.PublicKey()))}
		if err := db.CreateUser(ctx, &row, &k); err != nil {
			t.Fatal(err)
		}
		users = append(users, row)
	}
	a, b := users[0], users[1]
	old := time.Now().Add(-100 * 24 * time.Hour)
	dm := model.DMConv(a.ID, b.ID)
	if err := db.AppendMessages(ctx, []*model.Message{
		{Conv: "#lobby", SenderID: a.ID, Body: "ancient one", CreatedAt: old},
		{Conv: "#lobby", SenderID: a.ID, Body: "ancient two", CreatedAt: old},
		{Conv: dm, SenderID: a.ID, Body: "ancient but unread", CreatedAt: old, OfflineFor: b.ID},
		{Conv: "#lobby", SenderID: a.ID, Body: "recent", CreatedAt: time.Now().Add(-24 * time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	ts := startServer(t, cfg)
	eventually(t, "the pruning pass to log", func() bool { return strings.Contains(ts.logs.String(), "msg=pruned") })
	lobby := mustRun(t, ts.addr, "alice", alice, "", "history lobby")
	if strings.Contains(lobby, "ancient") || !strings.Contains(lobby, "recent") {
		t.Fatalf("lobby after pruning:\n%s", lobby)
	}
	if out := mustRun(t, ts.addr, "bob", bob, "", "history @alice"); !strings.Contains(out, "ancient but unread") {
		t.Fatalf("the pending message was pruned; bob's history with alice:\n%s", out)
	}
	if n := metricValue(scrapeOf(ts.srv), `sshchat_pruned_total{what="messages"}`); n != 2 {
		t.Fatalf("sshchat_pruned_total{what=\"messages\"} = %v; want 2", n)
	}
}

// Without --retention, offline deliveries acknowledged more than a day
// ago are pruned all the same; pending ones and the messages stay.
func TestAcknowledgedDeliveriesArePrunedWithoutRetention(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	ctx := context.Background()
	store := ts.srv.store
	var ids []uint64
	for _, h := range []string{"alice", "bob", "carol"} {
		u := model.User{Handle: h, HandleKey: h}
		if err := store.CreateUser(ctx, &u, &model.Key{Fingerprint: "SHA256:" + h, PublicKey: "ssh-ed25519 AAAA" + h}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	a, b, c := ids[0], ids[1], ids[2]
	if err := store.AppendMessages(ctx, []*model.Message{
		{Conv: model.DMConv(a, b), SenderID: a, Body: "read", OfflineFor: b},
		{Conv: model.DMConv(a, c), SenderID: a, Body: "unread", OfflineFor: c},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.ClaimOffline(ctx, b, "claim", 10); err != nil {
		t.Fatal(err)
	}
	if err := store.AckOffline(ctx, b, "claim"); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite3", ts.cfg.DBPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows := func(q string) int {
		var n int
		if err := raw.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ts.srv.prunePass(time.Now()) // acknowledged just now: kept
	if n := rows(`SELECT count(*) FROM deliveries`); n != 2 {
		t.Fatalf("%d deliveries after a pass the same day; want 2", n)
	}
	ts.srv.prunePass(time.Now().Add(ackedKeep + time.Minute))
	if n := rows(`SELECT count(*) FROM deliveries WHERE delivered_at IS NOT NULL`); n != 0 {
		t.Fatalf("%d acknowledged deliveries left a day later", n)
	}
	if n := rows(`SELECT count(*) FROM deliveries WHERE delivered_at IS NULL`); n != 1 {
		t.Fatal("the pending delivery was pruned")
	}
	if n := rows(`SELECT count(*) FROM messages`); n != 2 {
		t.Fatalf("%d messages; without retention none is pruned", n)
	}
}

// BenchmarkMetricsHooks is the cost the hub pays per group commit for
// metrics: one Committed and one FannedOut observation.
func BenchmarkMetricsHooks(b *testing.B) {
	m := newMetrics(&server{})
	b.ReportAllocs()
	for b.Loop() {
		m.Committed(8, time.Millisecond)
		m.FannedOut(300 * time.Microsecond)
	}
}

// Messages pruned while the server runs leave the history it serves at
// once, even those its cache of recent messages held.
func TestPrunedMessagesLeaveTheServedHistory(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--retention", "90d"))
	key := newKey(t)
	// Stored, not sent: the first history read then caches the whole lobby.
	ctx := context.Background()
	author := model.User{Handle: "author", HandleKey: "author"}
	if err := ts.srv.store.CreateUser(ctx, &author, &model.Key{Fingerprint: "SHA256:author", PublicKey: "ssh-ed25519 AAAAauthor"}); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.store.AppendMessages(ctx, []*model.Message{{Conv: "#lobby", SenderID: author.ID, Body: "soon to expire"}}); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, ts.addr, "alice", key, "", "history lobby"); !strings.Contains(out, "soon to expire") {
		t.Fatalf("history before pruning:\n%s", out)
	}
	ts.srv.prunePass(time.Now().Add(91 * 24 * time.Hour)) // as if 91 days had passed
	if out := mustRun(t, ts.addr, "alice", key, "", "history lobby"); strings.Contains(out, "soon to expire") {
		t.Fatalf("a pruned message is still served:\n%s", out)
	}
}

// Connections refused by the admission limits are counted by limit:
// before the handshake, and for a key over its connection limit.
func TestConnectionRefusalsAreCountedByLimit(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--max-conns-per-source", "1"))
	held, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	eventually(t, "the first connection to count", func() bool { return ts.srv.conns.Load() == 1 })
	if _, err := gossh.Dial("tcp", ts.addr, sshConfig("alice", newKey(t))); err == nil {
		t.Fatal("second connection from the address admitted")
	}
	if n := metricValue(scrapeOf(ts.srv), `sshchat_connections_refused_total{limit="connect"}`); n != 1 {
		t.Fatalf(`sshchat_connections_refused_total{limit="connect"} = %v; want 1`, n)
	}

	ts2 := startServer(t, testConfig(t, t.TempDir(), "--max-conns-per-key", "1"))
	key := newKey(t)
	first, err := gossh.Dial("tcp", ts2.addr, sshConfig("alice", key))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := gossh.Dial("tcp", ts2.addr, sshConfig("alice", key))
	if err == nil {
		second.Close()
	}
	eventually(t, "the key refusal to count", func() bool {
		return metricValue(scrapeOf(ts2.srv), `sshchat_connections_refused_total{limit="key"}`) == 1
	})
}
