package model

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Ban bars one key from the server, until ExpiresAt (nil: for good). A
// ban of an account is one Ban per key of it, each with UserID set.
type Ban struct {
	Fingerprint string // SHA256:...
	UserID      uint64 // the account the key belonged to when banned; 0 for none
	ByID        uint64 // the administrator
	Reason      string
	CreatedAt   time.Time
	ExpiresAt   *time.Time
}

// Mute keeps an account from posting in shared conversations, until
// ExpiresAt (nil: until unmuted).
type Mute struct {
	UserID    uint64
	ByID      uint64
	Reason    string
	CreatedAt time.Time
	ExpiresAt *time.Time
}

// AuditEntry is one moderation action: who did what to whom, why and
// when, and until when it lasts.
type AuditEntry struct {
	ID        int64
	At        time.Time
	ActorID   uint64
	Actor     string // the administrator's handle at the time
	Action    string // kick, ban, unban, mute, unmute, announce
	Target    string // a handle or a fingerprint ("" for announce)
	TargetID  uint64 // the account acted on, 0 for none
	Reason    string // the reason given; for announce, the text
	ExpiresAt *time.Time
}

// Moderation stores server-wide bans and mutes and the audit log of the
// actions that change them. Every change writes its audit entry in its
// own transaction.
type Moderation interface {
	// Bans lists every stored ban, expired ones included.
	Bans(ctx context.Context) ([]Ban, error)
	// Mutes lists every stored mute, expired ones included.
	Mutes(ctx context.Context) ([]Mute, error)
	// BanKeys stores bans, replacing any ban of the same keys, and a.
	BanKeys(ctx context.Context, bans []Ban, a *AuditEntry) error
	// Unban deletes the bans of fingerprints and stores a; ErrNotFound
	// when none of them was banned.
	Unban(ctx context.Context, fingerprints []string, a *AuditEntry) error
	// MuteUser stores m, replacing any mute of the same user, and a.
	MuteUser(ctx context.Context, m Mute, a *AuditEntry) error
	// UnmuteUser deletes user's mute and stores a; ErrNotFound when the
	// user was not muted.
	UnmuteUser(ctx context.Context, user uint64, a *AuditEntry) error
	// RecordAudit stores a on its own (a kick, an announcement).
	RecordAudit(ctx context.Context, a *AuditEntry) error
	// Audit returns the newest limit entries, newest first.
	Audit(ctx context.Context, limit int) ([]AuditEntry, error)
}

const (
	qSelectBans   = `SELECT fingerprint, user_id, by_id, reason, created_at, expires_at FROM bans ORDER BY created_at, fingerprint`
	qDeleteKeyBan = `DELETE FROM bans WHERE fingerprint = ?`
	qInsertKeyBan = `INSERT INTO bans (fingerprint, user_id, by_id, reason, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`
	qSelectMutes  = `SELECT user_id, by_id, reason, created_at, expires_at FROM mutes ORDER BY user_id`
	qDeleteMute   = `DELETE FROM mutes WHERE user_id = ?`
	qInsertMute   = `INSERT INTO mutes (user_id, by_id, reason, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`
	qInsertAudit  = `INSERT INTO audit_log (id, at, actor_id, actor, action, target, target_id, reason, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qSelectAudit = `SELECT id, at, actor_id, actor, action, target, target_id, reason, expires_at
		FROM audit_log ORDER BY id DESC LIMIT ?`
)

// migrateModeration creates the tables of server-wide moderation: bans of
// keys, mutes of accounts, and the audit log of every action.
func migrateModeration(tx *gorm.DB) error {
	for _, q := range []string{
		`CREATE TABLE bans (
			fingerprint VARCHAR(128) PRIMARY KEY,
			user_id BIGINT NOT NULL DEFAULT 0,
			by_id BIGINT NOT NULL,
			reason VARCHAR(512) NOT NULL DEFAULT '',
			created_at TIMESTAMP NOT NULL,
			expires_at TIMESTAMP NULL
		)`,
		`CREATE INDEX idx_bans_user ON bans(user_id)`,
		`CREATE TABLE mutes (
			user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
			by_id BIGINT NOT NULL,
			reason VARCHAR(512) NOT NULL DEFAULT '',
			created_at TIMESTAMP NOT NULL,
			expires_at TIMESTAMP NULL
		)`,
		`CREATE TABLE audit_log (
			id BIGINT PRIMARY KEY,
			at TIMESTAMP NOT NULL,
			actor_id BIGINT NOT NULL,
			actor VARCHAR(64) NOT NULL,
			action VARCHAR(32) NOT NULL,
			target VARCHAR(160) NOT NULL DEFAULT '',
			target_id BIGINT NOT NULL DEFAULT 0,
			reason VARCHAR(1024) NOT NULL DEFAULT '',
			expires_at TIMESTAMP NULL
		)`,
	} {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// nullTime is t in UTC for a nullable column.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// timePtr is a scanned nullable time.
func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}

// Bans lists every stored ban.
func (d *DB) Bans(ctx context.Context) ([]Ban, error) {
	const op = "bans"
	if err := d.check(op); err != nil {
		return nil, err
	}
	rows, err := d.rdb.QueryContext(ctx, qSelectBans)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer rows.Close()
	var out []Ban
	for rows.Next() {
		var b Ban
		var exp sql.NullTime
		if err := rows.Scan(&b.Fingerprint, &b.UserID, &b.ByID, &b.Reason, &b.CreatedAt, &exp); err != nil {
			return nil, d.wrap(op, err)
		}
		b.ExpiresAt = timePtr(exp)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	return out, nil
}

// Mutes lists every stored mute.
func (d *DB) Mutes(ctx context.Context) ([]Mute, error) {
	const op = "mutes"
	if err := d.check(op); err != nil {
		return nil, err
	}
	rows, err := d.rdb.QueryContext(ctx, qSelectMutes)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer rows.Close()
	var out []Mute
	for rows.Next() {
		var m Mute
		var exp sql.NullTime
		if err := rows.Scan(&m.UserID, &m.ByID, &m.Reason, &m.CreatedAt, &exp); err != nil {
			return nil, d.wrap(op, err)
		}
		m.ExpiresAt = timePtr(exp)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	return out, nil
}

// moderationWrite runs fn and inserts a (setting its ID and At) in one
// write transaction. On error a is left unchanged.
func (d *DB) moderationWrite(ctx context.Context, op string, a *AuditEntry, fn func(tx *sql.Tx, now time.Time) error) error {
	if err := d.check(op); err != nil {
		return err
	}
	if a == nil {
		return fmt.Errorf("%s: no audit entry", op)
	}
	now := time.Now().UTC()
	e := *a
	if e.At.IsZero() {
		e.At = now
	}
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		if fn != nil {
			if err := fn(tx, now); err != nil {
				return err
			}
		}
		if err := tx.QueryRowContext(ctx, qNextID, "audit_log").Scan(&e.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, qInsertAudit, e.ID, e.At.UTC(), e.ActorID, e.Actor, e.Action, e.Target, e.TargetID, e.Reason, nullTime(e.ExpiresAt))
		return err
	})
	if err != nil {
		return d.wrap(op, err)
	}
	*a = e
	return nil
}

// BanKeys stores bans (replacing earlier bans of the same keys) and a.
func (d *DB) BanKeys(ctx context.Context, bans []Ban, a *AuditEntry) error {
	return d.moderationWrite(ctx, "ban keys", a, func(tx *sql.Tx, now time.Time) error {
		for _, b := range bans {
			if _, err := tx.ExecContext(ctx, qDeleteKeyBan, b.Fingerprint); err != nil {
				return err
			}
			at := b.CreatedAt.UTC()
			if b.CreatedAt.IsZero() {
				at = now
			}
			if _, err := tx.ExecContext(ctx, qInsertKeyBan, b.Fingerprint, b.UserID, b.ByID, b.Reason, at, nullTime(b.ExpiresAt)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Unban deletes the bans of fingerprints and stores a; ErrNotFound when
// none was banned.
func (d *DB) Unban(ctx context.Context, fingerprints []string, a *AuditEntry) error {
	return d.moderationWrite(ctx, "unban", a, func(tx *sql.Tx, _ time.Time) error {
		n := 0
		for _, fp := range fingerprints {
			switch err := affected(tx.ExecContext(ctx, qDeleteKeyBan, fp)); {
			case err == nil:
				n++
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		if n == 0 {
			return fmt.Errorf("%s: %w", strings.Join(fingerprints, ", "), ErrNotFound)
		}
		return nil
	})
}

// MuteUser stores m (replacing an earlier mute of the user) and a.
func (d *DB) MuteUser(ctx context.Context, m Mute, a *AuditEntry) error {
	return d.moderationWrite(ctx, "mute", a, func(tx *sql.Tx, now time.Time) error {
		if _, err := tx.ExecContext(ctx, qDeleteMute, m.UserID); err != nil {
			return err
		}
		at := m.CreatedAt.UTC()
		if m.CreatedAt.IsZero() {
			at = now
		}
		_, err := tx.ExecContext(ctx, qInsertMute, m.UserID, m.ByID, m.Reason, at, nullTime(m.ExpiresAt))
		return err
	})
}

// UnmuteUser deletes user's mute and stores a; ErrNotFound when there was
// none.
func (d *DB) UnmuteUser(ctx context.Context, user uint64, a *AuditEntry) error {
	return d.moderationWrite(ctx, "unmute", a, func(tx *sql.Tx, _ time.Time) error {
		return affected(tx.ExecContext(ctx, qDeleteMute, user))
	})
}

// RecordAudit stores a on its own.
func (d *DB) RecordAudit(ctx context.Context, a *AuditEntry) error {
	return d.moderationWrite(ctx, "record audit", a, nil)
}

// Audit returns the newest limit entries, newest first.
func (d *DB) Audit(ctx context.Context, limit int) ([]AuditEntry, error) {
	const op = "audit"
	if err := d.check(op); err != nil {
		return nil, err
	}
	rows, err := d.rdb.QueryContext(ctx, qSelectAudit, limit)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var exp sql.NullTime
		if err := rows.Scan(&e.ID, &e.At, &e.ActorID, &e.Actor, &e.Action, &e.Target, &e.TargetID, &e.Reason, &exp); err != nil {
			return nil, d.wrap(op, err)
		}
		e.ExpiresAt = timePtr(exp)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	return out, nil
}
