package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// Broker events: the App applies each batch to the chat state and its
// components.

func (a *App) applyEvents(evs eventsMsg) tea.Cmd {
	if a.phase != phaseChat {
		return nil
	}
	var cmds []tea.Cmd
	bell := false
	for _, ev := range evs {
		switch ev := ev.(type) {
		case chat.MessageEvent:
			a.notes.Flush()
			ring, cmd := a.onMessage(ev)
			bell = bell || ring
			cmds = append(cmds, cmd)
		case *chat.MessageEvent:
			a.notes.Flush()
			ring, cmd := a.onMessage(*ev)
			bell = bell || ring
			cmds = append(cmds, cmd)
		case chat.PresenceEvent:
			a.onPresence(ev)
		case *chat.PresenceEvent:
			a.onPresence(*ev)
		case chat.ContactsEvent:
			a.contacts = ev.Contacts
			a.sidebar.Touch()
		case *chat.ContactsEvent:
			a.contacts = ev.Contacts
			a.sidebar.Touch()
		case chat.NoticeEvent:
			a.notes.Flush()
			a.onNotice(ev)
		case *chat.NoticeEvent:
			a.notes.Flush()
			a.onNotice(*ev)
		case chat.ReadEvent:
			a.onRead(ev)
		case *chat.ReadEvent:
			a.onRead(*ev)
		case chat.ConversationEvent:
			a.notes.Flush()
			cmds = append(cmds, a.onConversation(ev))
		case *chat.ConversationEvent:
			a.notes.Flush()
			cmds = append(cmds, a.onConversation(*ev))
		case chat.AnnouncementEvent:
			a.notes.Flush()
			a.onAnnouncement(ev)
		case *chat.AnnouncementEvent:
			a.notes.Flush()
			a.onAnnouncement(*ev)
		case chat.SettingsEvent:
			a.applySettings(ev.Settings)
		case *chat.SettingsEvent:
			a.applySettings(ev.Settings)
		case chat.EditEvent: // edit.go
			a.onEdit(ev)
		case chat.LinkEvent:
			a.status.SetLinkDown(ev.Down)
		case chat.ShutdownEvent:
			return a.onShutdown(ev)
		case *chat.ShutdownEvent:
			return a.onShutdown(*ev)
		}
	}
	cmds = append(cmds, a.notes.Schedule())
	if bell && a.prefs.Bell {
		// The one place the UI rings: at most once per batch. BEL goes to
		// the terminal as a raw write, never inside the view.
		cmds = append(cmds, tea.Raw("\a"))
	}
	return tea.Batch(cmds...)
}

// onMessage files a live message; it reports whether it deserves the bell:
// a direct message, or the first unread mention of the user in a room,
// when not in front (a room already showing a mention badge does not ring
// again until read). A system line of a room (joins, kicks, topic) is
// shown but neither counted nor rung for.
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
		info.Unread, info.Mentions = 0, 0
		c = a.ensureConv(info)
	}
	fromMe := m.From == a.me.ID
	hold := c.holds(a.current)
	switch {
	case hold && !c.hasNewer && !a.appendMessage(c, m):
		return false, nil // already shown (our own Send's result, or history)
	case !hold && len(c.unread) > 0 && m.ID <= c.unread[len(c.unread)-1].id:
		return false, nil // already counted
	}
	if fromMe || m.Kind == chat.KindSystem {
		return false, nil
	}
	if c.info.ID == a.current {
		if c.hasNewer {
			c.newBelow++ // not in the window, which was let go of at the new end
		}
		return false, a.scheduleMarkRead()
	}
	c.info.Unread++
	first := false
	// Mentions are counted in rooms, as the broker counts them (a direct
	// message is all for its reader, and rings anyway).
	mentioned := c.info.Kind == chat.KindRoom && chat.Mentions(m.Body, a.rc.meKey)
	if mentioned {
		first = c.info.Mentions == 0
		c.info.Mentions++
	}
	if !hold {
		c.markUnread(m.ID, mentioned)
	}
	a.sidebar.Touch()
	return c.info.Kind == chat.KindDirect || first, nil
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
	if len(c.unread) > 0 {
		// Never opened: the marks say what is unread after UpTo (those
		// from before login, older than every mark, are read too) unless
		// UpTo is older than the marks kept.
		if c.unreadCut && ev.UpTo < c.unread[0].id {
			return
		}
		n, ment := 0, 0
		c.unread = slices.DeleteFunc(c.unread, func(u unreadMark) bool { return u.id <= ev.UpTo })
		for _, u := range c.unread {
			n++
			if u.mention {
				ment++
			}
		}
		c.info.Unread, c.info.Mentions = min(c.info.Unread, n), min(c.info.Mentions, ment)
		a.sidebar.Touch()
		return
	}
	// With no message in the window (a conversation this session has not
	// opened, its unread ones from before login), none is known to be
	// newer than UpTo.
	n, ment, bounded := 0, 0, !c.hasOlder || c.newestID() == 0
	for i := len(c.entries) - 1; i >= 0 && n < c.info.Unread; i-- {
		e := &c.entries[i]
		if e.kind != entMessage || e.msg.Kind == chat.KindSystem {
			continue
		}
		if e.msg.ID <= ev.UpTo {
			bounded = true
			break
		}
		if e.msg.From != a.me.ID {
			n++
			if chat.Mentions(e.msg.Body, a.rc.meKey) {
				ment++
			}
		}
	}
	// The window holds only the newest messages: when UpTo is older than
	// all of them, the count after it is unknown here and stays as it is.
	if bounded && n < c.info.Unread {
		c.info.Unread = n
		c.info.Mentions = min(c.info.Mentions, ment)
		a.sidebar.Touch()
	}
}

// onPresence applies one presence change. Join and leave notices are not
// added here but collected in notes, so that a batch of them (a busy lobby,
// a connect storm) becomes one summary line.
func (a *App) onPresence(ev chat.PresenceEvent) {
	p := ev.Presence
	lobby := a.convs[chat.Lobby]
	if ev.OldHandle != "" && ev.OldHandle != p.Handle {
		// The user's own sessions are told "you are now known as …" by a
		// notice from the broker instead.
		if lobby != nil && p.User != a.me.ID {
			a.notes.FlushNow()
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
			a.rc.meKey = chat.HandleKey(p.Handle)
			a.dropRenderCaches() // mentions of the new handle are highlighted
		}
	}
	delete(a.awayTold, p.User) // a new away spell is told again
	if p.User != a.me.ID {
		switch {
		case ev.Joined && a.prefs.Notices:
			a.notes.Add(p.User, p.Handle, true)
		case ev.Left && a.prefs.Notices:
			a.notes.Add(p.User, p.Handle, false)
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
	a.sidebar.Touch()
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

// onAnnouncement shows an administrator's announcement in the
// conversation in front and, if that is not the lobby, in the lobby too.
func (a *App) onAnnouncement(ev chat.AnnouncementEvent) {
	text := "announcement from " + ev.From + ": " + ev.Text
	for _, id := range []chat.ConvID{a.current, chat.Lobby} {
		if c := a.convs[id]; c != nil {
			c.addSystem(text, entSystem)
			c.trimOld(a.window(c))
		}
		if a.current == chat.Lobby {
			break
		}
	}
}

func (a *App) onShutdown(ev chat.ShutdownEvent) tea.Cmd {
	text := "server shutting down"
	if r := strings.TrimSpace(ev.Reason); r != "" && r != text {
		text += ": " + r
	}
	return a.end(text)
}

// onEdit shows an edited or deleted message in place, in whichever
// window holds it.
func (a *App) onEdit(ev chat.EditEvent) {
	if c := a.convs[ev.Message.Conv]; c != nil {
		c.replaceMessage(ev.Message)
	}
}
