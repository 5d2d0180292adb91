package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	gossh "golang.org/x/crypto/ssh"
)

// startTestNATS runs an embedded NATS server on a loopback port for the
// test (shut down at its end) and returns it with its URL.
func startTestNATS(t *testing.T) (*natsserver.Server, string) {
	t.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded NATS server did not start")
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv, fmt.Sprintf("nats://127.0.0.1:%d", srv.Addr().(*net.TCPAddr).Port)
}

// clusterConfig is the configuration of node name of a test cluster: its
// own data directory, the shared database and authorized-keys file, and a
// bus to the others. Its allowlist watcher looks at the file only when
// asked (allowlistEvery is long), so that what ends a session in time is
// the change carried between nodes, not a periodic look.
func clusterConfig(t *testing.T, dir, name, natsURL, db string, args ...string) Config {
	t.Helper()
	cfg := testConfig(t, filepath.Join(dir, name), append([]string{"--db", db, "--nats-url", natsURL, "--node-name", name}, args...)...)
	cfg.allowlistEvery = time.Hour
	return cfg
}

// TestAllowlistEditOnOneNodeRevokesOnEveryNode: two nodes share one
// authorized-keys file (a shared volume); a key revoked by /admin revoke
// on node a ends its session on node b within 2 s, and a key authorized
// on a logs in on b.
func TestAllowlistEditOnOneNodeRevokesOnEveryNode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "authorized_keys")
	db := filepath.Join(dir, "chat.db")
	boss, guest, late := newKey(t), newKey(t), newKey(t)
	writeKeys(t, path, authorizedLine(boss, "")+authorizedLine(guest, ""))
	_, natsURL := startTestNATS(t)
	args := []string{"--authorized-keys", path, "--admin-fingerprints", gossh.FingerprintSHA256(boss.PublicKey())}
	a := startServer(t, clusterConfig(t, dir, "a", natsURL, db, args...))
	b := startServer(t, clusterConfig(t, dir, "b", natsURL, db, args...))

	g := dial(t, b.addr, "guest", guest, 80, 24)
	g.WaitFor("#lobby")
	fp := gossh.FingerprintSHA256(guest.PublicKey())
	mustRun(t, a.addr, "boss", boss, "", "admin revoke "+fp)
	start := time.Now()
	g.WaitRaw("no longer authorized") // the UI shows the reason, then restores the terminal
	took := time.Since(start)
	t.Logf("told after %s", took)
	if took > 2*time.Second {
		t.Fatalf("the revoked key's session on b was told %s after the revocation on a, want within 2s", took)
	}
	g.WaitClosed()

	pub := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(late.PublicKey())))
	mustRun(t, a.addr, "boss", boss, "", "admin authorize "+pub+" late")
	l := dial(t, b.addr, "late", late, 80, 24)
	l.WaitFor("#lobby")
}
