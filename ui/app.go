package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/log/v2"
	"github.com/charmbracelet/x/ansi"

	"sshchat/chat"
)

// Window size limits: sizes from the client are clamped to these before
// anything (renderer included) allocates for them.
const (
	minWidth, maxWidth   = 20, 500
	minHeight, maxHeight = 5, 200
	// sidebarMinWidth is the terminal width below which the sidebar hides
	// (Esc or Ctrl+S shows it full width). Below it the chat rows span the
	// whole width, so the renderer can scroll them with a scroll region and
	// write only the new line: at 80×24 that is ≈ 110 bytes per lobby
	// message instead of ≈ 900 with the sidebar (docs/performance.md).
	sidebarMinWidth = 100
	// maxOutbox bounds the messages and commands waiting to be sent.
	maxOutbox = 16
	// markReadDelay debounces read markers for the conversation in front.
	markReadDelay = 3 * time.Second
	// quitDelay is how long a final notice stays on screen.
	quitDelay = 1500 * time.Millisecond
	// retryDelay is how long a line refused with chat.ErrRateLimited waits
	// at the head of the outbox before it is tried again.
	retryDelay = 250 * time.Millisecond
	// statusTTL is how long an error stays in the status line.
	statusTTL = 5 * time.Second
)

// clampSize bounds a client's window size; a zero or negative size (some
// clients send 0×0 before they know better) becomes 80×24.
func clampSize(w, h int) (int, int) {
	if w <= 0 {
		w = 80
	}
	if h <= 0 {
		h = 24
	}
	return clampInt(w, minWidth, maxWidth), clampInt(h, minHeight, maxHeight)
}

// Messages the App receives: results of its Cmds and the feeder's batches.
type (
	// eventsMsg is a batch of broker events, drained by the feeder in one go.
	eventsMsg []chat.Event
	// sessionEndedMsg says the broker closed the session's event stream.
	sessionEndedMsg struct{ err error }
	registeredMsg   struct {
		acct chat.Account
		err  error
	}
	connectedMsg struct {
		sess chat.Session
		snap chat.Snapshot
		err  error
	}
	historyMsg struct {
		conv   chat.ConvID
		before chat.MessageID
		reload bool
		msgs   []chat.Message
		err    error
	}
	sentMsg struct {
		item outItem
		msg  chat.Message
		err  error
	}
	execMsg struct {
		item  outItem
		reply chat.Reply
		err   error
	}
	dismissedMsg struct{ err error }
	markedMsg    struct{ err error }
	markTickMsg  struct{}
	notesTickMsg struct{}
	quitNowMsg   struct{}
	// retryMsg says the rate-limit pause of the outbox is over.
	retryMsg struct{}
	// statusExpiredMsg says the error of generation gen may have expired.
	statusExpiredMsg struct{ gen int }
)

// outItem is a line the user entered, waiting its turn: sends and commands
// go out one at a time so they reach the broker in the order typed.
type outItem struct {
	exec  bool
	conv  chat.ConvID
	text  string
	typed string // the line as typed, given back to the input if it fails
}

type phase uint8

const (
	phaseLogin phase = iota
	phaseConnecting
	phaseChat
	phaseEnding
)

type focusArea uint8

const (
	focusInput focusArea = iota
	focusSidebar
)

// appConfig is everything an App needs from outside; session.go fills it
// from the SSH session, tests from fakes.
type appConfig struct {
	broker     chat.Broker
	theme      Theme
	serverName string
	motd       string
	logger     *log.Logger
	// ctx bounds every broker call; it ends with the SSH session.
	ctx context.Context
	// key and wanted are for Register from the login screen.
	key    chat.Key
	wanted string
	// acct is set when the account is known before the program starts.
	acct *chat.Account
	// loginReason, when set, starts the App on the login screen.
	loginReason string
	// connect opens the chat session (defaults to broker.Connect).
	connect func(context.Context, chat.Account) (chat.Session, error)
	// attach is called (in a Cmd) once the App holds the session; session.go
	// starts feeding events there, so events reach the App only after it.
	attach    func(chat.Session)
	loc       *time.Location
	now       func() time.Time
	pageSize  int
	maxWindow int
	// markDelay debounces read markers; quitDelay keeps a final notice on
	// screen before quitting; noticeEvery rate-limits join/leave lines in a
	// big lobby; retryDelay spaces the retries of a rate-limited line;
	// statusTTL is how long an error stays in the status line.
	markDelay, quitDelay, noticeEvery, retryDelay, statusTTL time.Duration
	// updateHook, if set, sees every message first (tests inject panics).
	updateHook func(tea.Msg)
}

func (c *appConfig) defaults() {
	if c.logger == nil {
		c.logger = log.New(io.Discard)
	}
	if c.ctx == nil {
		c.ctx = context.Background()
	}
	if c.connect == nil && c.broker != nil {
		c.connect = c.broker.Connect
	}
	if c.loc == nil {
		c.loc = time.Local
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.pageSize <= 0 {
		c.pageSize = 100
	}
	if c.maxWindow <= 0 {
		c.maxWindow = 1000
	}
	if c.markDelay <= 0 {
		c.markDelay = markReadDelay
	}
	if c.quitDelay <= 0 {
		c.quitDelay = quitDelay
	}
	if c.noticeEvery <= 0 {
		c.noticeEvery = noticeEvery
	}
	if c.retryDelay <= 0 {
		c.retryDelay = retryDelay
	}
	if c.statusTTL <= 0 {
		c.statusTTL = statusTTL
	}
	if c.theme.Dark == nil || c.theme.Light == nil {
		c.theme = NewTheme()
	}
	if c.serverName == "" {
		c.serverName = "sshchat"
	}
}

// App is the root Bubble Tea model of one SSH session: login screen, then
// sidebar + conversation + input + status line, and the offline dialog.
// Update never does I/O: broker calls run in tea.Cmds and come back as
// messages; broker events arrive in batches from the session's feeder.
//
// App uses pointer receivers: it is large, it is only ever touched by its
// program's event loop, and View fills render caches.
type App struct {
	cfg  appConfig
	st   *Styles
	keys keyMap
	rc   renderCtx
	w, h int

	phase phase
	login *Login
	sess  chat.Session
	me    chat.Account

	convs   map[chat.ConvID]*Conversation
	order   []*Conversation
	current chat.ConvID

	sidebar   Sidebar
	composer  Composer
	dialog    *OfflineDialog
	dismissed bool // DismissOffline has been issued
	focus     focusArea

	// drafts holds the unsent input of the conversations not in front:
	// switching saves the draft of the one left and restores the other's.
	drafts map[chat.ConvID]string
	// sentLines are the lines entered in each conversation, oldest first
	// (at most maxRecall each), for Up/Down in the input: per conversation,
	// so Up never offers a direct message's text in a shared room. recall
	// is the one shown of the conversation in front (the list's length
	// when none) and recallRev the composer's revision when it was shown.
	sentLines map[chat.ConvID][]string
	recall    int
	recallRev int
	// awayTold lists the peers already said to be away since their
	// presence last changed.
	awayTold map[chat.UserID]bool

	online   *chat.Roster              // shared with every session: replaced, never modified
	lastSeen map[chat.UserID]time.Time // when people seen leaving left
	contacts []chat.Contact            // may be shared with the user's other sessions: copy before writing

	status      string
	statusErr   bool
	statusUntil time.Time // when an error may be cleared by statusExpiredMsg
	statusGen   int       // counts errors set, so only the last one's timer clears
	statusTimer bool      // Update must schedule a statusExpiredMsg
	slowShown   bool      // the status is the outbox's "slow down"

	// outbox holds the lines entered and not yet accepted, oldest first;
	// its head is in flight (inflight) or waiting for a rate-limit retry
	// (retryWait), and leaves only when the broker has answered for good.
	outbox    []outItem
	inflight  bool
	retryWait bool
	// unsent are failed lines that could not go back to the input because
	// it held new typing or another conversation was in front, newest
	// last; Up on an empty input recalls those of the conversation in
	// front.
	unsent []outItem

	markPending bool

	notes      presenceNotes // joins and leaves not yet shown in the lobby
	notesAt    time.Time     // when the last join/leave line was added
	notesTick  bool          // a notesTickMsg is scheduled
	exitReason string

	sideDirty bool   // sidebar data changed since its last rebuild
	mainDirty bool   // the area above the input must be redrawn
	mainCache string // that area, joined

	statusKey   statusKey
	statusCache string
}

func newApp(cfg appConfig) *App {
	cfg.defaults()
	a := &App{
		cfg:       cfg,
		st:        cfg.theme.Dark,
		keys:      newKeyMap(),
		convs:     make(map[chat.ConvID]*Conversation),
		mainDirty: true,
		sideDirty: true,
	}
	a.w, a.h = 80, 24
	a.rc = renderCtx{st: a.st, loc: cfg.loc}
	a.composer = newComposer(a.st, defaultLimit)
	switch {
	case cfg.loginReason != "" || cfg.acct == nil:
		a.phase = phaseLogin
		a.login = newLogin(a.st, cfg.loginReason)
	default:
		a.phase = phaseConnecting
		a.me = *cfg.acct
	}
	a.layout()
	return a
}

// Init asks for the client's background colour and, when the account is
// known, connects.
func (a *App) Init() tea.Cmd {
	cmds := []tea.Cmd{tea.RequestBackgroundColor}
	if a.phase == phaseConnecting {
		cmds = append(cmds, a.connectCmd(a.me))
	}
	return tea.Batch(cmds...)
}

// ExitReason is the last thing the session should print after the UI is
// gone (a shutdown or disconnect notice), or "".
func (a *App) ExitReason() string { return a.exitReason }

// Update handles one message.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if a.cfg.updateHook != nil {
		a.cfg.updateHook(msg)
	}
	m, cmd := a.update(msg)
	if a.statusTimer {
		a.statusTimer = false
		gen := a.statusGen
		cmd = tea.Batch(cmd, tea.Tick(a.cfg.statusTTL, func(time.Time) tea.Msg { return statusExpiredMsg{gen} }))
	}
	return m, cmd
}

// update is Update without the status timer.
func (a *App) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	wasDirty := a.mainDirty
	a.mainDirty = true
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		w, h := clampSize(msg.Width, msg.Height)
		if w != a.w || h != a.h {
			a.w, a.h = w, h
			a.layout()
		}
		return a, nil
	case tea.BackgroundColorMsg:
		a.setStyles(msg.IsDark())
		return a, nil
	case tea.KeyPressMsg:
		return a.handleKey(msg, wasDirty)
	case tea.PasteMsg:
		return a.handlePaste(msg, wasDirty)
	case eventsMsg:
		return a, a.applyEvents(msg)
	case sessionEndedMsg:
		text := "disconnected"
		switch {
		case errors.Is(msg.err, chat.ErrShutdown):
			text = "server shutting down"
		case msg.err != nil:
			text = "disconnected: " + userText(msg.err)
		}
		return a, a.end(text)
	case endMsg:
		return a, a.end(msg.reason)
	case registeredMsg:
		return a, a.registered(msg)
	case connectedMsg:
		return a, a.connected(msg)
	case historyMsg:
		return a, a.historyLoaded(msg)
	case sentMsg:
		return a, a.sent(msg)
	case execMsg:
		return a, a.executed(msg)
	case dismissedMsg:
		if msg.err != nil {
			a.setError(userText(msg.err))
		}
		return a, nil
	case markedMsg:
		return a, nil
	case markTickMsg:
		a.markPending = false
		if c := a.convs[a.current]; c != nil {
			return a, a.markRead(c)
		}
		return a, nil
	case quitNowMsg:
		return a, tea.Quit
	case retryMsg:
		a.retryWait = false
		return a, a.flushOutbox()
	case statusExpiredMsg:
		if msg.gen == a.statusGen && a.statusErr && a.phase == phaseChat && !a.cfg.now().Before(a.statusUntil) {
			a.clearStatus()
		}
		return a, nil
	case notesTickMsg:
		a.notesTick = false
		a.notesAt = time.Time{}
		a.flushNotes()
		return a, nil
	}
	a.mainDirty = wasDirty
	return a, nil
}

// setStyles switches between the dark and light style sets and drops every
// render cache.
func (a *App) setStyles(isDark bool) {
	st := a.cfg.theme.Light
	if isDark {
		st = a.cfg.theme.Dark
	}
	if st == a.st {
		return
	}
	a.st = st
	a.rc.st = st
	a.composer.SetStyles(st)
	if a.login != nil {
		a.login.input.SetStyles(st.Input)
	}
	a.dropRenderCaches()
	a.sideDirty = true
}

// dropRenderCaches forgets every rendered message line.
func (a *App) dropRenderCaches() {
	for _, c := range a.order {
		for i := range c.entries {
			c.entries[i].lines = nil
		}
	}
}

// Layout geometry.

func (a *App) sidebarShown() bool { return a.w >= sidebarMinWidth }

func (a *App) sidebarWidth() int {
	if !a.sidebarShown() {
		return a.w // shown full width while focused
	}
	return clampInt(a.w/5, 20, 30)
}

// mainRows is the height of the area above the input line.
func (a *App) mainRows() int { return a.h - 1 - a.statusRows() }

// statusRows is the height of the status line: an error too long for one
// line gets two in the chat screen (when the terminal is tall enough).
func (a *App) statusRows() int {
	if a.statusErr && a.phase == phaseChat && a.h >= 10 && ansi.StringWidth(safeLine(a.status))+1 > a.w {
		return 2
	}
	return 1
}

// convWidth is the width of the conversation pane.
func (a *App) convWidth() int {
	if !a.sidebarShown() {
		return a.w
	}
	return a.w - a.sidebarWidth() - 1
}

// textWidth is the width messages are rendered at: the pane minus a
// one-column left margin.
func (a *App) textWidth() int { return max(1, a.convWidth()-1) }

// convRows is the number of message lines (the pane minus its header).
func (a *App) convRows() int { return a.mainRows() - 1 }

func (a *App) layout() {
	a.sidebar.SetSize(a.sidebarWidth(), a.mainRows())
	a.composer.SetWidth(a.w)
	a.sideDirty = true
	a.mainDirty = true
}

// Keys.

func (a *App) handleKey(k tea.KeyPressMsg, wasDirty bool) (tea.Model, tea.Cmd) {
	if key.Matches(k, a.keys.Quit) {
		return a, tea.Quit
	}
	switch a.phase {
	case phaseLogin:
		return a, a.loginKey(k)
	case phaseChat:
	default:
		return a, nil
	}
	if a.dialog != nil {
		return a, a.dialogKey(k)
	}
	switch {
	case key.Matches(k, a.keys.NextConv):
		return a, a.cycle(1)
	case key.Matches(k, a.keys.PrevConv):
		return a, a.cycle(-1)
	case key.Matches(k, a.keys.PageUp):
		return a, a.pageUp()
	case key.Matches(k, a.keys.PageDown):
		return a, a.pageDown()
	}
	if a.focus == focusSidebar {
		return a, a.sidebarKey(k)
	}
	switch {
	case key.Matches(k, a.keys.Sidebar):
		a.setFocus(focusSidebar)
		return a, nil
	case key.Matches(k, a.keys.Enter):
		return a, a.submit()
	case key.Matches(k, a.keys.Up):
		if !a.recallUnsent() {
			a.recallLine(-1)
		}
		return a, nil
	case key.Matches(k, a.keys.Down):
		a.recallLine(1)
		return a, nil
	}
	// Plain typing only changes the input line: keep the cached main area.
	a.mainDirty = wasDirty
	return a, a.edit(k)
}

// maxRecall bounds the lines Up/Down can recall.
const maxRecall = 100

// recallLine steps through the lines entered before (Up older, Down
// newer; past the newest the input is empty again). It works from an empty
// input or from a recalled line not edited since, so it never replaces a
// draft being written.
func (a *App) recallLine(delta int) {
	lines := a.sentLines[a.current]
	browsing := a.recall < len(lines) && a.composer.Rev() == a.recallRev
	if !browsing {
		if a.composer.Len() != 0 {
			return
		}
		a.recall = len(lines)
	}
	i := clampInt(a.recall+delta, 0, len(lines))
	if i == a.recall {
		return
	}
	a.recall = i
	if i == len(lines) {
		a.composer.Reset()
	} else {
		a.composer.SetValue(lines[i])
	}
	a.recallRev = a.composer.Rev()
}

// remember adds a line entered in the conversation in front to its
// recall list.
func (a *App) remember(line string) {
	lines := a.sentLines[a.current]
	if n := len(lines); n > 0 && lines[n-1] == line {
		a.recall = n
		return
	}
	if len(lines) >= maxRecall {
		lines = slices.Delete(lines, 0, 1)
	}
	if a.sentLines == nil {
		a.sentLines = make(map[chat.ConvID][]string)
	}
	a.sentLines[a.current] = append(lines, line)
	a.recall = len(a.sentLines[a.current])
}

// edit passes a key or paste to the input; an edit clears the status line.
// Text that would take the draft past the message limit is refused, and
// the status line says so.
func (a *App) edit(msg tea.Msg) tea.Cmd {
	before := a.composer.Rev()
	if !a.composer.Update(msg) {
		// Shown once while the keys keep coming: no timer per key.
		if text := tooLongText("message", a.composer.Len()+1, defaultLimit) + "; that was not added"; a.status != text {
			a.setError(text)
		}
		return nil
	}
	if a.status != "" && a.composer.Rev() != before {
		a.clearStatus()
	}
	return nil
}

// tooLongText says that a line of n characters is over the limit, with the
// count: "message too long: 2,431/2,000 characters".
func tooLongText(what string, n, limit int) string {
	return fmt.Sprintf("%s too long: %s/%s characters", what, thousands(n), thousands(limit))
}

func (a *App) setFocus(f focusArea) {
	if f != a.focus && a.status != "" {
		a.clearStatus() // the new mode shows its own hints
	}
	if f != a.focus {
		a.sideDirty = true // the online list is cut only without focus
	}
	a.focus = f
	a.sidebar.SetFocused(f == focusSidebar)
	if f == focusSidebar {
		a.composer.Blur()
	} else {
		a.composer.Focus()
	}
}

func (a *App) sidebarKey(k tea.KeyPressMsg) tea.Cmd {
	a.ensureSidebar()
	switch {
	case key.Matches(k, a.keys.Sidebar):
		a.setFocus(focusInput)
	case key.Matches(k, a.keys.Up):
		a.sidebar.move(-1)
	case key.Matches(k, a.keys.Down):
		a.sidebar.move(1)
	case key.Matches(k, a.keys.Enter):
		it, ok := a.sidebar.selected()
		if !ok {
			return nil
		}
		a.setFocus(focusInput)
		switch it.kind {
		case itemConv:
			return a.switchTo(it.conv)
		case itemContact, itemPerson:
			// Opening a DM goes through the broker: it knows (or creates)
			// the conversation and answers with Reply.Open, sending nothing.
			return a.enqueue(outItem{exec: true, conv: a.current, text: "/msg " + it.handle})
		case itemSelf:
			return a.enqueue(outItem{exec: true, conv: a.current, text: "/whois " + it.handle})
		}
	default:
		if k.Text != "" {
			// Typing while the sidebar has focus goes back to the input.
			a.setFocus(focusInput)
			return a.edit(k)
		}
	}
	return nil
}

func (a *App) dialogKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, a.keys.Up):
		a.dialog.move(-1)
	case key.Matches(k, a.keys.Down):
		a.dialog.move(1)
	case key.Matches(k, a.keys.Back):
		return a.dismissDialog()
	case key.Matches(k, a.keys.Enter):
		g := a.dialog.selected()
		cmd := a.dismissDialog()
		c := a.ensureConv(chat.Conversation{ID: g.Conv, Kind: convKindOf(g.Conv), Name: nameOf(g), Peer: g.From})
		return tea.Batch(cmd, a.switchTo(c.info.ID))
	}
	return nil
}

func convKindOf(id chat.ConvID) chat.ConvKind {
	if strings.HasPrefix(string(id), "#") {
		return chat.KindRoom
	}
	return chat.KindDirect
}

func nameOf(g chat.OfflineGroup) string {
	if convKindOf(g.Conv) == chat.KindRoom {
		return string(g.Conv)
	}
	return g.FromHandle
}

// dismissDialog closes the offline dialog and, once, tells the broker.
func (a *App) dismissDialog() tea.Cmd {
	a.dialog = nil
	if a.dismissed || a.sess == nil {
		return nil
	}
	a.dismissed = true
	sess, ctx, lg := a.sess, a.cfg.ctx, a.cfg.logger
	return func() tea.Msg {
		err := sess.DismissOffline(ctx)
		logUnexpected(lg, "dismiss offline", err)
		return dismissedMsg{err: err}
	}
}

func (a *App) handlePaste(p tea.PasteMsg, wasDirty bool) (tea.Model, tea.Cmd) {
	switch {
	case a.phase == phaseLogin:
		a.mainDirty = wasDirty
		return a, a.login.Update(p)
	case a.phase != phaseChat || a.dialog != nil:
		return a, nil
	}
	if !a.composer.Fits(p.Content) {
		n := a.composer.Len() + len([]rune(cleanInput(p.Content)))
		a.setError(tooLongText("paste", n, defaultLimit) + " with the draft; nothing was pasted")
		return a, nil
	}
	if a.focus == focusSidebar {
		a.setFocus(focusInput)
	} else {
		a.mainDirty = wasDirty
	}
	return a, a.edit(p)
}

// Login.

func (a *App) loginKey(k tea.KeyPressMsg) tea.Cmd {
	l := a.login
	if !key.Matches(k, a.keys.Enter) {
		return l.Update(k)
	}
	handle := l.Value()
	if handle == "" || l.busy {
		return nil
	}
	l.busy, l.err = true, ""
	b, ctx, ck, lg := a.cfg.broker, a.cfg.ctx, a.cfg.key, a.cfg.logger
	return func() tea.Msg {
		acct, err := b.Register(ctx, ck, handle)
		logUnexpected(lg, "register", err)
		return registeredMsg{acct: acct, err: err}
	}
}

func (a *App) registered(msg registeredMsg) tea.Cmd {
	if a.login == nil {
		return nil
	}
	a.login.busy = false
	if msg.err != nil {
		a.login.err = userText(msg.err)
		return nil
	}
	a.login = nil
	a.phase = phaseConnecting
	a.me = msg.acct
	return a.connectCmd(msg.acct)
}

func (a *App) connectCmd(acct chat.Account) tea.Cmd {
	connect, ctx, lg := a.cfg.connect, a.cfg.ctx, a.cfg.logger
	return func() tea.Msg {
		sess, err := connect(ctx, acct)
		if err != nil {
			logUnexpected(lg, "connect", err)
			return connectedMsg{err: err}
		}
		return connectedMsg{sess: sess, snap: sess.Snapshot()}
	}
}

// connected sets up the chat screen from the session's snapshot.
func (a *App) connected(msg connectedMsg) tea.Cmd {
	if msg.err != nil {
		return a.end("could not join: " + userText(msg.err))
	}
	a.sess = msg.sess
	a.phase = phaseChat
	snap := msg.snap
	if snap.Me.ID != 0 || snap.Me.Handle != "" {
		a.me = snap.Me
	}
	a.rc.me = a.me.ID
	a.rc.meHandle = a.me.Handle
	a.ensureConv(chat.Conversation{ID: chat.Lobby, Kind: chat.KindRoom, Name: string(chat.Lobby)})
	for _, c := range snap.Conversations {
		a.ensureConv(c).info.Unread = c.Unread
	}
	a.current = chat.Lobby
	if lobby := a.convs[chat.Lobby]; lobby != nil {
		lobby.info.Unread = 0
	}
	a.online = snap.Online
	a.contacts = snap.Contacts
	lobby := a.convs[chat.Lobby]
	n := snap.Online.Len()
	welcome := fmt.Sprintf("Welcome to %s, %s! %d %s online.", a.cfg.serverName, a.me.Handle,
		n, plural(n, "person is", "people are"))
	lobby.addSystem(welcome, entSystem)
	if motd := strings.TrimSpace(a.cfg.motd); motd != "" {
		lobby.addSystem(motd, entSystem)
	}
	lobby.addSystem("Type a message and press Enter; /help lists the commands.", entSystem)
	if len(snap.Offline) > 0 {
		a.dialog = newOfflineDialog(snap.Offline)
	}
	a.sideDirty = true
	cmds := []tea.Cmd{a.loadLatest(lobby)}
	if attach := a.cfg.attach; attach != nil {
		sess := a.sess
		cmds = append(cmds, func() tea.Msg { attach(sess); return nil })
	}
	return tea.Batch(cmds...)
}

// end shows a final notice and quits shortly after.
func (a *App) end(text string) tea.Cmd {
	if a.phase == phaseEnding && a.exitReason != "" {
		return nil
	}
	a.phase = phaseEnding
	a.exitReason = text
	a.setError(text)
	if c := a.convs[a.current]; c != nil {
		c.addSystem(text, entError)
		c.offset = 0
	}
	return tea.Tick(a.cfg.quitDelay, func(time.Time) tea.Msg { return quitNowMsg{} })
}

// Conversations.

// ensureConv returns the conversation, creating its sidebar entry if new.
func (a *App) ensureConv(info chat.Conversation) *Conversation {
	if c, ok := a.convs[info.ID]; ok {
		if info.Name != "" && info.Name != c.info.Name {
			c.info.Name = info.Name
			a.sideDirty = true
		}
		return c
	}
	if info.Name == "" {
		info.Name = string(info.ID)
	}
	c := newConversation(info)
	a.convs[info.ID] = c
	a.order = append(a.order, c)
	a.sideDirty = true
	return c
}

// switchTo brings a conversation to the front, marks it read and loads its
// newest page the first time.
func (a *App) switchTo(id chat.ConvID) tea.Cmd {
	c := a.convs[id]
	if c == nil {
		return nil
	}
	var cmds []tea.Cmd
	if prev := a.convs[a.current]; prev != nil && prev != c {
		cmds = append(cmds, a.markRead(prev))
	}
	if id != a.current {
		a.swapDraft(id)
	}
	a.current = id
	a.clearStatus()
	if c.info.Unread != 0 {
		c.info.Unread = 0
	}
	a.sideDirty = true
	if !c.loaded {
		cmds = append(cmds, a.loadLatest(c))
	} else {
		cmds = append(cmds, a.markRead(c))
	}
	return tea.Batch(cmds...)
}

// swapDraft keeps the input of the conversation in front as its draft and
// puts the draft of conversation id (or nothing) in the input, so a line
// typed for one conversation is never sent to another.
func (a *App) swapDraft(id chat.ConvID) {
	if a.drafts == nil {
		a.drafts = make(map[chat.ConvID]string)
	}
	if v := a.composer.Value(); v != "" {
		a.drafts[a.current] = v
	} else {
		delete(a.drafts, a.current)
	}
	if d, ok := a.drafts[id]; ok {
		a.composer.SetValue(d)
		delete(a.drafts, id)
	} else {
		a.composer.Reset()
	}
	a.recall = len(a.sentLines[id])
}

// cycle moves to the next (delta 1) or previous conversation in the
// sidebar's order, which is the order conversations were opened in (the
// lobby first): it does not change as messages arrive, so Tab walks the
// list as it is shown.
func (a *App) cycle(delta int) tea.Cmd {
	if len(a.order) == 0 {
		return nil
	}
	i := 0
	for j, c := range a.order {
		if c.info.ID == a.current {
			i = j
		}
	}
	i = (i + delta + len(a.order)) % len(a.order)
	return a.switchTo(a.order[i].info.ID)
}

// markRead tells the broker c was read up to its newest loaded message.
func (a *App) markRead(c *Conversation) tea.Cmd {
	newest := c.newestID()
	if newest == 0 || newest <= c.readUpTo || a.sess == nil {
		return nil
	}
	c.readUpTo = newest
	sess, ctx, id, lg := a.sess, a.cfg.ctx, c.info.ID, a.cfg.logger
	return func() tea.Msg {
		err := sess.MarkRead(ctx, id, newest)
		logUnexpected(lg, "mark read", err)
		return markedMsg{err: err}
	}
}

// scheduleMarkRead debounces read markers for the conversation in front.
func (a *App) scheduleMarkRead() tea.Cmd {
	if a.markPending {
		return nil
	}
	a.markPending = true
	return tea.Tick(a.cfg.markDelay, func(time.Time) tea.Msg { return markTickMsg{} })
}

// History.

func (a *App) loadLatest(c *Conversation) tea.Cmd { return a.loadHistory(c, 0, false) }

func (a *App) loadHistory(c *Conversation, before chat.MessageID, reload bool) tea.Cmd {
	if a.sess == nil || c.loading {
		return nil
	}
	c.loading = true
	sess, ctx, id, n, lg := a.sess, a.cfg.ctx, c.info.ID, a.cfg.pageSize, a.cfg.logger
	return func() tea.Msg {
		msgs, err := sess.History(ctx, id, before, n)
		logUnexpected(lg, "history", err)
		return historyMsg{conv: id, before: before, reload: reload, msgs: msgs, err: err}
	}
}

func (a *App) historyLoaded(msg historyMsg) tea.Cmd {
	c := a.convs[msg.conv]
	if c == nil {
		return nil
	}
	c.loading = false
	if msg.err != nil {
		a.setError("history: " + userText(msg.err))
		return nil
	}
	full := len(msg.msgs) >= a.cfg.pageSize
	switch {
	case msg.reload:
		c.resetToLatest(msg.msgs)
		c.hasOlder = full
	case msg.before == 0:
		c.mergeHistory(msg.msgs)
		c.loaded = true
		if !full && c.oldestID() <= oldestOf(msg.msgs) {
			c.hasOlder = false
		}
		c.trimOld(a.window(c))
	default:
		c.mergeHistory(msg.msgs)
		c.hasOlder = full
		c.trimNew(a.cfg.maxWindow, &a.rc, a.textWidth())
	}
	if c.info.ID == a.current {
		return a.markRead(c)
	}
	return nil
}

func oldestOf(msgs []chat.Message) chat.MessageID {
	if len(msgs) == 0 {
		return 1<<62 - 1
	}
	return msgs[0].ID
}

func (a *App) pageUp() tea.Cmd {
	c := a.convs[a.current]
	if c == nil {
		return nil
	}
	rows, w := a.convRows(), a.textWidth()
	total := c.totalLines(&a.rc, w)
	c.offset += max(1, rows-1)
	if c.offset < total-rows {
		return nil
	}
	c.offset = max(0, total-rows)
	if !c.hasOlder || !c.loaded || c.loading {
		return nil
	}
	before := c.oldestID()
	if before == 0 {
		c.hasOlder = false
		return nil
	}
	return a.loadHistory(c, before, false)
}

func (a *App) pageDown() tea.Cmd {
	c := a.convs[a.current]
	if c == nil {
		return nil
	}
	c.offset -= max(1, a.convRows()-1)
	if c.offset > 0 {
		return nil
	}
	c.offset, c.newBelow = 0, 0
	if c.hasNewer {
		return a.loadHistory(c, 0, true)
	}
	return nil
}

// Sending.

func (a *App) submit() tea.Cmd {
	if n := a.composer.Len(); n > defaultLimit {
		// Never cut: nothing is sent until the line fits.
		a.setError(tooLongText("line", n, defaultLimit) + "; shorten it to send")
		return nil
	}
	typed := strings.TrimSpace(a.composer.Value())
	if typed == "" {
		return nil
	}
	it := outItem{conv: a.current, text: typed, typed: typed}
	switch {
	case strings.HasPrefix(typed, "//"):
		it.text = typed[1:] // "//text" sends "/text"
	case strings.HasPrefix(typed, "/"):
		it.exec = true
	}
	if len(a.outbox) >= maxOutbox {
		// Refused as a whole: the line stays in the input, unsent and
		// unmerged, until the outbox drains.
		a.setError(fmt.Sprintf("slow down: %d lines are waiting to be sent; this one was not sent", len(a.outbox)))
		return nil
	}
	a.composer.Reset()
	a.remember(typed)
	if !a.slowShown {
		a.clearStatus()
	}
	return a.enqueue(it)
}

func (a *App) enqueue(it outItem) tea.Cmd {
	a.outbox = append(a.outbox, it)
	return a.flushOutbox()
}

// flushOutbox starts the line at the head of the outbox unless one is in
// flight or waiting for its retry. The line stays at the head until the
// broker has answered for good (see finishHead).
func (a *App) flushOutbox() tea.Cmd {
	if a.inflight || a.retryWait || len(a.outbox) == 0 || a.sess == nil {
		return nil
	}
	it := a.outbox[0]
	a.inflight = true
	sess, ctx, lg := a.sess, a.cfg.ctx, a.cfg.logger
	if it.exec {
		return func() tea.Msg {
			r, err := sess.Exec(ctx, it.conv, it.text)
			logUnexpected(lg, "exec", err)
			return execMsg{item: it, reply: r, err: err}
		}
	}
	return func() tea.Msg {
		m, err := sess.Send(ctx, it.conv, it.text)
		logUnexpected(lg, "send", err)
		return sentMsg{item: it, msg: m, err: err}
	}
}

// finishHead ends the head's call. A line refused for sending too fast
// stays at the head and is retried after retryDelay (retry is that Cmd,
// non-nil); any other outcome removes it, and the next line starts (next).
func (a *App) finishHead(err error) (next, retry tea.Cmd) {
	a.inflight = false
	if errors.Is(err, chat.ErrRateLimited) && len(a.outbox) > 0 {
		a.retryWait = true
		a.setError(fmt.Sprintf("slow down: %d %s waiting to be sent", len(a.outbox), plural(len(a.outbox), "line", "lines")))
		a.slowShown = true
		return nil, tea.Tick(a.cfg.retryDelay, func(time.Time) tea.Msg { return retryMsg{} })
	}
	if len(a.outbox) > 0 {
		a.outbox = a.outbox[1:]
	}
	if a.slowShown && (err == nil || len(a.outbox) == 0) {
		a.clearStatus()
	}
	return a.flushOutbox(), nil
}

// failed shows why a line was not accepted. A refused line goes back to
// the input when the input is empty and its conversation is in front, or
// becomes the empty draft of its conversation when another is in front, so
// it never merges with new typing nor lands in another conversation. A
// line the server could not store is never put back by itself: that
// answer comes late (after the store's busy timeout), when the user may
// be typing on, taking it for sent. Otherwise Up on an empty input in its
// conversation recalls it.
func (a *App) failed(it outItem, err error) {
	text := userText(err)
	late := errors.Is(err, chat.ErrStorageUnavailable)
	switch {
	case it.typed == "":
	case !late && it.conv != a.current && it.conv != "" && a.drafts[it.conv] == "":
		// Its conversation is not in front: it becomes that one's draft.
		if a.drafts == nil {
			a.drafts = make(map[chat.ConvID]string)
		}
		a.drafts[it.conv] = it.typed
	case !late && it.conv == a.current && a.composer.Len() == 0:
		a.composer.SetValue(it.typed)
	default:
		a.unsent = append(a.unsent, it)
		if c := a.convs[it.conv]; c != nil && it.conv != a.current {
			text += " (↑ on an empty line in " + c.info.Name + " recalls it)"
		} else {
			text += " (↑ on an empty line recalls it)"
		}
	}
	a.setError(text)
}

// recallUnsent puts the newest failed line of the conversation in front
// back into the empty input.
func (a *App) recallUnsent() bool {
	if a.composer.Value() != "" {
		return false
	}
	for i := len(a.unsent) - 1; i >= 0; i-- {
		if a.unsent[i].conv == a.current {
			a.composer.SetValue(a.unsent[i].typed)
			a.unsent = append(a.unsent[:i], a.unsent[i+1:]...)
			return true
		}
	}
	return false
}

func (a *App) sent(msg sentMsg) tea.Cmd {
	next, retry := a.finishHead(msg.err)
	if retry != nil {
		return retry
	}
	if msg.err != nil {
		a.failed(msg.item, msg.err)
		return next
	}
	m := msg.msg
	if m.Conv == "" {
		m.Conv = msg.item.conv
	}
	c := a.convs[m.Conv]
	if c == nil {
		return next
	}
	if c.hasNewer {
		return tea.Batch(next, a.loadHistory(c, 0, true))
	}
	a.appendMessage(c, m)
	a.noteAway(c)
	return next
}

// noteAway tells, once per away spell, that the peer of a direct
// conversation a message was just sent to is away, with their reason.
func (a *App) noteAway(c *Conversation) {
	if c.info.Kind != chat.KindDirect {
		return
	}
	p, ok := a.online.Lookup(c.info.Peer)
	if !ok || p.Status != chat.Away || a.awayTold[p.User] {
		return
	}
	if a.awayTold == nil {
		a.awayTold = make(map[chat.UserID]bool)
	}
	a.awayTold[p.User] = true
	text := p.Handle + " is away"
	if r := strings.TrimSpace(p.Reason); r != "" {
		text += ": " + r
	}
	c.addSystem(text+" — they will see it when back", entSystem)
	c.trimOld(a.window(c))
}

func (a *App) executed(msg execMsg) tea.Cmd {
	next, retry := a.finishHead(msg.err)
	if retry != nil {
		return retry
	}
	cmds := []tea.Cmd{next}
	r := msg.reply
	// A reply may open a conversation even when the command then failed
	// ("/msg bob hi" opens the DM, then the send is refused).
	if r.Open != nil && r.Open.ID != "" {
		a.ensureConv(*r.Open)
		cmds = append(cmds, a.switchTo(r.Open.ID))
	}
	if msg.err != nil {
		a.setError(userText(msg.err))
		return tea.Batch(cmds...)
	}
	if len(r.Lines) > 0 {
		if c := a.convs[a.current]; c != nil {
			c.addSystem(strings.Join(r.Lines, "\n"), entSystem)
			c.offset = 0
			c.trimOld(a.window(c))
		}
	}
	if r.Quit {
		cmds = append(cmds, tea.Quit)
	}
	return tea.Batch(cmds...)
}

// appendMessage adds m to c (if new) and keeps the view still when the user
// has scrolled up. It reports whether m was new.
func (a *App) appendMessage(c *Conversation, m chat.Message) bool {
	e, added := c.addMessage(m)
	if !added {
		return false
	}
	if c.info.ID == a.current && c.offset > 0 {
		c.offset += len(e.render(&a.rc, a.textWidth()))
		c.newBelow++
	} else if n := len(c.entries) - a.renderKeep(); n >= 0 {
		// Following the newest messages: drop the rendered lines of an
		// entry that scrolled far out of view, so render caches stay
		// bounded while the messages themselves stay in the window.
		c.entries[n].lines = nil
	}
	c.trimOld(a.window(c))
	return true
}

// Events.

func (a *App) applyEvents(evs eventsMsg) tea.Cmd {
	if a.phase != phaseChat {
		return nil
	}
	var cmds []tea.Cmd
	bell := false
	for _, ev := range evs {
		switch ev := ev.(type) {
		case chat.MessageEvent:
			a.flushNotes()
			ring, cmd := a.onMessage(ev)
			bell = bell || ring
			cmds = append(cmds, cmd)
		case *chat.MessageEvent:
			a.flushNotes()
			ring, cmd := a.onMessage(*ev)
			bell = bell || ring
			cmds = append(cmds, cmd)
		case chat.PresenceEvent:
			a.onPresence(ev, &a.notes)
		case *chat.PresenceEvent:
			a.onPresence(*ev, &a.notes)
		case chat.ContactsEvent:
			a.contacts = ev.Contacts
			a.sideDirty = true
		case *chat.ContactsEvent:
			a.contacts = ev.Contacts
			a.sideDirty = true
		case chat.NoticeEvent:
			a.flushNotes()
			a.onNotice(ev)
		case *chat.NoticeEvent:
			a.flushNotes()
			a.onNotice(*ev)
		case chat.ReadEvent:
			a.onRead(ev)
		case *chat.ReadEvent:
			a.onRead(*ev)
		case chat.ShutdownEvent:
			return a.onShutdown(ev)
		case *chat.ShutdownEvent:
			return a.onShutdown(*ev)
		}
	}
	if !a.flushNotes() && !a.notesTick && !a.notes.empty() {
		a.notesTick = true
		cmds = append(cmds, tea.Tick(a.cfg.noticeEvery, func(time.Time) tea.Msg { return notesTickMsg{} }))
	}
	if bell {
		// BEL goes to the terminal as a raw write, never inside the view.
		cmds = append(cmds, tea.Raw("\a"))
	}
	return tea.Batch(cmds...)
}

// onMessage files a live message; it reports whether it deserves the bell.
func (a *App) onMessage(ev chat.MessageEvent) (bool, tea.Cmd) {
	m := ev.Message
	info := ev.Conversation
	if info.ID == "" {
		info.ID = m.Conv
	}
	if m.Conv == "" {
		m.Conv = info.ID
	}
	c, known := a.convs[m.Conv]
	if !known {
		info.Unread = 0
		c = a.ensureConv(info)
	}
	fromMe := m.From == a.me.ID
	if !c.hasNewer && !a.appendMessage(c, m) {
		return false, nil // already shown (our own Send's result, or history)
	}
	if fromMe {
		return false, nil
	}
	if c.info.ID == a.current {
		return false, a.scheduleMarkRead()
	}
	c.info.Unread++
	a.sideDirty = true
	return c.info.Kind == chat.KindDirect || mentions(m.Body, a.me.Handle), nil
}

// onRead applies a read marker set by another session of the user: the
// conversation's unread count drops to the messages after UpTo that this
// session has (none, usually), and this session will not mark it again.
func (a *App) onRead(ev chat.ReadEvent) {
	c := a.convs[ev.Conv]
	if c == nil {
		return
	}
	c.readUpTo = max(c.readUpTo, ev.UpTo)
	if c.info.Unread == 0 {
		return
	}
	n, bounded := 0, !c.hasOlder
	for i := len(c.entries) - 1; i >= 0 && n < c.info.Unread; i-- {
		e := &c.entries[i]
		if e.kind != entMessage {
			continue
		}
		if e.msg.ID <= ev.UpTo {
			bounded = true
			break
		}
		if e.msg.From != a.me.ID {
			n++
		}
	}
	// The window holds only the newest messages: when UpTo is older than
	// all of them, the count after it is unknown here and stays as it is.
	if bounded && n < c.info.Unread {
		c.info.Unread = n
		a.sideDirty = true
	}
}

// onPresence applies one presence change. Join and leave notices are not
// added here but collected in notes, so that a batch of them (a busy lobby,
// a connect storm) becomes one summary line.
func (a *App) onPresence(ev chat.PresenceEvent, notes *presenceNotes) {
	p := ev.Presence
	lobby := a.convs[chat.Lobby]
	if ev.OldHandle != "" && ev.OldHandle != p.Handle {
		// The user's own sessions are told "you are now known as …" by a
		// notice from the broker instead.
		if lobby != nil && p.User != a.me.ID {
			notes.flush(a)
			lobby.addSystem(fmt.Sprintf("%s is now known as %s", ev.OldHandle, p.Handle), entSystem)
		}
		for _, c := range a.order {
			if c.info.Kind == chat.KindDirect && c.info.Peer == p.User {
				c.info.Name = p.Handle
			}
			c.renameAuthor(p.User, p.Handle)
		}
		if p.User == a.me.ID {
			a.me.Handle = p.Handle
			a.rc.meHandle = p.Handle
			a.dropRenderCaches() // mentions of the new handle are highlighted
		}
	}
	delete(a.awayTold, p.User) // a new away spell is told again
	if p.User != a.me.ID {
		switch {
		case ev.Joined:
			notes.add(p.User, p.Handle, true)
		case ev.Left:
			notes.add(p.User, p.Handle, false)
		}
	}
	if p.Status == chat.Offline && !p.LastSeen.IsZero() {
		if a.lastSeen == nil {
			a.lastSeen = make(map[chat.UserID]time.Time)
		}
		a.lastSeen[p.User] = p.LastSeen
	}
	if ev.Online != nil {
		a.online = ev.Online
	} else {
		a.online = a.online.With(p)
	}
	copied := false
	for i := range a.contacts {
		if a.contacts[i].User == p.User {
			if !copied {
				// The slice came from the broker and may be shared with
				// this user's other sessions.
				a.contacts = slices.Clone(a.contacts)
				copied = true
			}
			a.contacts[i].Presence = p
		}
	}
	a.sideDirty = true
}

// presenceNotes collects the joins and leaves of one batch of events for
// the lobby: one join is "bob joined", as before; a burst becomes one line
// such as "alice, bob, carol and 12 others joined", so a connect storm
// neither floods the lobby nor costs every session a line per login.
type presenceNotes struct {
	joined, left []presenceNote
}

type presenceNote struct {
	user   chat.UserID
	handle string
}

// maxNamed is how many handles a summary line names.
const maxNamed = 3

// In a lobby of more than quietLobby people, join and leave lines are
// added at most once per noticeEvery, each summarising everyone who came
// or went since the last one; in a smaller lobby every batch gets its line
// at once. (IRC servers hide joins in big channels; we keep them, but
// rate-limited, because a line per login is noise there and, in a connect
// storm, a repaint of every screen per login.)
const (
	quietLobby  = 30
	noticeEvery = 10 * time.Second
)

// flushNotes adds the pending join/leave lines to the lobby if the rate
// limit allows; it reports whether nothing is left pending.
func (a *App) flushNotes() bool {
	if a.notes.empty() {
		return true
	}
	now := a.cfg.now()
	if a.online.Len() > quietLobby && now.Sub(a.notesAt) < a.cfg.noticeEvery {
		return false
	}
	a.notes.flush(a)
	a.notesAt = now
	return true
}

func (n *presenceNotes) empty() bool { return len(n.joined) == 0 && len(n.left) == 0 }

// add records a join or leave. A leave cancels a join of the same batch
// (and a join a leave): whoever came and went within one batch is not
// mentioned at all.
func (n *presenceNotes) add(id chat.UserID, handle string, joined bool) {
	this, other := &n.left, &n.joined
	if joined {
		this, other = &n.joined, &n.left
	}
	if i := slices.IndexFunc(*other, func(x presenceNote) bool { return x.user == id }); i >= 0 {
		*other = slices.Delete(*other, i, i+1)
		return
	}
	*this = append(*this, presenceNote{id, handle})
}

// flush adds the collected lines to the lobby and resets n.
func (n *presenceNotes) flush(a *App) {
	if len(n.joined) == 0 && len(n.left) == 0 {
		return
	}
	if lobby := a.convs[chat.Lobby]; lobby != nil {
		if len(n.joined) > 0 {
			lobby.addSystem(summarise(n.joined)+" joined", entSystem)
		}
		if len(n.left) > 0 {
			lobby.addSystem(summarise(n.left)+" left", entSystem)
		}
		lobby.trimOld(a.window(lobby))
	}
	// Released, not kept for reuse: a connect storm's arrays would stay
	// with every session for good.
	n.joined, n.left = nil, nil
}

// summarise names up to maxNamed people: "bob", "alice and bob",
// "alice, bob and carol", "alice, bob, carol and 4 others".
func summarise(ps []presenceNote) string {
	names := make([]string, 0, maxNamed)
	for _, p := range ps[:min(len(ps), maxNamed)] {
		names = append(names, p.handle)
	}
	rest := len(ps) - len(names)
	switch {
	case rest == 1:
		return strings.Join(names, ", ") + " and 1 other"
	case rest > 1:
		return strings.Join(names, ", ") + fmt.Sprintf(" and %d others", rest)
	case len(names) == 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func (a *App) onNotice(ev chat.NoticeEvent) {
	c := a.convs[ev.Conv]
	if c == nil {
		c = a.convs[a.current]
	}
	if c == nil {
		return
	}
	c.addSystem(ev.Text, entSystem)
	c.trimOld(a.window(c))
}

func (a *App) onShutdown(ev chat.ShutdownEvent) tea.Cmd {
	text := "server shutting down"
	if r := strings.TrimSpace(ev.Reason); r != "" && r != text {
		text += ": " + r
	}
	return a.end(text)
}

// setError shows text in the status line as an error until the next edit
// of the input, a mode change or statusTTL, whichever comes first.
func (a *App) setError(text string) {
	rows := a.statusRows()
	a.status, a.statusErr, a.slowShown = text, true, false
	a.statusUntil = a.cfg.now().Add(a.cfg.statusTTL)
	a.statusGen++
	a.statusTimer = true
	if a.statusRows() != rows {
		a.layout()
	}
}

// clearStatus empties the status line (the key hints come back).
func (a *App) clearStatus() {
	rows := a.statusRows()
	a.status, a.statusErr, a.slowShown = "", false, false
	if a.statusRows() != rows {
		a.layout()
	}
}

// ensureSidebar rebuilds the sidebar rows if their data changed.
func (a *App) ensureSidebar() {
	if !a.sideDirty {
		return
	}
	a.sidebar.rebuild(a.st, sidebarData{
		convs:    a.order,
		current:  a.current,
		contacts: a.contacts,
		online:   a.online,
		me:       a.me.ID,
		now:      a.cfg.now(),
		focused:  a.focus == focusSidebar,
	})
	a.sideDirty = false
}

// View draws the screen.
func (a *App) View() tea.View {
	var v tea.View
	v.AltScreen = true
	switch a.phase {
	case phaseLogin:
		lines, row := a.login.View(a.st, a.cfg.serverName, a.w)
		for len(lines) < a.h-1 {
			lines = append(lines, "")
		}
		lines = append(lines[:a.h-1], a.statusLine())
		v.SetContent(strings.Join(lines, "\n"))
		if c := a.login.Cursor(); c != nil && row < a.h-1 {
			c.Y += row
			c.X++
			v.Cursor = c
		}
		return v
	case phaseConnecting:
		v.SetContent(" " + a.st.System.Render("joining "+safeLine(a.cfg.serverName)+"…"))
		return v
	}
	if a.mainDirty || a.sideDirty || a.mainCache == "" {
		a.mainCache = a.mainView()
		a.mainDirty = false
	}
	var b strings.Builder
	b.Grow(len(a.mainCache) + 2*a.w + 64)
	b.WriteString(a.mainCache)
	b.WriteByte('\n')
	b.WriteString(a.composer.View())
	b.WriteByte('\n')
	b.WriteString(a.statusLine())
	v.SetContent(b.String())
	if a.focus == focusInput && a.dialog == nil && a.phase == phaseChat {
		if c := a.composer.Cursor(); c != nil {
			c.Y = a.mainRows()
			c.X = min(c.X, a.w-1)
			v.Cursor = c
		}
	}
	return v
}

// mainView draws everything above the input line: sidebar, conversation
// pane or the offline dialog, as one string of mainRows lines.
func (a *App) mainView() string {
	rows := a.mainRows()
	var lines, side []string
	switch {
	case a.dialog != nil:
		lines = a.dialog.View(&a.rc, a.w, rows)
	case a.focus == focusSidebar && !a.sidebarShown():
		a.ensureSidebar()
		lines = a.sidebar.View(a.st)
	default:
		lines = a.conversationPane(a.convWidth(), rows)
		if a.sidebarShown() {
			a.ensureSidebar()
			side = a.sidebar.View(a.st)
		}
	}
	sep := a.st.pSeparator.s("│")
	size := 0
	for i := range rows {
		if i < len(side) {
			size += len(side[i]) + len(sep)
		}
		if i < len(lines) {
			size += len(lines[i])
		}
		size++
	}
	var b strings.Builder
	b.Grow(size)
	for i := range rows {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i < len(side) {
			b.WriteString(side[i])
			b.WriteString(sep)
		}
		if i < len(lines) {
			b.WriteString(lines[i])
		}
	}
	return b.String()
}

// conversationPane is the header plus the visible messages, rows lines of
// at most w cells.
func (a *App) conversationPane(w, rows int) []string {
	c := a.convs[a.current]
	if c == nil {
		return make([]string, rows)
	}
	out := c.visible(&a.rc, a.textWidth(), rows-1)
	out = append(out, "")
	copy(out[1:], out)
	out[0] = fit(a.header(c), w)
	for i := 1; i < len(out); i++ {
		if out[i] != "" {
			out[i] = " " + out[i] // left margin
		}
	}
	return out
}

func (a *App) header(c *Conversation) string {
	st := a.st
	title := st.pHeader.s(" " + safeLine(c.info.Name))
	var extra []string
	if c.info.ID == chat.Lobby {
		extra = append(extra, fmt.Sprintf("%d online", a.online.Len()))
	} else if c.info.Kind == chat.KindDirect {
		extra = append(extra, a.peerStatus(c.info.Peer))
	}
	if !a.sidebarShown() {
		// The sidebar is hidden: say what it would show.
		unread := 0
		for id, other := range a.convs {
			if id != c.info.ID {
				unread += other.info.Unread
			}
		}
		if unread > 0 {
			extra = append(extra, fmt.Sprintf("%d unread elsewhere (esc)", unread))
		}
	}
	if c.loading {
		extra = append(extra, "loading…")
	}
	if c.offset > 0 {
		if c.newBelow > 0 {
			extra = append(extra, fmt.Sprintf("↓ %d new (pgdn)", c.newBelow))
		} else {
			extra = append(extra, "scrolled (pgdn)")
		}
	}
	if len(extra) == 0 {
		return title
	}
	return title + st.pHeaderDim.s(" · "+strings.Join(extra, " · "))
}

// peerStatus describes the peer of a direct conversation for its header:
// "blocked" when the user blocked them, their presence, and for an offline
// peer when they were last seen (if known).
func (a *App) peerStatus(id chat.UserID) string {
	var contact *chat.Contact
	for i := range a.contacts {
		if a.contacts[i].User == id {
			contact = &a.contacts[i]
		}
	}
	prefix := ""
	if contact != nil && contact.Blocked {
		prefix = "blocked · "
	}
	if p, ok := a.online.Lookup(id); ok {
		return prefix + p.Status.String()
	}
	seen := a.lastSeen[id]
	if contact != nil && contact.LastSeen.After(seen) {
		seen = contact.LastSeen
	}
	if seen.IsZero() {
		return prefix + chat.Offline.String()
	}
	return prefix + "offline, last seen " + ago(a.cfg.now(), seen)
}

// statusLine is one line: the last error (red) or status, else key hints.
// It is cached: most frames (a message arriving) do not change it.
func (a *App) statusLine() string {
	key := statusKey{a.status, a.statusErr, a.w, a.h, a.phase, a.dialog != nil, a.focus, a.st}
	if key == a.statusKey && a.statusCache != "" {
		return a.statusCache
	}
	var line string
	if a.status != "" {
		p := a.st.pHelp
		if a.statusErr {
			p = a.st.pError
		}
		text := " " + safeLine(a.status)
		if a.statusRows() == 2 {
			parts := wrapText(text, a.w)
			rest := strings.Join(parts[1:], " ")
			line = p.s(parts[0]) + "\n" + p.s(fit(" "+rest, a.w))
		} else {
			line = p.s(fit(text, a.w))
		}
	} else {
		var hints []string
		switch {
		case a.phase == phaseLogin:
			hints = a.keys.helpLogin()
		case a.dialog != nil:
			hints = a.keys.helpDialog()
		case a.focus == focusSidebar:
			hints = a.keys.helpSidebar()
		default:
			hints = a.keys.helpChat(a.w >= 100)
		}
		line = a.st.pHelp.s(fit(" "+strings.Join(hints, " · "), a.w))
	}
	a.statusKey, a.statusCache = key, line
	return line
}

// statusKey is what the status line depends on.
type statusKey struct {
	text   string
	err    bool
	w, h   int
	phase  phase
	dialog bool
	focus  focusArea
	st     *Styles
}

// logUnexpected logs broker errors that are not ordinary user errors.
func logUnexpected(lg *log.Logger, op string, err error) {
	if err != nil && !isKnownChatError(err) {
		lg.Warn("broker call failed", "op", op, "err", err)
	}
}
