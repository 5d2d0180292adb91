package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/log/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	bm "charm.land/wish/v2/bubbletea"
	gossh "golang.org/x/crypto/ssh"

	"sshchat/chat"
)

// Options configures the chat UI served to each SSH session.
type Options struct {
	// ServerName is shown in the welcome line and the login screen.
	ServerName string
	// MOTD is the message of the day, shown on entry (may be multi-line).
	MOTD string
	// Logger receives per-session log lines (never message bodies). Nil
	// discards them.
	Logger *log.Logger
	// FPS caps how often a session's screen is written (default 30; Bubble
	// Tea caps it at 120). Lower costs less CPU with many sessions.
	FPS int
	// HistoryPage is how many messages one History call fetches (default
	// 100).
	HistoryPage int
	// MaxWindow is how many entries a conversation may keep in memory while
	// the user scrolls back (default 1000); following new messages it keeps
	// only a few screens. Older ones are fetched again when scrolled to.
	MaxWindow int

	// updateHook is a test seam: it sees every message before App.Update.
	updateHook func(tea.Msg)
}

// maxBatch bounds how many events the feeder hands to one Update.
const maxBatch = 256

// Middleware serves the chat UI to every SSH session that has a PTY.
// Sessions without a PTY go to next (main installs the handler for
// non-interactive commands after this one); sessions with a PTY end here.
//
// It runs the Bubble Tea program itself rather than through wish's
// bubbletea middleware, because it needs control that middleware does not
// give:
//   - the initial window size is clamped before the renderer allocates for
//     it (the middleware's MakeOptions passes the client's raw pty-req size);
//   - window changes are coalesced: a reader goroutine keeps only the
//     latest size and the feeder (which also feeds the broker's events)
//     sends it when the program is ready, so a storm of window-change
//     requests neither blocks the SSH request loop nor queues thousands of
//     resizes (the middleware sends each one);
//   - the closed window channel is handled (the middleware's loop reads
//     zero sizes from it);
//   - the chat session is closed exactly once after the program ends, and
//     the final reason ("server shutting down", "too slow") is printed to
//     the terminal after the alternate screen is gone.
func Middleware(b chat.Broker, opts Options) wish.Middleware {
	if opts.Logger == nil {
		opts.Logger = log.New(io.Discard)
	}
	if opts.FPS <= 0 {
		opts.FPS = 30
	}
	theme := NewTheme() // built once, shared read-only by every session
	return func(next ssh.Handler) ssh.Handler {
		return func(s ssh.Session) {
			if _, _, ok := s.Pty(); !ok {
				next(s)
				return
			}
			serve(s, b, opts, theme)
		}
	}
}

// identify derives the chat key from the key that signed the handshake.
func identify(s ssh.Session) (chat.Key, bool) {
	pk := s.PublicKey()
	if pk == nil {
		return chat.Key{}, false
	}
	return chat.Key{
		Fingerprint: gossh.FingerprintSHA256(pk),
		Authorized:  strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pk))),
	}, true
}

// serve runs one interactive session to its end.
func serve(s ssh.Session, b chat.Broker, opts Options, theme Theme) {
	key, ok := identify(s)
	if !ok {
		wish.Fatalln(s, "sshchat: a public key is required; connect with an SSH key (ssh -i ~/.ssh/id_ed25519 ...)")
		return
	}
	fields := []any{"fingerprint", key.Fingerprint, "remote", s.RemoteAddr().String()}

	ctx, cancel := context.WithCancel(s.Context())
	defer cancel()

	cfg := appConfig{
		broker:     b,
		theme:      theme,
		serverName: opts.ServerName,
		motd:       opts.MOTD,
		ctx:        ctx,
		key:        key,
		wanted:     s.User(),
		loc:        clientLocation(s.Environ()),
		hyperlinks: hyperlinkTerminal(s.Environ()),
		pageSize:   opts.HistoryPage,
		maxWindow:  opts.MaxWindow,
		updateHook: opts.updateHook,
	}
	acct, err := b.Authenticate(ctx, key)
	if errors.Is(err, chat.ErrUnknownKey) && strings.EqualFold(s.User(), LinkUser) {
		// ssh link@host: the new key joins an account it names with a code.
		cfg.loginReason, cfg.loginLink, err = "This key has no account yet.", true, nil
	} else if errors.Is(err, chat.ErrUnknownKey) {
		acct, err = b.Register(ctx, key, s.User())
		if errors.Is(err, chat.ErrHandleInvalid) || errors.Is(err, chat.ErrHandleTaken) {
			cfg.loginReason, err = loginText(s.User(), err), nil
		}
	}
	if err != nil {
		lg := newSessionLog(opts.Logger, fields...)
		logUnexpected(lg, "login", err)
		lg.Info("login refused", "err", err)
		wish.Fatalln(s, "sshchat: "+userText(err))
		return
	}
	if cfg.loginReason == "" {
		cfg.acct = &acct
		fields = append(fields, "user", acct.Handle)
	}
	lg := newSessionLog(opts.Logger, fields...)
	cfg.logger = lg

	// The chat session is created in a Cmd; holder makes sure it is closed
	// exactly once, whichever of "program ended" and "connect returned"
	// comes last, and owns the session's goroutine.
	var h holder
	defer func() {
		cancel()
		h.close()
		h.wg.Wait()
	}()

	cfg.connect = func(ctx context.Context, acct chat.Account) (chat.Session, error) {
		sess, err := b.Connect(ctx, acct)
		if err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
		if !h.set(sess) {
			return nil, fmt.Errorf("connect: %w", context.Canceled)
		}
		return sess, nil
	}
	attached := make(chan chat.Session, 1)
	cfg.attach = func(sess chat.Session) {
		select {
		case attached <- sess:
		default: // attached once already
		}
	}

	// End (another goroutine: the allowlist watcher, an operator) reaches
	// this program through the session's context; the program then ends
	// like any other ending, restoring the terminal before the reason.
	ends := make(chan string, 1)
	served := make(chan struct{}) // closed when serve returns (before h.wg.Wait)
	defer close(served)
	endAt := endKeyOf(s)
	s.Context().SetValue(endAt, ends)
	defer s.Context().SetValue(endAt, nil)

	app := newApp(cfg)
	pty, winch, _ := s.Pty()
	w, hgt := clampSize(pty.Window.Width, pty.Window.Height)
	p := tea.NewProgram(app, programOptions(ctx, s, w, hgt, opts.FPS)...)

	f := &feeder{
		served: served, winch: winch, gone: cancel, attached: attached, ends: ends,
		ch: s, inbox: p.Inbox(), endGrace: endGrace, dropGrace: dropGrace, lg: lg,
	}
	h.start(f.run)

	final, err := p.Run()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) || errors.Is(err, tea.ErrProgramPanic) {
		lg.Error("session UI ended with error", "err", err)
	}
	p.Kill() // idempotent; restores the terminal after a panic
	cancel()
	h.close()
	switch fa, ok := final.(*App); {
	case errors.Is(err, tea.ErrProgramPanic):
		_, _ = fmt.Fprintln(s, "sshchat: internal error; this session ended (others are unaffected)")
	case ok && fa.ExitReason() != "":
		_, _ = fmt.Fprintln(s, "sshchat: "+fa.ExitReason())
	}
}

// endKey keys a session's end channel in its SSH context, which a
// multiplexed connection shares between its sessions and which has no way
// to delete a value: the key is the session's address, so the entry left
// behind (a nil value) does not keep an ended session alive.
type endKey struct {
	p uintptr
	s ssh.Session // only for a session that is not a pointer
}

func endKeyOf(s ssh.Session) endKey {
	if v := reflect.ValueOf(s); v.Kind() == reflect.Pointer {
		return endKey{p: v.Pointer()}
	}
	return endKey{s: s}
}

// endMsg asks the App to end with a reason (see End).
type endMsg struct{ reason string }

// endGrace is how long a session asked to end by End gets to restore the
// terminal and print the reason before its channel is closed under it.
const endGrace = 5 * time.Second

// End ends an SSH session with a one-line reason ("your key is no longer
// authorized on this server"). A chat UI session ends the way every ending
// does: the reason is shown, the program quits and restores the terminal
// (alternate screen, bracketed paste, keyboard modes), then "sshchat:
// REASON" is printed on the main screen and the channel closes; one that
// has not ended after endGrace (a client that stopped reading) is closed
// anyway. Any other session gets the line on stderr and is closed. End
// does not wait.
func End(s ssh.Session, reason string) {
	if ends, ok := s.Context().Value(endKeyOf(s)).(chan string); ok && ends != nil {
		select {
		case ends <- reason:
		default: // already asked
		}
		return
	}
	_, _ = fmt.Fprintln(s.Stderr(), "\r\nsshchat: "+reason)
	_ = s.Close()
}

// programOptions are the Bubble Tea options for one session. wish's
// MakeOptions picks input, output, environment and colour profile for the
// emulated or allocated PTY; the options after it override its window size
// (clamped) and its filter (ours keeps its ctrl+z handling and clamps every
// WindowSizeMsg before the event loop resizes the renderer with it).
func programOptions(ctx context.Context, s ssh.Session, w, h, fps int) []tea.ProgramOption {
	return append(bm.MakeOptions(s),
		tea.WithContext(ctx),       // Run and Send end with the connection
		tea.WithoutSignalHandler(), // main owns SIGINT/SIGTERM
		tea.WithWindowSize(w, h),
		tea.WithFilter(filter),
		tea.WithFPS(fps),
		tea.WithLineRenderer(), // line diff + scroll regions: a few KB per session (third_party/bubbletea/PATCHES.md)
	)
}

// filter runs on every message before Bubble Tea's event loop looks at it.
// The event loop resizes the renderer with a WindowSizeMsg before Update
// sees it, so clamping has to happen here.
func filter(_ tea.Model, msg tea.Msg) tea.Msg {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		msg.Width, msg.Height = clampSize(msg.Width, msg.Height)
		return msg
	case tea.SuspendMsg:
		return tea.ResumeMsg{} // there is no job control over SSH
	}
	return msg
}

// clientLocation is the client's TZ if it sent one we know, else the
// server's zone.
func clientLocation(env []string) *time.Location {
	for _, kv := range env {
		if tz, ok := strings.CutPrefix(kv, "TZ="); ok && tz != "" {
			if loc, err := time.LoadLocation(tz); err == nil {
				return loc
			}
		}
	}
	return time.Local
}

// dropGrace is how long a session the broker dropped as a slow consumer
// gets to end on its own before the SSH channel is closed under it.
const dropGrace = 5 * time.Second

// sessionLog logs a session's lines with its fields (fingerprint, remote
// address, user). The log.Logger carrying the fields is made on the first
// line: Logger.With copies the logger's styles, a few KiB that every
// session would keep while most never log a line.
type sessionLog struct {
	base   *log.Logger
	fields []any
	once   sync.Once
	l      *log.Logger
}

func newSessionLog(base *log.Logger, fields ...any) *sessionLog {
	return &sessionLog{base: base, fields: fields}
}

func (s *sessionLog) logger() *log.Logger {
	s.once.Do(func() { s.l = s.base.With(s.fields...) })
	return s.l
}

// Info, Warn and Error log at their level with the session's fields.
func (s *sessionLog) Info(msg any, kv ...any)  { s.logger().Info(msg, kv...) }
func (s *sessionLog) Warn(msg any, kv ...any)  { s.logger().Warn(msg, kv...) }
func (s *sessionLog) Error(msg any, kv ...any) { s.logger().Error(msg, kv...) }

// presenceEvery is the least time between two presence-only batches the
// feeder hands to a program. The first presence change after a quiet
// second goes through at once (a contact coming online shows live); the
// ones that follow within the second wait and go together, so a connect
// storm of N logins costs each session about one screen update per second
// instead of N, and the lobby gets one summary line instead of N.
const presenceEvery = time.Second

// feeder is a session's one goroutine besides the program's own: everything
// that reaches the program from outside goes through it, and it never
// waits on the program alone, so nothing it serves waits on a busy or
// stalled program:
//
//   - window changes from the SSH request loop (winch): only the newest
//     size is kept and sent when the program takes it, so a storm of
//     window-change requests neither blocks the request loop (which would,
//     through x/crypto/ssh's bounded request channel, stall the connection)
//     nor queues thousands of resizes; a closed winch (the client closed
//     the session channel while a multiplexing client keeps the connection)
//     calls gone to end the program;
//   - the chat session's events, once one arrives on attached. Each round
//     takes everything already queued (up to maxBatch) and sends it as one
//     message, so a busy room costs one Update and one View per batch.
//     Presence-only batches are throttled to one per presenceEvery; any
//     other event takes the held-back presence along first, so the program
//     sees events in the broker's order. No event is read while a batch
//     waits for the program: the broker's bounded queue decides what
//     happens to a session that falls behind. When the stream closes the
//     program gets sessionEndedMsg after the last batch;
//   - a reason from End (ends): the program gets endMsg, and the SSH
//     channel is closed if the session has not ended endGrace later (a
//     client that stopped reading stalls the program's writes, or the
//     final line, and closing the channel fails them);
//   - the broker's slow-consumer policy on the SSH side: a client that
//     stops reading stalls its program in a write to the channel, so the
//     program never sees that the broker dropped it; once dropGrace has
//     passed without the session ending, closing the channel fails the
//     stalled write and frees the session's goroutines and buffers.
//
// It ends when served is closed (serve returned).
type feeder struct {
	served    <-chan struct{}
	winch     <-chan ssh.Window
	gone      func()
	attached  <-chan chat.Session
	ends      <-chan string
	ch        io.Closer
	inbox     chan<- tea.Msg
	endGrace  time.Duration
	dropGrace time.Duration
	lg        *sessionLog
}

// The kinds of message the feeder may have waiting for the program, in the
// order it offers them.
const (
	outNone = iota
	outEnd
	outSize
	outBatch
	outEnded
)

func (f *feeder) run() {
	defer func() {
		if r := recover(); r != nil {
			f.lg.Error("feeder panic", "panic", r, "stack", string(debug.Stack()))
			select {
			case f.inbox <- tea.QuitMsg{}:
			case <-f.served:
			}
		}
	}()
	var (
		sess      chat.Session
		events    <-chan chat.Event
		sessDone  <-chan struct{}
		attached  = f.attached
		winch     = f.winch
		ends      = f.ends
		held      eventsMsg // presence-only events waiting for the throttle
		last      time.Time // when presence was last sent
		presence  = newIdleTimer()
		hangUp    = newIdleTimer() // closes the channel: End's or the drop's grace is over
		hangUpWhy string

		// What waits for the program.
		reason   string // from End, once
		endDue   bool   // reason not yet sent
		size     tea.WindowSizeMsg
		sizeDue  bool      // size not yet sent
		batch    eventsMsg // events not yet sent
		endedDue bool      // sessionEndedMsg after batch
	)
	defer presence.Stop()
	defer hangUp.Stop()
	for {
		var next tea.Msg
		kind := outNone
		switch {
		case endDue:
			next, kind = endMsg{reason: reason}, outEnd
		case sizeDue:
			next, kind = size, outSize
		case len(batch) > 0:
			next, kind = batch, outBatch
		case endedDue:
			next, kind = sessionEndedMsg{err: sess.Err()}, outEnded
		}
		var out chan<- tea.Msg
		if kind != outNone {
			out = f.inbox
		}
		// Events are read only when no batch is waiting.
		evc := events
		if len(batch) > 0 || endedDue {
			evc = nil
		}
		select {
		case <-f.served:
			return
		case out <- next:
			switch kind {
			case outEnd:
				endDue = false
			case outSize:
				sizeDue = false
			case outBatch:
				batch = nil
			case outEnded:
				endedDue = false
			}
		case win, ok := <-winch:
			if !ok {
				winch = nil
				f.gone()
				continue
			}
			size.Width, size.Height = clampSize(win.Width, win.Height)
			sizeDue = true
		case s := <-attached:
			sess, events, sessDone, attached = s, s.Events(), s.Done(), nil
		case reason = <-ends:
			ends, endDue = nil, true
			f.lg.Info("ending session", "reason", reason)
			hangUp.arm(f.endGrace)
			hangUpWhy = "closing the channel of a session that did not end when asked"
		case <-sessDone:
			sessDone = nil
			if errors.Is(sess.Err(), chat.ErrSlowConsumer) && hangUpWhy == "" {
				hangUp.arm(f.dropGrace)
				hangUpWhy = "closing the channel of a session that stopped reading"
			}
		case <-hangUp.C():
			hangUp.fired()
			f.lg.Warn(hangUpWhy)
			_ = f.ch.Close()
		case <-presence.C():
			presence.fired()
			last = time.Now()
			batch, held = held, nil
		case first, ok := <-evc:
			if !ok {
				batch, held, events = held, nil, nil
				presence.Stop()
				endedDue = true
				continue
			}
			b := append(held, first)
			held = nil
			closed := false
		drain:
			for len(b) < maxBatch {
				select {
				case ev, more := <-events:
					if !more {
						closed = true
						break drain
					}
					b = append(b, ev)
				default:
					break drain
				}
			}
			now := time.Now()
			if !closed && presenceOnly(b) && len(b) < maxBatch && now.Sub(last) < presenceEvery {
				held = b
				if !presence.armed() {
					presence.arm(presenceEvery - now.Sub(last))
				}
				continue
			}
			presence.Stop()
			if hasPresence(b) {
				last = now
			}
			batch = b
			if closed {
				events = nil
				endedDue = true
			}
		}
	}
}

// idleTimer is a stopped timer that can be armed, with a nil channel while
// it is not armed, for use in a select.
type idleTimer struct {
	t *time.Timer
	c <-chan time.Time
}

func newIdleTimer() *idleTimer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &idleTimer{t: t}
}

func (t *idleTimer) arm(d time.Duration) { t.t.Reset(d); t.c = t.t.C }
func (t *idleTimer) armed() bool         { return t.c != nil }
func (t *idleTimer) fired()              { t.c = nil }
func (t *idleTimer) C() <-chan time.Time { return t.c }
func (t *idleTimer) Stop()               { t.t.Stop(); t.c = nil }

// presenceOnly reports whether every event of b is a presence change.
func presenceOnly(b eventsMsg) bool {
	for _, ev := range b {
		if !isPresence(ev) {
			return false
		}
	}
	return true
}

// hasPresence reports whether b holds a presence change.
func hasPresence(b eventsMsg) bool {
	return slices.ContainsFunc(b, isPresence)
}

func isPresence(ev chat.Event) bool {
	switch ev.(type) {
	case chat.PresenceEvent, *chat.PresenceEvent:
		return true
	}
	return false
}

// holder owns a session's chat.Session and goroutines: set hands the
// session over when Connect returns, close closes it once when the SSH
// session ends (a session that arrives after close is closed at once), and
// start runs a goroutine unless close has already happened, so wg.Wait after
// close cannot race with a late start.
type holder struct {
	mu     sync.Mutex
	sess   chat.Session
	closed bool
	wg     sync.WaitGroup
}

func (h *holder) start(fn func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.wg.Go(fn)
	}
}

func (h *holder) set(s chat.Session) bool {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		s.Close()
		return false
	}
	h.sess = s
	h.mu.Unlock()
	return true
}

func (h *holder) close() {
	h.mu.Lock()
	s := h.sess
	h.sess, h.closed = nil, true
	h.mu.Unlock()
	if s != nil {
		s.Close()
	}
}
