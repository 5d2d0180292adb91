package chat

import (
	"context"
	"errors"
	"fmt"
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
		h.localPresenceLocked(u.id, "")
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
	// pub, when set, is published to the other nodes once applied
	// (cluster_sync.go): an event kind and its body.
	pub *pubEvent
	res chan error
}

// pubEvent is an event to publish: its kind and body.
type pubEvent struct {
	kind string
	body any
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
	if o.pub != nil {
		h.publish(o.pub.kind, o.pub.body)
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
