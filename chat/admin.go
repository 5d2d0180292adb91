package chat

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sshchat/model"
)

// Server administration (/admin): kicks, bans and mutes that last, and
// announcements, each written to the audit log with the change it makes.
//
// Who is an administrator is decided outside the chat, by the key a
// session authenticated with (Options.IsAdmin, asked at each use, so that
// a change of the operator's list takes effect at once); Hub.isAdmin is
// the one place that asks.

// moderation is the server-wide bans and mutes in force, loaded at start
// and changed only by the sequencer (adminOp). Its mutex is taken after
// Hub.mu when both are held, never before; reads (Banned, at every login
// attempt) take only it.
type moderation struct {
	mu    sync.RWMutex
	bans  map[string]model.Ban // by key fingerprint, expired ones included
	mutes map[UserID]model.Mute
}

// load reads the stored bans and mutes.
func (m *moderation) load(ctx context.Context, store model.Store) error {
	bans, err := store.Bans(ctx)
	if err != nil {
		return fmt.Errorf("load bans: %w", err)
	}
	mutes, err := store.Mutes(ctx)
	if err != nil {
		return fmt.Errorf("load mutes: %w", err)
	}
	m.bans = make(map[string]model.Ban, len(bans))
	for _, b := range bans {
		m.bans[b.Fingerprint] = b
	}
	m.mutes = make(map[UserID]model.Mute, len(mutes))
	for _, mu := range mutes {
		m.mutes[UserID(mu.UserID)] = mu
	}
	return nil
}

// Ban is a key's ban in force, as the server tells the key.
type Ban struct {
	Fingerprint string
	Reason      string
	Until       time.Time // zero: for good
}

// Line is the one line a banned key is told: "banned from this server
// until 2026-12-07 19:00 UTC: spam".
func (b Ban) Line() string {
	return "banned from this server" + untilText(b.Until) + reasonText(b.Reason)
}

// untilText is " until TIME" for an expiry, "" for none.
func untilText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " until " + t.UTC().Format("2006-01-02 15:04 MST")
}

// reasonText is ": REASON", or "" without one.
func reasonText(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

// active reports whether an expiry (nil: none) is still ahead at now.
func active(exp *time.Time, now time.Time) bool { return exp == nil || now.Before(*exp) }

// Banned reports whether key fingerprint fp is banned now. It reads only
// memory, so the server may ask it for every key offered before
// authentication.
func (h *Hub) Banned(fp string) (Ban, bool) {
	h.mod.mu.RLock()
	b, ok := h.mod.bans[fp]
	h.mod.mu.RUnlock()
	if !ok || !active(b.ExpiresAt, h.opts.Now()) {
		return Ban{}, false
	}
	out := Ban{Fingerprint: fp, Reason: b.Reason}
	if b.ExpiresAt != nil {
		out.Until = *b.ExpiresAt
	}
	return out, true
}

// bannedErr is the error a banned key's login or session ends with.
func bannedErr(b Ban) error {
	return fmt.Errorf("%w: this key is %s", ErrRemoved, b.Line())
}

// checkBan refuses a banned key.
func (h *Hub) checkBan(fp string) error {
	if b, ok := h.Banned(fp); ok {
		return bannedErr(b)
	}
	return nil
}

// mutedErr refuses a post of a muted user in a shared conversation, or is
// nil. It reads h.mod under its own lock (Hub.mu may be held).
func (h *Hub) mutedErr(id UserID) error {
	h.mod.mu.RLock()
	m, ok := h.mod.mutes[id]
	h.mod.mu.RUnlock()
	if !ok || !active(m.ExpiresAt, h.opts.Now()) {
		return nil
	}
	var until time.Time
	if m.ExpiresAt != nil {
		until = *m.ExpiresAt
	}
	return fmt.Errorf("%w: you are muted%s: you cannot post in the lobby or rooms; direct messages still work", ErrNotAllowed, untilText(until))
}

// isAdmin reports whether the key with fingerprint fp is an
// administrator's (Options.IsAdmin), now.
func (h *Hub) isAdmin(fp string) bool {
	return fp != "" && h.opts.IsAdmin != nil && h.opts.IsAdmin(fp)
}

// adminOnlineLocked reports whether one of the user's sessions (of
// Connect) authenticated with an administrator's key; Hub.mu is held.
func (h *Hub) adminOnlineLocked(u *userState) bool {
	for s := range u.sessions {
		if h.isAdmin(s.fp) {
			return true
		}
	}
	return false
}

// adminChangedLocked publishes the user's presence when whether they are
// online as an administrator changed (a session came or went, the
// operator's list changed); Hub.mu is held, in the sequencer.
func (h *Hub) adminChangedLocked(u *userState) {
	if a := h.adminOnlineLocked(u); a != u.admin {
		u.admin = a
		h.publishPresenceLocked(PresenceEvent{Presence: u.presence()})
	}
}

// refreshAdminsOp re-applies the administrators' list to the users
// online, once it changed (Hub.AdminsChanged).
type refreshAdminsOp struct{}

func (*refreshAdminsOp) isOp() {}

// AdminsChanged tells the hub that Options.IsAdmin may answer otherwise
// now: the Admin mark of the users online is brought up to date, in the
// one order. It does not wait for that.
func (h *Hub) AdminsChanged(ctx context.Context) error {
	return h.submit(ctx, &refreshAdminsOp{})
}

// adminOp is a moderation action: its store change (with its audit row,
// in one transaction), then what it changes in memory, under Hub.mu, then
// what it asks of the server. It is sequenced so that a mute or a ban
// takes effect at one place among the messages: nothing sequenced after
// it is posted by the muted user or reaches the banned key's sessions.
type adminOp struct {
	name  string
	by    *session // the administrator, for the log
	whom  string   // the target as the audit log names it, for the log
	write func(ctx context.Context) error
	apply func()
	after func()
	res   chan error
}

func (*adminOp) isOp() {}

// applyAdmin runs an adminOp in the sequencer. The store's ErrNotFound is
// returned as is (nothing to undo).
func (h *Hub) applyAdmin(o *adminOp) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := o.write(ctx)
	if errors.Is(err, model.ErrNotFound) {
		return err
	}
	if err := h.wrote(err, "/admin "+o.name, "nothing was changed"); err != nil {
		return err
	}
	if o.apply != nil {
		h.locked(o.apply)
	}
	if o.after != nil {
		o.after()
	}
	// The log line names no reason or text: the audit log keeps them.
	h.log.Info("moderation", "action", o.name, "admin", o.by.user, "target", o.whom)
	return nil
}

// adminCmd sequences an adminOp and waits for its outcome.
func (s *session) adminCmd(ctx context.Context, o *adminOp) error {
	o.res = make(chan error, 1)
	o.by = s
	if err := s.hub.submit(ctx, o); err != nil {
		return fmt.Errorf("/admin %s: %w", o.name, err)
	}
	// Once queued the change is applied; wait for its outcome.
	return <-o.res
}

// endUserLocked ends the sessions of user id (of Connect and Attach)
// that authenticated with a key in fps (nil: all of them) with err: their
// events close at once and nothing sequenced after this reaches them.
// Hub.mu is held.
func (h *Hub) endUserLocked(id UserID, fps map[string]bool, err error) {
	end := func(u *userState) {
		if u == nil {
			return
		}
		for s := range u.sessions {
			if fps == nil || fps[s.fp] {
				s.drop(err)
			}
		}
	}
	end(h.users[id])
	end(h.quiet.users[id])
}

// removedErr reports whether s was ended by an administrator, and why.
func (s *session) removedErr() error {
	if err := s.Err(); errors.Is(err, ErrRemoved) {
		return err
	}
	return nil
}

// adminUsage is the usage line of /admin and of each subcommand.
var adminUsage = map[string]string{
	"":          "/admin kick|ban|unban|bans|mute|unmute|announce|audit|delete|authorize|revoke|limits ...",
	"authorize": "/admin authorize PUBKEY [COMMENT]",
	"revoke":    "/admin revoke SHA256:FINGERPRINT",
	"kick":      "/admin kick HANDLE [REASON]",
	"ban":       "/admin ban HANDLE|SHA256:FINGERPRINT [DURATION] [REASON]",
	"unban":     "/admin unban HANDLE|SHA256:FINGERPRINT",
	"bans":      "/admin bans",
	"mute":      "/admin mute HANDLE [DURATION] [REASON]",
	"unmute":    "/admin unmute HANDLE",
	"announce":  "/admin announce TEXT",
	"audit":     "/admin audit [N]",
	"limits":    "/admin limits",
	"delete":    "/admin delete MESSAGE_ID",
}

func adminUsageErr(sub string) error { return fmt.Errorf("%w: %s", ErrUsage, adminUsage[sub]) }

// errNotAdmin refuses /admin to a key that is not an administrator's.
var errNotAdmin = fmt.Errorf("%w: you are not allowed to use /admin: it is for server administrators", ErrNotAllowed)

func cmdAdmin(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
	if !s.hub.isAdmin(s.fp) {
		return Reply{}, errNotAdmin
	}
	sub, rest, _ := strings.Cut(arg, " ")
	sub, rest = strings.ToLower(sub), strings.TrimSpace(rest)
	switch sub {
	case "kick":
		return adminKick(ctx, s, rest)
	case "ban":
		return adminBan(ctx, s, rest)
	case "unban":
		return adminUnban(ctx, s, rest)
	case "bans":
		return adminBans(ctx, s, rest)
	case "mute":
		return adminMute(ctx, s, rest)
	case "unmute":
		return adminUnmute(ctx, s, rest)
	case "announce":
		return adminAnnounce(ctx, s, rest)
	case "audit":
		return adminAudit(ctx, s, rest)
	case "delete": // edit.go
		return adminDelete(ctx, s, rest)
	case "authorize":
		return adminAuthorize(ctx, s, rest)
	case "revoke":
		return adminRevoke(ctx, s, rest)
	case "limits":
		return adminLimits(ctx, s, rest)
	}
	return Reply{}, adminUsageErr("")
}

// ParseDuration parses a moderation duration: a positive number of
// minutes, hours, days or weeks ("30m", "12h", "7d", "2w"), or anything
// time.ParseDuration takes, of at least a minute.
func ParseDuration(s string) (time.Duration, bool) {
	if len(s) < 2 {
		return 0, false
	}
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	var d time.Duration
	if unit != 0 {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil || n <= 0 || n > 100*52 {
			return 0, false
		}
		d = time.Duration(n) * unit
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, false
		}
	}
	if d < time.Minute || d > 100*365*24*time.Hour {
		return 0, false
	}
	return d, true
}

// target is who a moderation command acts on: an account, a key, or both.
type target struct {
	user   UserID // 0 for a key with no account
	handle string // the account's handle, "" for none
	fps    []string
	name   string // as the audit log and replies name it
}

// isFingerprint reports whether s has the form of a SHA256 key fingerprint.
func isFingerprint(s string) bool {
	rest, ok := strings.CutPrefix(s, "SHA256:")
	if !ok {
		return false
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	return err == nil && len(b) == 32
}

// resolveTarget resolves HANDLE or SHA256:FINGERPRINT. The administrator
// may not act on themselves, nor on an administrator (their keys are the
// operator's to change).
func (s *session) resolveTarget(ctx context.Context, arg string, keysOnly bool) (target, error) {
	h := s.hub
	var t target
	if strings.HasPrefix(arg, "SHA256:") {
		if !isFingerprint(arg) {
			return t, fmt.Errorf("%w: %q is not a SHA256 key fingerprint", ErrUsage, SanitizeText(clipRunes(arg, 60)))
		}
		t.fps, t.name = []string{arg}, arg
		u, err := h.store.UserByFingerprint(ctx, arg)
		switch {
		case err == nil:
			t.user, t.handle = UserID(u.ID), u.Handle
			t.name += " (" + u.Handle + ")"
		case !errors.Is(err, model.ErrNotFound):
			return t, fmt.Errorf("look up key: %w", err)
		}
	} else {
		if keysOnly {
			return t, fmt.Errorf("%w: give a handle or a SHA256: fingerprint", ErrUsage)
		}
		u, err := s.lookup(ctx, strings.TrimPrefix(arg, "@"))
		if err != nil {
			return t, err
		}
		keys, err := h.store.KeysOf(ctx, u.ID)
		if err != nil {
			return t, fmt.Errorf("keys of %s: %w", u.Handle, err)
		}
		t.user, t.handle, t.name = UserID(u.ID), u.Handle, u.Handle
		for _, k := range keys {
			t.fps = append(t.fps, k.Fingerprint)
		}
	}
	if t.user == s.user && t.user != 0 || contains(t.fps, s.fp) {
		return t, fmt.Errorf("%w: that is you", ErrNotAllowed)
	}
	for _, fp := range t.fps {
		if h.isAdmin(fp) {
			return t, fmt.Errorf("%w: %s is an administrator; the operator changes the list of administrators", ErrNotAllowed, t.name)
		}
	}
	return t, nil
}

// adminName is the administrator's handle, for the audit log and lines.
func (s *session) adminName(ctx context.Context) string { return s.hub.handleOf(ctx, s.user) }

// durationAndReason splits "[DURATION] [REASON]".
func durationAndReason(rest string) (time.Duration, string) {
	first, after, _ := strings.Cut(rest, " ")
	if d, ok := ParseDuration(first); ok {
		return d, SanitizeText(clipRunes(strings.TrimSpace(after), 200))
	}
	return 0, SanitizeText(clipRunes(rest, 200))
}

func adminKick(ctx context.Context, s *session, rest string) (Reply, error) {
	who, reason, _ := strings.Cut(rest, " ")
	if who == "" {
		return Reply{}, adminUsageErr("kick")
	}
	reason = SanitizeText(clipRunes(strings.TrimSpace(reason), 200))
	t, err := s.resolveTarget(ctx, who, false)
	if err != nil {
		return Reply{}, err
	}
	h := s.hub
	h.mu.Lock()
	_, online := h.users[t.user]
	q := h.quiet.users[t.user]
	connected := online || q != nil && len(q.sessions) > 0
	h.mu.Unlock()
	if !connected {
		return Reply{}, fmt.Errorf("%w: %s is not connected", ErrNotAllowed, t.name)
	}
	by := s.adminName(ctx)
	line := "you were kicked by " + by + reasonText(reason)
	o := &adminOp{
		name: "kick",
		whom: t.name,
		write: func(ctx context.Context) error {
			return h.store.RecordAudit(ctx, &model.AuditEntry{ActorID: uint64(s.user), Actor: by, Action: "kick",
				Target: t.name, TargetID: uint64(t.user), Reason: reason})
		},
		apply: func() { h.endUserLocked(t.user, nil, fmt.Errorf("%w: %s", ErrRemoved, line)) },
		after: func() { h.endKeys(t.fps, line) },
	}
	if err := s.adminCmd(ctx, o); err != nil {
		return Reply{}, err
	}
	return Reply{Lines: []string{"kicked " + t.name + reasonText(reason)}}, nil
}

// endKeys asks the server to end the SSH sessions of fps with line
// (Options.EndKeys).
func (h *Hub) endKeys(fps []string, line string) {
	if h.opts.EndKeys != nil && len(fps) > 0 {
		h.opts.EndKeys(fps, line)
	}
}

func adminBan(ctx context.Context, s *session, rest string) (Reply, error) {
	who, more, _ := strings.Cut(rest, " ")
	if who == "" {
		return Reply{}, adminUsageErr("ban")
	}
	d, reason := durationAndReason(strings.TrimSpace(more))
	t, err := s.resolveTarget(ctx, who, false)
	if err != nil {
		return Reply{}, err
	}
	h := s.hub
	now := h.opts.Now().UTC()
	var exp *time.Time
	if d > 0 {
		e := now.Add(d).Truncate(time.Second)
		exp = &e
	}
	bans := make([]model.Ban, 0, len(t.fps))
	for _, fp := range t.fps {
		bans = append(bans, model.Ban{Fingerprint: fp, UserID: uint64(t.user), ByID: uint64(s.user), Reason: reason, CreatedAt: now, ExpiresAt: exp})
	}
	ban := Ban{Reason: reason}
	if exp != nil {
		ban.Until = *exp
	}
	line := "this key is " + ban.Line()
	by := s.adminName(ctx)
	o := &adminOp{
		name: "ban",
		whom: t.name,
		write: func(ctx context.Context) error {
			return h.store.BanKeys(ctx, bans, &model.AuditEntry{ActorID: uint64(s.user), Actor: by, Action: "ban",
				Target: t.name, TargetID: uint64(t.user), Reason: reason, ExpiresAt: exp})
		},
		apply: func() {
			h.mod.mu.Lock()
			fps := make(map[string]bool, len(bans))
			for _, b := range bans {
				h.mod.bans[b.Fingerprint] = b
				fps[b.Fingerprint] = true
			}
			h.mod.mu.Unlock()
			if t.user != 0 {
				h.endUserLocked(t.user, fps, fmt.Errorf("%w: %s", ErrRemoved, line))
			}
		},
		after: func() { h.endKeys(t.fps, line) },
	}
	if err := s.adminCmd(ctx, o); err != nil {
		return Reply{}, err
	}
	what := t.name
	if len(t.fps) != 1 {
		what += fmt.Sprintf(" (%d keys)", len(t.fps))
	}
	if ban.Until.IsZero() {
		what += " for good"
	}
	return Reply{Lines: []string{"banned " + what + untilText(ban.Until) + reasonText(reason)}}, nil
}

func adminUnban(ctx context.Context, s *session, rest string) (Reply, error) {
	if rest == "" || strings.ContainsRune(rest, ' ') {
		return Reply{}, adminUsageErr("unban")
	}
	h := s.hub
	var t target
	if isFingerprint(rest) {
		t = target{fps: []string{rest}, name: rest}
	} else {
		var err error
		if t, err = s.resolveTarget(ctx, rest, false); err != nil {
			return Reply{}, err
		}
		// Keys banned with the account that are no longer its keys too.
		h.mod.mu.RLock()
		for fp, b := range h.mod.bans {
			if UserID(b.UserID) == t.user && !contains(t.fps, fp) {
				t.fps = append(t.fps, fp)
			}
		}
		h.mod.mu.RUnlock()
	}
	by := s.adminName(ctx)
	o := &adminOp{
		name: "unban",
		whom: t.name,
		write: func(ctx context.Context) error {
			return h.store.Unban(ctx, t.fps, &model.AuditEntry{ActorID: uint64(s.user), Actor: by, Action: "unban", Target: t.name, TargetID: uint64(t.user)})
		},
		apply: func() {
			h.mod.mu.Lock()
			for _, fp := range t.fps {
				delete(h.mod.bans, fp)
			}
			h.mod.mu.Unlock()
		},
	}
	err := s.adminCmd(ctx, o)
	if errors.Is(err, model.ErrNotFound) {
		return Reply{}, fmt.Errorf("%w: %s is not banned", ErrNotListed, t.name)
	}
	if err != nil {
		return Reply{}, err
	}
	return Reply{Lines: []string{"unbanned " + t.name}}, nil
}

// maxListed bounds the lines of /admin bans and /admin audit.
const maxListed = 200

func adminBans(ctx context.Context, s *session, rest string) (Reply, error) {
	if rest != "" {
		return Reply{}, adminUsageErr("bans")
	}
	h := s.hub
	now := h.opts.Now()
	h.mod.mu.RLock()
	var bans []model.Ban
	for _, b := range h.mod.bans {
		if active(b.ExpiresAt, now) {
			bans = append(bans, b)
		}
	}
	h.mod.mu.RUnlock()
	if len(bans) == 0 {
		return Reply{Lines: []string{"no bans in force"}}, nil
	}
	sort.Slice(bans, func(i, j int) bool {
		if !bans[i].CreatedAt.Equal(bans[j].CreatedAt) {
			return bans[i].CreatedAt.After(bans[j].CreatedAt)
		}
		return bans[i].Fingerprint < bans[j].Fingerprint
	})
	lines := []string{fmt.Sprintf("%d banned keys, newest first:", len(bans))}
	for i, b := range bans {
		if i == maxListed {
			lines = append(lines, fmt.Sprintf("and %d more", len(bans)-maxListed))
			break
		}
		line := "  " + b.Fingerprint
		if b.UserID != 0 {
			line += " (" + h.handleOf(ctx, UserID(b.UserID)) + ")"
		}
		var until time.Time
		if b.ExpiresAt != nil {
			until = *b.ExpiresAt
		} else {
			line += " for good"
		}
		line += untilText(until) + ", by " + h.handleOf(ctx, UserID(b.ByID)) + reasonText(b.Reason)
		lines = append(lines, line)
	}
	return Reply{Lines: lines}, nil
}

func adminMute(ctx context.Context, s *session, rest string) (Reply, error) {
	who, more, _ := strings.Cut(rest, " ")
	if who == "" {
		return Reply{}, adminUsageErr("mute")
	}
	d, reason := durationAndReason(strings.TrimSpace(more))
	t, err := s.resolveTarget(ctx, who, false)
	if err != nil {
		return Reply{}, err
	}
	h := s.hub
	now := h.opts.Now().UTC()
	m := model.Mute{UserID: uint64(t.user), ByID: uint64(s.user), Reason: reason, CreatedAt: now}
	var until time.Time
	if d > 0 {
		until = now.Add(d).Truncate(time.Second)
		m.ExpiresAt = &until
	}
	by := s.adminName(ctx)
	o := &adminOp{
		name: "mute",
		whom: t.name,
		write: func(ctx context.Context) error {
			return h.store.MuteUser(ctx, m, &model.AuditEntry{ActorID: uint64(s.user), Actor: by, Action: "mute",
				Target: t.name, TargetID: uint64(t.user), Reason: reason, ExpiresAt: m.ExpiresAt})
		},
		apply: func() {
			h.mod.mu.Lock()
			h.mod.mutes[t.user] = m
			h.mod.mu.Unlock()
			h.toUserLocked(t.user, NoticeEvent{Text: "you were muted by " + by + untilText(until) + reasonText(reason) +
				"; you cannot post in the lobby or rooms; direct messages still work"})
		},
	}
	if err := s.adminCmd(ctx, o); err != nil {
		return Reply{}, err
	}
	return Reply{Lines: []string{"muted " + t.name + untilText(until) + reasonText(reason)}}, nil
}

func adminUnmute(ctx context.Context, s *session, rest string) (Reply, error) {
	if rest == "" || strings.ContainsRune(rest, ' ') {
		return Reply{}, adminUsageErr("unmute")
	}
	t, err := s.resolveTarget(ctx, rest, false)
	if err != nil {
		return Reply{}, err
	}
	h := s.hub
	by := s.adminName(ctx)
	o := &adminOp{
		name: "unmute",
		whom: t.name,
		write: func(ctx context.Context) error {
			return h.store.UnmuteUser(ctx, uint64(t.user), &model.AuditEntry{ActorID: uint64(s.user), Actor: by, Action: "unmute",
				Target: t.name, TargetID: uint64(t.user)})
		},
		apply: func() {
			h.mod.mu.Lock()
			delete(h.mod.mutes, t.user)
			h.mod.mu.Unlock()
			h.toUserLocked(t.user, NoticeEvent{Text: "you were unmuted by " + by + "; you can post again"})
		},
	}
	err = s.adminCmd(ctx, o)
	if errors.Is(err, model.ErrNotFound) {
		return Reply{}, fmt.Errorf("%w: %s is not muted", ErrNotListed, t.name)
	}
	if err != nil {
		return Reply{}, err
	}
	return Reply{Lines: []string{"unmuted " + t.name}}, nil
}

func adminAnnounce(ctx context.Context, s *session, rest string) (Reply, error) {
	if rest == "" {
		return Reply{}, adminUsageErr("announce")
	}
	text, err := CheckMessage(rest)
	if err != nil {
		return Reply{}, err
	}
	h := s.hub
	by := s.adminName(ctx)
	ev := AnnouncementEvent{From: by, Text: text, At: h.opts.Now()}
	o := &adminOp{
		name: "announce",
		write: func(ctx context.Context) error {
			return h.store.RecordAudit(ctx, &model.AuditEntry{ActorID: uint64(s.user), Actor: by, Action: "announce", Reason: text})
		},
		apply: func() {
			h.broadcastLocked(ev)
			// Quiet sessions that follow a conversation read their events
			// (tail); one-shot commands do not, and are not sent it.
			for qs := range h.quiet.follows {
				qs.push(ev)
			}
		},
	}
	if err := s.adminCmd(ctx, o); err != nil {
		return Reply{}, err
	}
	return Reply{}, nil
}

func adminAudit(ctx context.Context, s *session, rest string) (Reply, error) {
	n := 20
	if rest != "" {
		v, err := strconv.Atoi(rest)
		if err != nil || v < 1 || v > maxListed {
			return Reply{}, fmt.Errorf("%w: /admin audit [N], N from 1 to %d", ErrUsage, maxListed)
		}
		n = v
	}
	entries, err := s.hub.store.Audit(ctx, n)
	if err != nil {
		return Reply{}, fmt.Errorf("audit: %w", err)
	}
	if len(entries) == 0 {
		return Reply{Lines: []string{"the audit log is empty"}}, nil
	}
	lines := []string{fmt.Sprintf("the %d newest moderation actions, newest first:", len(entries))}
	for _, e := range entries {
		lines = append(lines, "  "+auditLine(e))
	}
	return Reply{Lines: lines}, nil
}

// auditLine is one entry of the audit log as /admin audit shows it:
// "2026-11-30 18:04 UTC alice ban bob until 2026-12-07 18:04 UTC: spam".
func auditLine(e model.AuditEntry) string {
	line := e.At.UTC().Format("2006-01-02 15:04 MST") + " " + e.Actor + " " + e.Action
	if e.Target != "" {
		line += " " + e.Target
	}
	if e.ExpiresAt != nil {
		line += untilText(*e.ExpiresAt)
	}
	return line + reasonText(e.Reason)
}
