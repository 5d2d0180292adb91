package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// pubLine is key's public key as a user pastes it: type, base64, comment.
func pubLine(k gossh.Signer, comment string) string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k.PublicKey()))) + " " + comment
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestKeysFileKeepsCommentsAndUnrelatedLinesByteExact(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "authorized_keys")
	a, b, c := newKey(t), newKey(t), newKey(t)
	// Comments, blank lines, a CRLF line, a malformed line, options, odd
	// spacing and no newline at the end.
	orig := "# team keys\n\n" +
		"  # indented comment  \n" +
		strings.TrimSuffix(authorizedLine(a, `from="127.0.0.0/8"`), "\n") + " alice@laptop\r\n" +
		"this is not a key\n" +
		authorizedLine(b, "") +
		"\t\n" +
		strings.TrimSuffix(authorizedLine(b, `expiry-time="29991231Z"`), "\n") + "   bob  second line"
	if err := os.WriteFile(path, []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := NewKeysFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := f.Authorize(pubLine(c, "ignored"), "carol desktop")
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	if fp != gossh.FingerprintSHA256(c.PublicKey()) {
		t.Errorf("fingerprint %s, want %s", fp, gossh.FingerprintSHA256(c.PublicKey()))
	}
	want := orig + "\n" + strings.TrimSuffix(authorizedLine(c, ""), "\n") + " carol desktop\n"
	if got := readFile(t, path); got != want {
		t.Fatalf("after authorize:\n%q\nwant\n%q", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the file's own 0640", fi.Mode().Perm())
	}
	// Revoking b removes both of its lines and nothing else.
	n, err := f.Revoke(gossh.FingerprintSHA256(b.PublicKey()))
	if err != nil || n != 2 {
		t.Fatalf("revoke b: %d, %v; want 2 lines", n, err)
	}
	want = strings.Replace(want, authorizedLine(b, ""), "", 1)
	want = strings.Replace(want, strings.TrimSuffix(authorizedLine(b, `expiry-time="29991231Z"`), "\n")+"   bob  second line\n", "", 1)
	if got := readFile(t, path); got != want {
		t.Fatalf("after revoke:\n%q\nwant\n%q", got, want)
	}
	if _, err := f.Revoke(gossh.FingerprintSHA256(b.PublicKey())); !errors.Is(err, errKeyNotListed) {
		t.Errorf("second revoke: %v, want errKeyNotListed", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestKeysFileAuthorizeRefusesDuplicatesAndUnusableLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	a, b := newKey(t), newKey(t)
	orig := "# keys\n" + authorizedLine(a, `from="10.0.0.0/8"`)
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	f, _ := NewKeysFile(path)
	for _, c := range []struct {
		name, pubkey string
		want         error
	}{
		{"duplicate, other options", pubLine(a, "again"), errAlreadyAuthorized},
		{"command=", `command="/bin/true" ` + pubLine(b, "x"), errBadPublicKey},
		{"cert-authority", `cert-authority ` + pubLine(b, "x"), errBadPublicKey},
		{"garbage", "ssh-ed25519 notbase64", errBadPublicKey},
		{"two lines", pubLine(b, "x") + "\n" + pubLine(a, "y"), errBadPublicKey},
		{"empty", "", errBadPublicKey},
	} {
		_, err := f.Authorize(c.pubkey, "")
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: reason is not one line: %q", c.name, err)
		}
	}
	if _, err := f.Authorize(pubLine(a, ""), ""); err == nil || !strings.Contains(err.Error(), "already authorized") {
		t.Errorf("duplicate refusal %v does not say already authorized", err)
	}
	if got := readFile(t, path); got != orig {
		t.Errorf("refused edits changed the file:\n%q", got)
	}
	// A commands-only key can be authorized with its options.
	if _, err := f.Authorize("restrict "+pubLine(b, "bot"), ""); err != nil {
		t.Errorf("restrict key: %v", err)
	}
}

func TestKeysFileRefusesAnOpenServer(t *testing.T) {
	_, err := NewKeysFile("")
	if !errors.Is(err, errOpenServer) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("open server: %v, want errOpenServer in one line", err)
	}
}

func TestConcurrentAuthorizeAndHandEditAreBothKept(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "authorized_keys")
	admin, hand := newKey(t), newKey(t)
	writeKeys(t, path, "# operators\n"+authorizedLine(admin, ""))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", path))

	// The operator saves a hand edit while the server writes its own.
	f, _ := NewKeysFile(path)
	edited := false
	f.written = func() {
		if !edited {
			edited = true
			writeKeys(t, path, readFile(t, path)+"# added by hand\n"+authorizedLine(hand, ""))
		}
	}
	bot := newKey(t)
	if _, err := f.Authorize(pubLine(bot, "bot"), ""); err != nil {
		t.Fatalf("authorize during a hand edit: %v", err)
	}
	f.written = nil

	// Meanwhile other editors (this process and another using its own
	// KeysFile) authorize keys at once.
	keys := make([]gossh.Signer, 8)
	var wg sync.WaitGroup
	for i := range keys {
		keys[i] = newKey(t)
		editor := f
		if i%2 == 1 {
			editor, _ = NewKeysFile(path)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := editor.Authorize(pubLine(keys[i], fmt.Sprintf("k%d", i)), ""); err != nil {
				t.Errorf("authorize %d: %v", i, err)
			}
		}()
	}
	wg.Wait()

	text := readFile(t, path)
	if !strings.HasPrefix(text, "# operators\n"+authorizedLine(admin, "")+"# added by hand\n"+authorizedLine(hand, "")) {
		t.Fatalf("hand edit lost or changed:\n%s", text)
	}
	for _, k := range append([]gossh.Signer{admin, hand, bot}, keys...) {
		eventually(t, "every authorized key logs in", func() bool {
			_, err := tryLogin(t, ts.addr, k)
			return err == nil
		})
	}
}

func TestRevokeEndsTheKeysOpenSessions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "authorized_keys")
	stay, gone := newKey(t), newKey(t)
	writeKeys(t, path, authorizedLine(stay, "")+authorizedLine(gone, ""))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", path))
	a := dial(t, ts.addr, "stay", stay, 80, 24)
	b := dial(t, ts.addr, "gone", gone, 80, 24)
	a.WaitFor("#lobby")
	b.WaitFor("#lobby")

	f, _ := NewKeysFile(path)
	if n, err := f.Revoke(gossh.FingerprintSHA256(gone.PublicKey())); err != nil || n != 1 {
		t.Fatalf("revoke: %d, %v", n, err)
	}
	b.WaitClosed()
	if !strings.Contains(b.Raw(), "your key is no longer authorized") {
		t.Fatalf("revoked session not told why: %q", b.Raw())
	}
	if _, err := tryLogin(t, ts.addr, gone); err == nil {
		t.Error("revoked key logs in again")
	}
	a.Line("still here")
	a.WaitFor("still here")
}

func TestNoPTYKeyRunsCommandsButNotTheChat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "authorized_keys")
	bot, botNoPTY := newKey(t), newKey(t)
	writeKeys(t, path, authorizedLine(bot, "restrict")+authorizedLine(botNoPTY, "no-pty"))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", path))
	for name, k := range map[string]gossh.Signer{"restrict": bot, "nopty": botNoPTY} {
		mustRun(t, ts.addr, name, k, "", "send lobby hello from "+name)
		if out := mustRun(t, ts.addr, name, k, "", "history lobby"); !strings.Contains(out, "hello from "+name) {
			t.Errorf("%s: history lacks its message: %q", name, out)
		}
		c, err := dialErr(t, ts.addr, name, k, 80, 24)
		if err != nil {
			t.Fatalf("%s: dial: %v", name, err)
		}
		c.WaitClosed()
		if raw := c.Raw(); !strings.Contains(raw, "may only run commands") || strings.Count(strings.TrimSpace(raw), "\n") > 0 {
			t.Errorf("%s: chat session was not refused in one line: %q", name, raw)
		}
	}
}
