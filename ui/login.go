package ui

import (
	"errors"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// Login is the small screen shown when a new key's SSH user name cannot be
// its handle (taken or invalid): it says why and asks for a handle. Tab
// switches it to linking the key to an existing account instead, with a
// code from /keys link (the mode it starts in for the user name "link").
type Login struct {
	*common
	version
	input  textinput.Model
	link   bool   // linking to an existing account, not choosing a handle
	reason string // why the SSH user name was refused
	err    string // why the last attempt failed
	busy   bool   // a Register call is in flight
	w, h   int
	row    int // the input's row in the last View
}

func newLogin(com *common, reason string, link bool) *Login {
	st := com.st
	in := textinput.New()
	in.Prompt = "handle: "
	// Not cut at chat.MaxHandleLen: a longer handle is refused with the
	// reason, like any invalid one. The limit only bounds the field.
	in.CharLimit = loginFieldLimit
	in.SetStyles(st.Input)
	in.SetVirtualCursor(false)
	in.Focus()
	l := &Login{common: com, input: in, reason: reason}
	l.setLink(link)
	return l
}

// LinkUser is the SSH user name that opens the login screen of a new key
// in link mode: ssh -t link@host.
const LinkUser = "link"

// setLink switches between choosing a handle and linking to an account.
func (l *Login) setLink(link bool) {
	l.link = link
	l.input.Prompt = "handle: "
	if link {
		l.input.Prompt = "handle and code: "
	}
	l.input.SetValue("")
	l.err = ""
	l.bump()
}

// loginFieldLimit bounds what the handle field holds: far more than a
// handle may have, so an over-long one is refused with a reason, not cut.
const loginFieldLimit = 8 * chat.MaxHandleLen

// loginText is the one sentence that says why the SSH user name wanted
// could not become the new account's handle (err from Register).
func loginText(wanted string, err error) string {
	switch {
	case errors.Is(err, chat.ErrHandleTaken) && wanted != "":
		return "The handle " + quote(wanted) + " is already taken."
	case errors.Is(err, chat.ErrHandleInvalid):
		reason := strings.TrimPrefix(userText(err), chat.ErrHandleInvalid.Error()+": ")
		return "Your SSH user name can't be a handle: " + reason + "."
	}
	return userText(err)
}

// sentence capitalises s and ends it with a period.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

func quote(s string) string { return "\"" + safeLine(s) + "\"" }

// registeredMsg is the answer to the Register call of the login screen.
type registeredMsg struct {
	acct chat.Account
	err  error
}

// Update passes input to the handle field; Enter registers the handle
// typed (the App connects on a registeredMsg without error).
func (l *Login) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case registeredMsg:
		l.setBusy(false)
		if msg.err != nil {
			l.setErr(userText(msg.err))
		}
		return nil
	case tea.KeyPressMsg:
		if key.Matches(msg, l.keys.Enter) {
			return l.register()
		}
		if msg.String() == "tab" && !l.busy {
			l.setLink(!l.link)
			return nil
		}
	}
	before := l.input.Value()
	var cmd tea.Cmd
	l.input, cmd = l.input.Update(msg)
	if l.input.Value() != before {
		l.err = "" // it was about what was typed before
	}
	l.bump()
	return cmd
}

// register asks the broker for an account with the handle typed.
func (l *Login) register() tea.Cmd {
	if l.busy {
		return nil
	}
	handle := l.Value()
	if l.link {
		return l.linkKey(handle)
	}
	if handle == "" {
		l.setErr("Type a handle, then press Enter.")
		return nil
	}
	l.setBusy(true)
	b, ctx, ck, lg := l.cfg.broker, l.cfg.ctx, l.cfg.key, l.cfg.logger
	return func() tea.Msg {
		acct, err := b.Register(ctx, ck, handle)
		logUnexpected(lg, "register", err)
		return registeredMsg{acct: acct, err: err}
	}
}

// linkKey asks the broker to add the key to the account named in typed
// ("HANDLE CODE"); the answer is a registeredMsg like a registration's.
func (l *Login) linkKey(typed string) tea.Cmd {
	handle, code, _ := strings.Cut(typed, " ")
	if handle == "" || strings.TrimSpace(code) == "" {
		l.setErr("Type your handle and the code, e.g. alice ABCDE-FGHJK, then press Enter.")
		return nil
	}
	l.setBusy(true)
	b, ctx, ck, lg := l.cfg.broker, l.cfg.ctx, l.cfg.key, l.cfg.logger
	return func() tea.Msg {
		acct, err := b.LinkKey(ctx, ck, handle, code)
		logUnexpected(lg, "link key", err)
		return registeredMsg{acct: acct, err: err}
	}
}

// SetSize sets the screen's size; the login screen leaves the last row to
// the status line.
func (l *Login) SetSize(w, h int) {
	if w != l.w || h != l.h {
		l.w, l.h = w, h
		l.bump()
	}
}

// restyle picks up a new style set.
func (l *Login) restyle() {
	l.input.SetStyles(l.st.Input)
	l.bump()
}

// setBusy says whether a Register call is in flight.
func (l *Login) setBusy(busy bool) {
	l.busy = busy
	if busy {
		l.err = ""
	}
	l.bump()
}

// setErr says why the last attempt failed.
func (l *Login) setErr(text string) {
	l.err = text
	l.bump()
}

// Value is the handle typed so far, without surrounding blanks.
func (l *Login) Value() string { return strings.TrimSpace(l.input.Value()) }

// View renders the screen above the status line: h-1 lines no wider than w.
func (l *Login) View() string {
	lines, row := l.lines()
	for len(lines) < l.h-1 {
		lines = append(lines, "")
	}
	l.row = row
	return strings.Join(lines[:max(0, l.h-1)], "\n")
}

// lines renders the screen; cursorRow is the row of the input line.
func (l *Login) lines() (lines []string, cursorRow int) {
	st, serverName, w := l.st, l.cfg.serverName, l.w
	add := func(s string) {
		for _, part := range wrapText(s, max(1, w-2)) {
			lines = append(lines, fit(" "+part, w))
		}
	}
	lines = append(lines, "")
	add(st.Header.Render("Welcome to " + safeLine(serverName)))
	lines = append(lines, "")
	for _, part := range wrapText(safeLine(l.reason), max(1, w-2)) {
		lines = append(lines, " "+st.System.Render(part))
	}
	lines = append(lines, "")
	switch {
	case l.link:
		add("Link this key to your account: in a session of that account type /keys link, then type here your handle and the code it shows (e.g. alice ABCDE-FGHJK).")
		add("Tab: choose a handle for a new account instead.")
	case strings.Contains(l.reason, chat.HandleRule()):
		add("Choose a handle:") // the reason above states the rule
		add("Tab: link this key to an account you already have.")
	default:
		add("Choose a handle. " + sentence(chat.HandleRule()))
		add("Tab: link this key to an account you already have.")
	}
	lines = append(lines, "")
	cursorRow = len(lines)
	l.input.SetWidth(max(1, w-len(l.input.Prompt)-3))
	lines = append(lines, fit(" "+l.input.View(), w))
	switch {
	case l.busy:
		lines = append(lines, " "+st.System.Render("checking…"))
	case l.err != "":
		for _, part := range wrapText(l.err, max(1, w-2)) {
			lines = append(lines, " "+st.Error.Render(part))
		}
	}
	return lines, cursorRow
}

// Cursor is the real cursor for the handle field as of the last View, or
// nil when the field is off screen.
func (l *Login) Cursor() *tea.Cursor {
	c := l.input.Cursor()
	if c == nil || l.row >= l.h-1 {
		return nil
	}
	c.Y += l.row
	c.X++
	return c
}
