package model

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ErrLastKey means the key is the only one of its account: removing it
// would leave the account with no way in.
var ErrLastKey = errors.New("the account's only key")

// LinkCode is a one-time code that binds a new key to an account (see
// LinkKey). Only a hash of the code is stored.
type LinkCode struct {
	CodeHash  string
	UserID    uint64
	ExpiresAt time.Time
	CreatedAt time.Time
}

// CreateLinkCode stores c, replacing the user's earlier codes (one code
// per account is valid at a time) and deleting every expired code, in
// one transaction.
func (d *DB) CreateLinkCode(ctx context.Context, c LinkCode) error {
	const op = "create link code"
	if err := d.check(op); err != nil {
		return err
	}
	err := d.gormTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM link_codes WHERE user_id = ? OR expires_at <= ?`, c.UserID, c.CreatedAt.UTC()).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO link_codes (code_hash, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)`,
			c.CodeHash, c.UserID, c.ExpiresAt.UTC(), c.CreatedAt.UTC()).Error
	})
	return d.wrap(op, err)
}

// LinkKey adds k to the account userID if codeHash is the hash of a code
// of that account valid at now: the code is consumed and the key added in
// one transaction, so a code links one key once. It returns ErrNotFound
// when there is no such code (wrong, used or expired), ErrConflict when
// the key already belongs to an account. k.ID and k.UserID are set.
func (d *DB) LinkKey(ctx context.Context, userID uint64, codeHash string, k *Key, now time.Time) error {
	const op = "link key"
	if err := d.check(op); err != nil {
		return err
	}
	var kc Key
	err := d.gormTx(ctx, func(tx *gorm.DB) error {
		kc = *k // afresh on each run
		kc.UserID = userID
		if kc.CreatedAt.IsZero() {
			kc.CreatedAt = now
		}
		res := tx.Exec(`DELETE FROM link_codes WHERE code_hash = ? AND user_id = ? AND expires_at > ?`, codeHash, userID, now.UTC())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return tx.Create(&kc).Error
	})
	if err != nil {
		return d.wrap(op, err)
	}
	*k = kc
	return nil
}

// qLockUser locks a user's row until the transaction ends, changing
// nothing (args: user).
const qLockUser = `UPDATE users SET last_seen = last_seen WHERE id = ?`

// RemoveKey deletes the key with the given fingerprint from the account
// userID: ErrNotFound when the account has no such key, ErrLastKey when
// it is the account's only one.
func (d *DB) RemoveKey(ctx context.Context, userID uint64, fingerprint string) error {
	const op = "remove key"
	if err := d.check(op); err != nil {
		return err
	}
	err := d.gormTx(ctx, func(tx *gorm.DB) error {
		// Removals of one account's keys queue on its row, so that each
		// counts the keys the others left (on PostgreSQL two could
		// otherwise each see two keys and remove both).
		if err := tx.Exec(qLockUser, userID).Error; err != nil {
			return err
		}
		var n int64
		if err := tx.Raw(`SELECT count(*) FROM keys WHERE user_id = ?`, userID).Scan(&n).Error; err != nil {
			return err
		}
		var mine int64
		if err := tx.Raw(`SELECT count(*) FROM keys WHERE user_id = ? AND fingerprint = ?`, userID, fingerprint).Scan(&mine).Error; err != nil {
			return err
		}
		switch {
		case mine == 0:
			return ErrNotFound
		case n <= 1:
			return ErrLastKey
		}
		return tx.Exec(`DELETE FROM keys WHERE user_id = ? AND fingerprint = ?`, userID, fingerprint).Error
	})
	if errors.Is(err, ErrLastKey) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return d.wrap(op, err)
}
