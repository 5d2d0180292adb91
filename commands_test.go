package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// cmdResult is what `ssh host COMMAND` gave back.
type cmdResult struct {
	stdout, stderr string
	code           int
}

// runCmd runs raw (the command line as OpenSSH sends it: the words joined
// with spaces) in a session without a PTY, with stdin, as user with key.
func runCmd(t *testing.T, addr, user string, key gossh.Signer, stdin, raw string) cmdResult {
	t.Helper()
	conn, err := gossh.Dial("tcp", addr, sshConfig(user, key))
	if err != nil {
		t.Fatalf("dial %s: %v", user, err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	var out, errOut strings.Builder
	sess.Stdout, sess.Stderr = &out, &errOut
	sess.Stdin = strings.NewReader(stdin)
	code := 0
	var ee *gossh.ExitError
	switch err := sess.Run(raw); {
	case errors.As(err, &ee):
		code = ee.ExitStatus()
	case err != nil:
		t.Fatalf("run %q: %v", raw, err)
	}
	return cmdResult{out.String(), errOut.String(), code}
}

// mustRun runs raw and fails the test unless it exits 0.
func mustRun(t *testing.T, addr, user string, key gossh.Signer, stdin, raw string) string {
	t.Helper()
	r := runCmd(t, addr, user, key, stdin, raw)
	if r.code != 0 {
		t.Fatalf("%q exited %d: %s", raw, r.code, r.stderr)
	}
	return r.stdout
}

// tailer is a running `ssh host tail ...` whose lines are collected.
type tailer struct {
	conn  *gossh.Client
	mu    sync.Mutex
	lines []string
	done  chan struct{}
	err   strings.Builder // stderr; read after done
}

func startTail(t *testing.T, addr, user string, key gossh.Signer, raw string) *tailer {
	t.Helper()
	conn, err := gossh.Dial("tcp", addr, sshConfig(user, key))
	if err != nil {
		t.Fatalf("dial %s: %v", user, err)
	}
	t.Cleanup(func() { conn.Close() })
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	tl := &tailer{conn: conn, done: make(chan struct{})}
	sess.Stderr = &tl.err
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start(raw); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(tl.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			tl.mu.Lock()
			tl.lines = append(tl.lines, sc.Text())
			tl.mu.Unlock()
		}
		sess.Wait()
		conn.Close() // as ssh does when its command ends
	}()
	return tl
}

// Lines returns the lines received so far.
func (tl *tailer) Lines() []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]string(nil), tl.lines...)
}

// waitLine polls until some line contains s.
func (tl *tailer) waitLine(t *testing.T, s string) {
	t.Helper()
	eventually(t, "tail to print "+s, func() bool {
		for _, l := range tl.Lines() {
			if strings.Contains(l, s) {
				return true
			}
		}
		return false
	})
}

// decode parses JSON lines into messages, failing on any bad line.
func decode(t *testing.T, lines []string) []jsonMessage {
	t.Helper()
	var out []jsonMessage
	for _, l := range lines {
		var m jsonMessage
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not a JSON message: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestCommandWithoutArgumentsPrintsHelpAndExitsZero(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	r := runCmd(t, ts.addr, "alice", newKey(t), "", "")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q; want 0", r.code, r.stderr)
	}
	for _, want := range []string{"Usage: ssh -p", "send CONV", "history CONV", "tail CONV", "who", "rooms", "unread"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, r.stdout)
		}
	}
	if h := runCmd(t, ts.addr, "alice", newKey(t), "", "help"); h.code != 0 || h.stdout != r.stdout {
		t.Errorf("`help` exited %d with a different text:\n%s", h.code, h.stdout)
	}
}

func TestUnknownCommandExitsTwoWithOneLine(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	key := newKey(t)
	for _, raw := range []string{"frobnicate", "history", "history lobby --limit x", "send nowhere hi", "who --nope"} {
		r := runCmd(t, ts.addr, "alice", key, "", raw)
		if r.code != 2 {
			t.Errorf("%q: exit %d; want 2 (usage)", raw, r.code)
		}
		if n := strings.Count(r.stderr, "\n"); n != 1 || !strings.HasPrefix(r.stderr, "sshchat: ") {
			t.Errorf("%q: stderr %q; want one line starting sshchat:", raw, r.stderr)
		}
	}
}

func TestSendThenHistoryShowsIt(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	key := newKey(t)
	mustRun(t, ts.addr, "alice", key, "", "send lobby hello from a script")
	mustRun(t, ts.addr, "alice", key, "", "send #lobby -1 is a number")
	out := mustRun(t, ts.addr, "alice", key, "", "history lobby")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "\talice: hello from a script") || !strings.HasSuffix(lines[1], "\talice: -1 is a number") {
		t.Fatalf("history:\n%s", out)
	}
	// --before pages back from the id of a line.
	id, _, _ := strings.Cut(lines[1], "\t")
	older := mustRun(t, ts.addr, "alice", key, "", "history lobby --before "+id+" --limit 5")
	if strings.TrimSpace(older) != lines[0] {
		t.Fatalf("history --before %s:\n%s", id, older)
	}
}

func TestSendFromStdinSendsOneMessagePerLineInOrder(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	key := newKey(t)
	var in strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&in, "line %d  with  spaces\n", i)
	}
	in.WriteString("\n   \nlast\r\n")
	mustRun(t, ts.addr, "alice", key, in.String(), "send lobby")
	msgs := decode(t, strings.Split(strings.TrimSpace(mustRun(t, ts.addr, "alice", key, "", "history lobby --json --limit 100")), "\n"))
	if len(msgs) != 31 {
		t.Fatalf("%d messages; want 31 (blank lines skipped)", len(msgs))
	}
	for i, m := range msgs[:30] {
		if want := fmt.Sprintf("line %d  with  spaces", i+1); m.Body != want {
			t.Fatalf("message %d is %q; want %q", i, m.Body, want)
		}
	}
	if msgs[30].Body != "last" {
		t.Fatalf("last message %q", msgs[30].Body)
	}
}

func TestTailSeesEveryMessageOnceInOrderWithFiveWriters(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	reader := newKey(t)
	tl := startTail(t, ts.addr, "reader", reader, "tail lobby --json")
	// The tail is attached once it prints a message sent after it started.
	eventually(t, "the tail to see a marker", func() bool {
		mustRun(t, ts.addr, "reader", reader, "", "send lobby ready")
		return len(tl.Lines()) > 0
	})
	const writers, each = 5, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var in strings.Builder
			for i := range each {
				fmt.Fprintf(&in, "w%d %d\n", w, i)
			}
			mustRun(t, ts.addr, fmt.Sprintf("writer%d", w), newKey(t), in.String(), "send lobby")
		})
	}
	// A second tail joins mid-stream, resuming after the first line the
	// first tail printed: it must print the same lines from there on.
	eventually(t, "the writers to start", func() bool { return len(tl.Lines()) > 10 })
	first := decode(t, tl.Lines()[:1])[0]
	resumed := startTail(t, ts.addr, "reader", reader, fmt.Sprintf("tail lobby --json --since %d", first.ID))
	wg.Wait()
	mustRun(t, ts.addr, "reader", reader, "", "send lobby the end")
	tl.waitLine(t, "the end")
	resumed.waitLine(t, "the end")
	if a, b := tl.Lines()[1:], resumed.Lines(); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("tail --since %d printed %d lines; the tail printed %d after it", first.ID, len(b), len(a))
	}

	got := decode(t, tl.Lines())
	next := make([]int, writers)
	n := 0
	for i, m := range got {
		if i > 0 && m.ID <= got[i-1].ID {
			t.Fatalf("id %d after %d: out of order", m.ID, got[i-1].ID)
		}
		if m.Conv != "#lobby" || m.At == "" || m.Kind != "text" {
			t.Fatalf("message %+v: want conv #lobby, a time and kind text", m)
		}
		var w, k int
		if _, err := fmt.Sscanf(m.Body, "w%d %d", &w, &k); err != nil {
			continue // ready, the end
		}
		if k != next[w] || m.From != fmt.Sprintf("writer%d", w) {
			t.Fatalf("%q from %s: want message %d of writer%d", m.Body, m.From, next[w], w)
		}
		next[w]++
		n++
	}
	if n != writers*each {
		t.Fatalf("tail printed %d writer messages; want %d", n, writers*each)
	}
	// The tail's order is the history's, from the first message it saw.
	hist := decode(t, strings.Split(strings.TrimSpace(mustRun(t, ts.addr, "reader", reader, "", "history lobby --json --limit 500")), "\n"))
	var ids, tailIDs []int64
	for _, m := range hist {
		if m.ID >= got[0].ID {
			ids = append(ids, m.ID)
		}
	}
	for _, m := range got {
		tailIDs = append(tailIDs, m.ID)
	}
	if fmt.Sprint(ids) != fmt.Sprint(tailIDs) {
		t.Fatalf("tail ids %v; history ids %v", tailIDs, ids)
	}
}

func TestCommandsOnSomeoneElsesDirectConversationAreRefused(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	alice, bob, eve := newKey(t), newKey(t), newKey(t)
	mustRun(t, ts.addr, "bob", bob, "", "who")
	mustRun(t, ts.addr, "alice", alice, "", "send @bob secret")
	hist := decode(t, []string{strings.TrimSpace(mustRun(t, ts.addr, "alice", alice, "", "history @bob --json"))})
	if hist[0].Body != "secret" || hist[0].Conv != "@bob" {
		t.Fatalf("alice's history with bob: %+v", hist)
	}
	mustRun(t, ts.addr, "eve", eve, "", "who")
	// Accounts were made in the order bob, alice: their conversation's id
	// is dm:1:2, as eve could guess.
	for _, raw := range []string{"history dm:1:2", "tail dm:1:2", "send dm:1:2 hi", "history dm:1:2 --json"} {
		r := runCmd(t, ts.addr, "eve", eve, "", raw)
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "no such conversation") {
			t.Errorf("eve's %q: exit %d, stderr %q; want 1 and one line", raw, r.code, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("eve's %q printed %q", raw, r.stdout)
		}
	}
	// A CONV of a handle and more words names nobody, and sends nothing.
	if r := runCmd(t, ts.addr, "eve", eve, "", "history '@bob leaked'"); r.code != 1 || !strings.Contains(r.stderr, "no such user") {
		t.Errorf("history '@bob leaked': exit %d, stderr %q; want 1, no such user", r.code, r.stderr)
	}
	if r := runCmd(t, ts.addr, "bob", bob, "", "history dm:1:3"); r.code != 0 || r.stdout != "" {
		t.Errorf("eve sent bob something: %+v", r)
	}
	if r := runCmd(t, ts.addr, "bob", bob, "", "history dm:1:2"); r.code != 0 || !strings.Contains(r.stdout, "alice: secret") {
		t.Fatalf("bob reading his own conversation by id: %+v", r)
	}
}

func TestCommandSessionDoesNotChangePresence(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	alice := dial(t, ts.addr, "alice", newKey(t), 80, 24)
	alice.WaitFor("#lobby")
	bob := newKey(t)
	tl := startTail(t, ts.addr, "bob", bob, "tail lobby")
	eventually(t, "bob's tail to see his message", func() bool {
		mustRun(t, ts.addr, "bob", bob, "", "send lobby hi from a bot")
		return len(tl.Lines()) > 0
	})
	alice.WaitFor("hi from a bot")
	if n := ts.srv.hub.Online(); n != 1 {
		t.Fatalf("%d online while bob's tail runs; want 1 (alice)", n)
	}
	if who := mustRun(t, ts.addr, "bob", bob, "", "who"); strings.TrimSpace(who) != "alice" {
		t.Fatalf("who while bob's tail runs: %q; want alice alone", who)
	}
	tl.conn.Close()
	<-tl.done
	// Anything bob's sessions published came before alice's next line.
	alice.Line("marker after the bot")
	alice.WaitFor("marker after the bot")
	if scr := alice.Screen(); strings.Contains(scr, "bob joined") || strings.Contains(scr, "bob left") {
		t.Fatalf("the lobby saw bob's command sessions come and go:\n%s", scr)
	}
}

func TestCommandSessionLeavesOfflineMessagesForNextLogin(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	carol := dial(t, ts.addr, "carol", newKey(t), 100, 30)
	carol.WaitFor("#lobby")
	bob := newKey(t)
	tl := startTail(t, ts.addr, "bob", bob, "tail @carol --json")
	// Bob's account exists once his tail runs; carol writes to him while
	// he has no interactive session: the message is queued offline, and
	// his tail sees it all the same.
	eventually(t, "bob's tail to see carol's message", func() bool {
		carol.Line("/msg bob are you there")
		return len(tl.Lines()) > 0
	})
	got := decode(t, tl.Lines()[:1])
	if got[0].Conv != "@carol" || got[0].From != "carol" || got[0].Body != "are you there" {
		t.Fatalf("tail printed %+v", got[0])
	}
	unread := mustRun(t, ts.addr, "bob", bob, "", "unread --json")
	var u jsonUnread
	if err := json.Unmarshal([]byte(strings.TrimSpace(unread)), &u); err != nil || u.Conv != "@carol" || u.Unread < 1 {
		t.Fatalf("unread --json: %q (%v); want @carol unread", unread, err)
	}
	// Commands claimed nothing: bob's next login is told.
	mustRun(t, ts.addr, "bob", bob, "", "history @carol")
	ui := dial(t, ts.addr, "bob", bob, 100, 30)
	ui.WaitFor("While you were away", "are you there")
}

func TestRateLimitAppliesToSend(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--msg-burst", "2", "--msg-rate", "0.01"))
	key := newKey(t)
	// Each in its own SSH connection: the limit is the user's, not the
	// session's.
	mustRun(t, ts.addr, "alice", key, "", "send lobby one")
	mustRun(t, ts.addr, "alice", key, "", "send lobby two")
	r := runCmd(t, ts.addr, "alice", key, "", "send lobby three")
	if r.code != 1 || !strings.Contains(r.stderr, "at most") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("third send: exit %d, stderr %q; want 1 and the rate limit", r.code, r.stderr)
	}
	if out := mustRun(t, ts.addr, "alice", key, "", "history lobby"); strings.Contains(out, "three") {
		t.Fatalf("the limited message was sent:\n%s", out)
	}
}

// The log names a command session's command, never its arguments (a
// message is not the log's business).
func TestSessionLogNamesTheCommandNotItsArguments(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	mustRun(t, ts.addr, "alice", newKey(t), "", "send lobby a private matter")
	logs := ts.logs.String()
	if !strings.Contains(logs, "command=send") || strings.Contains(logs, "private matter") {
		t.Fatalf("want command=send and no message text in the log:\n%s", logs)
	}
}

func TestCommandOfANewKeyWithAnUnusableHandleSaysHowToChooseOne(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	mustRun(t, ts.addr, "alice", newKey(t), "", "who")
	for _, user := range []string{"alice", "no way!"} {
		r := runCmd(t, ts.addr, user, newKey(t), "", "send lobby hi")
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "ssh -t") {
			t.Errorf("new key as %q: exit %d, stderr %q; want 1 and one line saying to log in with ssh -t", user, r.code, r.stderr)
		}
	}
}

func TestSendFromStdinWaitsOutTheRateLimit(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--msg-burst", "2", "--msg-rate", "20"))
	key := newKey(t)
	mustRun(t, ts.addr, "alice", key, "1\n2\n3\n4\n5\n6\n", "send lobby")
	msgs := decode(t, strings.Split(strings.TrimSpace(mustRun(t, ts.addr, "alice", key, "", "history lobby --json")), "\n"))
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, m.Body)
	}
	if strings.Join(bodies, ",") != "1,2,3,4,5,6" {
		t.Fatalf("sent %v; want 1..6 in order", bodies)
	}
}

func TestCommandJSONOutputParses(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	alice := dial(t, ts.addr, "alice", newKey(t), 80, 24)
	alice.WaitFor("#lobby")
	alice.Line("/away lunch")
	bob := newKey(t)
	mustRun(t, ts.addr, "bob", bob, "", "send lobby hello")
	mustRun(t, ts.addr, "bob", bob, "", "send @alice psst")
	alice.Line("/me waves")
	alice.WaitFor("waves")
	alice.Line("/msg bob reply")
	alice.WaitFor("reply")
	eventually(t, "alice to be away", func() bool {
		return strings.Contains(mustRun(t, ts.addr, "bob", bob, "", "who"), "away")
	})
	parse := func(raw string, fields ...string) []map[string]any {
		t.Helper()
		var out []map[string]any
		for l := range strings.SplitSeq(strings.TrimSpace(mustRun(t, ts.addr, "bob", bob, "", raw)), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%s: line %q: %v", raw, l, err)
			}
			for _, f := range fields {
				if _, ok := m[f]; !ok {
					t.Fatalf("%s: line %q lacks %q", raw, l, f)
				}
			}
			out = append(out, m)
		}
		return out
	}
	if w := parse("who --json", "handle", "status"); len(w) != 1 || w[0]["handle"] != "alice" || w[0]["status"] != "away" || w[0]["reason"] != "lunch" {
		t.Errorf("who --json: %v", w)
	}
	if r := parse("rooms --json", "conv", "topic", "members", "online", "joined"); r[0]["conv"] != "#lobby" {
		t.Errorf("rooms --json: %v", r)
	}
	if u := parse("unread --json", "conv", "unread", "mentions"); len(u) == 0 {
		t.Errorf("unread --json: %v", u)
	}
	h := parse("history lobby --json", "id", "conv", "from", "body", "at", "kind")
	if last := h[len(h)-1]; last["kind"] != "action" || last["body"] != "waves" || last["from"] != "alice" {
		t.Errorf("history --json last line: %v", last)
	}
	if _, err := time.Parse(time.RFC3339, h[0]["at"].(string)); err != nil {
		t.Errorf("at %v: %v", h[0]["at"], err)
	}
	if d := parse("history @alice --json", "id"); len(d) != 2 || d[0]["conv"] != "@alice" || d[1]["body"] != "reply" {
		t.Errorf("history @alice --json: %v", d)
	}
}

func TestTailEndsWithOneLineAtShutdown(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	key := newKey(t)
	tl := startTail(t, ts.addr, "alice", key, "tail lobby")
	eventually(t, "the tail to run", func() bool {
		mustRun(t, ts.addr, "alice", key, "", "send lobby ready")
		return len(tl.Lines()) > 0
	})
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tl.done:
	case <-time.After(waitTimeout):
		t.Fatal("tail still running after shutdown")
	}
	if got := tl.err.String(); got != "sshchat: server shutting down\n" {
		t.Fatalf("tail's stderr %q; want one line saying the server shut down", got)
	}
}

func TestRevokedKeyEndsItsTail(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	bot, other := newKey(t), newKey(t)
	writeKeys(t, keysFile, authorizedLine(bot, "")+authorizedLine(other, ""))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))
	tl := startTail(t, ts.addr, "bot", bot, "tail lobby")
	eventually(t, "the tail to run", func() bool {
		mustRun(t, ts.addr, "bot", bot, "", "send lobby ready")
		return len(tl.Lines()) > 0
	})
	writeKeys(t, keysFile, authorizedLine(other, ""))
	select {
	case <-tl.done:
	case <-time.After(waitTimeout):
		t.Fatal("tail of a revoked key still running")
	}
	if got := tl.err.String(); !strings.Contains(got, "no longer authorized") || strings.Count(got, "\n") != 1 {
		t.Fatalf("tail's stderr %q; want one line with the revocation's reason", got)
	}
}

// A tail is a live session: its connection outlives the open and idle
// timeouts, which close a connection beside it that has no session.
func TestTailOutlivesTheOpenAndIdleTimeouts(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--open-timeout", "1s", "--idle-timeout", "1s"))
	key := newKey(t)
	tl := startTail(t, ts.addr, "alice", key, "tail lobby")
	eventually(t, "the tail to run", func() bool {
		mustRun(t, ts.addr, "alice", key, "", "send lobby ready")
		return len(tl.Lines()) > 0
	})
	idle, err := gossh.Dial("tcp", ts.addr, sshConfig("idler", newKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	waitServerClose(t, idle)
	mustRun(t, ts.addr, "alice", key, "", "send lobby still here")
	tl.waitLine(t, "still here")
}

// The backlog of tail --since spans pages of history (500 each), oldest
// first, and then goes on with the new messages. (Its 1,100 lines sent in
// one session also show that a send is not cut off as a slow consumer of
// messages it never reads.)
func TestTailSinceReadsABacklogOfSeveralPages(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	key := newKey(t)
	var in strings.Builder
	for i := range 1100 {
		fmt.Fprintf(&in, "m%d\n", i)
	}
	mustRun(t, ts.addr, "alice", key, in.String(), "send lobby")
	first := decode(t, strings.Split(strings.TrimSpace(mustRun(t, ts.addr, "alice", key, "", "history lobby --json --limit 500")), "\n"))[0]
	tl := startTail(t, ts.addr, "alice", key, fmt.Sprintf("tail lobby --since %d", first.ID-501))
	mustRun(t, ts.addr, "alice", key, "", "send lobby live")
	tl.waitLine(t, "live")
	lines := tl.Lines()
	// Message i has id i+1 and first is m600: the backlog is m100..m1099.
	if len(lines) != 1001 {
		t.Fatalf("tail --since printed %d lines; want 1000 of the backlog and the new one", len(lines))
	}
	for i, l := range lines[:1000] {
		if want := fmt.Sprintf("alice: m%d", 100+i); !strings.HasSuffix(l, want) {
			t.Fatalf("line %d is %q; want %q", i, l, want)
		}
	}
}

// A send waiting on stdin is ended at shutdown with one line, like a
// tail, rather than held until its connection is closed under it.
func TestSendWaitingOnStdinEndsWithOneLineAtShutdown(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	key := newKey(t)
	conn, err := gossh.Dial("tcp", ts.addr, sshConfig("alice", key))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var errOut syncBuffer
	sess.Stderr = &errOut
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("send lobby"); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "first line\n")
	eventually(t, "the first line to be sent", func() bool {
		return strings.Contains(mustRun(t, ts.addr, "alice", key, "", "history lobby"), "first line")
	})
	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop() }()
	var ee *gossh.ExitError
	err = sess.Wait()
	conn.Close() // as ssh does when its command ends
	if !errors.As(err, &ee) || ee.ExitStatus() != 1 {
		t.Fatalf("send ended with %v; want exit status 1", err)
	}
	if got := errOut.String(); got != "sshchat: server shutting down\n" {
		t.Fatalf("send's stderr %q; want one line saying the server shut down", got)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}
