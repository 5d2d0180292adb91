package chat

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// roomCmd sequences a roomOp and waits for its outcome.
func (s *session) roomCmd(ctx context.Context, o *roomOp) (roomResult, error) {
	o.s = s
	o.res = make(chan roomResult, 1)
	// Room changes spend the sender's rate tokens like messages: each
	// writes a line of history.
	h := s.hub
	h.mu.Lock()
	u, ok := h.users[s.user]
	allowed := ok && u.limiter.take(h.opts.Now(), h.opts.RateBurst, h.opts.RatePerSecond)
	h.mu.Unlock()
	if !ok {
		return roomResult{}, ErrClosed
	}
	if !allowed {
		h.opts.Metrics.RateLimited()
		return roomResult{}, fmt.Errorf("%w: at most %g messages or room changes per second", ErrRateLimited, h.opts.RatePerSecond)
	}
	if err := s.hub.submit(ctx, o); err != nil {
		return roomResult{}, fmt.Errorf("%s: %w", o.conv, err)
	}
	// Once queued the change is applied; wait for its outcome.
	r := <-o.res
	return r, r.err
}

// roomArg parses a room name argument: the display name and conversation.
func roomArg(arg string) (string, ConvID, error) {
	name, key, err := NormalizeRoomName(arg)
	if err != nil {
		return "", "", err
	}
	return name, RoomConv(key), nil
}

func cmdJoin(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
	if arg == "" || strings.ContainsRune(arg, ' ') {
		return Reply{}, usage("join")
	}
	name, conv, err := roomArg(arg)
	if err != nil {
		return Reply{}, err
	}
	if conv == Lobby {
		return Reply{Open: &Conversation{ID: Lobby, Kind: KindRoom, Name: string(Lobby)}}, nil
	}
	r, err := s.roomCmd(ctx, &roomOp{kind: opJoin, conv: conv, name: name})
	if err != nil {
		return Reply{}, err
	}
	return Reply{Lines: r.lines, Open: &r.conv}, nil
}

func cmdCreate(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
	room, mode, _ := strings.Cut(arg, " ")
	mode = strings.ToLower(strings.TrimSpace(mode))
	if room == "" || mode != "" && mode != "private" && mode != "public" {
		return Reply{}, usage("create")
	}
	name, conv, err := roomArg(room)
	if err != nil {
		return Reply{}, err
	}
	r, err := s.roomCmd(ctx, &roomOp{kind: opCreate, conv: conv, name: name, private: mode == "private"})
	if err != nil {
		return Reply{}, err
	}
	return Reply{Open: &r.conv}, nil
}

func cmdPart(ctx context.Context, s *session, conv ConvID, arg string) (Reply, error) {
	if arg != "" {
		if strings.ContainsRune(arg, ' ') {
			return Reply{}, usage("part")
		}
		_, c, err := roomArg(arg)
		if err != nil {
			return Reply{}, err
		}
		conv = c
	}
	if err := inRoom("part", conv); err != nil {
		return Reply{}, err
	}
	r, err := s.roomCmd(ctx, &roomOp{kind: opPart, conv: conv})
	if err != nil {
		return Reply{}, err
	}
	return Reply{Lines: r.lines, Closed: conv}, nil
}

// inRoom refuses a room command outside a room, in one line.
func inRoom(cmd string, conv ConvID) error {
	switch {
	case conv == Lobby || conv == "":
		if cmd == "part" {
			return fmt.Errorf("%w: everyone stays in the lobby; /part leaves other rooms", ErrNotAllowed)
		}
		return fmt.Errorf("%w: /%s works in a room other than the lobby", ErrNotAllowed, cmd)
	case strings.HasPrefix(string(conv), "#"):
		return nil
	}
	return fmt.Errorf("%w: /%s works in a room, not in a direct conversation", ErrNotAllowed, cmd)
}

func cmdRooms(ctx context.Context, s *session, _ ConvID, _ string) (Reply, error) {
	rooms, err := s.Rooms(ctx, "", 50)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Rooms: rooms}, nil
}

func cmdMembers(ctx context.Context, s *session, conv ConvID, _ string) (Reply, error) {
	if err := inRoom("members", conv); err != nil {
		if conv == Lobby {
			return Reply{}, fmt.Errorf("%w: everyone is in the lobby; /who lists who is online", ErrNotAllowed)
		}
		return Reply{}, err
	}
	h := s.hub
	r, err := h.member(ctx, conv, s.user)
	if err != nil {
		return Reply{}, fmt.Errorf("members: %w", err)
	}
	if r == nil {
		return Reply{}, notIn(conv)
	}
	type entry struct {
		id     UserID
		role   Role
		handle string
		online bool
	}
	var es []entry
	var name string
	h.mu.Lock()
	name = r.name
	for id, role := range r.members {
		e := entry{id: id, role: role}
		if p, ok := h.presenceLocked(id); ok { // on any node
			e.handle, e.online = p.Handle, true
		}
		es = append(es, e)
	}
	h.mu.Unlock()
	const shown = 200
	online := 0
	for i := range es {
		if es[i].online {
			online++
		}
	}
	sort.Slice(es, func(i, j int) bool {
		if es[i].role != es[j].role {
			return es[i].role > es[j].role
		}
		if es[i].online != es[j].online {
			return es[i].online
		}
		return es[i].id < es[j].id
	})
	var names []string
	for i, e := range es {
		if i == shown {
			names = append(names, fmt.Sprintf("and %d more", len(es)-shown))
			break
		}
		if e.handle == "" {
			e.handle = h.handleOf(ctx, e.id)
		}
		n := e.handle
		switch e.role {
		case RoleOwner:
			n += " (owner)"
		case RoleOperator:
			n += " (operator)"
		}
		if !e.online {
			n += " (offline)"
		}
		names = append(names, n)
	}
	noun := "members"
	if len(es) == 1 {
		noun = "member"
	}
	return Reply{Lines: []string{fmt.Sprintf("%s: %d %s, %d online: %s", name, len(es), noun, online, strings.Join(names, ", "))}}, nil
}

// targetCmd runs a room command aimed at a user: HANDLE, then for kick
// and ban an optional reason.
func targetCmd(ctx context.Context, s *session, conv ConvID, arg, cmd string, kind roomOpKind, reason bool) (Reply, error) {
	who, rest, _ := strings.Cut(arg, " ")
	rest = strings.TrimSpace(rest)
	if who == "" || rest != "" && !reason {
		return Reply{}, usage(cmd)
	}
	if err := inRoom(cmd, conv); err != nil {
		return Reply{}, err
	}
	u, err := s.lookup(ctx, strings.TrimPrefix(who, "@"))
	if err != nil {
		return Reply{}, err
	}
	r, err := s.roomCmd(ctx, &roomOp{kind: kind, conv: conv, target: UserID(u.ID), tname: u.Handle, text: SanitizeText(clipRunes(rest, 200))})
	if err != nil {
		return Reply{}, err
	}
	return Reply{Lines: r.lines}, nil
}

func cmdInvite(ctx context.Context, s *session, conv ConvID, arg string) (Reply, error) {
	return targetCmd(ctx, s, conv, arg, "invite", opInvite, false)
}

func cmdKick(ctx context.Context, s *session, conv ConvID, arg string) (Reply, error) {
	return targetCmd(ctx, s, conv, arg, "kick", opKick, true)
}

func cmdBan(ctx context.Context, s *session, conv ConvID, arg string) (Reply, error) {
	return targetCmd(ctx, s, conv, arg, "ban", opBan, true)
}

func cmdUnban(ctx context.Context, s *session, conv ConvID, arg string) (Reply, error) {
	return targetCmd(ctx, s, conv, arg, "unban", opUnban, false)
}

func cmdOp(ctx context.Context, s *session, conv ConvID, arg string) (Reply, error) {
	return targetCmd(ctx, s, conv, arg, "op", opOp, false)
}

func cmdDeop(ctx context.Context, s *session, conv ConvID, arg string) (Reply, error) {
	return targetCmd(ctx, s, conv, arg, "deop", opDeop, false)
}

func cmdTopic(ctx context.Context, s *session, conv ConvID, arg string) (Reply, error) {
	if err := inRoom("topic", conv); err != nil {
		return Reply{}, err
	}
	if arg == "" {
		r, err := s.hub.member(ctx, conv, s.user)
		if err != nil {
			return Reply{}, fmt.Errorf("topic: %w", err)
		}
		if r == nil {
			return Reply{}, notIn(conv)
		}
		s.hub.mu.Lock()
		name, topic := r.name, r.topic
		s.hub.mu.Unlock()
		if topic == "" {
			return Reply{Lines: []string{name + " has no topic; /topic TEXT sets one"}}, nil
		}
		return Reply{Lines: []string{"topic of " + name + ": " + topic}}, nil
	}
	topic := strings.TrimSpace(SanitizeText(clipRunes(strings.TrimSpace(arg), 200)))
	switch topic {
	case "-":
		topic = ""
	case "":
		// Control characters only: not a request to clear it.
		return Reply{}, fmt.Errorf("%w: the topic has no printable text; /topic - clears it", ErrEmpty)
	}
	r, err := s.roomCmd(ctx, &roomOp{kind: opTopic, conv: conv, text: topic})
	if err != nil {
		return Reply{}, err
	}
	return Reply{Lines: r.lines}, nil
}
