package ui

import (
	"errors"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// Sending: the App's side of the outbox (what a line entered becomes, and
// what its answer does to the conversations and the input).

func (a *App) submit() tea.Cmd {
	if n := a.composer.Len(); n > defaultLimit {
		// Never cut: nothing is sent until the line fits.
		a.status.SetError(tooLongText("line", n, defaultLimit) + "; shorten it to send")
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
	if a.outbox.Full() {
		// Refused as a whole: the line stays in the input, unsent and
		// unmerged, until the outbox drains.
		a.status.SetError(fmt.Sprintf("slow down: %d lines are waiting to be sent; this one was not sent", a.outbox.Len()))
		return nil
	}
	a.composer.Reset()
	a.mem.remember(a.current, typed)
	if !a.status.Slow() {
		a.status.Clear()
	}
	return a.outbox.Enqueue(it)
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
	case !late && it.conv != a.current && it.conv != "" && a.mem.drafts[it.conv] == "":
		// Its conversation is not in front: it becomes that one's draft.
		a.mem.setDraft(it.conv, it.typed)
	case !late && it.conv == a.current && a.composer.Len() == 0:
		a.composer.SetValue(it.typed)
	default:
		a.outbox.keepUnsent(it)
		if c := a.convs[it.conv]; c != nil && it.conv != a.current {
			text += " (↑ on an empty line in " + c.info.Name + " recalls it)"
		} else {
			text += " (↑ on an empty line recalls it)"
		}
	}
	a.status.SetError(text)
}

// recallUnsent puts the newest failed line of the conversation in front
// back into the empty input.
func (a *App) recallUnsent() bool {
	if a.composer.Value() != "" {
		return false
	}
	typed, ok := a.outbox.takeUnsent(a.current)
	if ok {
		a.composer.SetValue(typed)
	}
	return ok
}

func (a *App) sent(msg sentMsg) tea.Cmd {
	next, retry := a.outbox.Finish(msg.err)
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
	next, retry := a.outbox.Finish(msg.err)
	if retry != nil {
		return retry
	}
	cmds := []tea.Cmd{next}
	r := msg.reply
	// A reply may open a conversation even when the command then failed
	// ("/msg bob hi" opens the DM, then the send is refused).
	if r.Open != nil && r.Open.ID != "" && a.convs[r.Open.ID] == nil && a.outbox.removedSince(msg.item, r.Open.ID) {
		// Joined, then removed (kicked at once) before this answer came:
		// the removal is the later word.
		r.Open = nil
	}
	if r.Open != nil && r.Open.ID != "" {
		if c := a.convs[r.Open.ID]; c != nil && c.info.Invited && !r.Open.Invited {
			// Joined from an invitation (/join): a member now, not invited,
			// whether or not its ConversationEvent came first.
			cmds = append(cmds, a.updateConv(c, *r.Open))
		}
		if c := a.ensureConv(*r.Open); !c.info.Invited {
			cmds = append(cmds, a.switchTo(r.Open.ID))
		}
	}
	if r.Closed != "" {
		// Before the reply's lines, which then show where the view went.
		cmds = append(cmds, a.removeConv(r.Closed, ""))
	}
	if msg.err != nil {
		a.status.SetError(userText(msg.err))
		return tea.Batch(cmds...)
	}
	if r.Sent != nil && r.Open != nil {
		if c := a.convs[r.Open.ID]; c != nil {
			a.appendMessage(c, *r.Sent)
			a.noteAway(c)
		}
	}
	if len(r.Lines) > 0 {
		if c := a.convs[a.current]; c != nil {
			c.addSystem(strings.Join(r.Lines, "\n"), entSystem)
			c.offset = 0
			c.trimOld(a.window(c))
		}
	}
	if len(r.Rooms) > 0 {
		a.openModal(newRoomList(a.common, a.sess, r.Rooms))
	}
	if len(r.Found) > 0 {
		a.openModal(newSearchList(a.common, r.Found, a.searchNames(r.Found)))
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
		for i := len(c.entries) - 1; i >= 0; i-- {
			if &c.entries[i] == e {
				c.offset += len(c.render(i, &a.rc, a.textWidth()))
				break
			}
		}
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
