package ui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/log/v2"

	"sshchat/chat"
)

// Messages the App receives: results of its Cmds and the feeder's batches.
type (
	// eventsMsg is a batch of broker events, drained by the feeder in one go.
	eventsMsg []chat.Event
	// sessionEndedMsg says the broker closed the session's event stream.
	sessionEndedMsg struct{ err error }
	connectedMsg    struct {
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
	markedMsg   struct{ err error }
	markTickMsg struct{}
	quitNowMsg  struct{}
)

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

// App is the root Bubble Tea model of one SSH session: login screen, then
// sidebar + conversation + input + status line, and the offline dialog.
// It routes messages to its components and lays them out; it owns the
// chat state they draw. Update never does I/O: broker calls run in
// tea.Cmds and come back as messages; broker events arrive in batches
// from the session's feeder.
//
// App uses pointer receivers: it is large, it is only ever touched by its
// program's event loop, and View fills render caches.
type App struct {
	*common
	*chatState
	rc    renderCtx
	w, h  int
	phase phase
	focus focusArea
	sess  chat.Session

	// Components: login is set only on the login screen, dialog only
	// while the offline dialog is open.
	login    *Login
	pane     *Pane
	sidebar  *Sidebar
	composer Composer
	status   *Status
	dialog   *OfflineDialog
	outbox   *Outbox
	notes    *Notes

	mem inputMemory // drafts and recalled lines of each conversation
	// awayTold lists the peers already said to be away since their
	// presence last changed.
	awayTold    map[chat.UserID]bool
	markPending bool // a markTickMsg is scheduled
	exitReason  string

	// mainCache is the area above the input as drawn for mainKey, frame
	// the whole screen as drawn for frameKey.
	mainKey   mainKey
	mainCache string
	frameKey  frameKey
	frame     string
}

func newApp(cfg appConfig) *App {
	cfg.defaults()
	com := &common{st: cfg.theme.Dark, keys: newKeyMap(), cfg: &cfg}
	status := newStatus(com)
	a := &App{
		common:    com,
		status:    status,
		outbox:    newOutbox(com, status),
		chatState: &chatState{convs: make(map[chat.ConvID]*Conversation)},
	}
	a.w, a.h = 80, 24
	a.rc = renderCtx{st: a.st, loc: cfg.loc}
	a.pane = newPane(com, a.chatState, &a.rc)
	a.composer = newComposer(a.st, defaultLimit)
	a.sidebar = newSidebar(com, a.chatState)
	switch {
	case cfg.loginReason != "" || cfg.acct == nil:
		a.setPhase(phaseLogin)
		a.login = newLogin(com, cfg.loginReason)
	default:
		a.setPhase(phaseConnecting)
		a.me = *cfg.acct
	}
	a.notes = newNotes(com, func() (*Conversation, int) { return a.convs[chat.Lobby], a.online.Len() }, a.window)
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
	a.layout() // the status line may have changed its height
	if t := a.status.Timer(); t != nil {
		cmd = tea.Batch(cmd, t)
	}
	return m, cmd
}

// setPhase moves to phase p.
func (a *App) setPhase(p phase) {
	a.phase = p
	a.status.SetChat(p == phaseChat)
}

// update is Update without the status timer and layout. Every message
// but typing may change the conversation pane.
func (a *App) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd, typing, known := a.route(msg)
	if known && !typing {
		a.pane.Touch()
	}
	return a, cmd
}

// route hands msg to the component or handler it is for. typing says it
// only edited an input line; known that it was a message of the App's.
func (a *App) route(msg tea.Msg) (cmd tea.Cmd, typing, known bool) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		a.w, a.h = clampSize(msg.Width, msg.Height)
		return a.fillScreen(), false, true
	case tea.BackgroundColorMsg:
		a.setStyles(msg.IsDark())
		return nil, false, true
	case tea.KeyPressMsg:
		cmd, typing := a.handleKey(msg)
		return cmd, typing, true
	case tea.PasteMsg:
		cmd, typing := a.handlePaste(msg)
		return cmd, typing, true
	case eventsMsg:
		return a.applyEvents(msg), false, true
	case sessionEndedMsg:
		text := "disconnected"
		switch {
		case errors.Is(msg.err, chat.ErrShutdown):
			text = "server shutting down"
		case msg.err != nil:
			text = "disconnected: " + userText(msg.err)
		}
		return a.end(text), false, true
	case endMsg:
		return a.end(msg.reason), false, true
	case registeredMsg:
		return a.registered(msg), false, true
	case connectedMsg:
		return a.connected(msg), false, true
	case historyMsg:
		return a.historyLoaded(msg), false, true
	case sentMsg:
		return a.sent(msg), false, true
	case execMsg:
		return a.executed(msg), false, true
	case dismissedMsg:
		if msg.err != nil {
			a.status.SetError(userText(msg.err))
		}
		return nil, false, true
	case markedMsg:
		return nil, false, true
	case markTickMsg:
		a.markPending = false
		if c := a.convs[a.current]; c != nil {
			return a.markRead(c), false, true
		}
		return nil, false, true
	case quitNowMsg:
		return tea.Quit, false, true
	case retryMsg:
		return a.outbox.Update(msg), false, true
	case statusExpiredMsg:
		return a.status.Update(msg), false, true
	case notesTickMsg:
		return a.notes.Update(msg), false, true
	}
	return nil, false, false
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
		a.login.restyle()
	}
	if a.dialog != nil {
		a.dialog.bump()
	}
	a.dropRenderCaches()
	a.status.bump()
	a.sidebar.Touch()
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
func (a *App) mainRows() int { return a.h - 1 - a.status.Rows() }

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

// layout gives every component its size; it runs after every message.
func (a *App) layout() {
	a.status.SetSize(a.w, a.h)
	a.sidebar.SetSize(a.sidebarWidth(), a.mainRows())
	a.composer.SetSize(a.w, 1)
	a.pane.SetSize(a.convWidth(), a.mainRows())
	a.pane.SetSidebarHidden(!a.sidebarShown())
	if a.login != nil {
		a.login.SetSize(a.w, a.h)
	}
	if a.dialog != nil {
		a.dialog.SetSize(a.w, a.mainRows())
	}
}

// Keys.

// handleKey routes a key press; typing says it only edited the input.
func (a *App) handleKey(k tea.KeyPressMsg) (cmd tea.Cmd, typing bool) {
	if key.Matches(k, a.keys.Quit) {
		return tea.Quit, false
	}
	switch a.phase {
	case phaseLogin:
		return a.login.Update(k), false
	case phaseChat:
	default:
		return nil, false
	}
	if a.dialog != nil {
		return a.dialogKey(k), false
	}
	switch {
	case key.Matches(k, a.keys.NextConv):
		return a.cycle(1), false
	case key.Matches(k, a.keys.PrevConv):
		return a.cycle(-1), false
	case key.Matches(k, a.keys.PageUp):
		return a.pageUp(), false
	case key.Matches(k, a.keys.PageDown):
		return a.pageDown(), false
	}
	if a.focus == focusSidebar {
		return a.sidebarKey(k), false
	}
	switch {
	case key.Matches(k, a.keys.Sidebar):
		a.setFocus(focusSidebar)
		return nil, false
	case key.Matches(k, a.keys.Enter):
		return a.submit(), false
	case key.Matches(k, a.keys.Up):
		if !a.recallUnsent() {
			a.mem.recallLine(&a.composer, a.current, -1)
		}
		return nil, false
	case key.Matches(k, a.keys.Down):
		a.mem.recallLine(&a.composer, a.current, 1)
		return nil, false
	}
	return a.edit(k), true
}

// edit passes a key or paste to the input; an edit clears the status line.
// Text that would take the draft past the message limit is refused, and
// the status line says so.
func (a *App) edit(msg tea.Msg) tea.Cmd {
	before := a.composer.Rev()
	if a.composer.Update(msg); a.composer.Refused() {
		// Shown once while the keys keep coming: no timer per key.
		if text := tooLongText("message", a.composer.Len()+1, defaultLimit) + "; that was not added"; a.status.Text() != text {
			a.status.SetError(text)
		}
		return nil
	}
	if a.status.Text() != "" && a.composer.Rev() != before {
		a.status.Clear()
	}
	return nil
}

// tooLongText says that a line of n characters is over the limit, with the
// count: "message too long: 2,431/2,000 characters".
func tooLongText(what string, n, limit int) string {
	return fmt.Sprintf("%s too long: %s/%s characters", what, thousands(n), thousands(limit))
}

func (a *App) setFocus(f focusArea) {
	if f != a.focus && a.status.Text() != "" {
		a.status.Clear() // the new mode shows its own hints
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
	switch {
	case key.Matches(k, a.keys.Sidebar):
		a.setFocus(focusInput)
	case key.Matches(k, a.keys.Up), key.Matches(k, a.keys.Down):
		return a.sidebar.Update(k)
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
			return a.outbox.Enqueue(outItem{exec: true, conv: a.current, text: "/msg " + it.handle})
		case itemSelf:
			return a.outbox.Enqueue(outItem{exec: true, conv: a.current, text: "/whois " + it.handle})
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

// dialogKey passes a key to the offline dialog; once it is closed, the
// conversation picked (if any) comes to the front.
func (a *App) dialogKey(k tea.KeyPressMsg) tea.Cmd {
	d := a.dialog
	cmd := d.Update(k)
	if !d.closed {
		return cmd
	}
	a.dialog = nil
	if !d.picked {
		return cmd
	}
	g := d.selected()
	c := a.ensureConv(chat.Conversation{ID: g.Conv, Kind: convKindOf(g.Conv), Name: nameOf(g), Peer: g.From})
	return tea.Batch(cmd, a.switchTo(c.info.ID))
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

// handlePaste routes a paste; typing says it only edited an input.
func (a *App) handlePaste(p tea.PasteMsg) (cmd tea.Cmd, typing bool) {
	switch {
	case a.phase == phaseLogin:
		return a.login.Update(p), true
	case a.phase != phaseChat || a.dialog != nil:
		return nil, false
	}
	if !a.composer.Fits(p.Content) {
		n := a.composer.Len() + len([]rune(cleanInput(p.Content)))
		a.status.SetError(tooLongText("paste", n, defaultLimit) + " with the draft; nothing was pasted")
		return nil, false
	}
	typing = a.focus != focusSidebar
	if !typing {
		a.setFocus(focusInput)
	}
	return a.edit(p), typing
}

// Login.

// registered connects once the login screen has registered the account.
func (a *App) registered(msg registeredMsg) tea.Cmd {
	if a.login == nil {
		return nil
	}
	if a.login.Update(msg); msg.err != nil {
		return nil
	}
	a.login = nil
	a.setPhase(phaseConnecting)
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
	a.outbox.SetSession(msg.sess)
	a.setPhase(phaseChat)
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
		a.dialog = newOfflineDialog(a.common, &a.rc, a.sess, snap.Offline)
	}
	a.sidebar.Touch()
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
	a.setPhase(phaseEnding)
	a.exitReason = text
	a.status.SetError(text)
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
			a.sidebar.Touch()
		}
		return c
	}
	if info.Name == "" {
		info.Name = string(info.ID)
	}
	c := newConversation(info)
	a.convs[info.ID] = c
	a.order = append(a.order, c)
	a.sidebar.Touch()
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
		a.mem.swap(&a.composer, a.current, id)
	}
	a.current = id
	a.status.Clear()
	if c.info.Unread != 0 {
		c.info.Unread = 0
	}
	a.sidebar.Touch()
	if !c.loaded {
		cmds = append(cmds, a.loadLatest(c))
	} else {
		// Its window may have been cut to a smaller terminal's screens.
		cmds = append(cmds, a.markRead(c), a.fillScreen())
	}
	return tea.Batch(cmds...)
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
		a.status.SetError("history: " + userText(msg.err))
		return nil
	}
	full := len(msg.msgs) >= a.cfg.pageSize
	fill := true // an older page that brought nothing new is not asked for again
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
		fill = c.mergeHistory(msg.msgs) > 0
		c.hasOlder = full
		c.trimNew(a.cfg.maxWindow, &a.rc, a.textWidth())
	}
	if c.info.ID == a.current {
		if !fill {
			return a.markRead(c)
		}
		return tea.Batch(a.markRead(c), a.fillScreen())
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

// fillScreen fetches older messages when the conversation in front does
// not fill its pane (the window was cut to a few screens of a smaller
// terminal).
func (a *App) fillScreen() tea.Cmd {
	c := a.convs[a.current]
	if c == nil || !c.loaded || c.loading || !c.hasOlder || c.hasNewer {
		return nil
	}
	if c.fills(&a.rc, a.textWidth(), c.offset+a.convRows()) {
		return nil
	}
	before := c.oldestID()
	if before == 0 {
		return nil
	}
	return a.loadHistory(c, before, false)
}

func (a *App) pageDown() tea.Cmd {
	c := a.convs[a.current]
	if c == nil {
		return nil
	}
	rows := a.convRows()
	// The window may have been cut at the old end since the offset was set
	// (it follows new messages in the background): scroll from the top
	// that is shown, not from one that is gone.
	if w := a.textWidth(); c.offset > 0 && !c.fills(&a.rc, w, c.offset+rows) {
		c.offset = max(0, c.totalLines(&a.rc, w)-rows)
	}
	c.offset -= max(1, rows-1)
	if c.offset > 0 {
		return nil
	}
	c.offset, c.newBelow = 0, 0
	if c.hasNewer {
		return a.loadHistory(c, 0, true)
	}
	return nil
}

// mainKey is what the area above the input depends on: the versions of
// the components drawn there and the layout.
type mainKey struct {
	pane, side, dialogVer uint64
	dialog                *OfflineDialog
	st                    *Styles
	w, h, rows            int
	focus                 focusArea
}

// frameKey is what the whole chat screen depends on.
type frameKey struct {
	main          mainKey
	input, status uint64
}

// View draws the screen. Each part is redrawn only when its version
// changed; an unchanged frame is returned as it was.
func (a *App) View() tea.View {
	var v tea.View
	v.AltScreen = true
	switch a.phase {
	case phaseLogin:
		v.SetContent(a.login.View() + "\n" + a.statusLine())
		v.Cursor = a.login.Cursor()
		return v
	case phaseConnecting:
		v.SetContent(" " + a.st.System.Render("joining "+safeLine(a.cfg.serverName)+"…"))
		return v
	}
	status := a.statusLine()
	mk := mainKey{a.pane.Version(), a.sidebar.Version(), 0, a.dialog, a.st, a.w, a.h, a.mainRows(), a.focus}
	if a.dialog != nil {
		mk.dialogVer = a.dialog.Version()
	}
	if mk != a.mainKey || a.mainCache == "" {
		a.mainCache, a.mainKey = a.mainView(), mk
	}
	input := a.composer.View()
	fk := frameKey{mk, a.composer.Version(), a.status.Version()}
	if fk != a.frameKey || a.frame == "" {
		var b strings.Builder
		b.Grow(len(a.mainCache) + len(input) + len(status) + 2)
		b.WriteString(a.mainCache)
		b.WriteByte('\n')
		b.WriteString(input)
		b.WriteByte('\n')
		b.WriteString(status)
		a.frame, a.frameKey = b.String(), fk
	}
	v.SetContent(a.frame)
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
	switch {
	case a.dialog != nil:
		return padRows(a.dialog.View(), rows)
	case a.focus == focusSidebar && !a.sidebarShown():
		return padRows(a.sidebar.View(), rows)
	}
	if !a.sidebarShown() {
		return padRows(a.pane.View(), rows)
	}
	// Pane and sidebar side by side, row by row.
	lines, side := a.pane.Lines(), a.sidebar.Lines()
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

// padRows makes s at least rows lines long.
func padRows(s string, rows int) string {
	if n := strings.Count(s, "\n") + 1; n < rows {
		s += strings.Repeat("\n", rows-n)
	}
	return s
}

// statusLine is the status line with the hints of the current mode.
func (a *App) statusLine() string {
	h := hintChat
	switch {
	case a.phase == phaseLogin:
		h = hintLogin
	case a.dialog != nil:
		h = hintDialog
	case a.focus == focusSidebar:
		h = hintSidebar
	}
	a.status.SetHints(h)
	return a.status.View()
}

// logUnexpected logs broker errors that are not ordinary user errors.
func logUnexpected(lg *log.Logger, op string, err error) {
	if err != nil && !isKnownChatError(err) {
		lg.Warn("broker call failed", "op", op, "err", err)
	}
}
