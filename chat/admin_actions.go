package chat

// The /admin subcommands that act on people and the server: kick, ban,
// unban, bans, mute, unmute, announce, audit (admin.go holds the state
// they change and the dispatcher).

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"sshchat/model"
)

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
	if !online { // on another node of a cluster (the roster counts every node's)
		_, online = h.roster.Lookup(t.user)
	}
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
		pub:   &pubEvent{evMod, modChange{Action: "kick", User: t.user, Keys: t.fps, Line: line}},
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
		pub:   &pubEvent{evMod, modChange{Action: "ban", User: t.user, Keys: t.fps, Line: line}},
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
		pub: &pubEvent{evMod, modChange{Action: "unban", User: t.user, Keys: t.fps}},
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
	muted := "you were muted by " + by + untilText(until) + reasonText(reason) +
		"; you cannot post in the lobby or rooms; direct messages still work"
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
			h.toUserLocked(t.user, NoticeEvent{Text: muted})
		},
		pub: &pubEvent{evMod, modChange{Action: "mute", User: t.user, Line: muted}},
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
	unmuted := "you were unmuted by " + by + "; you can post again"
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
			h.toUserLocked(t.user, NoticeEvent{Text: unmuted})
		},
		pub: &pubEvent{evMod, modChange{Action: "unmute", User: t.user, Line: unmuted}},
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
			h.announceLocked(ev)
			h.publishLaterLocked(evAnnounce, ev) // to the other nodes' sessions
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
