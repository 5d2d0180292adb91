package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

var linkCodeRE = regexp.MustCompile(`Link code: ([0-9A-Z]{5}-[0-9A-Z]{5})`)

// linkCodeOf asks c's session for a link code and returns it.
func linkCodeOf(t *testing.T, c *client) string {
	t.Helper()
	last := func(screen string) string {
		m := linkCodeRE.FindAllStringSubmatch(screen, -1)
		if len(m) == 0 {
			return ""
		}
		return m[len(m)-1][1]
	}
	before := last(c.Screen())
	c.Line("/keys link")
	c.waitUntil(func(s string) bool { return last(s) != "" && last(s) != before }, "a new link code")
	return last(c.Screen())
}

// linkLogin opens the login screen of a new key in link mode and types
// handle and code.
func linkLogin(t *testing.T, addr string, key gossh.Signer, typed string) *client {
	t.Helper()
	c := dial(t, addr, "link", key, 160, 30)
	c.WaitFor("handle and code:")
	c.Line(typed)
	return c
}

func TestLinkedSecondKeyLogsIntoTheSameAccount(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	laptop, desktop, bobKey := newKey(t), newKey(t), newKey(t)
	a1 := dial(t, ts.addr, "alice", laptop, 160, 30)
	a1.WaitFor("#lobby")
	mustRun(t, ts.addr, "bob", bobKey, "", "send @alice psst-for-alice")

	code := linkCodeOf(t, a1)
	a2 := linkLogin(t, ts.addr, desktop, "alice "+code)
	a2.WaitFor("#lobby", "alice")
	// The same account: its direct conversation is there for the new key.
	if out := mustRun(t, ts.addr, "whoever", desktop, "", "history @bob"); !strings.Contains(out, "psst-for-alice") {
		t.Fatalf("linked key does not see the account's DMs: %q", out)
	}
	// The key is the account's from now on, whatever the user name.
	a3 := dial(t, ts.addr, "someoneelse", desktop, 160, 30)
	a3.WaitFor("#lobby")
	a3.Line("/keys")
	a3.WaitFor("Your keys (2):", gossh.FingerprintSHA256(laptop.PublicKey()), gossh.FingerprintSHA256(desktop.PublicKey())+"  ssh-ed25519  added ")
	screen := a3.Screen()
	if !strings.Contains(screen, gossh.FingerprintSHA256(desktop.PublicKey())) || strings.Count(screen, "(this session)") != 1 {
		t.Fatalf("/keys does not mark this session's key once:\n%s", screen)
	}
	for _, line := range strings.Split(screen, "\n") {
		if strings.Contains(line, "(this session)") && !strings.Contains(line, gossh.FingerprintSHA256(desktop.PublicKey())) {
			t.Fatalf("/keys marks another key as this session's: %q", line)
		}
	}
}

func TestUsedLinkCodeIsRefused(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	a1 := dial(t, ts.addr, "alice", newKey(t), 160, 30)
	a1.WaitFor("#lobby")
	code := linkCodeOf(t, a1)
	linkLogin(t, ts.addr, newKey(t), "alice "+code).WaitFor("#lobby")
	third := linkLogin(t, ts.addr, newKey(t), "alice "+code)
	third.WaitFor("wrong or expired link code")
	// A newer code replaces the one before it.
	first := linkCodeOf(t, a1)
	second := linkCodeOf(t, a1)
	if first == second {
		t.Fatal("two codes alike")
	}
	linkLogin(t, ts.addr, newKey(t), "alice "+first).WaitFor("wrong or expired link code")
	linkLogin(t, ts.addr, newKey(t), "alice "+strings.ToLower(second)).WaitFor("#lobby")
}

func TestWrongLinkCodesAreRateLimited(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	a1 := dial(t, ts.addr, "alice", newKey(t), 160, 30)
	a1.WaitFor("#lobby")
	code := linkCodeOf(t, a1)
	for range linkFailsPerSource {
		c := linkLogin(t, ts.addr, newKey(t), "alice 00000-00000")
		c.WaitFor("wrong or expired link code")
		c.Close()
	}
	c := linkLogin(t, ts.addr, newKey(t), "alice "+code)
	c.WaitFor("too many wrong link codes from your address; try again in 10 minutes")
}

func TestLinkLimitCountsBySourceAndByAccount(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newLinkLimit(func() time.Time { return now })
	for i := range linkFailsPerAccount {
		if r := l.refusal(string(rune('a'+i)), "alice"); r != "" {
			t.Fatalf("try %d refused: %s", i, r)
		}
		l.failed(string(rune('a'+i)), "alice")
	}
	if r := l.refusal("z", "alice"); !strings.Contains(r, "for this account") {
		t.Fatalf("account over its limit from a new address: %q", r)
	}
	if r := l.refusal("z", "bob"); r != "" {
		t.Fatalf("another account refused: %q", r)
	}
	now = now.Add(linkWindow)
	if r := l.refusal("z", "alice"); r != "" {
		t.Fatalf("refused after the window: %q", r)
	}
}

func TestRemovingTheLastOrCurrentKeyIsRefused(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	laptop, desktop := newKey(t), newKey(t)
	fpLaptop, fpDesktop := gossh.FingerprintSHA256(laptop.PublicKey()), gossh.FingerprintSHA256(desktop.PublicKey())
	a1 := dial(t, ts.addr, "alice", laptop, 160, 30)
	a1.WaitFor("#lobby")
	a1.Line("/keys remove " + fpLaptop)
	a1.WaitFor("that is your only key; link another first (/keys link)")

	a2 := linkLogin(t, ts.addr, desktop, "alice "+linkCodeOf(t, a1))
	a2.WaitFor("#lobby")
	a1.Line("/keys remove " + fpLaptop)
	a1.WaitFor("this session uses that key")
	a1.Line("/keys remove SHA256:nosuchkey")
	a1.WaitFor("no key SHA256:nosuchkey on your account")

	// Removing the other key ends its sessions and it is no longer alice's.
	a1.Line("/keys remove " + fpDesktop)
	a1.WaitFor("Removed key " + fpDesktop)
	a2.WaitClosed()
	if !strings.Contains(a2.Raw(), "this key was removed from its account") {
		t.Fatalf("session of the removed key not told why: %q", a2.Raw())
	}
	a1.Line("/keys")
	a1.WaitFor("Your keys (1):")
}

func TestLinkingOnAnAllowlistNeedsTheKeyInTheFileFirst(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "authorized_keys")
	laptop, desktop := newKey(t), newKey(t)
	writeKeys(t, path, authorizedLine(laptop, ""))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", path))
	a1 := dial(t, ts.addr, "alice", laptop, 160, 30)
	a1.WaitFor("#lobby")
	code := linkCodeOf(t, a1)

	var told string
	cfg := sshConfig("link", desktop)
	cfg.Auth = append(cfg.Auth, gossh.KeyboardInteractive(func(_, instr string, qs []string, _ []bool) ([]string, error) {
		told = instr
		return make([]string, len(qs)), nil
	}))
	if conn, err := gossh.Dial("tcp", ts.addr, cfg); err == nil {
		conn.Close()
		t.Fatal("a key not in the file logged in to be linked")
	}
	if !strings.Contains(told, "the operator must add it before it can be linked") || !strings.Contains(told, gossh.FingerprintSHA256(desktop.PublicKey())) {
		t.Fatalf("refusal does not say the key must be authorized first: %q", told)
	}
	// Once the operator authorizes it, the code binds it to the account.
	f, _ := NewKeysFile(path)
	if _, err := f.Authorize(pubLine(desktop, "alice desktop"), ""); err != nil {
		t.Fatal(err)
	}
	linkLogin(t, ts.addr, desktop, "alice "+code).WaitFor("#lobby")
	if out := mustRun(t, ts.addr, "x", desktop, "", "who"); !strings.Contains(out, "alice") {
		t.Fatalf("linked key is not alice: %q", out)
	}
}

func TestLoginScreenOffersLinkingToANewKeyAskedForAHandle(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	laptop := newKey(t)
	a1 := dial(t, ts.addr, "alice", laptop, 160, 30)
	a1.WaitFor("#lobby")
	code := linkCodeOf(t, a1)
	// The user name is taken: the new key gets the handle prompt, which
	// offers linking.
	c := dial(t, ts.addr, "alice", newKey(t), 160, 30)
	c.WaitFor("Choose a handle", "Tab: link this key to an account you already have.")
	c.Type("\t")
	c.WaitFor("handle and code:")
	c.Line("alice " + code)
	c.WaitFor("#lobby")
	c.Line("/keys")
	c.WaitFor("Your keys (2):")
}
