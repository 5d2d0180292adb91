package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Resource-attack tests (issue 7, items 1-5): each runs a bounded version
// of the attack and asserts that goroutines and memory come back.

// goroutineSlack is how many goroutines above the baseline a test accepts
// once the attack is over (timers, runtime helpers finishing up).
const goroutineSlack = 8

// waitGoroutines polls until at most baseline+goroutineSlack goroutines run.
func waitGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > baseline+goroutineSlack {
		if time.Now().After(deadline) {
			var b bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), baseline, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitServerClose waits for the server to close conn.
func waitServerClose(t *testing.T, conn *gossh.Client) {
	t.Helper()
	closed := make(chan struct{})
	go func() { conn.Wait(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(waitTimeout):
		conn.Close()
		t.Fatal("the server never closed a connection without a session")
	}
}

// sshConfig is a client configuration logging in with key.
func sshConfig(user string, key gossh.Signer) *gossh.ClientConfig {
	return &gossh.ClientConfig{
		User: user, Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	}
}

// Connections that request a PTY and resize it but never start a shell
// leave no goroutine behind, whether the client closes them or the server
// does at the open timeout.
func TestWindowChangesWithoutShellLeaveNoGoroutine(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--open-timeout", "1s"))
	baseline := runtime.NumGoroutine()
	key := newKey(t)
	var left []*gossh.Client
	for i := range 25 {
		conn, err := gossh.Dial("tcp", ts.addr, sshConfig("resizer", key))
		if err != nil {
			t.Fatal(err)
		}
		sess, err := conn.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.RequestPty("xterm", 24, 80, nil); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := sess.WindowChange(24+i, 80+i); err != nil {
				t.Fatal(err)
			}
		}
		// A request with a reply: the window changes have been handled.
		replied := make(chan struct{})
		go func() { sess.SendRequest("sshchat-probe", true, nil); close(replied) }()
		select {
		case <-replied:
		case <-time.After(5 * time.Second):
			conn.Close()
			t.Fatal("the session's request loop is stuck after window changes")
		}
		if i < 5 {
			left = append(left, conn) // the server closes these
			continue
		}
		conn.Close()
	}
	for _, conn := range left {
		waitServerClose(t, conn)
	}
	waitGoroutines(t, baseline)
}

// 100,000 env requests on one session leave the heap where it was, and
// the session still opens the chat.
func TestEnvRequestFloodIsBounded(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	conn, err := gossh.Dial("tcp", ts.addr, sshConfig("envflood", newKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	if err := sess.Setenv("LANG", "C.UTF-8"); err != nil {
		t.Fatalf("LANG: %v", err)
	}
	before := heap()
	value := strings.Repeat("v", 250)
	for i := range 100_000 {
		key := fmt.Sprintf("LC_%d", i) // half look like locale variables
		if i%2 == 1 {
			key = fmt.Sprintf("X%d", i)
		}
		if _, err := sess.SendRequest("env", false, gossh.Marshal(struct{ Key, Value string }{key, value})); err != nil {
			t.Fatal(err)
		}
	}
	// Answered in order: every request before it has been handled.
	if err := sess.Setenv("EVIL", "x"); err == nil {
		t.Fatal("a variable the UI does not use was accepted")
	}
	if grew := int64(heap()) - int64(before); grew > 8<<20 {
		t.Fatalf("heap grew by %d bytes after 100,000 env requests", grew)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 24, 80, nil); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	readUntil(t, stdout, "#lobby")
}

// readUntil reads r until its output contains want.
func readUntil(t *testing.T, r io.Reader, want string) {
	t.Helper()
	found := make(chan struct{})
	go func() {
		var seen []byte
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			seen = append(seen, buf[:n]...)
			if bytes.Contains(seen, []byte(want)) {
				close(found)
				io.Copy(io.Discard, r)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-found:
	case <-time.After(waitTimeout):
		t.Fatalf("output never contained %q", want)
	}
}

// Session channels opened without any request are capped per connection
// where they are accepted, and cost no goroutine beyond the cap.
func TestBareChannelsPerConnectionAreCapped(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	baseline := runtime.NumGoroutine()
	conn, err := gossh.Dial("tcp", ts.addr, sshConfig("channels", newKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	opened := 0
	for range 300 {
		_, _, err := conn.OpenChannel("session", nil)
		if err == nil {
			opened++
			continue
		}
		var oe *gossh.OpenChannelError
		if !errors.As(err, &oe) || oe.Reason != gossh.ResourceShortage || !strings.Contains(oe.Message, "sessions per connection") {
			t.Fatalf("extra channel: %v; want a resource-shortage refusal", err)
		}
	}
	if opened != maxSessionsPerConn {
		t.Fatalf("%d channels opened; want %d", opened, maxSessionsPerConn)
	}
	if n := runtime.NumGoroutine() - baseline; n > 20*maxSessionsPerConn {
		t.Fatalf("%d goroutines for %d open channels", n, opened)
	}
	conn.Close()
	waitGoroutines(t, baseline)
}

// The attack of issue 7 item 1, bounded: authenticated connections that
// never open a session are closed at the open timeout, goroutines come
// back, and a legitimate login still works.
func TestIdleAuthenticatedConnectionsAreClosed(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--open-timeout", "1s", "--max-conns-per-key", "0"))
	baseline := runtime.NumGoroutine()
	key := newKey(t)
	var conns []*gossh.Client
	for range 50 {
		conn, err := gossh.Dial("tcp", ts.addr, sshConfig("idler", key))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		waitServerClose(t, conn)
	}
	waitGoroutines(t, baseline)
	dial(t, ts.addr, "alice", newKey(t), 80, 24).WaitFor("#lobby")
	if n := strings.Count(ts.logs.String(), "closing connection without a session"); n > refusalLinesPerMinute {
		t.Fatalf("%d lines about idle connections from one address; want at most %d", n, refusalLinesPerMinute)
	}
}

// A connection whose last session ended is closed at the idle timeout.
func TestConnectionIdleAfterItsSessionIsClosed(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--idle-timeout", "1s"))
	c := dial(t, ts.addr, "alice", newKey(t), 80, 24)
	c.WaitFor("#lobby")
	c.Line("/quit")
	c.WaitClosed()
	waitServerClose(t, c.conn)
}

// Per-key limits: the connection over the limit is told why when it opens
// a session; a session over the limit is told why on its terminal.
func TestPerKeyLimitsRefuseWithOneLine(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--max-conns-per-key", "2", "--max-sessions-per-key", "1"))
	key := newKey(t)
	var held []*gossh.Client
	for range 2 {
		conn, err := gossh.Dial("tcp", ts.addr, sshConfig("alice", key))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		held = append(held, conn)
	}
	over, err := gossh.Dial("tcp", ts.addr, sshConfig("alice", key))
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	if _, err := over.NewSession(); err == nil || !strings.Contains(err.Error(), "too many connections for your key (at most 2)") {
		t.Fatalf("third connection of a key: %v; want it refused with the reason", err)
	}
	fp := gossh.FingerprintSHA256(key.PublicKey())
	keyConns := func() int {
		ts.srv.admit.mu.Lock()
		defer ts.srv.admit.mu.Unlock()
		return ts.srv.admit.connsByKey[fp]
	}
	for _, conn := range held {
		conn.Close()
	}
	eventually(t, "the closed connections to be released", func() bool { return keyConns() == 0 })
	first := dial(t, ts.addr, "alice", key, 80, 24)
	first.WaitFor("#lobby")
	second := dial(t, ts.addr, "alice", key, 80, 24)
	second.WaitRaw("too many sessions for your key (at most 1)")
	second.WaitClosed()
}

// Per-source limits refuse a new connection with one line before the SSH
// version exchange, and log it.
func TestPerSourceLimitsRefuseWithOneLine(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--max-startups-per-source", "2", "--max-conns-per-source", "3"))
	refusal := func() string {
		t.Helper()
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(waitTimeout))
		b, _ := io.ReadAll(c)
		return string(b)
	}
	authed, err := gossh.Dial("tcp", ts.addr, sshConfig("alice", newKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	// The client knows it is in before the server has moved the connection
	// out of the logins in progress.
	eventually(t, "alice's connection to leave the logins in progress", func() bool {
		ts.srv.admit.mu.Lock()
		defer ts.srv.admit.mu.Unlock()
		return ts.srv.admit.unauth == 0
	})
	var raw []net.Conn
	for range 2 { // two logins in progress
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		readUntil(t, c, "SSH-2.0-")
		raw = append(raw, c)
	}
	if got := refusal(); got != "sshchat: too many connections from your address (at most 3)\r\n" {
		t.Fatalf("fourth connection got %q; want the per-source refusal", got)
	}
	authed.Close()
	eventually(t, "the closed connection to be released", func() bool { return ts.srv.conns.Load() == 2 })
	if got := refusal(); !strings.HasPrefix(got, "sshchat: too many logins in progress from your address (at most 2)") {
		t.Fatalf("third login in progress got %q; want the per-source startups refusal", got)
	}
	raw[0].Close()
	eventually(t, "the closed connection to be released", func() bool { return ts.srv.conns.Load() == 1 })
	dial(t, ts.addr, "bob", newKey(t), 80, 24).WaitFor("#lobby")
	if !strings.Contains(ts.logs.String(), "connection refused") {
		t.Fatalf("refusals not logged:\n%s", ts.logs.String())
	}
}

// sshd's MaxStartups: no drop below begin, rate % at begin rising
// linearly, all at full.
func TestMaxStartupsRandomEarlyDrop(t *testing.T) {
	a := newAdmission(Config{MaxStartups: startups{begin: 2, rate: 30, full: 4}})
	dice := 0
	a.roll = func() int { return dice }
	admitAt := func(unauth, roll int) bool {
		a.unauth, dice = unauth, roll
		if a.admitConn("10.0.0.1") != "" {
			return false
		}
		a.closed("10.0.0.1", false, "")
		return true
	}
	for _, c := range []struct {
		unauth, roll int
		admit        bool
	}{
		{0, 0, true}, {1, 0, true}, // below begin: never dropped
		{2, 29, false}, {2, 30, true}, // at begin: 30 %
		{3, 64, false}, {3, 65, true}, // halfway: 30 + 70/2 = 65 %
		{4, 99, false}, {5, 99, false}, // at full: all
	} {
		if got := admitAt(c.unauth, c.roll); got != c.admit {
			t.Errorf("%d unauthenticated, roll %d: admitted %v; want %v", c.unauth, c.roll, got, c.admit)
		}
	}
}

func TestAdmissionFlagsAndVariables(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--data-dir", filepath.Join(dir, "d"), "--host-key", filepath.Join(dir, "k")}
	env := map[string]string{"SSHCHAT_MAX_STARTUPS": "10:30:100", "SSHCHAT_MAX_CONNS_PER_KEY": "4", "SSHCHAT_IDLE_TIMEOUT": "5m"}
	cfg, err := parseConfig(append(base, "--max-conns-per-source", "0", "--max-startups-per-source", "7", "--max-sessions-per-key", "9", "--open-timeout", "10s", "--max-conns-per-key", "5"),
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxStartups != (startups{10, 30, 100}) || cfg.MaxConnsPerSource != 0 || cfg.MaxStartupsPerSource != 7 || cfg.MaxSessionsPerKey != 9 ||
		cfg.OpenTimeout != 10*time.Second || cfg.IdleTimeout != 5*time.Minute || cfg.MaxConnsPerKey != 5 {
		t.Fatalf("config %+v", cfg)
	}
	def, err := parseConfig(base, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if def.MaxStartups != (startups{64, 30, 256}) || def.MaxStartupsPerSource != 32 || def.MaxConnsPerSource != 128 ||
		def.MaxConnsPerKey != 16 || def.MaxSessionsPerKey != 32 || def.OpenTimeout != 30*time.Second || def.IdleTimeout != time.Minute {
		t.Fatalf("defaults %+v", def)
	}
	if s, err := parseStartups("50"); err != nil || s != (startups{50, 100, 50}) {
		t.Fatalf("one-number max startups: %v %v", s, err)
	}
	for _, args := range [][]string{
		{"--max-startups", "10:30"}, {"--max-startups", "10:30:5"}, {"--max-startups", "10:130:100"}, {"--max-startups", "0"},
		{"--max-conns-per-source", "-1"}, {"--max-startups-per-source", "x"}, {"--max-conns-per-key", "1.5"}, {"--max-sessions-per-key", ""},
		{"--open-timeout", "0s"}, {"--idle-timeout", "soon"},
	} {
		if _, err := parseConfig(append(base, args...), func(string) string { return "" }, io.Discard); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v; want a one-line error", args, err)
		}
	}
}

// Refused logins with huge user names write a bounded log, and a bidi
// override in a user name is escaped.
func TestRefusedLoginsDoNotFloodTheLog(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(keysFile, gossh.MarshalAuthorizedKey(newKey(t).PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))
	attempt := func(user string) {
		var auth []gossh.Signer
		for range 6 {
			auth = append(auth, newKey(t))
		}
		cfg := sshConfig(user, auth[0])
		cfg.Auth = []gossh.AuthMethod{gossh.PublicKeys(auth...)}
		if c, err := gossh.Dial("tcp", ts.addr, cfg); err == nil {
			c.Close()
			t.Fatal("an unlisted key got in")
		}
	}
	attempt("evil\u202etxt.exe")
	eventually(t, "the refusal to be logged", func() bool { return strings.Contains(ts.logs.String(), "refused key") })
	if logs := ts.logs.String(); strings.Contains(logs, "\u202e") || !strings.Contains(logs, `evil\u202etxt.exe`) {
		t.Fatalf("user name not escaped in the log:\n%s", logs)
	}
	before := len(ts.logs.String())
	huge := strings.Repeat("A", 200_000)
	for range 20 {
		attempt(huge)
	}
	if grew := len(ts.logs.String()) - before; grew > 16<<10 {
		t.Fatalf("20 refused logins with a 200,000-byte user name wrote %d bytes of log", grew)
	}
	if !strings.Contains(ts.logs.String(), "suppressed") {
		t.Fatalf("the log does not say refusal lines were suppressed:\n%s", ts.logs.String())
	}
}

func TestLogSafe(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                  "alice",
		"ålice 日本":               "ålice 日本",
		"a\u202eb":               `a\u202eb`,
		"a\x1b[2Jb\r\n":          `a\u001b[2Jb\u000d\u000a`,
		"a\\u202e":               `a\\u202e`,
		"\xff\x9b":               `\xff\x9b`,
		strings.Repeat("x", 100): strings.Repeat("x", maxLogField) + "…(36 more bytes)",
		"\U000E0041" + "x":       `\U000e0041x`,
	} {
		if got := logSafe(in); got != want {
			t.Errorf("logSafe(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestRefusalLogIsRateLimitedPerSource(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLogLimiter(3, time.Minute)
	l.now = func() time.Time { return now }
	l.swept = now
	var logged, first int
	for range 10 {
		ok, f, _, _ := l.allow("10.0.0.1")
		if ok {
			logged++
		}
		if f {
			first++
		}
	}
	if logged != 3 || first != 1 {
		t.Fatalf("logged %d, first-suppressed %d; want 3 and 1", logged, first)
	}
	if ok, _, _, _ := l.allow("10.0.0.2"); !ok {
		t.Fatal("another source was suppressed")
	}
	now = now.Add(time.Minute)
	ok, _, suppressed, sources := l.allow("10.0.0.1")
	if !ok || suppressed != 7 || sources != 1 {
		t.Fatalf("after the window: ok %v, suppressed %d from %d sources; want true, 7, 1", ok, suppressed, sources)
	}
}

// A listener on every interface is said so in the log.
func TestListeningOnAllInterfacesIsLogged(t *testing.T) {
	all := startServer(t, testConfig(t, t.TempDir(), "--addr", ":0"))
	eventually(t, "the listening line", func() bool { return strings.Contains(all.logs.String(), "listening") })
	if !strings.Contains(all.logs.String(), "listening on all interfaces") {
		t.Fatalf("log does not say the server listens on all interfaces:\n%s", all.logs.String())
	}
	local := startServer(t, testConfig(t, t.TempDir()))
	eventually(t, "the listening line", func() bool { return strings.Contains(local.logs.String(), "listening") })
	if strings.Contains(local.logs.String(), "all interfaces") {
		t.Fatalf("a loopback listener is said to listen on all interfaces:\n%s", local.logs.String())
	}
}

// With its log piped to a reader that went away (`sshchat | tee log`,
// then Ctrl+C), the server must not die of SIGPIPE: on SIGTERM it shuts
// down, closes the database and exits 0.
func TestBrokenLogPipeDoesNotKillTheServer(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	args := []string{"--addr", "127.0.0.1:0", "--data-dir", cfg.DataDir, "--host-key", cfg.HostKey}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	sc := bufio.NewScanner(r)
	addr := ""
	for addr == "" && sc.Scan() {
		if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatal("the server did not start")
	}
	r.Close() // the reader goes away
	// Something to log into the broken pipe, then the signal.
	c := dial(t, addr, "alice", newKey(t), 80, 24)
	c.WaitFor("#lobby")
	c.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("the server died of %v", ws.Signal())
	}
	if err != nil {
		t.Fatalf("the server exited with %v; want 0", err)
	}
	// A cleanly closed SQLite database in WAL mode leaves no WAL behind.
	if _, err := os.Stat(cfg.DBPath + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the database was not closed cleanly: %v", err)
	}
}

// Refusal lines suppressed for an address are counted in the log even when
// no other refusal follows: here the server shuts down inside the window.
func TestSuppressedRefusalsAreCountedAtShutdown(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(keysFile, gossh.MarshalAuthorizedKey(newKey(t).PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))
	for range refusalLinesPerMinute + 3 {
		if c, err := gossh.Dial("tcp", ts.addr, sshConfig("mallory", newKey(t))); err == nil {
			c.Close()
			t.Fatal("an unlisted key got in")
		}
	}
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "refusal lines suppressed") || !strings.Contains(logs, "lines=3") {
		t.Fatalf("the 3 suppressed refusal lines are never counted in the log:\n%s", logs)
	}
}

// The lines a source had suppressed are counted when its window ends, even
// if no other line follows to carry the count; a window that ended is not
// used again, so a source is suppressed for at most one window.
func TestSuppressedRefusalsAreCountedWhenTheWindowEnds(t *testing.T) {
	l := newLogLimiter(2, 500*time.Millisecond)
	reports := make(chan [2]int, 10)
	l.report = func(lines, sources int) { reports <- [2]int{lines, sources} }
	t.Cleanup(l.stop)
	for range 5 {
		l.allow("10.0.0.1")
	}
	select {
	case r := <-reports:
		if r != [2]int{3, 1} {
			t.Fatalf("summary %v; want 3 lines from 1 source", r)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the suppressed lines were never counted")
	}
	// The window has ended: the source may log again.
	if ok, _, _, _ := l.allow("10.0.0.1"); !ok {
		t.Fatal("a line was suppressed in a window that had ended")
	}
	// stop counts what the current windows suppressed, then nothing more.
	for range 4 {
		l.allow("10.0.0.2")
	}
	l.stop()
	if r := <-reports; r != [2]int{2, 1} {
		t.Fatalf("summary at stop %v; want 2 lines from 1 source", r)
	}
	l.allow("10.0.0.2")
	if len(reports) != 0 {
		t.Fatal("a summary was reported after stop")
	}
}

// Per-address limits count an IPv6 client by its /64, the block one host
// is commonly given: counted by /128, one machine could open every
// connection from a fresh address and no per-address limit would apply.
// An IPv4 client is counted by its address, written the same way whether
// it arrives as IPv4 or IPv4-mapped IPv6.
func TestPerSourceLimitsCountAnIPv6HostByItsSlash64(t *testing.T) {
	src := func(ip string) string {
		return sourceOf(&net.TCPAddr{IP: net.ParseIP(ip), Port: 40000})
	}
	if a, b := src("2001:db8:1:2::1"), src("2001:db8:1:2:ffff:ffff:ffff:fffe"); a != b {
		t.Errorf("two addresses of one /64 are different sources: %q, %q", a, b)
	}
	if a, b := src("2001:db8:1:2::1"), src("2001:db8:1:3::1"); a == b {
		t.Errorf("two /64s are one source: %q", a)
	}
	if a, b := src("10.0.0.1"), src("::ffff:10.0.0.1"); a != b || a != "10.0.0.1" {
		t.Errorf("IPv4 and IPv4-mapped sources: %q, %q; want both 10.0.0.1", a, b)
	}
	if a, b := src("10.0.0.1"), src("10.0.0.2"); a == b {
		t.Errorf("two IPv4 addresses are one source: %q", a)
	}
	a := newAdmission(Config{MaxStartups: startups{64, 30, 256}, MaxConnsPerSource: 1})
	if a.admitConn(src("2001:db8::1")) != "" {
		t.Fatal("first connection refused")
	}
	if a.admitConn(src("2001:db8::2")) == "" {
		t.Fatal("a second connection from the same /64 was admitted past --max-conns-per-source 1")
	}
}

// A session's log line stays short whatever the client puts in its user
// name and version: escaping must not let a field grow past its cut (a
// rune written as \U000e0041 is ten bytes, doubled again by the logger's
// quoting), or every session a client opens writes kilobytes of log.
func TestHostileSessionFieldsKeepLogLinesShort(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	cfg := sshConfig(strings.Repeat("\U000e0041", 1000), newKey(t))
	cfg.ClientVersion = "SSH-2.0-" + strings.Repeat("\x7f", 200)
	conn, err := gossh.Dial("tcp", ts.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	sess.Run("")
	eventually(t, "the session start line", func() bool { return strings.Contains(ts.logs.String(), "session start") })
	for line := range strings.SplitSeq(ts.logs.String(), "\n") {
		if strings.Contains(line, "session start") && len(line) > 600 {
			t.Fatalf("session start line of %d bytes:\n%s", len(line), line)
		}
	}
	for _, in := range []string{strings.Repeat("\U000e0041", 100), strings.Repeat("\x7f", 100), strings.Repeat(`\`, 100), strings.Repeat("\xff", 100)} {
		if got := logSafe(in); len(got) > maxLogField+len("…(9999 more bytes)") {
			t.Errorf("logSafe of %q is %d bytes: %q", in[:8], len(got), got)
		}
	}
}

// The open and idle timeouts close only connections without a live
// session: a session that outlives both keeps its connection, and a
// connection beside it that has none is closed.
func TestLiveSessionOutlivesTheOpenAndIdleTimeouts(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--open-timeout", "1s", "--idle-timeout", "1s"))
	alice := dial(t, ts.addr, "alice", newKey(t), 80, 24)
	alice.WaitFor("#lobby")
	// Authenticated after alice, without a session: once the server has
	// closed it, alice's connection has been open past both timeouts.
	idle, err := gossh.Dial("tcp", ts.addr, sshConfig("idler", newKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	waitServerClose(t, idle)
	alice.Line("still here")
	alice.WaitFor("still here")
	if strings.Count(ts.logs.String(), "closing connection without a session") != 1 {
		t.Fatalf("want exactly the idle connection closed:\n%s", ts.logs.String())
	}
}
