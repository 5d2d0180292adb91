package chat

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"sshchat/model"
)

// command is one /command: its usage, help line, an example for
// /help COMMAND, and its handler.
type command struct {
	name    string
	args    string
	help    string
	example string
	run     func(ctx context.Context, s *session, conv ConvID, arg string) (Reply, error)
	alias   []string
}

// commands returns the command table, in /help order.
func commands() []command {
	return []command{
		{name: "help", args: "[COMMAND]", help: "list commands, or explain one", example: "/help tz", run: cmdHelp},
		{name: "msg", args: "HANDLE [TEXT]", help: "open a direct conversation, optionally sending TEXT", example: "/msg alice are you around?", run: cmdMsg, alias: []string{"query", "dm"}},
		{name: "me", args: "ACTION", help: "send an action (\"* you ACTION\")", example: "/me waves", run: cmdMe},
		{name: "who", help: "list the people online", example: "/who", run: cmdWho},
		{name: "whois", args: "HANDLE", help: "show a user's handle, presence and dates (keys: yours, or anyone's to administrators)", example: "/whois alice", run: cmdWhois},
		{name: "keys", args: "[link | remove FINGERPRINT]", help: "list your keys; link: a one-time code to add a key; remove one", example: "/keys link", run: cmdKeys},
		{name: "nick", args: "HANDLE", help: "change your handle", example: "/nick alice2", run: cmdNick},
		{name: "add", args: "HANDLE", help: "add a contact", example: "/add alice", run: cmdAdd},
		{name: "remove", args: "HANDLE", help: "remove a contact", example: "/remove alice", run: cmdRemove},
		{name: "block", args: "HANDLE", help: "stop receiving anything from a user", example: "/block spammer", run: cmdBlock},
		{name: "unblock", args: "HANDLE", help: "undo /block", example: "/unblock spammer", run: cmdUnblock},
		{name: "join", args: "#ROOM", help: "join a room, creating it (public) if it does not exist", example: "/join #go", run: cmdJoin},
		{name: "create", args: "#ROOM [private]", help: "create a room; a private one is invite-only", example: "/create #team private", run: cmdCreate},
		{name: "part", args: "[#ROOM]", help: "leave a room (the one in front by default); also /leave", example: "/part #go", run: cmdPart, alias: []string{"leave"}},
		{name: "rooms", help: "list rooms to join", example: "/rooms", run: cmdRooms},
		{name: "members", help: "list the members of the room in front", example: "/members", run: cmdMembers},
		{name: "invite", args: "HANDLE", help: "invite a user to the room in front", example: "/invite alice", run: cmdInvite},
		{name: "topic", args: "[TEXT]", help: "show the topic of the room in front, or set it (operators; - clears it)", example: "/topic Release on Friday", run: cmdTopic},
		{name: "kick", args: "HANDLE [REASON]", help: "remove a member from the room in front (operators)", example: "/kick bob flooding", run: cmdKick},
		{name: "ban", args: "HANDLE [REASON]", help: "remove a user from the room in front for good (operators)", example: "/ban bob spam", run: cmdBan},
		{name: "unban", args: "HANDLE", help: "undo /ban (operators)", example: "/unban bob", run: cmdUnban},
		{name: "op", args: "HANDLE", help: "make a member an operator of the room in front (owner)", example: "/op alice", run: cmdOp},
		{name: "deop", args: "HANDLE", help: "undo /op (owner)", example: "/deop alice", run: cmdDeop},
		{name: "edit", args: "NEW TEXT", help: "replace your last message here (Shift+Up in an empty input offers it)", example: "/edit fixed the typo", run: cmdEdit},
		{name: "delete", help: "delete your last message here", example: "/delete", run: cmdDelete},
		{name: "search", args: "WORDS", help: "find messages containing WORDS in every conversation you can read", example: "/search release notes", run: cmdSearch},
		{name: "away", args: "[REASON]", help: "mark yourself away", example: "/away lunch", run: cmdAway},
		{name: "back", help: "mark yourself back", example: "/back", run: cmdBack},
		{name: "set", help: "list your settings", example: "/set", run: cmdSet},
		{name: "theme", args: "light|dark|auto", help: "colours for a light or dark terminal; auto asks the terminal", example: "/theme light", run: runSetting("theme")},
		{name: "tz", args: "ZONE|server", help: "the time zone of message times", example: "/tz Europe/Paris", run: runSetting("tz")},
		{name: "clock", args: "12|24", help: "12- or 24-hour times", example: "/clock 12", run: runSetting("clock")},
		{name: "bell", args: "on|off", help: "ring the bell on a mention or direct message", example: "/bell off", run: runSetting("bell")},
		{name: "notices", args: "on|off", help: "show people joining and leaving", example: "/notices off", run: runSetting("notices")},
		{name: "links", args: "on|off|auto", help: "web addresses as clickable links (auto: on terminals known to support them)", example: "/links off", run: runSetting("links")},
		{name: "admin", args: "SUBCOMMAND ...", help: "server administration (administrators): kick, ban, unban, bans, mute, unmute, announce, audit, authorize, revoke, limits", example: "/admin ban bob 7d spam", run: cmdAdmin},
		{name: "quit", help: "leave the chat", example: "/quit", run: cmdQuit, alias: []string{"exit"}},
	}
}

// ParseCommand splits "/name args" into a lower-case name and its trimmed
// argument string. ok is false when line is not a command.
func ParseCommand(line string) (name, arg string, ok bool) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "/") || len(line) < 2 {
		return "", "", false
	}
	name, arg, _ = strings.Cut(line[1:], " ")
	return strings.ToLower(name), strings.TrimSpace(arg), true
}

// Exec runs a /command.
func (s *session) Exec(ctx context.Context, conv ConvID, line string) (Reply, error) {
	if s.isClosed() {
		return Reply{}, ErrClosed
	}
	if err := s.removedErr(); err != nil { // kicked or banned: nothing more
		return Reply{}, err
	}
	name, arg, ok := ParseCommand(line)
	if !ok {
		return Reply{}, fmt.Errorf("%w: type a command after /, e.g. /help", ErrUnknownCommand)
	}
	for _, c := range commands() {
		if c.name == name || contains(c.alias, name) {
			return c.run(ctx, s, conv, arg)
		}
	}
	return Reply{}, fmt.Errorf("%w: /%s is not a command; /help lists them", ErrUnknownCommand, SanitizeText(clipRunes(name, 32)))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func usage(name string) error {
	for _, c := range commands() {
		if c.name == name {
			return fmt.Errorf("%w: /%s %s", ErrUsage, c.name, c.args)
		}
	}
	return ErrUsage
}

func cmdHelp(_ context.Context, _ *session, _ ConvID, arg string) (Reply, error) {
	if arg != "" {
		return helpOne(arg)
	}
	lines := []string{"Commands (/help COMMAND explains one):"}
	for _, c := range commands() {
		lines = append(lines, fmt.Sprintf("  %-24s %s", c.usage(), c.help))
	}
	lines = append(lines, "Keys: ? or F1 all keys, Ctrl+K quick switcher, Tab/Ctrl+N/Ctrl+P switch conversation (Tab completes an @handle while typing one), Esc/Ctrl+S contacts and people, PgUp/PgDn scroll, Ctrl+C quit")
	return Reply{Lines: lines}, nil
}

// usage is "/name ARGS".
func (c command) usage() string {
	if c.args == "" {
		return "/" + c.name
	}
	return "/" + c.name + " " + c.args
}

// helpOne explains one command (/help tz): usage, help line, aliases and
// an example.
func helpOne(arg string) (Reply, error) {
	name := strings.ToLower(strings.TrimPrefix(strings.Fields(arg)[0], "/"))
	for _, c := range commands() {
		if c.name == name || contains(c.alias, name) {
			lines := []string{c.usage(), "  " + c.help}
			if len(c.alias) > 0 {
				lines = append(lines, "  also: /"+strings.Join(c.alias, ", /"))
			}
			if c.example != "" {
				lines = append(lines, "  example: "+c.example)
			}
			return Reply{Lines: lines}, nil
		}
	}
	return Reply{}, fmt.Errorf("%w: /%s is not a command; /help lists them", ErrUnknownCommand, SanitizeText(clipRunes(name, 32)))
}

// lookup resolves a handle argument to a user.
func (s *session) lookup(ctx context.Context, arg string) (model.User, error) {
	key := HandleKey(arg)
	if key == "" {
		return model.User{}, fmt.Errorf("%w: %q", ErrNoSuchUser, SanitizeText(clipRunes(arg, 32)))
	}
	u, err := s.hub.store.UserByHandle(ctx, key)
	if errors.Is(err, model.ErrNotFound) {
		return model.User{}, fmt.Errorf("%w: %q", ErrNoSuchUser, SanitizeText(clipRunes(arg, 32)))
	}
	if err != nil {
		return model.User{}, fmt.Errorf("look up user: %w", err)
	}
	return u, nil
}

func cmdMsg(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
	who, text, _ := strings.Cut(arg, " ")
	if who == "" {
		return Reply{}, usage("msg")
	}
	u, err := s.lookup(ctx, strings.TrimPrefix(who, "@"))
	if err != nil {
		return Reply{}, err
	}
	if UserID(u.ID) == s.user {
		return Reply{}, fmt.Errorf("%w: you cannot message yourself", ErrNotAllowed)
	}
	conv := Conversation{ID: DirectConv(s.user, UserID(u.ID)), Kind: KindDirect, Name: u.Handle, Peer: UserID(u.ID)}
	rep := Reply{Open: &conv}
	if strings.TrimSpace(text) == "" {
		return rep, nil
	}
	m, err := s.Send(ctx, conv.ID, text)
	if err != nil {
		return rep, err
	}
	rep.Sent = &m
	return rep, nil
}

func cmdMe(ctx context.Context, s *session, conv ConvID, arg string) (Reply, error) {
	if arg == "" {
		return Reply{}, usage("me")
	}
	if conv == "" {
		conv = Lobby
	}
	_, err := s.send(ctx, conv, arg, KindAction)
	return Reply{}, err
}

func cmdWho(_ context.Context, s *session, _ ConvID, _ string) (Reply, error) {
	h := s.hub
	h.mu.Lock()
	var names []string
	for _, p := range h.everyoneOnlineLocked() { // on every node
		n := p.Handle
		if p.Admin {
			n += " (admin)"
		}
		if p.Status == Away {
			n += " (away)"
		}
		names = append(names, n)
	}
	h.mu.Unlock()
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	return Reply{Lines: []string{fmt.Sprintf("%d online: %s", len(names), strings.Join(names, ", "))}}, nil
}

func cmdWhois(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
	if arg == "" {
		return Reply{}, usage("whois")
	}
	u, err := s.lookup(ctx, strings.TrimPrefix(arg, "@"))
	if err != nil {
		return Reply{}, err
	}
	keys, err := s.hub.store.KeysOf(ctx, u.ID)
	if err != nil {
		return Reply{}, fmt.Errorf("whois: %w", err)
	}
	h := s.hub
	h.mu.Lock()
	p := Presence{User: UserID(u.ID), Handle: u.Handle, LastSeen: h.seen.of(UserID(u.ID), u.LastSeen)}
	admin := false
	if o, ok := h.users[UserID(u.ID)]; ok {
		p = o.presence()
		admin = h.adminOnlineLocked(o)
	} else if rp, ok := h.remotePresenceLocked(UserID(u.ID)); ok {
		p, admin = rp, rp.Admin // online on another node
	}
	h.mu.Unlock()
	handle := p.Handle
	if admin {
		handle += " (admin)"
	}
	lines := []string{"handle:    " + handle}
	// Which keys log into an account is the user's business and the
	// administrators'.
	if UserID(u.ID) == s.user || h.isAdmin(s.fp) {
		for _, k := range keys {
			lines = append(lines, "key:       "+k.Fingerprint)
		}
	}
	status := p.Status.String()
	if p.Status == Away && p.Reason != "" {
		status += ": " + p.Reason
	}
	lines = append(lines, "presence:  "+status)
	if p.Status == Offline && !p.LastSeen.IsZero() {
		lines = append(lines, "last seen: "+p.LastSeen.UTC().Format("2006-01-02 15:04 MST"))
	}
	lines = append(lines, "joined:    "+u.CreatedAt.UTC().Format("2006-01-02 15:04 MST"))
	return Reply{Lines: lines}, nil
}

func cmdNick(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
	if arg == "" {
		return Reply{}, usage("nick")
	}
	display, key, err := NormalizeHandle(arg)
	if err != nil {
		return Reply{}, err
	}
	h := s.hub
	if h.handleOf(ctx, s.user) == display {
		return Reply{Lines: []string{"you are already " + display}}, nil
	}
	o := &renameOp{s: s, display: display, key: key, res: make(chan error, 1)}
	if err := h.submit(ctx, o); err != nil {
		return Reply{}, fmt.Errorf("rename: %w", err)
	}
	// Once queued the rename is applied; wait for its outcome.
	if err := <-o.res; err != nil {
		if herr := handleRefusal(display, err); herr != nil {
			return Reply{}, herr
		}
		return Reply{}, err // from Hub.wrote: says what went wrong
	}
	return Reply{}, nil
}

// listChange is one contact-list command: how to tell whether the other
// user is already on the list, how to change it, and what to say.
type listChange struct {
	name   string // command name, for usage
	listed func(ctx context.Context, owner, other uint64) (bool, error)
	do     func(ctx context.Context, owner, other uint64) error
	add    bool   // the command puts the user on the list
	state  string // "%s is already in your contacts" / "%s is not in your contacts"
	done   string // "%s added to your contacts"
}

// contactChange runs a contact-list mutation and tells all the user's
// sessions the new list. Adding someone already listed fails with
// ErrAlreadyListed, removing someone not listed with ErrNotListed.
func contactChange(ctx context.Context, s *session, arg string, c listChange) (Reply, error) {
	if arg == "" {
		return Reply{}, usage(c.name)
	}
	u, err := s.lookup(ctx, strings.TrimPrefix(arg, "@"))
	if err != nil {
		return Reply{}, err
	}
	if UserID(u.ID) == s.user {
		return Reply{}, fmt.Errorf("%w: that is you", ErrNotAllowed)
	}
	listed, err := c.listed(ctx, uint64(s.user), u.ID)
	if err != nil {
		return Reply{}, fmt.Errorf("/%s: %w", c.name, err)
	}
	switch {
	case c.add && listed:
		return Reply{}, fmt.Errorf("%w: "+c.state, ErrAlreadyListed, u.Handle)
	case !c.add && !listed:
		return Reply{}, fmt.Errorf("%w: "+c.state, ErrNotListed, u.Handle)
	}
	o := &listOp{s: s, name: c.name, other: u.ID, do: c.do, res: make(chan error, 1)}
	if err := s.hub.submit(ctx, o); err != nil {
		return Reply{}, fmt.Errorf("/%s: %w", c.name, err)
	}
	// Once queued the change is applied; wait for its outcome.
	err = <-o.res
	if errors.Is(err, model.ErrNotFound) {
		return Reply{}, fmt.Errorf("%w: "+c.state, ErrNotListed, u.Handle)
	}
	if err != nil {
		return Reply{}, err
	}
	return Reply{Lines: []string{fmt.Sprintf(c.done, u.Handle)}}, nil
}

// isContact reports whether other is on owner's contact list.
func (h *Hub) isContact(ctx context.Context, owner, other uint64) (bool, error) {
	users, err := h.store.ContactsOf(ctx, owner)
	if err != nil {
		return false, err
	}
	for _, u := range users {
		if u.ID == other {
			return true, nil
		}
	}
	return false, nil
}

func cmdAdd(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
	h := s.hub
	return contactChange(ctx, s, arg, listChange{name: "add", listed: h.isContact, do: h.store.AddContact, add: true,
		state: "%s is already in your contacts", done: "%s added to your contacts"})
}

func cmdRemove(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
	h := s.hub
	return contactChange(ctx, s, arg, listChange{name: "remove", listed: h.isContact, do: h.store.RemoveContact,
		state: "%s is not in your contacts", done: "%s removed from your contacts"})
}

func cmdBlock(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
	h := s.hub
	return contactChange(ctx, s, arg, listChange{name: "block", listed: h.store.IsBlocked, do: h.store.Block, add: true,
		state: "%s is already blocked", done: "%s is blocked: you will not see their messages"})
}

func cmdUnblock(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
	h := s.hub
	return contactChange(ctx, s, arg, listChange{name: "unblock", listed: h.store.IsBlocked, do: h.store.Unblock,
		state: "%s is not blocked", done: "%s is unblocked"})
}

// setStatus changes the user's status through the sequencer (statusOp).
func (s *session) setStatus(ctx context.Context, st Status, reason string) error {
	o := &statusOp{s: s, status: st, reason: reason, res: make(chan error, 1)}
	if err := s.hub.submit(ctx, o); err != nil {
		return fmt.Errorf("set status: %w", err)
	}
	return <-o.res
}

func cmdAway(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
	reason := SanitizeText(clipRunes(arg, 100))
	if err := s.setStatus(ctx, Away, reason); err != nil {
		return Reply{}, err
	}
	if reason == "" {
		return Reply{Lines: []string{"you are away"}}, nil
	}
	return Reply{Lines: []string{"you are away: " + reason}}, nil
}

func cmdBack(ctx context.Context, s *session, _ ConvID, _ string) (Reply, error) {
	if err := s.setStatus(ctx, Online, ""); err != nil {
		return Reply{}, err
	}
	return Reply{Lines: []string{"welcome back"}}, nil
}

func cmdQuit(context.Context, *session, ConvID, string) (Reply, error) {
	return Reply{Quit: true}, nil
}
