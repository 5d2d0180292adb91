package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"sshchat/model"
)

// adminServer starts a server whose administrator is boss's key.
func adminServer(t *testing.T, args ...string) (*testServer, gossh.Signer) {
	t.Helper()
	boss := newKey(t)
	cfg := testConfig(t, t.TempDir(), append([]string{"--admin-fingerprints", gossh.FingerprintSHA256(boss.PublicKey())}, args...)...)
	return startServer(t, cfg), boss
}

// tailReady waits until tl is attached: it prints a message key sends
// after it started.
func tailReady(t *testing.T, ts *testServer, tl *tailer, user string, key gossh.Signer) {
	t.Helper()
	eventually(t, "the tail to follow", func() bool {
		mustRun(t, ts.addr, user, key, "", "send lobby ready")
		return len(tl.Lines()) > 0
	})
}

// oneLine fails unless s is exactly one line containing every one of want.
func requireOneLine(t *testing.T, what, s string, want ...string) {
	t.Helper()
	if strings.Count(strings.TrimRight(s, "\n"), "\n") != 0 || s == "" {
		t.Fatalf("%s: %q is not one line", what, s)
	}
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Fatalf("%s: %q does not say %q", what, s, w)
		}
	}
}

func TestBanSurvivesRestartAndBannedKeyIsRefusedAtAuthWithReasonAndExpiry(t *testing.T) {
	boss := newKey(t)
	cfg := testConfig(t, t.TempDir(), "--admin-fingerprints", gossh.FingerprintSHA256(boss.PublicKey()))
	ts := startServer(t, cfg)
	bobKey, strangerKey := newKey(t), newKey(t)
	mustRun(t, ts.addr, "bob", bobKey, "", "who")
	out := mustRun(t, ts.addr, "boss", boss, "", "admin ban bob 2h spamming links")
	if !strings.Contains(out, "banned bob until") || !strings.Contains(out, "spamming links") {
		t.Fatalf("ban answered %q", out)
	}
	// A key that never logged in can be banned by its fingerprint.
	strangerFP := gossh.FingerprintSHA256(strangerKey.PublicKey())
	mustRun(t, ts.addr, "boss", boss, "", "admin ban "+strangerFP)
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}

	ts = startServer(t, cfg)
	told, err := tryLogin(t, ts.addr, bobKey)
	if err == nil {
		t.Fatal("a banned key logged in after a restart")
	}
	expiry := time.Now().Add(2 * time.Hour).UTC().Format("2006-01-02 ")
	requireOneLine(t, "bob's refusal", told, "sshchat: key "+gossh.FingerprintSHA256(bobKey.PublicKey())+" is banned from this server until "+expiry, "UTC: spamming links")
	told, err = tryLogin(t, ts.addr, strangerKey)
	if err == nil {
		t.Fatal("a key banned by fingerprint logged in")
	}
	requireOneLine(t, "the stranger's refusal", told, "banned from this server")
	if strings.Contains(told, "until") {
		t.Fatalf("a ban without a duration told an expiry: %q", told)
	}
	// The ban is listed, and lifted by unban.
	if out := mustRun(t, ts.addr, "boss", boss, "", "admin bans"); !strings.Contains(out, "(bob) until") || !strings.Contains(out, strangerFP+" for good") {
		t.Fatalf("bans: %q", out)
	}
	mustRun(t, ts.addr, "boss", boss, "", "admin unban bob")
	mustRun(t, ts.addr, "bob", bobKey, "", "who")
}

func TestBanEndsOpenSessionsAtOnce(t *testing.T) {
	ts, boss := adminServer(t)
	bobKey := newKey(t)
	bob := dial(t, ts.addr, "bob", bobKey, 100, 30)
	bob.WaitFor("#lobby")
	tail := startTail(t, ts.addr, "bob", bobKey, "tail lobby")
	alice := dial(t, ts.addr, "alice", newKey(t), 100, 30)
	alice.WaitFor("#lobby")
	tailReady(t, ts, tail, "bob", bobKey)
	idle, err := gossh.Dial("tcp", ts.addr, sshConfig("bob", bobKey)) // no session yet
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	mustRun(t, ts.addr, "boss", boss, "", "admin ban bob 30m trolling")
	bob.WaitClosed()
	bob.WaitRaw("this key is banned from this server until")
	select {
	case <-tail.done:
	case <-time.After(waitTimeout):
		t.Fatal("bob's tail was not ended by the ban")
	}
	requireOneLine(t, "tail's end", tail.err.String(), "banned from this server", "trolling")
	// A connection authenticated before the ban opens no session after it.
	if out, ok := refusedSessionOutput(t, idle); !ok || !strings.Contains(out, "this key is banned from this server until") {
		t.Fatalf("a new session of the banned key on its old connection: %q (%v)", out, ok)
	}
	waitServerClose(t, idle)
	// Nothing committed after the ban reached bob.
	alice.Line("after-the-ban")
	alice.WaitFor("after-the-ban")
	for _, l := range tail.Lines() {
		if strings.Contains(l, "after-the-ban") {
			t.Fatal("a message sent after the ban reached the banned key's tail")
		}
	}
}

func TestExpiredBanLetsTheKeyIn(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	oldKey, newBanKey := newKey(t), newKey(t)
	db, err := model.Open(cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	if err := db.BanKeys(context.Background(), []model.Ban{
		{Fingerprint: gossh.FingerprintSHA256(oldKey.PublicKey()), Reason: "old", ExpiresAt: &past},
		{Fingerprint: gossh.FingerprintSHA256(newBanKey.PublicKey()), Reason: "current", ExpiresAt: &future},
	}, &model.AuditEntry{Action: "ban"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ts := startServer(t, cfg)
	if _, err := tryLogin(t, ts.addr, oldKey); err != nil {
		t.Fatalf("a key whose ban expired was refused: %v", err)
	}
	mustRun(t, ts.addr, "olduser", oldKey, "", "who")
	if told, err := tryLogin(t, ts.addr, newBanKey); err == nil || !strings.Contains(told, "current") {
		t.Fatalf("a key banned for another hour: err %v, told %q", err, told)
	}
}

func TestKickEndsSessionsWithTheReason(t *testing.T) {
	ts, boss := adminServer(t)
	bobKey := newKey(t)
	bob := dial(t, ts.addr, "bob", bobKey, 100, 30)
	bob.WaitFor("#lobby")
	tail := startTail(t, ts.addr, "bob", bobKey, "tail lobby")
	tailReady(t, ts, tail, "bob", bobKey)
	admin := dial(t, ts.addr, "boss", boss, 100, 30)
	admin.WaitFor("#lobby")
	admin.Line("/admin kick bob cool off")
	admin.WaitFor("kicked bob: cool off")
	bob.WaitClosed()
	bob.WaitRaw("sshchat: you were kicked by boss: cool off")
	select {
	case <-tail.done:
	case <-time.After(waitTimeout):
		t.Fatal("bob's tail was not ended by the kick")
	}
	requireOneLine(t, "tail's end", tail.err.String(), "you were kicked by boss: cool off")
	// A kick is not a ban.
	mustRun(t, ts.addr, "bob", bobKey, "", "who")
	if r := runCmd(t, ts.addr, "boss", boss, "", "admin kick bob"); r.code != 1 {
		t.Fatalf("kicking a user not connected: exit %d %q", r.code, r.stderr)
	}
}

func TestMuteRefusesLobbyAndRoomPostsWithOneLineAndAllowsDirectMessages(t *testing.T) {
	ts, boss := adminServer(t)
	bobKey, aliceKey := newKey(t), newKey(t)
	mustRun(t, ts.addr, "alice", aliceKey, "", "who")
	bob := dial(t, ts.addr, "bob", bobKey, 100, 30)
	bob.WaitFor("#lobby")
	bob.Line("/join #go")
	bob.WaitFor("│ #go")

	mustRun(t, ts.addr, "boss", boss, "", "admin mute bob 1h")
	bob.WaitFor("you were muted by boss until")
	bob.Line("in-the-room")
	bob.WaitFor("you are muted until")
	r := runCmd(t, ts.addr, "bob", bobKey, "", "send lobby hello")
	if r.code != 1 {
		t.Fatalf("a muted user's lobby post: exit %d", r.code)
	}
	requireOneLine(t, "the refusal", r.stderr, "you are muted until", "direct messages still work")
	mustRun(t, ts.addr, "bob", bobKey, "", "send @alice still-private")
	if out := mustRun(t, ts.addr, "alice", aliceKey, "", "history @bob"); !strings.Contains(out, "still-private") {
		t.Fatalf("alice's history with bob: %q", out)
	}
	for _, h := range []string{"lobby", "'#go'"} {
		if out := mustRun(t, ts.addr, "bob", bobKey, "", "history "+h); strings.Contains(out, "hello") || strings.Contains(out, "in-the-room") {
			t.Fatalf("a muted post was stored in %s: %q", h, out)
		}
	}
	mustRun(t, ts.addr, "boss", boss, "", "admin unmute bob")
	mustRun(t, ts.addr, "bob", bobKey, "", "send lobby unmuted-now")
}

func TestAnnounceReachesEverySession(t *testing.T) {
	ts, boss := adminServer(t)
	alice := dial(t, ts.addr, "alice", newKey(t), 100, 30)
	alice.WaitFor("#lobby")
	bob := dial(t, ts.addr, "bob", newKey(t), 100, 30)
	bob.WaitFor("#lobby")
	bob.Line("/join #go")
	bob.WaitFor("│ #go")
	carolKey := newKey(t)
	tail := startTail(t, ts.addr, "carol", carolKey, "tail lobby --json")
	tailReady(t, ts, tail, "carol", carolKey)
	mustRun(t, ts.addr, "boss", boss, "", "admin announce restart at 20:00, back in 5 minutes")
	alice.WaitFor("announcement from boss: restart at 20:00, back in 5 minutes")
	bob.WaitFor("announcement from boss: restart at 20:00, back in 5 minutes")
	tail.waitLine(t, `"kind":"announcement","from":"boss","body":"restart at 20:00, back in 5 minutes"`)
}

func TestAuditListsActionsWithWhoWhomAndReason(t *testing.T) {
	ts, boss := adminServer(t)
	mustRun(t, ts.addr, "bob", newKey(t), "", "who")
	mustRun(t, ts.addr, "carol", newKey(t), "", "who")
	mustRun(t, ts.addr, "boss", boss, "", "admin mute bob 30m flooding the lobby")
	mustRun(t, ts.addr, "boss", boss, "", "admin ban carol 7d ban evasion")
	mustRun(t, ts.addr, "boss", boss, "", "admin unmute bob")
	mustRun(t, ts.addr, "boss", boss, "", "admin announce hello all")
	out := mustRun(t, ts.addr, "boss", boss, "", "admin audit 3")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "boss announce: hello all") || !strings.Contains(lines[2], "boss unmute bob") ||
		!strings.Contains(lines[3], "boss ban carol until") || !strings.HasSuffix(lines[3], "UTC: ban evasion") {
		t.Fatalf("audit 3:\n%s", out)
	}
	if out := mustRun(t, ts.addr, "boss", boss, "", "admin audit"); !strings.Contains(out, "boss mute bob until") || !strings.Contains(out, "flooding the lobby") {
		t.Fatalf("audit:\n%s", out)
	}
	if r := runCmd(t, ts.addr, "boss", boss, "", "admin audit many"); r.code != 2 {
		t.Fatalf("admin audit many: exit %d %q", r.code, r.stderr)
	}
}

func TestNonAdminsAdminIsRefusedInOneLine(t *testing.T) {
	ts, _ := adminServer(t)
	bobKey := newKey(t)
	for _, c := range []string{"admin bans", "admin ban alice", "admin announce hi", "admin audit"} {
		r := runCmd(t, ts.addr, "bob", bobKey, "", c)
		if r.code != 1 || r.stdout != "" {
			t.Fatalf("%s by a non-admin: exit %d, %q", c, r.code, r.stdout)
		}
		requireOneLine(t, c, r.stderr, "not allowed")
	}
	bob := dial(t, ts.addr, "bob", bobKey, 100, 30)
	bob.WaitFor("#lobby")
	bob.Line("/admin kick alice")
	bob.WaitFor("you are not allowed to use /admin")
}

func TestWhoisShowsFingerprintsOnlyToSelfAndAdmins(t *testing.T) {
	ts, boss := adminServer(t)
	aliceKey := newKey(t)
	aliceFP := gossh.FingerprintSHA256(aliceKey.PublicKey())
	alice := dial(t, ts.addr, "alice", aliceKey, 120, 30)
	alice.WaitFor("#lobby")
	bobKey := newKey(t)
	bob := dial(t, ts.addr, "bob", bobKey, 120, 30)
	bob.WaitFor("#lobby")
	admin := dial(t, ts.addr, "boss", boss, 120, 30)
	admin.WaitFor("#lobby")
	bob.WaitFor("boss (admin)") // the sidebar's Online list

	alice.Line("/whois alice")
	alice.WaitFor("presence:", aliceFP)
	admin.Line("/whois alice")
	admin.WaitFor("presence:", aliceFP)
	bob.Line("/whois alice")
	bob.WaitFor("presence:")
	if strings.Contains(bob.Screen(), aliceFP) {
		t.Fatal("/whois showed alice's key to bob")
	}
	// The administrator is marked in /who, /whois and who --json.
	bob.Line("/who")
	bob.WaitFor("boss (admin)")
	if out := mustRun(t, ts.addr, "bob", bobKey, "", "who --json"); !strings.Contains(out, `{"handle":"boss","status":"online","admin":true}`) ||
		strings.Count(out, `"admin"`) != 1 {
		t.Fatalf("who --json: %q", out)
	}
	bob.Line("/whois boss")
	bob.WaitFor("handle:    boss (admin)")
}

func TestAdminsFileHotReloadGrantsAndRevokes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "admins")
	if err := os.WriteFile(file, []byte("# no administrators yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, testConfig(t, dir, "--admins", file))
	// Its log speaks of administrators, not of logins.
	if logs := ts.logs.String(); !strings.Contains(logs, "admins file has no usable keys: nobody is an administrator") || strings.Contains(logs, "nobody can log in") {
		t.Fatalf("the log of an admins file without keys:\n%s", logs)
	}
	aliceKey := newKey(t)
	if r := runCmd(t, ts.addr, "alice", aliceKey, "", "admin bans"); r.code != 1 {
		t.Fatalf("admin bans before alice is listed: exit %d", r.code)
	}
	writeKeys(t, file, "# the administrators\n"+authorizedLine(aliceKey, ""))
	eventually(t, "alice to become an administrator", func() bool {
		return runCmd(t, ts.addr, "alice", aliceKey, "", "admin bans").code == 0
	})
	alice := dial(t, ts.addr, "alice", aliceKey, 100, 30)
	alice.WaitFor("#lobby")
	alice.Line("/who")
	alice.WaitFor("alice (admin)")

	bob := dial(t, ts.addr, "bob", newKey(t), 120, 30)
	bob.WaitFor("alice (admin)") // the sidebar's Online list

	writeKeys(t, file, "# nobody\n")
	eventually(t, "alice to lose the administrator's powers", func() bool {
		return runCmd(t, ts.addr, "alice", aliceKey, "", "admin bans").code == 1
	})
	bob.WaitGone("alice (admin)")
	// Her open session lost them too.
	alice.Line("/admin bans")
	alice.WaitFor("you are not allowed to use /admin")
}

func TestAdminFlagsParse(t *testing.T) {
	dir := t.TempDir()
	fp := gossh.FingerprintSHA256(newKey(t).PublicKey())
	fp2 := gossh.FingerprintSHA256(newKey(t).PublicKey())
	env := map[string]string{"SSHCHAT_ADMINS": filepath.Join(dir, "admins"), "SSHCHAT_ADMIN_FINGERPRINTS": fp + ", " + fp2,
		"SSHCHAT_HOST_KEY": filepath.Join(dir, "k"), "SSHCHAT_DATA_DIR": filepath.Join(dir, "data")}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] }, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admins != env["SSHCHAT_ADMINS"] || len(cfg.AdminFingerprints) != 2 || cfg.AdminFingerprints[0] != fp || cfg.AdminFingerprints[1] != fp2 {
		t.Fatalf("config %q %q", cfg.Admins, cfg.AdminFingerprints)
	}
	cfg, err = parseConfig([]string{"--admin-fingerprints", fp2}, func(k string) string { return env[k] }, os.Stderr)
	if err != nil || len(cfg.AdminFingerprints) != 1 || cfg.AdminFingerprints[0] != fp2 {
		t.Fatalf("the flag did not win over the variable: %q, %v", cfg.AdminFingerprints, err)
	}
	for _, bad := range []string{"SHA256:short", "MD5:aa:bb", fp + "x"} {
		if _, err := parseConfig([]string{"--admin-fingerprints", bad}, func(k string) string { return env[k] }, os.Stderr); err == nil ||
			!strings.Contains(err.Error(), "invalid admin fingerprint") {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

func TestAdminCommandUsageExitsTwoAndKeyEditsNeedAKeysFile(t *testing.T) {
	ts, boss := adminServer(t)
	for _, c := range []string{"admin", "admin ban", "admin frobnicate", "admin unban a b", "admin audit 0", "admin ban SHA256:nope"} {
		r := runCmd(t, ts.addr, "boss", boss, "", c)
		if r.code != 2 {
			t.Fatalf("%q: exit %d, %q", c, r.code, r.stderr)
		}
		requireOneLine(t, c, r.stderr, "usage")
	}
	// An open server has no file to edit: said in one line.
	for _, c := range []string{"admin authorize ssh-ed25519 AAAA", "admin revoke SHA256:x"} {
		r := runCmd(t, ts.addr, "boss", boss, "", c)
		if r.code != 1 {
			t.Fatalf("%q: exit %d", c, r.code)
		}
		requireOneLine(t, c, r.stderr, "no --authorized-keys file")
	}
	if out := mustRun(t, ts.addr, "boss", boss, "", "admin help"); !strings.Contains(out, "admin ban HANDLE|SHA256:FINGERPRINT [DURATION] [REASON]") {
		t.Fatalf("admin help: %q", out)
	}
}

func TestBanningAHandleBansEveryKeyOfTheAccount(t *testing.T) {
	ts, boss := adminServer(t)
	laptop, desktop := newKey(t), newKey(t)
	mustRun(t, ts.addr, "bob", laptop, "", "who")
	// A second key of bob's account, as linking a key makes one.
	db, err := sql.Open("sqlite3", ts.cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO keys (fingerprint, user_id, public_key, created_at)
		SELECT ?, user_id, ?, created_at FROM keys WHERE fingerprint = ?`,
		gossh.FingerprintSHA256(desktop.PublicKey()), strings.TrimSpace(string(gossh.MarshalAuthorizedKey(desktop.PublicKey()))),
		gossh.FingerprintSHA256(laptop.PublicKey())); err != nil {
		t.Fatal(err)
	}
	mustRun(t, ts.addr, "other-name", desktop, "", "send lobby from-the-desktop")
	if out := mustRun(t, ts.addr, "bob", laptop, "", "history lobby"); !strings.Contains(out, "bob: from-the-desktop") {
		t.Fatalf("the second key is not bob's: %q", out)
	}
	if out := mustRun(t, ts.addr, "boss", boss, "", "admin ban bob 1d"); !strings.Contains(out, "banned bob (2 keys)") {
		t.Fatalf("ban: %q", out)
	}
	for name, k := range map[string]gossh.Signer{"laptop": laptop, "desktop": desktop} {
		if told, err := tryLogin(t, ts.addr, k); err == nil || !strings.Contains(told, "banned from this server until") {
			t.Fatalf("bob's %s key after the ban: err %v, told %q", name, err, told)
		}
	}
	mustRun(t, ts.addr, "boss", boss, "", "admin unban bob")
	mustRun(t, ts.addr, "bob", desktop, "", "who")
}

func TestAdminsFileGrantsOnlyUsableLinesAndFailsClosed(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "admins")
	plain, expired, from, flagged := newKey(t), newKey(t), newKey(t), newKey(t)
	fp := func(k gossh.Signer) string { return gossh.FingerprintSHA256(k.PublicKey()) }
	writeKeys(t, file, authorizedLine(plain, "")+authorizedLine(expired, `expiry-time="20200101"`)+authorizedLine(from, `from="127.0.0.1"`))
	logs := &syncBuffer{}
	a := &admins{fps: map[string]bool{fp(flagged): true}, file: newAllowlist(file, newLogger(logs, "info"))}
	a.file.words = adminsWords
	a.file.refresh()
	for k, want := range map[gossh.Signer]bool{plain: true, expired: false, from: false, flagged: true} {
		if got := a.isAdmin(fp(k)); got != want {
			t.Errorf("isAdmin(%s) = %v, want %v", fp(k), got, want)
		}
	}
	if !strings.Contains(logs.String(), "grants none") {
		t.Errorf("a from= line was not warned about:\n%s", logs.String())
	}
	// A file that cannot be read makes nobody an administrator by it.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	a.file.refresh()
	if a.isAdmin(fp(plain)) || !a.isAdmin(fp(flagged)) {
		t.Fatal("a missing admins file still granted, or the flag stopped granting")
	}
}

// TestAdminAuthorizeAndRevokeEditTheKeysFile: an administrator lets a new
// key in from inside (the file keeps its comments, the key logs in) and
// revokes it (its open session ends); both are in the audit log, and a
// banned key is not authorized.
func TestAdminAuthorizeAndRevokeEditTheKeysFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "authorized_keys")
	boss, guest, banned := newKey(t), newKey(t), newKey(t)
	writeKeys(t, path, "# the team\n"+authorizedLine(boss, ""))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", path,
		"--admin-fingerprints", gossh.FingerprintSHA256(boss.PublicKey())))
	if _, err := tryLogin(t, ts.addr, guest); err == nil {
		t.Fatal("an unlisted key logged in")
	}
	pub := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(guest.PublicKey())))
	out := mustRun(t, ts.addr, "boss", boss, "", "admin authorize "+pub+" guest laptop")
	fp := gossh.FingerprintSHA256(guest.PublicKey())
	if !strings.Contains(out, "authorized "+fp) {
		t.Fatalf("authorize said %q", out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "# the team\n") || !strings.Contains(string(data), " guest laptop") {
		t.Fatalf("file after authorize:\n%s", data)
	}
	var g *client
	eventually(t, "the authorized key to log in", func() bool {
		c, err := dialErr(t, ts.addr, "guest", guest, 80, 24)
		if err != nil {
			return false
		}
		g = c
		return true
	})
	g.WaitFor("#lobby")
	if r := runCmd(t, ts.addr, "boss", boss, "", "admin authorize "+pub); r.code != 1 || !strings.Contains(r.stderr, "already authorized") {
		t.Fatalf("second authorize: exit %d, %q", r.code, r.stderr)
	}

	mustRun(t, ts.addr, "boss", boss, "", "admin revoke "+fp)
	g.WaitClosed()
	if _, err := tryLogin(t, ts.addr, guest); err == nil {
		t.Fatal("a revoked key logged in")
	}

	bfp := gossh.FingerprintSHA256(banned.PublicKey())
	mustRun(t, ts.addr, "boss", boss, "", "admin ban "+bfp+" spam")
	bpub := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(banned.PublicKey())))
	if r := runCmd(t, ts.addr, "boss", boss, "", "admin authorize "+bpub); r.code != 1 || !strings.Contains(r.stderr, "banned") {
		t.Fatalf("authorize of a banned key: exit %d, %q", r.code, r.stderr)
	}
	audit := mustRun(t, ts.addr, "boss", boss, "", "admin audit")
	for _, want := range []string{"authorize", "revoke", fp} {
		if !strings.Contains(audit, want) {
			t.Fatalf("audit lacks %q:\n%s", want, audit)
		}
	}
}

// TestAdminDeletesAnyMessageAuditedAndNonAdminCannot: an administrator
// deletes another user's message by its ID; every session shows "message
// deleted", the audit log lists it, and a non-admin is refused.
func TestAdminDeletesAnyMessageAuditedAndNonAdminCannot(t *testing.T) {
	ts, boss := adminServer(t)
	aliceKey, bobKey := newKey(t), newKey(t)
	alice := dial(t, ts.addr, "alice", aliceKey, 100, 30)
	alice.WaitFor("#lobby")
	bob := dial(t, ts.addr, "bob", bobKey, 100, 30)
	bob.WaitFor("#lobby")
	alice.Line("rude words here")
	bob.WaitFor("alice: rude words here")
	out := mustRun(t, ts.addr, "alice", aliceKey, "", "history lobby --json")
	var id int64
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, "rude words here") {
			if _, err := fmt.Sscanf(l, `{"id":%d`, &id); err != nil {
				t.Fatalf("no id in %q: %v", l, err)
			}
		}
	}
	if id == 0 {
		t.Fatalf("message not in history:\n%s", out)
	}
	if r := runCmd(t, ts.addr, "bob", bobKey, "", fmt.Sprintf("admin delete %d", id)); r.code != 1 || !strings.Contains(r.stderr, "not allowed") {
		t.Fatalf("non-admin delete: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, ts.addr, "boss", boss, "", "admin delete nope"); r.code != 2 {
		t.Fatalf("admin delete nope: exit %d %q", r.code, r.stderr)
	}
	if out := mustRun(t, ts.addr, "boss", boss, "", fmt.Sprintf("admin delete %d", id)); !strings.Contains(out, fmt.Sprintf("deleted message %d from alice", id)) {
		t.Fatalf("admin delete answered %q", out)
	}
	alice.WaitFor("alice: message deleted")
	bob.WaitFor("alice: message deleted")
	bob.WaitGone("rude words here")
	if out := mustRun(t, ts.addr, "boss", boss, "", "admin audit 1"); !strings.Contains(out, fmt.Sprintf("boss delete alice: message %d", id)) {
		t.Fatalf("audit:\n%s", out)
	}
	if r := runCmd(t, ts.addr, "boss", boss, "", fmt.Sprintf("admin delete %d", id)); r.code != 1 || !strings.Contains(r.stderr, "no message") {
		t.Fatalf("deleting again: exit %d %q", r.code, r.stderr)
	}
}
