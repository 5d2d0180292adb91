package ui

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"sshchat/chat"
)

// openFoundMsg asks the App to open a conversation at a search result.
type openFoundMsg struct{ m chat.Message }

// foundPageMsg is the page of history ending at a search result and the
// page that follows it.
type foundPageMsg struct {
	at    chat.Message
	msgs  []chat.Message // up to and including the result
	after []chat.Message // the page after it
	err   error
}

// SearchList is the /search dialog: the results, newest first, one line
// each (conversation, time, sender, text). Enter opens the conversation at
// the result picked, Esc closes.
type SearchList struct {
	*common
	pickList
	found []chat.Message
	names map[chat.ConvID]string
}

func newSearchList(com *common, found []chat.Message, names map[chat.ConvID]string) *SearchList {
	return &SearchList{common: com, found: found, names: names}
}

// Hints names the status line's hints while open (those of a list).
func (l *SearchList) Hints() hintSet { return hintRooms }

// Update moves the cursor (Up, Down, PgUp, PgDn); Enter opens, Esc closes.
func (l *SearchList) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok || l.closed {
		return nil
	}
	switch {
	case key.Matches(k, l.keys.Back):
		l.closed = true
	case key.Matches(k, l.keys.Enter):
		if len(l.found) == 0 {
			return nil
		}
		l.closed = true
		m := l.found[l.sel]
		return func() tea.Msg { return openFoundMsg{m} }
	}
	if d, ok := l.cursorDelta(l.keys, k); ok {
		l.moveBy(d, len(l.found))
	}
	return nil
}

// View draws the list as at most h lines of at most w cells.
func (l *SearchList) View() string { return l.drawCached(l.lines) }

func (l *SearchList) lines() []string {
	st := l.st
	boxW := min(l.w, 100)
	inner := max(1, boxW-4)
	avail := l.rows()
	top := clampInt(l.sel-avail/2, 0, max(0, len(l.found)-avail))
	var body []string
	for i := top; i < len(l.found) && len(body) < avail; i++ {
		m := l.found[i]
		name := l.names[m.Conv]
		if name == "" {
			name = string(m.Conv)
		}
		row := fmt.Sprintf("%s %s %s: %s", pad(safeLine(name), 12), m.At.In(l.cfg.loc).Format("01-02 15:04"), safeLine(m.FromHandle), safeLine(m.Body))
		if i == l.sel {
			body = append(body, st.DialogSelected.Render(pad(fit("› "+row, inner), inner)))
		} else {
			body = append(body, fit("  "+row, inner))
		}
	}
	if len(l.found) == 0 {
		body = append(body, st.System.Render("  nothing found"))
	}
	title := st.DialogTitle.Render("Search") + st.System.Render(fmt.Sprintf("  %d found, newest first", len(l.found)))
	content := append([]string{fit(title, inner), ""}, body...)
	help := "↑/↓ pick · enter open there · esc close"
	if l.sel < len(l.found) {
		// The id an administrator's /admin delete takes.
		help += fmt.Sprintf(" · message id %d", l.found[l.sel].ID)
	}
	content = append(content, "", st.System.Render(fit(help, inner)))
	box := lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1).Width(boxW).
		Render(strings.Join(content, "\n"))
	lines := strings.Split(box, "\n")
	left := strings.Repeat(" ", max(0, (l.w-boxW)/2))
	for i := range lines {
		lines[i] = fit(left+lines[i], l.w)
	}
	if len(lines) > l.h {
		lines = lines[:l.h]
	}
	return lines
}

// openFound switches to the result's conversation and reads the page of
// history that ends at it and the page that follows it.
func (a *App) openFound(m chat.Message) tea.Cmd {
	c := a.convs[m.Conv]
	if c == nil || a.sess == nil {
		a.status.SetError("that conversation is not open here any more")
		return nil
	}
	cmd := a.switchTo(m.Conv)
	sess, ctx, n, lg := a.sess, a.cfg.ctx, a.cfg.pageSize, a.cfg.logger
	return tea.Batch(cmd, func() tea.Msg {
		msgs, err := sess.History(ctx, m.Conv, m.ID+1, n)
		logUnexpected(lg, "history", err)
		if err != nil {
			return foundPageMsg{at: m, err: err}
		}
		after, err := sess.HistoryAfter(ctx, m.Conv, m.ID, n)
		logUnexpected(lg, "history after", err)
		return foundPageMsg{at: m, msgs: msgs, after: after, err: err}
	})
}

// foundLoaded shows the conversation around the result, the result in
// the middle of the pane: PgUp reads older messages as usual and PgDn
// reads newer ones forwards (hasNewer) until it reaches the newest.
func (a *App) foundLoaded(msg foundPageMsg) tea.Cmd {
	c := a.convs[msg.at.Conv]
	if c == nil {
		return nil
	}
	if msg.err != nil {
		a.status.SetError("history: " + userText(msg.err))
		return nil
	}
	n := a.cfg.pageSize
	newest := len(msg.after) < n
	// When the page after reaches the newest, live messages that arrived
	// meanwhile (newer than the result) are kept: nothing lies between.
	var live []entry
	if newest {
		for _, e := range c.entries {
			if e.kind == entMessage && e.msg.ID > msg.at.ID {
				live = append(live, e)
			}
		}
	}
	c.entries = live
	c.loaded = false
	c.mergeHistory(append(slices.Clone(msg.msgs), msg.after...))
	c.loaded, c.loading = true, false
	c.hasOlder = len(msg.msgs) >= n
	c.hasNewer = !newest
	c.newBelow = 0
	c.offset = a.centreOffset(c, msg.at.ID)
	return nil
}

// centreOffset is the scroll offset that puts message id in the middle
// of the pane (or as near as the messages after it allow).
func (a *App) centreOffset(c *Conversation, id chat.MessageID) int {
	w, rows := a.textWidth(), a.convRows()
	k := msgKey(id)
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].key > k })
	below := 0
	for j := i; j < len(c.entries); j++ {
		below += len(c.render(j, &a.rc, w))
	}
	return max(0, below-rows/2)
}

// searchNames names the conversations of results as the sidebar does.
func (a *App) searchNames(found []chat.Message) map[chat.ConvID]string {
	names := make(map[chat.ConvID]string)
	for _, m := range found {
		if c := a.convs[m.Conv]; c != nil {
			name := c.info.Name
			if c.info.Kind == chat.KindDirect {
				name = "@" + name
			}
			names[m.Conv] = name
		}
	}
	return names
}
