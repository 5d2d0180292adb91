package model

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"
)

// UserByFingerprint returns the account owning the key with the given SHA256
// fingerprint, or ErrNotFound.
func (d *DB) UserByFingerprint(ctx context.Context, fingerprint string) (User, error) {
	const op = "user by fingerprint"
	if err := d.check(op); err != nil {
		return User{}, err
	}
	var u User
	err := d.r.WithContext(ctx).
		Joins("JOIN keys ON keys.user_id = users.id").
		Where("keys.fingerprint = ?", fingerprint).
		Take(&u).Error
	if err != nil {
		return User{}, d.wrap(op, err)
	}
	return u, nil
}

// UserByHandle looks a user up by normalised handle key, or ErrNotFound.
func (d *DB) UserByHandle(ctx context.Context, handleKey string) (User, error) {
	const op = "user by handle"
	if err := d.check(op); err != nil {
		return User{}, err
	}
	var u User
	if err := d.r.WithContext(ctx).Where("handle_key = ?", handleKey).Take(&u).Error; err != nil {
		return User{}, d.wrap(op, err)
	}
	return u, nil
}

// UserByID returns one user, or ErrNotFound.
func (d *DB) UserByID(ctx context.Context, id uint64) (User, error) {
	const op = "user by id"
	if err := d.check(op); err != nil {
		return User{}, err
	}
	var u User
	if err := d.r.WithContext(ctx).Where("id = ?", id).Take(&u).Error; err != nil {
		return User{}, d.wrap(op, err)
	}
	return u, nil
}

// CreateUser creates u and its first key k in one transaction, setting u.ID,
// k.ID and k.UserID. The handle is checked in the same transaction (see
// checkHandle) as of u.CreatedAt (now when zero): a *HandleConflictError
// when another account holds it or it is held for its previous owner,
// ErrConflict when the fingerprint is taken. On any error u and k are left
// as they were.
func (d *DB) CreateUser(ctx context.Context, u *User, k *Key) error {
	const op = "create user"
	if err := d.check(op); err != nil {
		return err
	}
	if u == nil || k == nil {
		return errors.New(op + ": nil user or key")
	}
	var uc User
	var kc Key
	at := u.CreatedAt
	if at.IsZero() {
		at = time.Now()
	}
	err := d.gormTx(ctx, func(tx *gorm.DB) error {
		uc, kc = *u, *k // afresh on each run
		uc.Skeleton = Skeleton(uc.HandleKey)
		if err := checkHandle(tx, 0, uc.HandleKey, at); err != nil {
			return err
		}
		// A hold that has run out is history now.
		if err := tx.Exec(`DELETE FROM released_handles WHERE handle_key = ?`, uc.HandleKey).Error; err != nil {
			return err
		}
		if err := tx.Create(&uc).Error; err != nil {
			return err
		}
		kc.UserID = uc.ID
		return tx.Create(&kc).Error
	})
	if err != nil {
		return d.wrap(op, err)
	}
	*u, *k = uc, kc
	return nil
}

// Rename is a change of a user's handle.
type Rename struct {
	UserID    uint64
	Handle    string // the new display handle
	HandleKey string // its normalised key
	// At is when the rename happens: holds on the new handle are checked
	// as of At.
	At time.Time
	// HoldUntil, when after At, holds the old handle for the user until
	// then: nobody else may take it, the user may take it back.
	HoldUntil time.Time
	// Notice, when not nil, is appended (and its ID set) in the same
	// transaction, so that history records the rename exactly when it took
	// effect.
	Notice *Message
}

// RenameUser changes a user's handle as r describes, in one transaction. It
// returns a *HandleConflictError (wrapping ErrConflict) when the handle is
// taken or held for someone else, ErrNotFound when the user does not exist.
func (d *DB) RenameUser(ctx context.Context, r Rename) error {
	const op = "rename user"
	if err := d.check(op); err != nil {
		return err
	}
	at := r.At
	if at.IsZero() {
		at = time.Now()
	}
	var notice Message
	if r.Notice != nil {
		notice = *r.Notice
		notice.ID = 0
		if notice.CreatedAt.IsZero() {
			notice.CreatedAt = at
		}
	}
	err := d.gormTx(ctx, func(tx *gorm.DB) error {
		var old User
		if err := tx.Where("id = ?", r.UserID).Take(&old).Error; err != nil {
			return err
		}
		if old.HandleKey != r.HandleKey {
			if err := checkHandle(tx, r.UserID, r.HandleKey, at); err != nil {
				return err
			}
		}
		if err := tx.Model(&User{}).Where("id = ?", r.UserID).
			Updates(map[string]any{"handle": r.Handle, "handle_key": r.HandleKey, "skeleton": Skeleton(r.HandleKey)}).Error; err != nil {
			return err
		}
		if old.HandleKey != r.HandleKey {
			// The new handle is the user's now: any hold on it (theirs, or
			// one that has run out) ends.
			if err := tx.Exec(`DELETE FROM released_handles WHERE handle_key = ?`, r.HandleKey).Error; err != nil {
				return err
			}
			if r.HoldUntil.After(at) {
				if err := tx.Exec(qHoldHandle, old.HandleKey, old.Handle, Skeleton(old.HandleKey), r.UserID, r.HoldUntil.UTC()).Error; err != nil {
					return err
				}
			}
		}
		if r.Notice != nil {
			return insertChained(ctx, tx.Statement.ConnPool, []*Message{&notice}, at, nil)
		}
		return nil
	})
	if err != nil {
		return d.wrap(op, err)
	}
	if r.Notice != nil {
		*r.Notice = notice
	}
	return nil
}

// qHoldHandle holds a released handle for its previous owner (args: key,
// handle, skeleton, user, until); a newer release of the same handle
// replaces the older one.
const qHoldHandle = `INSERT INTO released_handles (handle_key, handle, skeleton, user_id, held_until) VALUES (?, ?, ?, ?, ?)
	ON CONFLICT (handle_key) DO UPDATE SET handle = excluded.handle, skeleton = excluded.skeleton,
		user_id = excluded.user_id, held_until = excluded.held_until`

// HandleConflictError says why a handle cannot be claimed. It wraps
// ErrConflict.
type HandleConflictError struct {
	// Holder is the handle in the way, as its owner spells it.
	Holder string
	// HeldUntil is set when Holder was given up by its owner and is held
	// for them until then.
	HeldUntil time.Time
}

func (e *HandleConflictError) Error() string {
	if !e.HeldUntil.IsZero() {
		return "handle " + e.Holder + " is held for its previous owner until " + e.HeldUntil.UTC().Format(time.RFC3339)
	}
	return "handle " + e.Holder + " is taken"
}

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *HandleConflictError) Unwrap() error { return ErrConflict }

// checkHandle returns a *HandleConflictError when the handle with key key
// is taken or looks like one that is: when an account other than self has a
// handle with the same skeleton (the same key included), or when such a
// handle was released by someone other than self and is held for them
// after at. self is 0 for a new account. Each check is one query on a
// skeleton index; an exact match of the key is reported first. It locks
// the claims of handles until tx ends.
func checkHandle(tx *gorm.DB, self uint64, key string, at time.Time) error {
	// Claims queue here until tx ends: a claim committed meanwhile is seen
	// (on PostgreSQL each statement reads what is committed when it starts).
	if err := tx.Exec(qLockHandles).Error; err != nil {
		return err
	}
	sk := Skeleton(key)
	var holder []string
	if err := tx.Raw(qHandleHolder, sk, self, key).Scan(&holder).Error; err != nil {
		return err
	}
	if len(holder) > 0 {
		return &HandleConflictError{Holder: holder[0]}
	}
	var held []struct {
		Handle    string
		HeldUntil time.Time
	}
	if err := tx.Raw(qHandleHeld, sk, self, at.UTC(), key).Scan(&held).Error; err != nil {
		return err
	}
	if len(held) > 0 {
		return &HandleConflictError{Holder: held[0].Handle, HeldUntil: held[0].HeldUntil}
	}
	return nil
}

// Handle checks of checkHandle, served by the skeleton indexes.
const (
	// qHandleHolder (args: skeleton, self, key).
	qHandleHolder = `SELECT handle FROM users WHERE skeleton = ? AND id <> ?
		ORDER BY CASE WHEN handle_key = ? THEN 0 ELSE 1 END, id LIMIT 1`
	// qHandleHeld (args: skeleton, self, at, key).
	qHandleHeld = `SELECT handle, held_until FROM released_handles
		WHERE skeleton = ? AND user_id <> ? AND held_until > ?
		ORDER BY CASE WHEN handle_key = ? THEN 0 ELSE 1 END, held_until LIMIT 1`
)

// KeysOf lists a user's keys, oldest first.
func (d *DB) KeysOf(ctx context.Context, id uint64) ([]Key, error) {
	const op = "keys of"
	if err := d.check(op); err != nil {
		return nil, err
	}
	var keys []Key
	if err := d.r.WithContext(ctx).Where("user_id = ?", id).Order("id").Find(&keys).Error; err != nil {
		return nil, d.wrap(op, err)
	}
	return keys, nil
}

// TouchLastSeen records when a user was last online; ErrNotFound when the
// user does not exist.
func (d *DB) TouchLastSeen(ctx context.Context, id uint64, at time.Time) error {
	const op = "touch last seen"
	if err := d.check(op); err != nil {
		return err
	}
	res := d.w.WithContext(ctx).Model(&User{}).Where("id = ?", id).Update("last_seen", at.UTC())
	if res.Error != nil {
		return d.wrap(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return d.wrap(op, ErrNotFound)
	}
	return nil
}

// TouchLastSeenAll records the last-seen times in seen in one transaction;
// users that do not exist are skipped.
func (d *DB) TouchLastSeenAll(ctx context.Context, seen map[uint64]time.Time) error {
	const op = "touch last seen"
	if err := d.check(op); err != nil {
		return err
	}
	if len(seen) == 0 {
		return nil
	}
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE users SET last_seen = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, at := range seen {
			if _, err := stmt.ExecContext(ctx, at.UTC(), id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return d.wrap(op, err)
	}
	return nil
}
