package ui

// lifecycle.go takes the App from login to the chat screen and out:
// registration, connecting to the broker, and ending with a reason.

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

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
	a.rc.meKey = chat.HandleKey(a.me.Handle)
	a.ensureConv(chat.Conversation{ID: chat.Lobby, Kind: chat.KindRoom, Name: string(chat.Lobby)})
	for _, info := range snap.Conversations {
		c := a.ensureConv(info)
		name := c.info.Name
		c.info = info
		if c.info.Name == "" {
			c.info.Name = name
		}
	}
	a.current = chat.Lobby
	if lobby := a.convs[chat.Lobby]; lobby != nil {
		lobby.info.Unread = 0
	}
	a.online = snap.Online
	a.contacts = snap.Contacts
	if snap.Settings.Theme == "" { // a broker that keeps no settings
		snap.Settings = chat.DefaultSettings()
	}
	a.applySettings(snap.Settings)
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
