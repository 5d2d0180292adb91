package model

import (
	"context"
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
// k.ID and k.UserID. It returns ErrConflict when the handle key or the
// fingerprint is taken; on any error u and k are left as they were.
func (d *DB) CreateUser(ctx context.Context, u *User, k *Key) error {
	const op = "create user"
	if err := d.check(op); err != nil {
		return err
	}
	if u == nil || k == nil {
		return errors.New(op + ": nil user or key")
	}
	uc, kc := *u, *k
	err := d.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
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

// RenameUser changes a user's handle; ErrConflict when it is taken,
// ErrNotFound when the user does not exist.
func (d *DB) RenameUser(ctx context.Context, id uint64, handle, handleKey string) error {
	const op = "rename user"
	if err := d.check(op); err != nil {
		return err
	}
	res := d.w.WithContext(ctx).Model(&User{}).Where("id = ?", id).
		Updates(map[string]any{"handle": handle, "handle_key": handleKey})
	if res.Error != nil {
		return d.wrap(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return d.wrap(op, ErrNotFound)
	}
	return nil
}

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
