package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"charm.land/log/v2"
	gossh "golang.org/x/crypto/ssh"
)

// authorizedLine is key's authorized_keys line with options prefixed.
func authorizedLine(k gossh.Signer, options string) string {
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k.PublicKey())))
	if options != "" {
		line = options + " " + line
	}
	return line + "\n"
}

// writeKeys replaces path atomically with content.
func writeKeys(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// tryLogin dials with key and returns the login error and what the
// server said in its keyboard-interactive refusal.
func tryLogin(t *testing.T, addr string, key gossh.Signer) (told string, err error) {
	t.Helper()
	cfg := &gossh.ClientConfig{
		User: "tester",
		Auth: []gossh.AuthMethod{gossh.PublicKeys(key), gossh.KeyboardInteractive(func(_, instr string, qs []string, _ []bool) ([]string, error) {
			told = instr
			return make([]string, len(qs)), nil
		})},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         5 * time.Second,
	}
	conn, err := gossh.Dial("tcp", addr, cfg)
	if err == nil {
		conn.Close()
	}
	return told, err
}

func TestAuthorizedKeysOptionsEnforcedOverSSH(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	keys := map[string]gossh.Signer{}
	cases := []struct {
		name, options string
		admit         bool
	}{
		{"plain", "", true},
		{"from-elsewhere", `from="10.0.0.1"`, false},
		{"from-loopback-net", `from="127.0.0.0/8"`, true},
		{"from-wildcard", `from="10.*,127.0.0.?"`, true},
		{"from-negated", `from="127.0.0.0/8,!127.0.0.1"`, false},
		{"from-hostname", `from="localhost"`, false},
		{"expired", `expiry-time="20000101"`, false},
		{"not-yet-expired", `expiry-time="29991231Z"`, true},
		{"restrict-command", `restrict,command="/bin/true"`, false},
		{"no-pty", `no-pty`, true}, // admitted to commands only (TestNoPTYKeyRunsCommandsButNotTheChat)
		{"restrict-pty", `restrict,pty`, true},
		{"satisfied", `no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc`, true},
		{"cert-authority", `cert-authority`, false},
		{"unknown-option", `frobnicate`, false},
	}
	var content strings.Builder
	content.WriteString("# test keys\n")
	lineOf := map[string]int{}
	for i, c := range cases {
		keys[c.name] = newKey(t)
		content.WriteString(authorizedLine(keys[c.name], c.options))
		lineOf[c.name] = i + 2
	}
	writeKeys(t, keysFile, content.String())
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))

	for _, c := range cases {
		told, err := tryLogin(t, ts.addr, keys[c.name])
		if c.admit && err != nil {
			t.Errorf("%s (%s): refused: %v", c.name, c.options, err)
		}
		if !c.admit && err == nil {
			t.Errorf("%s (%s): logged in", c.name, c.options)
		}
		if c.name == "expired" && !strings.Contains(told, "expired") {
			t.Errorf("expired key was told %q; want it to say the key expired", told)
		}
		if !c.admit && strings.Contains(told, "10.0.0.1") {
			t.Errorf("%s: refusal quotes the file: %q", c.name, told)
		}
	}
	logs := ts.logs.String()
	for _, name := range []string{"restrict-command", "cert-authority", "unknown-option"} {
		if want := fmt.Sprintf("line=%d", lineOf[name]); !strings.Contains(logs, want) {
			t.Errorf("log does not name line %d (%s):\n%s", lineOf[name], name, logs)
		}
	}
	if !strings.Contains(logs, "host-name pattern") {
		t.Errorf("log does not warn about the host-name pattern:\n%s", logs)
	}
	// A session admitted with from= works end to end.
	dial(t, ts.addr, "netuser", keys["from-loopback-net"], 80, 24).WaitFor("#lobby")
}

func TestAuthorizedKeysFirstAdmittingLineDecides(t *testing.T) {
	k := newKey(t)
	loopback := netip.MustParseAddr("127.0.0.1")
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name, file string
		admit      bool
	}{
		{"restricted line skipped, plain line admits", authorizedLine(k, `from="10.0.0.1"`) + authorizedLine(k, ""), true},
		{"expired line skipped, later line admits", authorizedLine(k, `expiry-time="20000101"`) + authorizedLine(k, ""), true},
		{"unsupported first line is used and refuses", authorizedLine(k, `command="/bin/true"`) + authorizedLine(k, ""), false},
		{"unsupported line for another address is skipped", authorizedLine(k, `from="10.0.0.1",command="x"`) + authorizedLine(k, ""), true},
		{"malformed options skip the line", authorizedLine(k, `from=10.0.0.1`) + authorizedLine(k, ""), true},
		{"cert-authority line never matches", authorizedLine(k, `cert-authority`), false},
		{"two from= clauses are malformed", authorizedLine(k, `from="127.0.0.1",from="127.0.0.1"`), false},
		{"earliest expiry-time wins", authorizedLine(k, `expiry-time="29990101",expiry-time="20200101"`), false},
	}
	for _, c := range cases {
		set := parseAuthorizedKeys([]byte(c.file), log.New(io.Discard), time.UTC)
		if ok, reason := set.decide(k.PublicKey(), loopback, now); ok != c.admit {
			t.Errorf("%s: admitted=%v (%s), want %v", c.name, ok, reason, c.admit)
		}
	}
}

func TestFromPatternsMatchLikeSshd(t *testing.T) {
	cases := []struct {
		ip, list string
		want     bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "10.0.0.1", false},
		{"127.0.0.1", "127.0.0.0/8", true},
		{"127.0.0.1", "10.0.0.0/8,127.0.0.0/24", true},
		{"127.0.0.1", "127.0.0.1/8", false}, // host bits set: invalid, refuses
		{"127.0.0.1", "127.0.0.0/33", false},
		{"127.0.0.1", "127.0.0.*", true},
		{"127.0.0.1", "127.0.0.?", true},
		{"127.0.0.12", "127.0.0.?", false},
		{"127.0.0.1", "*", true},
		{"127.0.0.1", "*,!127.0.0.1", false},
		{"127.0.0.1", "!127.0.0.1,*", false},
		{"127.0.0.1", "!10.0.0.0/8", false}, // only a negation: nothing admits
		{"127.0.0.1", "!10.0.0.0/8,127.*", true},
		{"127.0.0.1", "127.0.0.1,", false}, // empty entry
		{"127.0.0.1", "localhost", false},
		{"127.0.0.1", "!*.example.com,127.0.0.1", true},
		{"::1", "::1", true},
		{"::1", "::/0", true},
		{"::1", "0.0.0.0/0", false},
		{"2001:db8::5", "2001:DB8::*", true},
		{"2001:db8::5", "2001:db8::/32", true},
		{"::ffff:127.0.0.1", "127.0.0.0/8", true}, // v4-mapped is the v4 address
	}
	for _, c := range cases {
		if got := matchFrom(netip.MustParseAddr(c.ip), c.list); got != c.want {
			t.Errorf("matchFrom(%s, %q) = %v, want %v", c.ip, c.list, got, c.want)
		}
	}
	if matchFrom(netip.Addr{}, "*") {
		t.Error("an unknown address matched *")
	}
}

func TestExpiryTimeParsesLikeSshd(t *testing.T) {
	loc := time.FixedZone("test", 2*3600)
	cases := []struct {
		in   string
		want time.Time
	}{
		{"20260102", time.Date(2026, 1, 2, 0, 0, 0, 0, loc)},
		{"202601021304", time.Date(2026, 1, 2, 13, 4, 0, 0, loc)},
		{"20260102130405", time.Date(2026, 1, 2, 13, 4, 5, 0, loc)},
		{"20260102Z", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"202601021304z", time.Date(2026, 1, 2, 13, 4, 0, 0, time.UTC)},
		{"20260102130405UTC", time.Date(2026, 1, 2, 13, 4, 5, 0, time.UTC)},
	}
	for _, c := range cases {
		got, err := parseExpiry(c.in, loc)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "2026", "2026010", "202601021", "2026-01-02", "20261302", "20260100", "20260102250000", "19690101Z", "Z"} {
		if _, err := parseExpiry(bad, loc); err == nil {
			t.Errorf("parseExpiry(%q) accepted", bad)
		}
	}
	// The key is valid through the expiry second, expired after it.
	k := newKey(t)
	set := parseAuthorizedKeys([]byte(authorizedLine(k, `expiry-time="20260102130405Z"`)), log.New(io.Discard), time.UTC)
	at := time.Date(2026, 1, 2, 13, 4, 5, 0, time.UTC)
	if ok, _ := set.decide(k.PublicKey(), netip.MustParseAddr("127.0.0.1"), at); !ok {
		t.Error("refused at the expiry second")
	}
	if ok, reason := set.decide(k.PublicKey(), netip.MustParseAddr("127.0.0.1"), at.Add(time.Second)); ok || reason != reasonExpired {
		t.Errorf("after expiry: admitted=%v reason=%q", ok, reason)
	}
}

func TestAllowlistInPlaceRewriteDoesNotRevoke(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	in := newKey(t)
	content := "# operators\n" + authorizedLine(in, "")
	writeKeys(t, keysFile, content)
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))
	inside := dial(t, ts.addr, "inside", in, 80, 24)
	inside.WaitFor("#lobby")

	closed := func() bool {
		select {
		case <-inside.closed:
			return true
		default:
			return false
		}
	}
	count := func(s string) int { return strings.Count(ts.logs.String(), s) }

	// `cat keys.orig > keys`, with the watcher looking between the
	// truncation and the write.
	emptyReads := count("nobody can log in")
	f, err := os.OpenFile(keysFile, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the watcher to read the truncated file", func() bool { return count("nobody can log in") > emptyReads })
	settled := count("file settled")
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rewritten file to settle", func() bool { return closed() || count("file settled") > settled })
	if closed() {
		t.Fatalf("an in-place rewrite ended a listed key's session: %q", inside.Raw())
	}
	inside.Line("still here")
	inside.WaitFor("still here")

	// A file that stays empty still fails closed.
	if err := os.Truncate(keysFile, 0); err != nil {
		t.Fatal(err)
	}
	inside.WaitClosed()
	if !strings.Contains(inside.Raw(), "no longer authorized") {
		t.Fatalf("revoked session was not told why: %q", inside.Raw())
	}
}

func TestAllowlistFIFODoesNotHangLoginsOrShutdown(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	in := newKey(t)
	writeKeys(t, keysFile, authorizedLine(in, ""))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))
	inside := dial(t, ts.addr, "inside", in, 80, 24)
	inside.WaitFor("#lobby")

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Releases a reader stuck on the FIFO, so that a failure of this test
	// does not hang the rest of the run.
	t.Cleanup(func() {
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})
	link := filepath.Join(dir, "link")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(link, keysFile); err != nil {
		t.Fatal(err)
	}

	login := make(chan error, 1)
	go func() { _, err := tryLogin(t, ts.addr, in); login <- err }()
	select {
	case err := <-login:
		if err == nil {
			t.Fatal("a FIFO allowlist let a key in")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("login hung on an allowlist that is a FIFO")
	}
	if !strings.Contains(ts.logs.String(), "not a regular file") {
		t.Errorf("log does not say the file is not a regular file:\n%s", ts.logs.String())
	}
	// An unusable file lets nobody in, open sessions included.
	inside.WaitClosed()
	inside.Close()

	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop() }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown hung on an allowlist that is a FIFO")
	}
}

func TestAllowlistWarnsOnWritableFileAndDirectory(t *testing.T) {
	dir := t.TempDir()
	keysDir := filepath.Join(dir, "keys")
	if err := os.Mkdir(keysDir, 0o700); err != nil {
		t.Fatal(err)
	}
	keysFile := filepath.Join(keysDir, "authorized_keys")
	in := newKey(t)
	writeKeys(t, keysFile, authorizedLine(in, ""))
	if err := os.Chmod(keysFile, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keysDir, 0o777); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))
	logs := ts.logs.String()
	for _, want := range []string{"authorized-keys file is writable by group or others", "directory of the authorized-keys file is writable by group or others",
		"mode=-rw-rw-rw-", "mode=drwxrwxrwx"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	// A warning, not a lock-out.
	dial(t, ts.addr, "inside", in, 80, 24).WaitFor("#lobby")
}

func TestAllowlistSlowFileDoesNotSerializeLogins(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	k := newKey(t)
	writeKeys(t, keysFile, authorizedLine(k, ""))
	logs := &syncBuffer{}
	a := newAllowlist(keysFile, log.New(logs))
	a.timeout = 200 * time.Millisecond
	release := make(chan struct{})
	var stats atomic.Int64
	a.stat = func(p string) (os.FileInfo, error) {
		stats.Add(1)
		<-release
		return os.Stat(p)
	}
	// 20 logins at once against a file system that does not answer: each
	// is refused after one timeout, not after the others, and they share
	// one look at the file.
	const logins = 20
	start := time.Now()
	done := make(chan bool, logins)
	for range logins {
		go func() {
			ok, _ := a.allowed(k.PublicKey(), netip.MustParseAddr("127.0.0.1"), time.Now())
			done <- ok
		}()
	}
	for range logins {
		if <-done {
			t.Fatal("admitted without reading the file")
		}
	}
	if took := time.Since(start); took > 10*a.timeout {
		t.Errorf("%d concurrent logins took %v with a %v timeout: they waited for each other", logins, took, a.timeout)
	}
	if n := stats.Load(); n != 1 {
		t.Errorf("%d looks at the file in flight, want 1", n)
	}
	if n := strings.Count(logs.String(), "not read in time"); n != 1 {
		t.Errorf("%d 'not read in time' log lines, want 1:\n%s", n, logs.String())
	}
	close(release)
	eventually(t, "the file to be read once it answers", func() bool {
		ok, _ := a.allowed(k.PublicKey(), netip.MustParseAddr("127.0.0.1"), time.Now())
		return ok
	})
}

func TestAllowlistEndsSessionWhenKeyExpires(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	k := newKey(t)
	expiry := time.Now().Add(3*time.Second).UTC().Format("20060102150405") + "Z"
	writeKeys(t, keysFile, authorizedLine(k, `expiry-time="`+expiry+`"`))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))
	c := dial(t, ts.addr, "soon", k, 80, 24)
	c.WaitFor("#lobby")
	c.WaitClosed()
	if !strings.Contains(c.Raw(), "your key has expired") {
		t.Fatalf("session of an expired key was not told why: %q", c.Raw())
	}
}

func TestRestrictAfterPtyForbidsThePty(t *testing.T) {
	// As in sshd, restrict resets the permissions named before it: with
	// pty,restrict the key has no PTY (commands only, no chat), with
	// restrict,pty it has one.
	k := newKey(t)
	loopback := netip.MustParseAddr("127.0.0.1")
	for _, c := range []struct {
		options string
		pty     bool
	}{
		{"restrict,pty", true},
		{"pty,restrict", false},
		{"pty,restrict,pty", true},
		{"PTY,Restrict", false},
		{"no-pty", false},
		{"no-pty,pty", true},
	} {
		set := parseAuthorizedKeys([]byte(authorizedLine(k, c.options)), log.New(io.Discard), time.UTC)
		l, ok, reason := set.decideLine(k.PublicKey(), loopback, time.Now())
		if !ok {
			t.Errorf("%s: refused (%s); want admitted", c.options, reason)
		}
		if l.noPTY == c.pty {
			t.Errorf("%s: pty allowed=%v, want %v", c.options, !l.noPTY, c.pty)
		}
	}
}

func TestNegatedFlagsSshdAcceptsAreNotMalformed(t *testing.T) {
	// sshd accepts no-verify-required (every flag but restrict and
	// cert-authority takes a no- form). Skipping such a line as malformed
	// would let a later, looser line of the same key decide instead.
	k := newKey(t)
	loopback := netip.MustParseAddr("127.0.0.1")
	for _, c := range []struct {
		name, file string
		admit      bool
	}{
		{"no-verify-required alone", authorizedLine(k, "no-verify-required"), true},
		{"its line is used, not a later one", authorizedLine(k, `no-verify-required,command="/bin/true"`) + authorizedLine(k, ""), false},
	} {
		set := parseAuthorizedKeys([]byte(c.file), log.New(io.Discard), time.UTC)
		if ok, reason := set.decide(k.PublicKey(), loopback, time.Now()); ok != c.admit {
			t.Errorf("%s: admitted=%v (%s), want %v", c.name, ok, reason, c.admit)
		}
	}
}

func TestAllowlistRetriesAReadThatFailed(t *testing.T) {
	// A read can fail while the file is fine: here the process is out of
	// file descriptors, as under a connection flood. The next look must
	// read the file again rather than keep the failure until the file
	// happens to change.
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	k := newKey(t)
	writeKeys(t, keysFile, authorizedLine(k, ""))
	logs := &syncBuffer{}
	a := newAllowlist(keysFile, log.New(logs))
	loopback := netip.MustParseAddr("127.0.0.1")

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	starved := lim
	starved.Cur = 0
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &starved); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	ok, _ := a.allowed(k.PublicKey(), loopback, time.Now())
	failed := a.cur.Load()
	again, _ := a.allowed(k.PublicKey(), loopback, time.Now())
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if ok || again {
		t.Fatal("admitted without reading the file")
	}
	if n := strings.Count(logs.String(), "too many open files"); n != 1 {
		t.Fatalf("%d log lines about the failed read, want 1:\n%s", n, logs.String())
	}
	// A failure that persists is the same version: its first time is
	// what the watcher's settle counts from.
	if a.cur.Load() != failed {
		t.Error("the same failure read again replaced the version first seen")
	}
	if ok, reason := a.allowed(k.PublicKey(), loopback, time.Now()); !ok {
		t.Fatalf("still refused once descriptors are free (%s):\n%s", reason, logs.String())
	}
}

func TestRevokingAStuckSessionDoesNotBlockTheWatcherOrShutdown(t *testing.T) {
	// A client that stopped reading has a full SSH window: writing it the
	// revocation line blocks until the connection ends. That must stall
	// neither the other revocations nor shutdown.
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	stuckKey, readerKey, posterKey := newKey(t), newKey(t), newKey(t)
	writeKeys(t, keysFile, authorizedLine(stuckKey, "")+authorizedLine(readerKey, "")+authorizedLine(posterKey, ""))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))

	// History that fills a big screen, so that each redraw is large.
	poster := dial(t, ts.addr, "poster", posterKey, 80, 24)
	poster.WaitFor("#lobby")
	for i := range 60 {
		pad := strings.Repeat(fmt.Sprintf("%x ", sha256.Sum256([]byte(fmt.Sprint(i)))), 25)
		poster.Type(fmt.Sprintf("\x1b[200~%s line-%02d\x1b[201~\r", pad[:1400], i))
		if i%4 == 3 {
			poster.WaitFor(fmt.Sprintf("line-%02d", i))
		}
	}
	poster.WaitFor("line-59")

	stuck := dialNoRead(t, ts.addr, "stuck", stuckKey, 500, 200)
	eventually(t, "stuck to be online", func() bool { return ts.srv.hub.Online() == 2 })
	// Redraw the whole screen until the server blocks on stuck's window.
	resizes := 0
	eventually(t, "the stuck client's SSH window to fill", func() bool {
		if blockedOnSSHWindow() {
			return true
		}
		resizes++
		return stuck.WindowChange(200, 500-resizes%2) != nil
	})
	t.Logf("the window filled after %d resizes", resizes)
	stuckEnded := make(chan struct{})
	go func() { stuck.Wait(); close(stuckEnded) }()

	reader := dial(t, ts.addr, "reader", readerKey, 80, 24)
	reader.WaitFor("#lobby")

	writeKeys(t, keysFile, authorizedLine(posterKey, ""))
	reader.WaitClosed()
	if !strings.Contains(reader.Raw(), "no longer authorized") {
		t.Errorf("revoked reader was not told why: %q", reader.Raw())
	}
	select {
	case <-stuckEnded:
	case <-time.After(waitTimeout):
		t.Fatal("the revoked session that stopped reading was never ended")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop() }()
	select {
	case <-stopped:
	case <-time.After(waitTimeout):
		t.Fatal("shutdown hung behind a revoked session that stopped reading")
	}
}

// blockedOnSSHWindow reports whether some goroutine of the process waits
// for a peer to open its SSH channel window.
func blockedOnSSHWindow() bool {
	buf := make([]byte, 8<<20)
	n := runtime.Stack(buf, true)
	return bytes.Contains(buf[:n], []byte("ssh.(*window).reserve"))
}

func TestRevokedKeyCannotOpenANewSessionOnItsConnection(t *testing.T) {
	// Revocation ends the session; the SSH connection, authenticated while
	// the key was listed, must not let the key back in with a new session.
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	k, other := newKey(t), newKey(t)
	writeKeys(t, keysFile, authorizedLine(k, "")+authorizedLine(other, ""))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))
	c := dial(t, ts.addr, "revoked", k, 80, 24)
	c.WaitFor("#lobby")

	writeKeys(t, keysFile, authorizedLine(other, ""))
	c.WaitClosed()

	sess, err := c.conn.NewSession()
	if err != nil {
		return // the connection is gone: nothing to reopen
	}
	defer sess.Close()
	out := &syncBuffer{}
	sess.Stdout, sess.Stderr = out, out
	if err := sess.RequestPty("xterm-256color", 24, 80, nil); err != nil {
		return
	}
	if err := sess.Shell(); err != nil {
		return
	}
	ended := make(chan struct{})
	go func() { sess.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(waitTimeout):
		t.Fatalf("new session of a revoked key still open; it got:\n%q", out.String())
	}
	if strings.Contains(out.String(), "lobby") {
		t.Fatalf("a revoked key got the chat again on its old connection:\n%q", out.String())
	}
	if !strings.Contains(out.String(), "no longer authorized") {
		t.Errorf("the new session was not told why: %q", out.String())
	}
}

func TestFromAddressShorthandsMatchLikeSshd(t *testing.T) {
	// sshd reads from= addresses with getaddrinfo, which takes IPv4 text
	// as inet_aton does: 127.1, 0x7f.0.0.1, 0177.0.0.1 and 2130706433 are
	// all 127.0.0.1. Read as wildcards, they would never match, so an
	// exclusion written that way would exclude nobody.
	cases := []struct {
		ip, list string
		want     bool
	}{
		{"127.0.0.1", "*,!127.1", false},
		{"10.0.5.5", "*,!10.0/16", false},
		{"10.1.5.5", "*,!10.0/16", true},
		{"127.0.0.1", "127.1", true},
		{"127.0.0.1", "0x7f.0.0.1", true},
		{"127.0.0.1", "0177.0.0.1", true},
		{"127.0.0.1", "2130706433", true},
		{"127.0.0.1", "127.0.1", true},
		{"127.0.0.1", "*,!10/8", false}, // 0.0.0.10/8: host bits set, refuses
		{"127.0.0.1", "08.0.0.1,127.0.0.1", true},
		{"127.0.0.1", "*,!127.0.0.256", true}, // not an address
		{"127.0.0.1", "*,!0x.0.0.1", true},    // not an address
		{"127.0.0.1", "*,!1.2.3.4.5", true},   // not an address
	}
	for _, c := range cases {
		if got := matchFrom(netip.MustParseAddr(c.ip), c.list); got != c.want {
			t.Errorf("matchFrom(%s, %q) = %v, want %v", c.ip, c.list, got, c.want)
		}
	}
}

func TestCertificateListedAsAKeyAdmitsNobody(t *testing.T) {
	// sshd never authenticates a certificate pasted into authorized_keys
	// as a plain line (only cert-authority lines admit certificates). The
	// server checks no certificate's validity, principals or critical
	// options, so such a line would admit its holder past all of them.
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	ca, k := newKey(t), newKey(t)
	cert := &gossh.Certificate{Key: k.PublicKey(), CertType: gossh.UserCert, ValidPrincipals: []string{"nobody"}, ValidAfter: 1, ValidBefore: 2,
		Permissions: gossh.Permissions{CriticalOptions: map[string]string{"source-address": "10.9.9.9/32"}}}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	certSigner, err := gossh.NewCertSigner(cert, k)
	if err != nil {
		t.Fatal(err)
	}
	writeKeys(t, keysFile, "# a pasted id_ed25519-cert.pub\n"+string(gossh.MarshalAuthorizedKey(cert)))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))
	if _, err := tryLogin(t, ts.addr, certSigner); err == nil {
		t.Fatal("an expired certificate listed as a plain line logged in")
	}
	if !strings.Contains(ts.logs.String(), "line=2") {
		t.Errorf("log does not name the certificate's line:\n%s", ts.logs.String())
	}
}

// A keys file the server cannot use (here too large) refuses everyone,
// but tells them the server is at fault, not their key.
func TestUnusableKeysFileDoesNotBlameTheKey(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	in := newKey(t)
	writeKeys(t, keysFile, authorizedLine(in, ""))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))
	inside := dial(t, ts.addr, "inside", in, 80, 24)
	inside.WaitFor("#lobby")

	writeKeys(t, keysFile, authorizedLine(in, "")+strings.Repeat("#\n", maxAuthorizedKeysSize/2+1))
	inside.WaitClosed()
	const want = "the server cannot read its list of authorized keys"
	if raw := inside.Raw(); !strings.Contains(raw, want) || strings.Contains(raw, "no longer authorized") {
		t.Fatalf("a session ended by an unusable file was told %q; want %q", raw, want)
	}
	told, err := tryLogin(t, ts.addr, in)
	if err == nil {
		t.Fatal("an unusable file let a key in")
	}
	if !strings.Contains(told, want) || strings.Contains(told, "not authorized") {
		t.Fatalf("a login refused by an unusable file was told %q; want %q", told, want)
	}
}

// A refusal by from= names what refused, in words that do not read as a
// line cut short.
func TestFromRefusalReasonReadsWhole(t *testing.T) {
	k := newKey(t)
	set := parseAuthorizedKeys([]byte(authorizedLine(k, `from="10.0.0.1"`)), log.New(io.Discard), time.UTC)
	ok, reason := set.decide(k.PublicKey(), netip.MustParseAddr("127.0.0.1"), time.Now())
	if want := "client address not allowed by the key's from= option"; ok || reason != want {
		t.Fatalf("decide = %v, %q; want false, %q", ok, reason, want)
	}
}

// Reloads of the same text, or of the same mode, do not log their
// warnings again: an operator's log is not flooded by every touch.
func TestAllowlistReloadsDoNotRepeatWarnings(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	k := newKey(t)
	content := "this line is garbage\n" + authorizedLine(k, "")
	writeKeys(t, keysFile, content)
	logs := &syncBuffer{}
	a := newAllowlist(keysFile, newLogger(logs, "debug"))
	count := func(s string) int { return strings.Count(logs.String(), s) }
	stamp := time.Now()
	touch := func() {
		t.Helper()
		stamp = stamp.Add(time.Second)
		if err := os.Chtimes(keysFile, stamp, stamp); err != nil {
			t.Fatal(err)
		}
	}
	reload := func(want int) {
		t.Helper()
		a.refresh()
		if got := count("authorized keys loaded"); got != want {
			t.Fatalf("%d reloads logged; want %d:\n%s", got, want, logs.String())
		}
	}

	reload(1)
	writeKeys(t, keysFile, content) // the same text, a new file
	reload(2)
	touch()
	reload(3)
	if n := count("skipping malformed authorized-keys line"); n != 1 {
		t.Fatalf("the same text's line warning was logged %d times; want 1:\n%s", n, logs.String())
	}
	writeKeys(t, keysFile, content+"# a comment\n")
	reload(4)
	if n := count("skipping malformed authorized-keys line"); n != 2 {
		t.Fatalf("a changed text's line warning was logged %d times in all; want 2:\n%s", n, logs.String())
	}

	// chmod then touch: one change of mode, one warning.
	if err := os.Chmod(keysFile, 0o666); err != nil {
		t.Fatal(err)
	}
	reload(5)
	touch()
	reload(6)
	const writable = "authorized-keys file is writable by group or others"
	if n := count(writable); n != 1 {
		t.Fatalf("one change of mode logged %d writable warnings; want 1:\n%s", n, logs.String())
	}
	// Fixed, then broken again: warned again.
	for i, mode := range []os.FileMode{0o600, 0o666} {
		if err := os.Chmod(keysFile, mode); err != nil {
			t.Fatal(err)
		}
		reload(7 + i)
	}
	if n := count(writable); n != 2 {
		t.Fatalf("the mode made writable again logged %d writable warnings in all; want 2:\n%s", n, logs.String())
	}
}

// A file caught empty while it is rewritten is not an error (sessions
// stay); only a file that stays empty is, logged once.
func TestAllowlistEmptyReadIsAnErrorOnlyOnceSettled(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	in := newKey(t)
	content := authorizedLine(in, "")
	writeKeys(t, keysFile, content)
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))
	inside := dial(t, ts.addr, "inside", in, 80, 24)
	inside.WaitFor("#lobby")
	count := func(s string) int { return strings.Count(ts.logs.String(), s) }
	emptyErrors := func() int {
		n := 0
		for _, l := range strings.Split(ts.logs.String(), "\n") {
			if strings.Contains(l, "level=error") && strings.Contains(l, "no usable keys") {
				n++
			}
		}
		return n
	}

	f, err := os.OpenFile(keysFile, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the truncated file to be read", func() bool { return count("waiting for the file to settle") > 0 })
	settled := count("file settled")
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rewritten file to settle", func() bool { return count("file settled") > settled })
	if n := emptyErrors(); n != 0 {
		t.Fatalf("a file caught empty mid-rewrite was logged as an error %d times:\n%s", n, ts.logs.String())
	}

	if err := os.Truncate(keysFile, 0); err != nil {
		t.Fatal(err)
	}
	inside.WaitClosed()
	if n := emptyErrors(); n != 1 {
		t.Fatalf("a file that stays empty was logged as an error %d times; want 1:\n%s", n, ts.logs.String())
	}
}
