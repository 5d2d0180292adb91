package ui

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

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
	modal    modal // the quick switcher or the /rooms list, while open
	outbox   *Outbox
	notes    *Notes

	mem   inputMemory // drafts and recalled lines of each conversation
	compl completion  // @handle completion in progress
	// awayTold lists the peers already said to be away since their
	// presence last changed.
	awayTold    map[chat.UserID]bool
	markPending bool  // a markTickMsg is scheduled
	prefs       prefs // the user's settings and the terminal's background
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
	a.rc = renderCtx{st: a.st, loc: cfg.loc, shared: cfg.theme.lines}
	a.pane = newPane(com, a.chatState, &a.rc)
	a.composer = newComposer(a.st, defaultLimit)
	a.sidebar = newSidebar(com, a.chatState)
	switch {
	case cfg.loginReason != "" || cfg.acct == nil:
		a.setPhase(phaseLogin)
		a.login = newLogin(com, cfg.loginReason, cfg.loginLink)
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
		a.onBackground(msg.IsDark())
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
		case errors.Is(msg.err, chat.ErrRemoved):
			text = userText(msg.err) // the administrator's line, whole
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
	case openConvMsg:
		return a.switchTo(msg.id), false, true
	case runLineMsg:
		return a.runLine(msg.line), false, true
	case joinRoomMsg:
		return a.joinRoom(msg.room), false, true
	case openFoundMsg: // searchlist.go
		return a.openFound(msg.m), false, true
	case foundPageMsg:
		return a.foundLoaded(msg), false, true
	case forwardMsg: // navigate.go
		return a.forwardLoaded(msg), false, true
	case roomsPageMsg:
		if a.modal == nil {
			return nil, false, true
		}
		return a.modalUpdate(msg), false, true
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
// render cache; it reports whether they changed.
func (a *App) setStyles(isDark bool) bool {
	st := a.cfg.theme.Light
	if isDark {
		st = a.cfg.theme.Dark
	}
	if st == a.st {
		return false
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
	if a.modal != nil {
		a.modal.bump()
	}
	a.dropRenderCaches()
	a.status.bump()
	a.sidebar.Touch()
	return true
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
	if a.modal != nil {
		a.modal.SetSize(a.w, a.mainRows())
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
	if a.modal != nil {
		return a.modalUpdate(k), false
	}
	if a.focus == focusInput && key.Matches(k, a.keys.Complete) && a.completeMention() {
		return nil, true
	}
	switch {
	case key.Matches(k, a.keys.Help) && (k.String() == "f1" || a.focus == focusSidebar || a.composer.Len() == 0):
		a.openModal(newHelpOverlay(a.common))
		return nil, false
	case key.Matches(k, a.keys.Switcher):
		a.openModal(newSwitcher(a.common, a.chatState))
		return nil, false
	case key.Matches(k, a.keys.NextConv):
		return a.cycle(1), false
	case key.Matches(k, a.keys.PrevConv):
		return a.cycle(-1), false
	case a.focus == focusSidebar && (key.Matches(k, a.keys.PageUp) || key.Matches(k, a.keys.PageDown)):
		return a.sidebar.Update(k), false // a page of the list (200 rooms)
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
	case k.String() == editLastKey && a.composer.Len() == 0:
		a.recallForEdit() // edit.go
		return nil, false
	case key.Matches(k, a.keys.Up):
		switch {
		case a.editOfferShown(): // edit.go: on into the input history
			a.mem.editOffered = false
			a.composer.Reset()
			a.mem.recallLine(&a.composer, a.current, -1)
		case a.recallUnsent(), a.offerEditOnUp():
		default:
			a.mem.recallLine(&a.composer, a.current, -1)
		}
		return nil, false
	case key.Matches(k, a.keys.Down):
		if a.editOfferShown() {
			a.mem.editOffered = false
			a.composer.Reset()
			return nil, false
		}
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

// openModal opens a dialog over the conversation.
func (a *App) openModal(m modal) {
	if a.focus == focusSidebar {
		a.setFocus(focusInput)
	}
	a.modal = m
	a.status.Clear()
	a.layout()
}

// modalUpdate passes a message to the open modal dialog and drops it
// once it is closed.
func (a *App) modalUpdate(msg tea.Msg) tea.Cmd {
	cmd := a.modal.Update(msg)
	if a.modal.Closed() {
		a.modal = nil
	}
	return cmd
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
	if convKindOf(g) == chat.KindRoom && a.convs[g.Conv] == nil {
		// Removed from the room while the dialog was open: it stays gone.
		a.status.SetError("you are no longer in " + safeLine(nameOf(g)))
		return cmd
	}
	c := a.ensureConv(chat.Conversation{ID: g.Conv, Kind: convKindOf(g), Name: nameOf(g), Peer: g.From})
	return tea.Batch(cmd, a.switchTo(c.info.ID))
}

func convKindOf(g chat.OfflineGroup) chat.ConvKind {
	if g.Room || strings.HasPrefix(string(g.Conv), "#") {
		return chat.KindRoom
	}
	return chat.KindDirect
}

func nameOf(g chat.OfflineGroup) string {
	switch {
	case g.Room && g.Name != "":
		return g.Name
	case convKindOf(g) == chat.KindRoom:
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
	case a.modal != nil:
		return a.modalUpdate(p), false
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

// logUnexpected logs broker errors that are not ordinary user errors.
func logUnexpected(lg *sessionLog, op string, err error) {
	if err != nil && !isKnownChatError(err) {
		lg.Warn("broker call failed", "op", op, "err", err)
	}
}
