package ui

import (
	"errors"
	"fmt"
	"slices"
	"time"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// Messages of the outbox: the broker's answers to its calls, and the end
// of a rate-limit pause.
type (
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
	// retryMsg says the rate-limit pause of the outbox is over.
	retryMsg struct{}
)

// outItem is a line the user entered, waiting its turn: sends and commands
// go out one at a time so they reach the broker in the order typed.
type outItem struct {
	exec  bool
	conv  chat.ConvID
	text  string
	typed string // the line as typed, given back to the input if it fails
	gen   uint64 // the outbox's removal count when it was entered (removedSince)
}

// Outbox holds the lines entered and not yet accepted, oldest first: its
// head is in flight or waiting for a rate-limit retry, and leaves only
// when the broker has answered for good. While lines wait after a refusal
// for sending too fast, the status line says "slow down". It also keeps
// the failed lines that could not go back to the input (unsent). It draws
// nothing itself.
type Outbox struct {
	*common
	version
	status *Status
	sess   chat.Session

	items     []outItem
	inflight  bool
	retryWait bool
	// unsent are failed lines that could not go back to the input because
	// it held new typing or another conversation was in front, newest
	// last; Up on an empty input recalls those of the conversation in
	// front.
	unsent []outItem
	// removals counts the conversations removed from view (forget);
	// removedAt is the count at each one's last removal.
	removals  uint64
	removedAt map[chat.ConvID]uint64
}

func newOutbox(com *common, status *Status) *Outbox {
	return &Outbox{common: com, status: status}
}

// SetSession gives the outbox the chat session its lines go to.
func (o *Outbox) SetSession(s chat.Session) { o.sess = s }

// Len is the number of lines waiting, the one in flight included.
func (o *Outbox) Len() int { return len(o.items) }

// Full reports whether a new line must be refused.
func (o *Outbox) Full() bool { return len(o.items) >= maxOutbox }

// Enqueue adds a line and starts it if nothing is ahead of it.
func (o *Outbox) Enqueue(it outItem) tea.Cmd {
	it.gen = o.removals
	o.items = append(o.items, it)
	return o.flush()
}

// Update ends a rate-limit pause.
func (o *Outbox) Update(msg tea.Msg) tea.Cmd {
	if _, ok := msg.(retryMsg); ok {
		o.retryWait = false
		return o.flush()
	}
	return nil
}

// View is empty: the outbox shows itself through the status line.
func (o *Outbox) View() string { return "" }

// SetSize does nothing: the outbox has no area.
func (o *Outbox) SetSize(int, int) {}

// flush starts the line at the head unless one is in flight or waiting for
// its retry. The line stays at the head until the broker has answered for
// good (see Finish).
func (o *Outbox) flush() tea.Cmd {
	if o.inflight || o.retryWait || len(o.items) == 0 || o.sess == nil {
		return nil
	}
	it := o.items[0]
	o.inflight = true
	sess, ctx, lg := o.sess, o.cfg.ctx, o.cfg.logger
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

// Finish ends the head's call. A line refused for sending too fast stays
// at the head and is retried after retryDelay (retry is that Cmd,
// non-nil); any other outcome removes it, and the next line starts (next).
func (o *Outbox) Finish(err error) (next, retry tea.Cmd) {
	o.inflight = false
	if errors.Is(err, chat.ErrRateLimited) && len(o.items) > 0 {
		o.retryWait = true
		o.status.SetSlow(fmt.Sprintf("slow down: %d %s waiting to be sent", len(o.items), plural(len(o.items), "line", "lines")))
		return nil, tea.Tick(o.cfg.retryDelay, func(time.Time) tea.Msg { return retryMsg{} })
	}
	if len(o.items) > 0 {
		o.items = o.items[1:]
	}
	if o.status.Slow() && (err == nil || len(o.items) == 0) {
		o.status.Clear()
	}
	return o.flush(), nil
}

// keepUnsent keeps a failed line for Up to recall.
func (o *Outbox) keepUnsent(it outItem) { o.unsent = append(o.unsent, it) }

// takeUnsent removes and returns the newest failed line of conv.
func (o *Outbox) takeUnsent(conv chat.ConvID) (string, bool) {
	for i := len(o.unsent) - 1; i >= 0; i-- {
		if o.unsent[i].conv == conv {
			typed := o.unsent[i].typed
			o.unsent = append(o.unsent[:i], o.unsent[i+1:]...)
			return typed, true
		}
	}
	return "", false
}

// forget drops the failed lines kept for conv (a conversation removed from
// view: nothing typed for it is offered again) and records the removal
// (removedSince).
func (o *Outbox) forget(conv chat.ConvID) {
	o.unsent = slices.DeleteFunc(o.unsent, func(it outItem) bool { return it.conv == conv })
	o.removals++
	if o.removedAt == nil {
		o.removedAt = make(map[chat.ConvID]uint64)
	}
	o.removedAt[conv] = o.removals
}

// removedSince reports whether conv was removed from view after it was
// entered: an answer to it that opens conv comes from before the removal.
func (o *Outbox) removedSince(it outItem, conv chat.ConvID) bool {
	return o.removedAt[conv] > it.gen
}
