package ui

import (
	"context"
	"io"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/log/v2"

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

// appConfig is everything an App needs from outside; session.go fills it
// from the SSH session, tests from fakes.
type appConfig struct {
	broker     chat.Broker
	theme      Theme
	serverName string
	motd       string
	logger     *sessionLog
	// ctx bounds every broker call; it ends with the SSH session.
	ctx context.Context
	// key and wanted are for Register from the login screen.
	key    chat.Key
	wanted string
	// acct is set when the account is known before the program starts.
	acct *chat.Account
	// loginReason, when set, starts the App on the login screen.
	loginReason string
	// loginLink starts the login screen in link mode.
	loginLink bool
	// connect opens the chat session (defaults to broker.Connect).
	connect func(context.Context, chat.Account) (chat.Session, error)
	// attach is called (in a Cmd) once the App holds the session; session.go
	// starts feeding events there, so events reach the App only after it.
	attach func(chat.Session)
	loc    *time.Location
	// hyperlinks says the client's terminal is known to show OSC 8
	// hyperlinks (/links auto).
	hyperlinks bool
	now        func() time.Time
	pageSize   int
	maxWindow  int
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
		c.logger = newSessionLog(log.New(io.Discard))
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
