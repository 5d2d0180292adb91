package ui

// navigate.go is the App's movement between and within conversations:
// opening and switching, read markers, and paging history in and out of
// each conversation's bounded window.

import (
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// ensureConv returns the conversation, creating its sidebar entry if new.
// A new one takes its place in the sidebar's order (see placeConv).
func (a *App) ensureConv(info chat.Conversation) *Conversation {
	if c, ok := a.convs[info.ID]; ok {
		if info.Name != "" && info.Name != c.info.Name {
			c.info.Name = info.Name
			a.placeConv(c)
			a.sidebar.Touch()
		}
		return c
	}
	if info.Name == "" {
		info.Name = string(info.ID)
	}
	c := newConversation(info)
	a.convs[info.ID] = c
	a.placeConv(c)
	a.sidebar.Touch()
	return c
}

// convGroup is the sidebar group of a conversation, in the sidebar's
// order: the lobby, joined rooms, invited rooms, direct conversations.
func convGroup(info *chat.Conversation) int {
	switch {
	case info.ID == chat.Lobby:
		return 0
	case info.Kind == chat.KindDirect:
		return 3
	case info.Invited:
		return 2
	}
	return 1
}

// placeConv puts c (new, renamed, or joined from an invitation) at its
// place in a.order, which is the sidebar's order and Tab's: the lobby,
// joined rooms by name, invited rooms by name, then direct conversations
// in the order they were opened (a new one goes last).
func (a *App) placeConv(c *Conversation) {
	if i := slices.Index(a.order, c); i >= 0 {
		a.order = slices.Delete(a.order, i, i+1)
	}
	g, name := convGroup(&c.info), strings.ToLower(c.info.Name)
	at := len(a.order)
	for j, o := range a.order {
		og := convGroup(&o.info)
		if og > g || og == g && (g == 1 || g == 2) && strings.ToLower(o.info.Name) > name {
			at = j
			break
		}
	}
	a.order = slices.Insert(a.order, at, c)
}

// switchTo brings a conversation to the front, marks it read and loads its
// newest page the first time.
func (a *App) switchTo(id chat.ConvID) tea.Cmd {
	c := a.convs[id]
	if c == nil {
		return nil
	}
	if c.info.Invited {
		// An invited room has no history for the user until they join.
		return a.runLine("/join " + c.info.Name)
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
	c.info.Unread, c.info.Mentions = 0, 0
	c.unread, c.unreadCut = nil, false
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
// sidebar's order (see placeConv): it does not change as messages arrive,
// so Tab walks the list as it is shown.
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
	// Invited rooms are passed over: opening one would join it.
	for range len(a.order) {
		i = (i + delta + len(a.order)) % len(a.order)
		if !a.order[i].info.Invited {
			break
		}
	}
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
	want := c.offset // past the bottom: carried into the page read forwards
	c.offset, c.newBelow = 0, 0
	if c.hasNewer {
		if after := c.newestID(); after != 0 && !c.loading {
			return a.loadForward(c, after, want, false)
		}
		return a.loadHistory(c, 0, true)
	}
	return nil
}

// forwardMsg is a page of messages after the window of a conversation
// that was cut at the new end.
type forwardMsg struct {
	conv  chat.ConvID
	after chat.MessageID
	want  int // the offset PgDn asked for, relative to the old bottom
	// catchUp is the read after reaching the newest: it picks up what was
	// committed between the last page's read and live messages appending.
	catchUp bool
	msgs    []chat.Message
	err     error
}

// loadForward reads the page after the newest message of the window.
func (a *App) loadForward(c *Conversation, after chat.MessageID, want int, catchUp bool) tea.Cmd {
	if a.sess == nil || c.loading {
		return nil
	}
	c.loading = true
	sess, ctx, id, n, lg := a.sess, a.cfg.ctx, c.info.ID, a.cfg.pageSize, a.cfg.logger
	return func() tea.Msg {
		msgs, err := sess.HistoryAfter(ctx, id, after, n)
		logUnexpected(lg, "history after", err)
		return forwardMsg{conv: id, after: after, want: want, catchUp: catchUp, msgs: msgs, err: err}
	}
}

// forwardLoaded appends a page read forwards below the window and scrolls
// down by what PgDn asked for; a short page means the window reached the
// newest message and follows live ones again.
func (a *App) forwardLoaded(msg forwardMsg) tea.Cmd {
	c := a.convs[msg.conv]
	if c == nil {
		return nil
	}
	c.loading = false
	if msg.err != nil {
		a.status.SetError("history: " + userText(msg.err))
		return nil
	}
	w := a.textWidth()
	before := c.totalLines(&a.rc, w)
	c.mergeHistory(msg.msgs)
	added := c.totalLines(&a.rc, w) - before
	var next tea.Cmd
	switch {
	case msg.catchUp:
		if c.offset > 0 {
			c.offset += added // the view stays where the reader is
		}
	default:
		c.offset = max(0, added+msg.want)
		if len(msg.msgs) < a.cfg.pageSize && c.hasNewer {
			// The newest is reached: live messages append from now on,
			// and one more read picks up those committed meanwhile.
			c.hasNewer = false
			if after := c.newestID(); after != 0 {
				next = a.loadForward(c, after, 0, true)
			}
		}
	}
	c.trimOld(a.window(c))
	if c.info.ID == a.current {
		return tea.Batch(a.markRead(c), next)
	}
	return next
}
