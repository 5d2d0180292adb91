package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"sshchat/model"
)

func TestLobbyMessageReachesEveryone(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	alice := dial(t, ts.addr, "alice", newKey(t), 80, 24)
	alice.WaitFor("#lobby", "alice")
	bob := dial(t, ts.addr, "bob", newKey(t), 80, 24)
	bob.WaitFor("#lobby", "testchat")
	alice.WaitFor("bob joined")

	alice.Line("hello from alice")
	bob.WaitFor("alice", "hello from alice")
	alice.WaitFor("hello from alice")
	bob.Line("hi alice")
	alice.WaitFor("hi alice")

	bob.Line("/quit")
	if err := bob.WaitClosed(); err != nil {
		t.Logf("bob exit: %v", err)
	}
	alice.WaitFor("bob left")
}

func TestHistorySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	ts := startServer(t, cfg)
	aliceKey := newKey(t)
	alice := dial(t, ts.addr, "alice", aliceKey, 80, 24)
	alice.WaitFor("#lobby")
	for i := 1; i <= 3; i++ {
		alice.Line(fmt.Sprintf("persisted message %d", i))
		alice.WaitFor(fmt.Sprintf("persisted message %d", i))
	}
	// A third user joining later sees the history.
	carol := dial(t, ts.addr, "carol", newKey(t), 80, 24)
	carol.WaitFor("persisted message 1", "persisted message 3")
	carol.Close()
	alice.Close()

	if err := ts.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	ts2 := startServer(t, cfg)
	again := dial(t, ts2.addr, "whatever", aliceKey, 80, 24)
	again.WaitFor("persisted message 1", "persisted message 3", "alice")
}

func TestDatabaseIsDurable(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	jm, sync, fk, err := ts.srv.store.Pragmas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if jm != "wal" || sync != 2 || fk != 1 {
		t.Fatalf("journal_mode=%s synchronous=%d foreign_keys=%d; want wal, 2 (FULL), 1", jm, sync, fk)
	}
}

func TestHandleClaimConflictAndLookalikes(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	aliceKey := newKey(t)
	alice := dial(t, ts.addr, "alice", aliceKey, 80, 24)
	alice.WaitFor("#lobby")

	// Another key asking for alice, in any case, gets the login screen.
	for _, name := range []string{"alice", "ALICE"} {
		imp := dial(t, ts.addr, name, newKey(t), 80, 24)
		imp.WaitFor("taken")
		imp.Close()
	}
	// Lookalikes are refused as invalid.
	for _, name := range []string{"\u0430lice", "ａｌｉｃｅ", "alice\u200b", "\u202eecila"} {
		imp := dial(t, ts.addr, name, newKey(t), 80, 24)
		imp.WaitFor("handle")
		if strings.Contains(imp.Screen(), "#lobby") {
			t.Fatalf("%q got into the lobby:\n%s", name, imp.Screen())
		}
		imp.Close()
	}

	// The login screen accepts a free handle.
	dave := dial(t, ts.addr, "alice", newKey(t), 80, 24)
	dave.WaitFor("taken")
	dave.Line("dave")
	dave.WaitFor("#lobby", "dave")

	// A returning key keeps its handle whatever user name it types.
	back := dial(t, ts.addr, "mallory", aliceKey, 80, 24)
	back.WaitFor("#lobby")
	back.Line("/nick")
	back.Line("/whois alice")
	back.WaitFor(gossh.FingerprintSHA256(aliceKey.PublicKey()))
}

func TestClientWithoutKeyIsToldWhy(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	var said []string
	cfg := &gossh.ClientConfig{
		User: "nokey",
		Auth: []gossh.AuthMethod{
			gossh.KeyboardInteractive(func(name, instruction string, qs []string, echos []bool) ([]string, error) {
				said = append(said, instruction)
				return make([]string, len(qs)), nil
			}),
			gossh.Password("hunter2"),
		},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         5 * time.Second,
	}
	_, err := gossh.Dial("tcp", ts.addr, cfg)
	if err == nil {
		t.Fatal("a client without a key got in")
	}
	if len(said) != 1 || !strings.Contains(said[0], "public key is required") {
		t.Fatalf("told %q; want one line saying a public key is required", said)
	}
}

func TestAllowlistAdmitsOnlyListedKeysAndReloads(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	in, out := newKey(t), newKey(t)
	write := func(content string) {
		t.Helper()
		tmp := keysFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, keysFile); err != nil {
			t.Fatal(err)
		}
	}
	authorized := func(k gossh.Signer) string { return string(gossh.MarshalAuthorizedKey(k.PublicKey())) }
	write("# operators\nthis line is garbage\n" + authorized(in))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))

	inside := dial(t, ts.addr, "inside", in, 80, 24)
	inside.WaitFor("#lobby")

	var told string
	refused := &gossh.ClientConfig{
		User: "outside",
		Auth: []gossh.AuthMethod{gossh.PublicKeys(out), gossh.KeyboardInteractive(func(_, instr string, qs []string, _ []bool) ([]string, error) {
			told = instr
			return make([]string, len(qs)), nil
		})},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         5 * time.Second,
	}
	if _, err := gossh.Dial("tcp", ts.addr, refused); err == nil {
		t.Fatal("unlisted key got in")
	}
	fp := gossh.FingerprintSHA256(out.PublicKey())
	if !strings.Contains(told, "not authorized") || !strings.Contains(told, fp) {
		t.Fatalf("refusal said %q; want 'not authorized' and %s", told, fp)
	}

	// Adding the key to the file lets it in without a restart.
	write(authorized(in) + authorized(out))
	dial(t, ts.addr, "outside", out, 80, 24).WaitFor("#lobby")

	// Removing a key ends its open sessions, with a reason.
	write(authorized(out))
	inside.WaitClosed()
	if !strings.Contains(inside.Raw(), "no longer authorized") {
		t.Fatalf("revoked session was not told why: %q", inside.Raw())
	}

	// An emptied file fails closed.
	write("")
	if _, err := dialErr(t, ts.addr, "inside", in, 80, 24); err == nil {
		t.Fatal("empty allowlist let a key in")
	}
	if !strings.Contains(ts.logs.String(), "nobody can log in") {
		t.Fatalf("log does not say the allowlist locks everyone out:\n%s", ts.logs.String())
	}
	// A missing file fails closed too.
	os.Remove(keysFile)
	if _, err := dialErr(t, ts.addr, "inside", in, 80, 24); err == nil {
		t.Fatal("missing allowlist let a key in")
	}
}

func TestSessionWithoutPTYGetsOneLine(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	conn, err := gossh.Dial("tcp", ts.addr, &gossh.ClientConfig{
		User: "script", Auth: []gossh.AuthMethod{gossh.PublicKeys(newKey(t))},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	// (Since `ssh host COMMAND` runs commands, a word that is none.)
	out, err := sess.CombinedOutput("chat")
	var exit *gossh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() == 0 {
		t.Fatalf("exit: %v; want a non-zero exit status", err)
	}
	if got := strings.TrimSpace(string(out)); !strings.Contains(got, "ssh -t -p") || strings.Count(got, "\n") > 0 {
		t.Fatalf("said %q; want one line explaining how to connect", got)
	}
}

// The attacker pastes terminal control sequences; the victim's terminal
// must receive none of them.
func TestEscapeInjectionReachesNobodyRaw(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	mallory := dial(t, ts.addr, "mallory", newKey(t), 80, 24)
	mallory.WaitFor("#lobby")
	victim := dial(t, ts.addr, "victim", newKey(t), 80, 24)
	victim.WaitFor("#lobby")
	payloads := []string{
		"\x1b]52;c;cm0gLXJmIH4=\x07", // clipboard write
		"\x1b]0;PWNED-TITLE\x07",     // window title
		"\x1b]2;PWNED-TITLE2\x1b\\",  // title with ST
		"\x1b[13;37HPWNED-MOVE",      // cursor move
		"\x1b[2J",                    // clear screen
		"\xc2\x9b2J",                 // 8-bit CSI (U+009B)
		"over\rPWNED-CR",             // carriage return overwrite
		"\u202eDENWP-BIDI",           // bidi override
	}
	for i, p := range payloads {
		// Bracketed paste delivers the bytes to the input verbatim.
		mallory.Type("\x1b[200~marker" + fmt.Sprint(i) + " " + p + "\x1b[201~\r")
		victim.WaitFor(fmt.Sprintf("marker%d", i))
	}
	raw := victim.Raw()
	for _, bad := range []string{"\x1b]52", "PWNED-TITLE", "\x1b[13;37H", "\u009b", "\u202e", "over\rPWNED"} {
		if strings.Contains(raw, bad) {
			t.Errorf("victim's terminal received %q", bad)
		}
	}
	// Handles cannot carry them either.
	evil := dial(t, ts.addr, "\x1b]0;PWNED\x07", newKey(t), 80, 24)
	evil.WaitFor("handle")
	if strings.Contains(victim.Raw(), "\x1b]0;PWNED") {
		t.Error("handle escape reached the victim")
	}
}

// A client that never reads its output must not slow the others down.
func TestSlowConsumerDoesNotBlockOthers(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	stuck := dialNoRead(t, ts.addr, "stuck", newKey(t), 250, 80)
	alice := dial(t, ts.addr, "alice", newKey(t), 80, 24)
	alice.WaitFor("#lobby")
	bob := dial(t, ts.addr, "bob", newKey(t), 80, 24)
	bob.WaitFor("#lobby")
	eventually(t, "stuck to be online", func() bool { return ts.srv.hub.Online() == 3 })

	// Enough traffic to fill the stuck client's SSH window (2 MiB) and then
	// its event queue: long pasted messages.
	var worst time.Duration
	for i := 0; i < 2000; i++ {
		start := time.Now()
		// Text that does not compress into repeat sequences.
		pad := strings.Repeat(fmt.Sprintf("%x ", sha256.Sum256([]byte(fmt.Sprint(i)))), 25)
		msg := fmt.Sprintf("\x1b[200~%s flood-%04d\x1b[201~\r", pad[:1400], i)
		alice.Type(msg)
		if i%4 == 3 { // stay within the UI's small outbox of unsent lines
			alice.WaitFor(fmt.Sprintf("flood-%04d", i))
		}
		if i%100 == 99 {
			bob.WaitFor(fmt.Sprintf("flood-%04d", i))
			if d := time.Since(start); d > worst {
				worst = d
			}
		}
		if ts.srv.hub.Online() == 2 {
			break // dropped already
		}
	}
	t.Logf("worst observed delivery while a client was stuck: %v", worst)
	// The stuck session is eventually dropped rather than buffered forever.
	if !strings.Contains(ts.logs.String(), "dropping slow session") {
		t.Logf("server log:\n%s", ts.logs.String())
	}
	eventually(t, "the stuck session to be dropped", func() bool { return ts.srv.hub.Online() == 2 })
	// And its SSH session is hung up, freeing what it held.
	ended := make(chan struct{})
	go func() { stuck.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(20 * time.Second):
		t.Fatal("the stuck client's session was never closed")
	}
}

// dialNoRead opens a PTY session and never reads its output, so the SSH
// window is never replenished.
func dialNoRead(t *testing.T, addr, user string, key gossh.Signer, w, h int) *gossh.Session {
	t.Helper()
	conn, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User: user, Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", h, w, nil); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	return sess
}

func TestResizeStormAndGiantWindows(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	giant := dial(t, ts.addr, "giant", newKey(t), 65535, 65535)
	eventually(t, "the giant session to join", func() bool { return ts.srv.hub.Online() == 1 })
	giant.WaitRaw("lobby")
	storm := dial(t, ts.addr, "storm", newKey(t), 80, 24)
	storm.WaitFor("#lobby")
	for i := 0; i < 5000; i++ {
		w, h := 20+i%300, 5+i%100
		if err := storm.sess.WindowChange(h, w); err != nil {
			t.Fatal(err)
		}
	}
	if err := storm.sess.WindowChange(65535, 65535); err != nil {
		t.Fatal(err)
	}
	storm.Resize(80, 24)
	other := dial(t, ts.addr, "other", newKey(t), 80, 24)
	other.WaitFor("#lobby")
	other.Line("still responsive")
	storm.WaitFor("still responsive")

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 200<<20 {
		t.Fatalf("heap grew by %d MiB after giant windows", grew>>20)
	}
}

func TestGracefulShutdownTellsSessionsAndLosesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	ts := startServer(t, cfg)
	alice := dial(t, ts.addr, "alice", newKey(t), 80, 24)
	alice.WaitFor("#lobby")
	for i := 0; i < 20; i++ {
		alice.Line(fmt.Sprintf("before-shutdown-%02d", i))
		time.Sleep(30 * time.Millisecond)
	}
	alice.WaitFor("before-shutdown-19")
	if err := ts.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	alice.WaitRaw("server shutting down")
	alice.WaitClosed()

	db, err := model.Open(cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	msgs, err := db.History(context.Background(), "#lobby", 0, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 20 {
		t.Fatalf("%d messages stored; want all 20 acknowledged ones", len(msgs))
	}
}

func TestBadConfigurationFailsBeforeListening(t *testing.T) {
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o500)
	cases := map[string][]string{
		"address":  {"--addr", "nonsense"},
		"port":     {"--addr", ":99999"},
		"motd":     {"--motd", filepath.Join(dir, "missing.txt")},
		"data dir": {"--data-dir", filepath.Join(ro, "sub")},
		"level":    {"--log-level", "loud"},
		"flag":     {"--bogus"},
	}
	if os.Geteuid() == 0 {
		delete(cases, "data dir") // root writes anywhere
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			var stderr syncBuffer
			err := run(context.Background(), append([]string{"--host-key", filepath.Join(dir, "k")}, args...), func(string) string { return "" }, &stderr)
			if err == nil {
				t.Fatal("bad configuration accepted")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			if stderr.String() != "" {
				t.Fatalf("printed more than the error:\n%s", stderr.String())
			}
		})
	}
}

func TestEnvironmentConfiguresAndFlagsWin(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"SSHCHAT_ADDR": "127.0.0.1:2299", "SSHCHAT_DATA_DIR": filepath.Join(dir, "envdata"),
		"SSHCHAT_NAME": "from-env", "SSHCHAT_HOST_KEY": filepath.Join(dir, "k"),
	}
	cfg, err := parseConfig([]string{"--name", "from-flag"}, func(k string) string { return env[k] }, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:2299" || cfg.Name != "from-flag" || cfg.DBPath != filepath.Join(dir, "envdata", "sshchat.db") {
		t.Fatalf("config %+v", cfg)
	}
}

func TestHostKeyCreatedPrivate(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	startServer(t, cfg)
	fi, err := os.Stat(cfg.HostKey)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key mode %v; want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(cfg.HostKey))
	if di.Mode().Perm() != 0o700 {
		t.Fatalf("host key dir mode %v; want 0700", di.Mode().Perm())
	}
}

func TestSessionsPerConnectionAreCapped(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	conn, err := gossh.Dial("tcp", ts.addr, &gossh.ClientConfig{
		User: "multi", Auth: []gossh.AuthMethod{gossh.PublicKeys(newKey(t))},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Interactive sessions hold their slot while open.
	var sessions []*gossh.Session
	for i := 0; i < maxSessionsPerConn; i++ {
		s, err := conn.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RequestPty("xterm", 24, 80, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.StdoutPipe(); err != nil {
			t.Fatal(err)
		}
		if err := s.Shell(); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	eventually(t, "all sessions to start", func() bool { return ts.srv.active.Load() == maxSessionsPerConn })
	// Refused when the channel is opened (see limitChannels).
	if _, err := conn.NewSession(); err == nil || !strings.Contains(err.Error(), "sessions per connection") {
		t.Fatalf("11th session: %v; want it refused", err)
	}
}

// The Docker image configures the server only through SSHCHAT_* variables,
// with the host key inside the data volume; run must create both there and
// return nil (exit code 0) when its context ends, as on SIGTERM.
func TestContainerStyleEnvironmentRunsAndStopsCleanly(t *testing.T) {
	vol := filepath.Join(t.TempDir(), "data")
	t.Setenv("HOME", vol) // the image's user has its home in the volume
	env := map[string]string{
		"SSHCHAT_ADDR":     "127.0.0.1:0",
		"SSHCHAT_DATA_DIR": vol,
		"SSHCHAT_HOST_KEY": filepath.Join(vol, ".ssh", "id_ed25519"),
		"SSHCHAT_NAME":     "container",
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, logs) }()
	eventually(t, "the server to listen", func() bool { return strings.Contains(logs.String(), "listening") })
	for _, f := range []string{filepath.Join(vol, "sshchat.db"), filepath.Join(vol, ".ssh", "id_ed25519")} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s not created: %v", f, err)
		}
	}
	if !strings.Contains(logs.String(), "fingerprint=SHA256:") {
		t.Fatalf("host key fingerprint not logged:\n%s", logs.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v on shutdown; want nil (exit 0)", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop")
	}
}

// A client that connects and trickles bytes without ever authenticating is
// cut off at the login timeout.
func TestSlowLoginIsDisconnected(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--login-timeout", "1s"))
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	go func() {
		for _, b := range []byte("SSH-2.0-slowloris\r\n") {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("slow client held its connection for %v", d)
	}
}

// The identity is the key that signed, never another key the client
// offered first (CVE-2024-45337 pattern).
func TestIdentityIsTheKeyThatSigned(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	victimKey := newKey(t)
	victim := dial(t, ts.addr, "victim", victimKey, 80, 24)
	victim.WaitFor("#lobby")
	victim.Close()

	own := newKey(t)
	attacker, err := dialConfig(t, ts.addr, &gossh.ClientConfig{
		User:            "victim",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(forgedSigner{victimKey.PublicKey()}, own)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         5 * time.Second,
	}, 80, 24)
	if err != nil {
		// x/crypto's server drops a connection whose signature does not
		// verify: the forged key never authenticates anyone.
		t.Logf("forged signature refused: %v", err)
		return
	}
	// Had it gone on to authenticate with its own key, the session is that
	// key's: a new key asking for "victim" is sent to the login screen.
	attacker.WaitFor("taken")
	attacker.Line("attacker")
	attacker.WaitFor("#lobby", "attacker (you)")
	attacker.Line("/whois attacker")
	attacker.WaitFor(gossh.FingerprintSHA256(own.PublicKey()))
	if strings.Contains(attacker.Screen(), "victim (you)") {
		t.Fatal("the attacker was logged in as the victim")
	}
}

// forgedSigner offers someone else's public key with a garbage signature.
type forgedSigner struct{ pub gossh.PublicKey }

func (f forgedSigner) PublicKey() gossh.PublicKey { return f.pub }
func (f forgedSigner) Sign(io.Reader, []byte) (*gossh.Signature, error) {
	return &gossh.Signature{Format: f.pub.Type(), Blob: make([]byte, 64)}, nil
}

// TestRevokedSessionRestoresTheTerminalFirst removes a logged-in key from
// the allowlist: the client must get its terminal back (keyboard modes
// popped, bracketed paste off, alternate screen left) before the one-line
// reason, which stays visible on the main screen.
func TestRevokedSessionRestoresTheTerminalFirst(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	k, other := newKey(t), newKey(t)
	write := func(content string) {
		t.Helper()
		tmp := keysFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, keysFile); err != nil {
			t.Fatal(err)
		}
	}
	write(string(gossh.MarshalAuthorizedKey(k.PublicKey())))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))
	c := dial(t, ts.addr, "revoked", k, 80, 24)
	c.WaitFor("#lobby")

	write(string(gossh.MarshalAuthorizedKey(other.PublicKey())))
	const line = "sshchat: your key is no longer authorized on this server"
	c.WaitRaw(line)
	c.WaitClosed()
	raw := c.Raw()
	at := strings.LastIndex(raw, line)
	if at < 0 {
		t.Fatalf("no reason line; stream tail: %q", raw[max(0, len(raw)-300):])
	}
	enter := strings.LastIndex(raw[:at], ansi.SetModeAltScreenSaveCursor)
	if enter < 0 {
		t.Fatalf("no alternate screen before the reason")
	}
	for _, seq := range []string{ansi.PopKittyKeyboard(1), ansi.ResetModeBracketedPaste, ansi.ResetModeAltScreenSaveCursor} {
		if !strings.Contains(raw[enter:at], seq) {
			t.Errorf("%q not sent before the reason; stream tail: %q", seq, raw[max(0, at-300):])
		}
	}
	c.WaitFor(line) // on the main screen: the chat is gone
	if s := c.Screen(); strings.Contains(s, "#lobby") {
		t.Errorf("the chat is still on screen with the reason:\n%s", s)
	}
}

// The default host key path is relative to the working directory: started
// from the home directory it must not become the operator's own login key.
func TestHostKeyRefusesTheUsersIdentityKey(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	sshDir := filepath.Join(home, ".ssh")
	if err := os.Mkdir(sshDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"id_ed25519", "id_ed25519.pub", "id_rsa.pub"} {
		if err := os.WriteFile(filepath.Join(sshDir, f), []byte("the operator's login key\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	elsewhere := t.TempDir()
	link := filepath.Join(elsewhere, "hostkey")
	if err := os.Symlink(filepath.Join(sshDir, "id_ed25519"), link); err != nil {
		t.Fatal(err)
	}
	aliasDir := filepath.Join(elsewhere, "dotssh")
	if err := os.Symlink(sshDir, aliasDir); err != nil {
		t.Fatal(err)
	}
	noenv := func(string) string { return "" }
	parse := func(args ...string) error {
		_, err := parseConfig(append([]string{"--data-dir", filepath.Join(elsewhere, "data")}, args...), noenv, io.Discard)
		return err
	}

	t.Chdir(home)
	for _, args := range [][]string{
		nil, // the default, from the home directory
		{"--host-key", filepath.Join(sshDir, "id_rsa")},       // not there yet, but its .pub is
		{"--host-key", link},                                  // a symlink to one
		{"--host-key", filepath.Join(aliasDir, "id_ed25519")}, // through a symlinked directory
	} {
		err := parse(args...)
		if !errors.Is(err, errHostKeyIsIdentity) || !strings.Contains(err.Error(), "--host-key") || strings.Contains(err.Error(), "\n") {
			t.Errorf("host key %v: got %v; want a one-line refusal with a --host-key hint", args, err)
		}
	}
	// Bounded, so that a server that does start fails the test, not hangs it.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := run(ctx, []string{"--addr", "127.0.0.1:0", "--data-dir", filepath.Join(elsewhere, "data")}, noenv, io.Discard); !errors.Is(err, errHostKeyIsIdentity) {
		t.Errorf("run from the home directory: got %v; want a refusal before listening", err)
	}
	if err := parse("--host-key", filepath.Join(sshDir, "sshchat_host_key")); err != nil {
		t.Errorf("a non-identity file in ~/.ssh was refused: %v", err)
	}
	// Named explicitly without a .pub beside it: a service account's own
	// host key, as in the Docker image.
	if err := parse("--host-key", filepath.Join(sshDir, "id_ecdsa")); err != nil {
		t.Errorf("an explicit ~/.ssh/id_* without a .pub was refused: %v", err)
	}

	// Anywhere else, as in the repository with `go run .`, the default stands.
	t.Chdir(elsewhere)
	if err := parse(); err != nil {
		t.Errorf("the default host key outside the home directory was refused: %v", err)
	}
}
