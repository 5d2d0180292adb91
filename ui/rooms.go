package ui

// rooms.go is the App's side of rooms: conversations added, changed and
// removed by the broker (ConversationEvent, Reply.Closed), and the lines
// a picker (the switcher, the /rooms list) asks to run.

import (
	"slices"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// Messages a dialog sends to ask the App for something.
type (
	// openConvMsg asks to bring a conversation to the front.
	openConvMsg struct{ id chat.ConvID }
	// runLineMsg asks to run a /command line, as if typed.
	runLineMsg struct{ line string }
)

// runLine runs a /command line through the outbox, in the conversation in
// front, like a typed one.
func (a *App) runLine(line string) tea.Cmd {
	return a.outbox.Enqueue(outItem{exec: true, conv: a.current, text: line})
}

// joinRoom opens a room picked from the /rooms list: the user's own room
// comes to the front, any other is joined with /join.
func (a *App) joinRoom(r chat.RoomInfo) tea.Cmd {
	if c := a.convs[r.ID]; c != nil && !c.info.Invited {
		return a.switchTo(r.ID)
	}
	return a.runLine("/join " + r.Name)
}

// onConversation applies a ConversationEvent: a conversation added,
// changed (topic, role, invited → joined) or removed.
func (a *App) onConversation(ev chat.ConversationEvent) tea.Cmd {
	info := ev.Conversation
	if info.ID == "" {
		return nil
	}
	if ev.Removed {
		return a.removeConv(info.ID, ev.Reason)
	}
	var cmd tea.Cmd
	c, known := a.convs[info.ID]
	if !known {
		c = a.ensureConv(info)
		c.info = info
	} else {
		cmd = a.updateConv(c, info)
	}
	if ev.Reason != "" {
		a.systemLine(ev.Reason)
	}
	a.sidebar.Touch()
	return cmd
}

// updateConv takes the broker's new view of a known conversation. The
// unread and mention counts stay this session's, except for a room just
// joined from an invitation, which had none.
func (a *App) updateConv(c *Conversation, info chat.Conversation) tea.Cmd {
	joined := c.info.Invited && !info.Invited
	if !joined {
		info.Unread, info.Mentions = c.info.Unread, c.info.Mentions
	}
	if info.Name == "" {
		info.Name = c.info.Name
	}
	moved := info.Name != c.info.Name || info.Invited != c.info.Invited
	c.info = info
	if moved {
		a.placeConv(c)
	}
	if joined && c.info.ID == a.current {
		return a.loadLatest(c)
	}
	return nil
}

// removeConv drops a conversation from view at once: its lines, its
// unread count, its draft and its sidebar entry. If it was in front, the
// lobby comes to the front. reason, if any, is shown there as a system
// line. The lobby is never removed.
func (a *App) removeConv(id chat.ConvID, reason string) tea.Cmd {
	var cmd tea.Cmd
	if c := a.convs[id]; c != nil && id != chat.Lobby {
		delete(a.convs, id)
		a.order = slices.DeleteFunc(a.order, func(o *Conversation) bool { return o == c })
		if a.current == id {
			cmd = a.switchTo(chat.Lobby)
		}
		// After the switch, which saved the composer's text as its draft:
		// nothing typed for a room one no longer sees is kept.
		delete(a.mem.drafts, id)
		delete(a.mem.sentLines, id)
		a.outbox.forget(id)
		a.sidebar.Touch()
	}
	if reason != "" {
		a.systemLine(reason)
	}
	return cmd
}

// systemLine shows text as a system line in the conversation in front.
func (a *App) systemLine(text string) {
	if c := a.convs[a.current]; c != nil {
		c.addSystem(text, entSystem)
		c.trimOld(a.window(c))
	}
}
