package ui

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/log/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	"charm.land/wish/v2/testsession"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
	gossh "golang.org/x/crypto/ssh"

	"sshchat/chat"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startServer serves Middleware(b, opts) on a loopback port. Sessions
// without a PTY reach a handler that prints "no-pty handler".
func startServer(t *testing.T, b chat.Broker, opts Options) string {
	t.Helper()
	noPTY := func(next ssh.Handler) ssh.Handler {
		return func(s ssh.Session) { wish.Fatalln(s, "no-pty handler") }
	}
	srv, err := wish.NewServer(
		wish.WithHostKeyPath(filepath.Join(t.TempDir(), "host_ed25519")),
		wish.WithPublicKeyAuth(func(ssh.Context, ssh.PublicKey) bool { return true }),
		wish.WithKeyboardInteractiveAuth(func(ssh.Context, gossh.KeyboardInteractiveChallenge) bool { return true }),
		wish.WithMiddleware(noPTY, Middleware(b, opts)),
	)
	if err != nil {
		t.Fatal(err)
	}
	return testsession.Listen(t, srv)
}

func newSigner(t *testing.T) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// term is an SSH client with a PTY whose output feeds a terminal emulator,
// so tests read the screen a person would see.
type term struct {
	t     *testing.T
	sess  *gossh.Session
	emu   *vt.SafeEmulator
	inMu  sync.Mutex
	in    io.WriteCloser
	done  chan error // Wait's result
	outMu sync.Mutex
	raw   strings.Builder // everything received, for post-exit checks
}

type termOpt struct {
	user       string
	cols, rows int
	auth       []gossh.AuthMethod
	// no2027 hides the emulator's answer about mode 2027 (grapheme
	// clustering), like a terminal that does not know the mode (tmux 3.3).
	no2027 bool
}

// mode2027Report is a terminal's answer to a DECRQM query for mode 2027.
var mode2027Report = regexp.MustCompile(`\x1b\[\?2027;\d\$y`)

func dial(t *testing.T, addr string, o termOpt) *term {
	t.Helper()
	if o.cols == 0 {
		o.cols, o.rows = sidebarMinWidth, 30
	}
	if o.auth == nil {
		o.auth = []gossh.AuthMethod{gossh.PublicKeys(newSigner(t))}
	}
	sess, err := testsession.NewClientSession(t, addr, &gossh.ClientConfig{User: o.user, Auth: o.auth})
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, sess: sess, emu: vt.NewSafeEmulator(min(o.cols, 200), min(o.rows, 60)), done: make(chan error, 1)}
	tm.in, err = sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sess.Stderr = writerFunc(tm.record)
	if err := sess.RequestPty("xterm-256color", o.rows, o.cols, nil); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	go func() { // screen output → emulator
		buf := make([]byte, 32<<10)
		for {
			n, err := out.Read(buf)
			if n > 0 {
				tm.record(buf[:n])
				_, _ = tm.emu.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { // emulator's answers to terminal queries → server, like a real terminal
		buf := make([]byte, 1024)
		for {
			n, err := tm.emu.Read(buf)
			if n > 0 {
				answer := string(buf[:n])
				if o.no2027 {
					answer = mode2027Report.ReplaceAllString(answer, "")
				}
				tm.write(answer)
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { tm.done <- sess.Wait() }()
	t.Cleanup(func() {
		// End the answer copier through the emulator's pipe; Emulator.Close
		// itself races with a blocked Read.
		if c, ok := tm.emu.InputPipe().(io.Closer); ok {
			_ = c.Close()
		}
	})
	return tm
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (tm *term) record(p []byte) (int, error) {
	tm.outMu.Lock()
	defer tm.outMu.Unlock()
	tm.raw.Write(p)
	return len(p), nil
}

func (tm *term) output() string {
	tm.outMu.Lock()
	defer tm.outMu.Unlock()
	return ansi.Strip(tm.raw.String())
}

func (tm *term) write(s string) {
	tm.inMu.Lock()
	defer tm.inMu.Unlock()
	_, _ = io.WriteString(tm.in, s)
}

func (tm *term) screen() string { return ansi.Strip(tm.emu.Render()) }

func (tm *term) waitScreen(want string) {
	tm.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(tm.screen(), want) {
		if time.Now().After(deadline) {
			tm.t.Fatalf("timed out waiting for %q on screen:\n%s", want, tm.screen())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ended reports whether the SSH session has ended.
func (tm *term) ended() bool {
	select {
	case err := <-tm.done:
		tm.done <- err
		return true
	default:
		return false
	}
}

func TestOverSSHWelcomeAndSentMessageAppear(t *testing.T) {
	b := newFakeBroker()
	addr := startServer(t, b, Options{ServerName: "testchat", MOTD: "hello from the motd"})
	alice := dial(t, addr, termOpt{user: "alice"})
	alice.waitScreen("Welcome to testchat, alice!")
	alice.waitScreen("hello from the motd")
	alice.write("hello over ssh\r")
	alice.waitScreen("alice: hello over ssh")
	bob := dial(t, addr, termOpt{user: "bob"})
	bob.waitScreen("Welcome to testchat, bob! 2 people are online.")
	bob.write("hi alice\r")
	alice.waitScreen("bob: hi alice")
}

func TestOverSSHLoginScreenWhenTheUserNameIsRefused(t *testing.T) {
	b := newFakeBroker()
	b.register = func(handle string) error {
		if handle == "root" {
			return fmt.Errorf("%w: %q is reserved for the system", chat.ErrHandleInvalid, handle)
		}
		return nil
	}
	addr := startServer(t, b, Options{ServerName: "testchat"})
	tm := dial(t, addr, termOpt{user: "root"})
	tm.waitScreen(`Your SSH user name can't be a handle: "root" is reserved`)
	tm.write("root\r")
	tm.waitScreen("invalid handle")
	tm.write("\x15rooty\r") // ctrl+u clears the field
	tm.waitScreen("Welcome to testchat, rooty!")
}

func TestOverSSHWithoutPublicKeyIsRefused(t *testing.T) {
	addr := startServer(t, newFakeBroker(), Options{})
	kbd := gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return nil, nil })
	sess, err := testsession.NewClientSession(t, addr, &gossh.ClientConfig{User: "x", Auth: []gossh.AuthMethod{kbd}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, nil); err != nil {
		t.Fatal(err)
	}
	out, err := sess.CombinedOutput("")
	var exit *gossh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 1 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(string(out), "a public key is required") {
		t.Fatalf("output = %q", out)
	}
}

func TestOverSSHWithoutPTYGoesToTheNextHandler(t *testing.T) {
	addr := startServer(t, newFakeBroker(), Options{})
	sess, err := testsession.NewClientSession(t, addr, &gossh.ClientConfig{User: "x", Auth: []gossh.AuthMethod{gossh.PublicKeys(newSigner(t))}})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := sess.CombinedOutput("who")
	if !strings.Contains(string(out), "no-pty handler") {
		t.Fatalf("output = %q", out)
	}
}

func TestOverSSHHugeWindowSizesAreClampedBeforeTheRenderer(t *testing.T) {
	var maxW, maxH, lastW, lastH, sizes atomic.Int64
	hook := func(msg tea.Msg) {
		if ws, ok := msg.(tea.WindowSizeMsg); ok {
			sizes.Add(1)
			lastW.Store(int64(ws.Width))
			lastH.Store(int64(ws.Height))
			if int64(ws.Width) > maxW.Load() {
				maxW.Store(int64(ws.Width))
			}
			if int64(ws.Height) > maxH.Load() {
				maxH.Store(int64(ws.Height))
			}
		}
	}
	addr := startServer(t, newFakeBroker(), Options{ServerName: "testchat", updateHook: hook})
	// The pty-req itself is 65535×65535: the initial size must be clamped
	// too, not only later window changes.
	tm := dial(t, addr, termOpt{user: "alice", cols: 65535, rows: 65535})
	eventually(t, "first frame", func() bool { return strings.Contains(tm.output(), "Welcome") })
	if err := tm.sess.WindowChange(65535, 65535); err != nil {
		t.Fatal(err)
	}
	if err := tm.sess.WindowChange(1<<31-1, 1<<31-1); err != nil {
		t.Fatal(err)
	}
	// A storm of window changes, then a real size.
	for i := range 3000 {
		if err := tm.sess.WindowChange(10+i%50, 20+i%100); err != nil {
			t.Fatal(err)
		}
	}
	if err := tm.sess.WindowChange(24, 80); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the final 80x24 size", func() bool { return lastW.Load() == 80 && lastH.Load() == 24 })
	if maxW.Load() > maxWidth || maxH.Load() > maxHeight {
		t.Fatalf("the program saw %dx%d", maxW.Load(), maxH.Load())
	}
	t.Logf("%d WindowSizeMsgs reached the program for 3004 window changes", sizes.Load())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > 512<<20 {
		t.Fatalf("heap is %d MiB after huge window sizes", ms.HeapAlloc>>20)
	}
	// The session still works.
	tm.write("still here\r")
	tm.waitScreen("alice: still here")
}

func TestOverSSHPanicInUpdateEndsOnlyThatSession(t *testing.T) {
	hook := func(msg tea.Msg) {
		if p, ok := msg.(tea.PasteMsg); ok && p.Content == "boom" {
			panic("test panic in Update")
		}
	}
	b := newFakeBroker()
	addr := startServer(t, b, Options{ServerName: "testchat", updateHook: hook})
	alice := dial(t, addr, termOpt{user: "alice"})
	alice.waitScreen("Welcome to testchat, alice!")
	bob := dial(t, addr, termOpt{user: "bob"})
	bob.waitScreen("Welcome to testchat, bob!")

	bob.write("\x1b[200~boom\x1b[201~") // a bracketed paste of "boom"
	eventually(t, "bob's session to end", bob.ended)
	eventually(t, "bob's chat session to be closed", func() bool { return b.sessionOf("bob").closed.Load() == 1 })

	alice.write("alice survives\r")
	alice.waitScreen("alice: alice survives")
	carol := dial(t, addr, termOpt{user: "carol"})
	carol.waitScreen("Welcome to testchat, carol!")
	if alice.ended() {
		t.Fatal("alice's session ended too")
	}
	if n := b.sessionOf("bob").closed.Load(); n != 1 {
		t.Fatalf("bob's session closed %d times", n)
	}
}

func TestOverSSHPanicInACmdEndsOnlyThatSession(t *testing.T) {
	b := newFakeBroker()
	b.onConnect = func(s *fakeSession) {
		if s.acct.Handle == "bob" {
			s.sendFn = func(chat.ConvID, string) (chat.Message, error) { panic("test panic in Send") }
		}
	}
	addr := startServer(t, b, Options{ServerName: "testchat"})
	alice := dial(t, addr, termOpt{user: "alice"})
	alice.waitScreen("Welcome to testchat, alice!")
	bob := dial(t, addr, termOpt{user: "bob"})
	bob.waitScreen("Welcome to testchat, bob!")
	bob.write("crash\r")
	eventually(t, "bob's session to end", bob.ended)
	alice.write("still fine\r")
	alice.waitScreen("alice: still fine")
}

func TestOverSSHChatSessionClosedOnceWhenTheClientLeaves(t *testing.T) {
	b := newFakeBroker()
	addr := startServer(t, b, Options{ServerName: "testchat"})
	key := []gossh.AuthMethod{gossh.PublicKeys(newSigner(t))}
	tm := dial(t, addr, termOpt{user: "alice", auth: key})
	tm.waitScreen("Welcome to testchat, alice!")
	tm.write("\x03") // ctrl+c
	eventually(t, "the session to end", tm.ended)
	eventually(t, "Close", func() bool { return b.sessionOf("alice").closed.Load() >= 1 })

	// Hang up without quitting: the connection drop ends the program.
	tm2 := dial(t, addr, termOpt{user: "alice", auth: key})
	tm2.waitScreen("Welcome to testchat, alice!")
	second := b.sessionOf("alice")
	_ = tm2.sess.Close()
	eventually(t, "Close after hang-up", func() bool { return second.closed.Load() >= 1 })
	for _, s := range b.allSessions() {
		if n := s.closed.Load(); n != 1 {
			t.Errorf("session of %s closed %d times", s.acct.Handle, n)
		}
	}
}

func TestOverSSHShutdownShowsReasonAfterTheUI(t *testing.T) {
	b := newFakeBroker()
	addr := startServer(t, b, Options{ServerName: "testchat"})
	tm := dial(t, addr, termOpt{user: "alice"})
	tm.waitScreen("Welcome to testchat, alice!")
	// What the hub does on shutdown: tell, then drop.
	s := b.sessionOf("alice")
	s.push(chat.ShutdownEvent{Reason: "server shutting down"})
	s.drop(chat.ErrShutdown)
	tm.waitScreen("server shutting down")
	eventually(t, "the session to end", tm.ended)
	if out := tm.output(); !strings.Contains(out, "sshchat: server shutting down") {
		t.Fatalf("no final line; output tail: %q", out[max(0, len(out)-300):])
	}
}

// recInbox is a program's inbox that records what the feeder sends.
type recInbox struct {
	c    chan tea.Msg
	mu   sync.Mutex
	msgs []tea.Msg
}

// newRecInbox starts receiving once gate is closed (at once if nil), until
// the test ends.
func newRecInbox(t *testing.T, gate <-chan struct{}) *recInbox {
	r := &recInbox{c: make(chan tea.Msg)}
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		if gate != nil {
			select {
			case <-gate:
			case <-stop:
				return
			}
		}
		for {
			select {
			case m := <-r.c:
				r.mu.Lock()
				r.msgs = append(r.msgs, m)
				r.mu.Unlock()
			case <-stop:
				return
			}
		}
	}()
	return r
}

func (r *recInbox) sent() []tea.Msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tea.Msg(nil), r.msgs...)
}

// attachedNow is a feeder's attach channel with s already on it.
func attachedNow(s chat.Session) <-chan chat.Session {
	ch := make(chan chat.Session, 1)
	ch <- s
	return ch
}

// startFeeder runs f until the returned stop is called (which waits for it).
func startFeeder(t *testing.T, f *feeder) (stop func()) {
	served := make(chan struct{})
	f.served = served
	if f.lg == nil {
		f.lg = newSessionLog(discardLogger())
	}
	if f.gone == nil {
		f.gone = func() {}
	}
	if f.ch == nil {
		f.ch = closerFunc(func() {})
	}
	if f.endGrace == 0 {
		f.endGrace = time.Minute
	}
	if f.dropGrace == 0 {
		f.dropGrace = time.Minute
	}
	done := make(chan struct{})
	go func() { defer close(done); f.run() }()
	var once sync.Once
	stop = func() { once.Do(func() { close(served); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestFeederCoalescesQueuedEventsIntoBatches(t *testing.T) {
	s := newFakeSession(newFakeBroker(), chat.Account{ID: 1})
	for i := range 300 {
		s.push(chat.NoticeEvent{Text: fmt.Sprint(i)})
	}
	r := newRecInbox(t, nil)
	stop := startFeeder(t, &feeder{attached: attachedNow(s), inbox: r.c})
	eventually(t, "all events", func() bool {
		n := 0
		for _, m := range r.sent() {
			if b, ok := m.(eventsMsg); ok {
				n += len(b)
			}
		}
		return n == 300
	})
	if n := len(r.sent()); n > 2 {
		t.Fatalf("300 queued events took %d sends", n)
	}
	s.drop(chat.ErrSlowConsumer)
	eventually(t, "the end", func() bool {
		msgs := r.sent()
		if len(msgs) == 0 {
			return false
		}
		end, ok := msgs[len(msgs)-1].(sessionEndedMsg)
		return ok && errors.Is(end.err, chat.ErrSlowConsumer)
	})
	stop()
}

func TestFeederThrottlesPresenceButNotMessages(t *testing.T) {
	s := newFakeSession(newFakeBroker(), chat.Account{ID: 1})
	r := newRecInbox(t, nil)
	stop := startFeeder(t, &feeder{attached: attachedNow(s), inbox: r.c})
	presence := func(i int) chat.Event {
		return chat.PresenceEvent{Presence: chat.Presence{User: chat.UserID(100 + i), Handle: fmt.Sprint("u", i), Status: chat.Online}, Joined: true}
	}
	// The first change after a quiet spell goes through at once.
	s.push(presence(0))
	eventually(t, "the first join", func() bool { return len(r.sent()) == 1 })
	// The next ones within presenceEvery are held back and go together.
	start := time.Now()
	for i := 1; i <= 20; i++ {
		s.push(presence(i))
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(r.sent()); n != 1 {
		t.Fatalf("held-back presence was sent early: %d sends", n)
	}
	eventually(t, "the held-back joins", func() bool { return len(r.sent()) == 2 })
	if d := time.Since(start); d > 3*presenceEvery {
		t.Errorf("held back for %v", d)
	}
	if b := r.sent()[1].(eventsMsg); len(b) != 20 {
		t.Fatalf("second batch has %d events", len(b))
	}
	// A message is never held, and it takes held-back presence along, in
	// order.
	s.push(presence(21))
	s.push(chat.NoticeEvent{Text: "hello"})
	eventually(t, "the message", func() bool { return len(r.sent()) == 3 })
	b := r.sent()[2].(eventsMsg)
	if len(b) != 2 || !isPresence(b[0]) {
		t.Fatalf("batch = %#v", b)
	}
	stop()
}

// panicSession panics when asked for its events.
type panicSession struct{ chat.Session }

func (panicSession) Events() <-chan chat.Event { panic("test panic in the feeder") }

func TestFeederEndsWithItsContextAndSurvivesPanics(t *testing.T) {
	s := newFakeSession(newFakeBroker(), chat.Account{ID: 1})
	stop := startFeeder(t, &feeder{attached: attachedNow(s), inbox: make(chan tea.Msg)})
	stop() // must return

	r := newRecInbox(t, nil)
	startFeeder(t, &feeder{attached: attachedNow(panicSession{s}), inbox: r.c})
	eventually(t, "the program asked to quit", func() bool {
		msgs := r.sent()
		return len(msgs) == 1 && msgs[0] == tea.QuitMsg{}
	})
}

func TestResizeStormIsCoalescedAndNeverBlocksTheRequestLoop(t *testing.T) {
	winch := make(chan ssh.Window, 1) // like charm.land/ssh's
	gate := make(chan struct{})
	r := newRecInbox(t, gate) // the program is busy
	gone := make(chan struct{})
	stop := startFeeder(t, &feeder{winch: winch, inbox: r.c, gone: func() { close(gone) }})
	// The SSH request loop: 10,000 window changes while the program is
	// stuck must all be accepted.
	for i := range 10000 {
		winch <- ssh.Window{Width: 100 + i%300, Height: 30 + i%100}
	}
	winch <- ssh.Window{Width: 65535, Height: 65535}
	close(gate) // the program catches up
	eventually(t, "the newest size", func() bool {
		msgs := r.sent()
		return len(msgs) > 0 && msgs[len(msgs)-1] == tea.WindowSizeMsg{Width: maxWidth, Height: maxHeight}
	})
	if n := len(r.sent()); n > 5 {
		t.Fatalf("10,001 window changes became %d sends", n)
	}
	close(winch) // the client closed the session channel
	<-gone
	stop()
}

// A session asked to end by End whose program does not take the request
// (a client that stopped reading stalls it) has its channel closed after
// the grace; one that ends within the grace is left alone.
func TestFeederClosesTheChannelOfASessionThatDoesNotEndWhenAsked(t *testing.T) {
	ends := make(chan string, 1)
	var closed atomic.Int32
	startFeeder(t, &feeder{ends: ends, inbox: make(chan tea.Msg), endGrace: 10 * time.Millisecond,
		ch: closerFunc(func() { closed.Add(1) })})
	ends <- "your key is no longer authorized"
	eventually(t, "the channel closed", func() bool { return closed.Load() == 1 })

	ends = make(chan string, 1)
	closed.Store(0)
	r := newRecInbox(t, nil)
	stop := startFeeder(t, &feeder{ends: ends, inbox: r.c, ch: closerFunc(func() { closed.Add(1) })})
	ends <- "bye"
	eventually(t, "the end request", func() bool {
		msgs := r.sent()
		return len(msgs) == 1 && msgs[0] == endMsg{reason: "bye"}
	})
	stop()
	if closed.Load() != 0 {
		t.Fatal("closed the channel of a session that ended")
	}
}

func TestHolderClosesTheChatSessionExactlyOnce(t *testing.T) {
	b := newFakeBroker()
	var h holder
	s := newFakeSession(b, chat.Account{ID: 1})
	if !h.set(s) {
		t.Fatal("set refused before close")
	}
	h.close()
	h.close()
	if n := s.closed.Load(); n != 1 {
		t.Fatalf("closed %d times", n)
	}
	late := newFakeSession(b, chat.Account{ID: 2})
	if h.set(late) || late.closed.Load() != 1 {
		t.Fatal("a session connected after the end was not closed at once")
	}
	ran := false
	h.start(func() { ran = true })
	h.wg.Wait()
	if ran {
		t.Fatal("a goroutine started after close")
	}
}

func TestClientTimezoneIsUsedForTimestamps(t *testing.T) {
	if loc := clientLocation([]string{"TERM=xterm", "TZ=Asia/Tokyo"}); loc.String() != "Asia/Tokyo" {
		t.Fatalf("loc = %v", loc)
	}
	if loc := clientLocation([]string{"TZ=../../etc/passwd"}); loc != time.Local {
		t.Fatalf("bad TZ accepted: %v", loc)
	}
}

func discardLogger() *log.Logger { return log.New(io.Discard) }

func TestOverSSHDirectMessageRingsTheBellOnce(t *testing.T) {
	b := newFakeBroker()
	addr := startServer(t, b, Options{ServerName: "testchat"})
	tm := dial(t, addr, termOpt{user: "alice"})
	tm.waitScreen("Welcome to testchat, alice!")
	bells := func() int {
		tm.outMu.Lock()
		defer tm.outMu.Unlock()
		return strings.Count(ansi.Strip(tm.raw.String()), "\a")
	}
	before := bells()
	s := b.sessionOf("alice")
	dm := chat.Conversation{ID: "dm:1:99", Kind: chat.KindDirect, Name: "bob", Peer: 99}
	s.push(chat.MessageEvent{Message: msgAt(1, dm.ID, 99, "bob", "psst"), Conversation: dm})
	tm.waitScreen("bob (1)")
	eventually(t, "the bell", func() bool { return bells() == before+1 })
	if strings.Contains(tm.screen(), "\a") {
		t.Fatal("BEL drawn on screen")
	}
}

// closerFunc counts Close calls.
type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

// A session the broker dropped as a slow consumer has its SSH channel
// closed after the grace, unless it ends by itself; other drops are left
// to the program.
func TestDroppedSlowSessionIsHungUp(t *testing.T) {
	const grace = 10 * time.Millisecond
	for _, tc := range []struct {
		err     error
		hangsUp bool
	}{{chat.ErrSlowConsumer, true}, {chat.ErrShutdown, false}} {
		s := newFakeSession(newFakeBroker(), chat.Account{ID: 1, Handle: "a"})
		var closed atomic.Int32
		r := newRecInbox(t, nil)
		stop := startFeeder(t, &feeder{attached: attachedNow(s), inbox: r.c, dropGrace: grace,
			ch: closerFunc(func() { closed.Add(1) })})
		s.drop(tc.err)
		eventually(t, "the session's end", func() bool {
			msgs := r.sent()
			if len(msgs) == 0 {
				return false
			}
			_, ok := msgs[len(msgs)-1].(sessionEndedMsg)
			return ok
		})
		if tc.hangsUp {
			eventually(t, "the hang-up", func() bool { return closed.Load() == 1 })
		} else {
			time.Sleep(20 * grace) // a hang-up would have come by now
		}
		stop()
		if got := closed.Load() == 1; got != tc.hangsUp {
			t.Fatalf("%v: hung up = %v, want %v", tc.err, got, tc.hangsUp)
		}
	}
	// A session that ends within the grace is left alone.
	s := newFakeSession(newFakeBroker(), chat.Account{ID: 1, Handle: "a"})
	var closed atomic.Int32
	r := newRecInbox(t, nil)
	stop := startFeeder(t, &feeder{attached: attachedNow(s), inbox: r.c, ch: closerFunc(func() { closed.Add(1) })})
	s.drop(chat.ErrSlowConsumer)
	eventually(t, "the session's end", func() bool { return len(r.sent()) > 0 })
	stop()
	if closed.Load() != 0 {
		t.Fatal("hung up a session that ended by itself")
	}
}

// TestOverSSHGraphemeClustersKeepTheInputAndFooterInPlace types clusters
// whose widths terminals disagree on into the input line, unsent, at 80
// and 200 columns, and checks through the emulator that the input line
// shows them where the composer put them, the cursor is after them and the
// status line below is untouched; then sends them and checks the message.
// The terminal does not answer the query for mode 2027, so the server
// cannot know how it measures clusters.
func TestOverSSHGraphemeClustersKeepTheInputAndFooterInPlace(t *testing.T) {
	cases := []struct{ name, text string }{
		{"skin tone", "skin tone 👍🏽 test"},
		{"ZWJ family", "family 👨\u200d👩\u200d👧 test"},
		{"flag", "flag 🇺🇸 test"},
		{"VS16", "heart ❤\ufe0f test"},
		{"CJK", "漢字 test"},
		// A non-ASCII base: the emulator prints ASCII at once and cannot
		// combine a mark with it afterwards.
		{"combining mark", "α\u0301 test"},
	}
	b := newFakeBroker()
	addr := startServer(t, b, Options{ServerName: "testchat"})
	for _, cols := range []int{80, 200} {
		const rows = 24
		tm := dial(t, addr, termOpt{user: fmt.Sprintf("w%d", cols), cols: cols, rows: rows, no2027: true})
		tm.waitScreen("Welcome to testchat")
		for _, c := range cases {
			t.Run(fmt.Sprint(cols, "/", c.name), func(t *testing.T) {
				tm.t = t
				// Then one key per frame, as a person types: each frame
				// rewrites only the changed end of the line, after the
				// cluster.
				tm.write(c.text)
				typed := c.text
				for _, r := range " end" {
					tm.write(string(r))
					typed += string(r)
					want := "> " + typed
					eventually(t, "the input line "+want, func() bool {
						lines := strings.Split(tm.screen(), "\n")
						return len(lines) >= rows && strings.TrimRight(lines[rows-2], " ") == strings.TrimRight(want, " ")
					})
				}
				want := "> " + typed
				lines := strings.Split(tm.screen(), "\n")
				if !strings.HasPrefix(lines[rows-1], " enter send") {
					t.Errorf("status line corrupted: %q", lines[rows-1])
				}
				eventually(t, "the cursor after the text", func() bool {
					p := tm.emu.CursorPosition()
					return p.X == ansi.StringWidth(want) && p.Y == rows-2
				})
				tm.write("\r")
				tm.waitScreen(": " + c.text + " end")
				eventually(t, "the emptied input line", func() bool {
					lines := strings.Split(tm.screen(), "\n")
					return strings.HasPrefix(lines[rows-2], "> type a message")
				})
			})
		}
	}
}

// restoredBeforeReason checks the raw stream a client received: after the
// last switch to the alternate screen come the keyboard-mode pop, bracketed
// paste off and the alternate screen's exit, and only then the reason line.
func restoredBeforeReason(t *testing.T, raw, reason string) {
	t.Helper()
	line := "sshchat: " + reason
	at := strings.LastIndex(raw, line)
	if at < 0 {
		t.Fatalf("no line %q; stream tail: %q", line, raw[max(0, len(raw)-400):])
	}
	enter := strings.LastIndex(raw[:at], ansi.SetModeAltScreenSaveCursor)
	if enter < 0 {
		t.Fatalf("the UI never entered the alternate screen before %q", line)
	}
	between := raw[enter:at]
	for _, seq := range []struct{ name, s string }{
		{"keyboard-mode pop", ansi.PopKittyKeyboard(1)},
		{"modifyOtherKeys reset", ansi.ResetModifyOtherKeys},
		{"bracketed paste off", ansi.ResetModeBracketedPaste},
		{"alternate screen exit", ansi.ResetModeAltScreenSaveCursor},
	} {
		if !strings.Contains(between, seq.s) {
			t.Errorf("no %s (%q) before the reason; stream tail: %q", seq.name, seq.s, raw[max(0, at-400):])
		}
	}
	if strings.Contains(raw[at:], ansi.SetModeAltScreenSaveCursor) {
		t.Errorf("the alternate screen came back after the reason")
	}
}

func (tm *term) rawOutput() string {
	tm.outMu.Lock()
	defer tm.outMu.Unlock()
	return tm.raw.String()
}

// TestOverSSHEveryEndingRestoresTheTerminalFirst ends sessions every way
// they end — End (the allowlist's revocation), a slow-consumer drop, a
// broker kick, shutdown and a panic — and checks through the emulator that
// the terminal is restored before the one-line reason, which is visible on
// the main screen.
func TestOverSSHEveryEndingRestoresTheTerminalFirst(t *testing.T) {
	hook := func(msg tea.Msg) {
		if p, ok := msg.(tea.PasteMsg); ok && p.Content == "boom" {
			panic("test panic in Update")
		}
	}
	b := newFakeBroker()
	var sessions sync.Map // handle → ssh.Session
	mw := Middleware(b, Options{ServerName: "testchat", updateHook: hook})
	record := func(next ssh.Handler) ssh.Handler {
		return func(s ssh.Session) {
			sessions.Store(s.User(), s)
			next(s)
		}
	}
	srv, err := wish.NewServer(
		wish.WithHostKeyPath(filepath.Join(t.TempDir(), "host_ed25519")),
		wish.WithPublicKeyAuth(func(ssh.Context, ssh.PublicKey) bool { return true }),
		wish.WithMiddleware(mw, record),
	)
	if err != nil {
		t.Fatal(err)
	}
	addr := testsession.Listen(t, srv)
	cases := []struct {
		name, reason string
		end          func(user string)
	}{
		{"revoked", "your key is no longer authorized on this server", func(user string) {
			s, _ := sessions.Load(user)
			End(s.(ssh.Session), "your key is no longer authorized on this server")
		}},
		{"slow", "disconnected: " + chat.ErrSlowConsumer.Error(), func(user string) {
			b.sessionOf(user).drop(chat.ErrSlowConsumer)
		}},
		{"kicked", "disconnected: your account was removed", func(user string) {
			b.sessionOf(user).drop(fmt.Errorf("%w: your account was removed", chat.ErrNotAllowed))
		}},
		{"shutdown", "server shutting down", func(user string) {
			s := b.sessionOf(user)
			s.push(chat.ShutdownEvent{Reason: "server shutting down"})
			s.drop(chat.ErrShutdown)
		}},
		{"panic", "internal error; this session ended (others are unaffected)", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tm := dial(t, addr, termOpt{user: c.name, cols: 80, rows: 24})
			tm.waitScreen("Welcome to testchat, " + c.name)
			if c.end != nil {
				c.end(c.name)
			} else {
				tm.write("\x1b[200~boom\x1b[201~")
			}
			eventually(t, "the session to end", tm.ended)
			// The output copier may still be handing over the last bytes.
			eventually(t, "the reason line", func() bool { return strings.Contains(tm.rawOutput(), "sshchat: "+c.reason) })
			restoredBeforeReason(t, tm.rawOutput(), c.reason)
			eventually(t, "the reason on the main screen", func() bool {
				return strings.Contains(tm.screen(), "sshchat: "+c.reason) && !tm.emu.IsAltScreen()
			})
		})
	}
}

// TestEndEndsOnlyThatSessionOfAMultiplexedConnection opens two UI sessions
// on one SSH connection (their SSH context is shared) and ends one with
// End: the other stays.
func TestEndEndsOnlyThatSessionOfAMultiplexedConnection(t *testing.T) {
	b := newFakeBroker()
	var mu sync.Mutex
	var opened []ssh.Session
	record := func(next ssh.Handler) ssh.Handler {
		return func(s ssh.Session) {
			mu.Lock()
			opened = append(opened, s)
			mu.Unlock()
			next(s)
		}
	}
	srv, err := wish.NewServer(
		wish.WithHostKeyPath(filepath.Join(t.TempDir(), "host_ed25519")),
		wish.WithPublicKeyAuth(func(ssh.Context, ssh.PublicKey) bool { return true }),
		wish.WithMiddleware(Middleware(b, Options{ServerName: "testchat"}), record),
	)
	if err != nil {
		t.Fatal(err)
	}
	addr := testsession.Listen(t, srv)
	client, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User: "multi", Auth: []gossh.AuthMethod{gossh.PublicKeys(newSigner(t))},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	type shell struct {
		out  *safeBuffer
		in   io.Writer
		done chan struct{}
	}
	open := func() shell {
		sess, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		sh := shell{out: &safeBuffer{}, done: make(chan struct{})}
		sess.Stdout, sess.Stderr = sh.out, sh.out
		if sh.in, err = sess.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := sess.RequestPty("xterm-256color", 24, 80, nil); err != nil {
			t.Fatal(err)
		}
		if err := sess.Shell(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = sess.Wait(); close(sh.done) }()
		t.Cleanup(func() { _ = sess.Close() })
		return sh
	}
	first := open()
	eventually(t, "the first session", func() bool { return strings.Contains(first.out.String(), "Welcome to testchat") })
	second := open()
	eventually(t, "the second session", func() bool { return strings.Contains(second.out.String(), "Welcome to testchat") })
	mu.Lock()
	End(opened[0], "ended for the test")
	mu.Unlock()
	<-first.done
	if !strings.Contains(first.out.String(), "sshchat: ended for the test") {
		t.Errorf("the ended session was not told why")
	}
	// The other session still works.
	_, _ = io.WriteString(second.in, "still here\r")
	eventually(t, "the other session to go on", func() bool {
		return strings.Contains(ansi.Strip(second.out.String()), "multi: still here")
	})
	select {
	case <-second.done:
		t.Fatal("End ended the other session of the connection too")
	default:
	}
	if strings.Contains(second.out.String(), "ended for the test") {
		t.Errorf("the other session was told")
	}
}

// safeBuffer is a bytes.Buffer safe for one writer and one reader.
type safeBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sessionGoroutines counts the goroutines that serve sessions in this
// process: those running code of charm.land/ssh (including x/crypto/ssh's
// transport reader, which reads through charm.land/ssh's conn), Bubble Tea,
// ultraviolet or this package, apart from the tests' own client side.
// x/crypto/ssh's key-exchange and multiplexer loops are not counted: they
// look the same on the client side.
func sessionGoroutines() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		server := strings.Contains(g, "charm.land/ssh.") || strings.Contains(g, "charm.land/bubbletea") ||
			strings.Contains(g, "charmbracelet/ultraviolet") || strings.Contains(g, "sshchat/ui.")
		client := strings.Contains(g, "sshchat/ui.dial") || strings.Contains(g, "testing.tRunner") ||
			strings.Contains(g, "sshchat/ui.Test") || strings.Contains(g, "sshchat/ui.eventually")
		if server && !client {
			n++
		}
	}
	return n
}

// Each goroutine's stack is a few KiB of a session's memory. A session is
// served by eight: x/crypto/ssh's transport reader, key exchange and
// multiplexer; charm.land/ssh's connection loop (new channels and global
// requests) and channel request loop; the channel's handler, which runs
// the program's event loop and writes its frames; the program's input
// reader; and the feeder. The six that are not x/crypto's loops are
// counted. The renderer, the command dispatcher, a second input
// goroutine, the global-request loop and the watchers of End and of
// slow-consumer drops are not goroutines of their own any more (there were
// seven more per session).
func TestSessionIsServedByEightGoroutines(t *testing.T) {
	b := newFakeBroker()
	addr := startServer(t, b, Options{ServerName: "testchat"})
	const n, want = 4, 6
	base := sessionGoroutines()
	for i := range n {
		tm := dial(t, addr, termOpt{user: fmt.Sprint("g", i)})
		tm.waitScreen("Welcome to testchat")
	}
	// Goroutines of the start-up (Init's commands) end on their own.
	deadline := time.Now().Add(5 * time.Second)
	for {
		per := float64(sessionGoroutines()-base) / n
		if per <= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%.1f goroutines per session counted, want at most %d", per, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A session's logger (a copy of the server's with the session's fields)
// is made on its first line, not kept by every session that never logs.
func TestSessionLogMakesItsLoggerOnTheFirstLine(t *testing.T) {
	var out strings.Builder
	lg := newSessionLog(log.New(&out), "fingerprint", "SHA256:abc", "user", "alice")
	if lg.l != nil {
		t.Fatal("logger made before any line")
	}
	lg.Warn("broker call failed", "op", "send")
	if got := out.String(); !strings.Contains(got, "fingerprint=SHA256:abc") || !strings.Contains(got, "user=alice") || !strings.Contains(got, "op=send") {
		t.Fatalf("line without the session's fields: %q", got)
	}
}
