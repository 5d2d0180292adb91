package main

import (
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAccountLimitRefusesTheNextNewAccountFromOneAddressWithinTheHour(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--max-new-accounts-per-source", "2"))
	first := newKey(t)
	dial(t, ts.addr, "one", first, 80, 24).WaitFor("#lobby")
	mustRun(t, ts.addr, "two", newKey(t), "", "send lobby hi")

	third := dial(t, ts.addr, "three", newKey(t), 80, 24)
	third.WaitClosed()
	if raw := third.Raw(); !strings.Contains(raw, "too many new accounts from your address (at most 2 an hour)") {
		t.Fatalf("third new account not refused in one line: %q", raw)
	}
	r := runCmd(t, ts.addr, "four", newKey(t), "", "send lobby hi")
	if r.code != exitFail || !strings.Contains(r.stderr, "too many new accounts") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("command of a fourth new key: %+v", r)
	}
	// An existing account still logs in from the same address.
	dial(t, ts.addr, "one", first, 80, 24).WaitFor("#lobby")
}

func TestAccountLimitWindowAndIPv6Networks(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newAccountLimit(2, func() time.Time { return now })
	src := func(ip string) string { return sourceOf(&net.TCPAddr{IP: net.ParseIP(ip), Port: 1}) }
	a, b := src("2001:db8:1:2::1"), src("2001:db8:1:2:ffff::9")
	if _, r := l.reserve(a); r != "" {
		t.Fatal(r)
	}
	at, r := l.reserve(b)
	if r != "" {
		t.Fatal(r)
	}
	if _, r := l.reserve(a); !strings.Contains(r, "at most 2 an hour); try again in 60 minutes") {
		t.Fatalf("third account from one /64: %q", r)
	}
	if _, r := l.reserve(src("2001:db8:1:3::1")); r != "" {
		t.Fatalf("another /64 is refused: %q", r)
	}
	l.release(b, at) // its account was not created after all
	if _, r := l.reserve(a); r != "" {
		t.Fatalf("a released reservation is still counted: %q", r)
	}
	now = now.Add(accountWindow)
	if _, r := l.reserve(a); r != "" {
		t.Fatalf("refused after the hour: %q", r)
	}
}

func TestMaxNewAccountsPerSourceFlagAndVariable(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--data-dir", filepath.Join(dir, "d"), "--host-key", filepath.Join(dir, "k")}
	parse := func(env map[string]string, args ...string) (Config, error) {
		return parseConfig(append(base, args...), func(k string) string { return env[k] }, io.Discard)
	}
	if c, err := parse(nil); err != nil || c.MaxNewAccountsPerSource != 5 {
		t.Fatalf("default: %d, %v; want 5", c.MaxNewAccountsPerSource, err)
	}
	env := map[string]string{"SSHCHAT_MAX_NEW_ACCOUNTS_PER_SOURCE": "7"}
	if c, err := parse(env); err != nil || c.MaxNewAccountsPerSource != 7 {
		t.Fatalf("variable: %d, %v; want 7", c.MaxNewAccountsPerSource, err)
	}
	if c, err := parse(env, "--max-new-accounts-per-source", "0"); err != nil || c.MaxNewAccountsPerSource != 0 {
		t.Fatalf("flag over variable: %d, %v; want 0", c.MaxNewAccountsPerSource, err)
	}
	for _, v := range []string{"-1", "x", "1.5"} {
		if _, err := parse(nil, "--max-new-accounts-per-source", v); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v; want a one-line error", v, err)
		}
	}
}
