package model

import (
	"context"
	"database/sql"

	"gorm.io/gorm"
)

// Settings stores each user's preferences as name/value pairs (theme, time
// zone, clock, bell, notices, links). The chat package owns the names and
// what the values mean; the store only keeps them.
type Settings interface {
	// UserSettings returns every setting a user has stored, by name.
	UserSettings(ctx context.Context, userID uint64) (map[string]string, error)
	// SetUserSetting stores one setting, replacing its previous value.
	SetUserSetting(ctx context.Context, userID uint64, name, value string) error
}

// qSetUserSetting is an upsert both SQLite (3.24+) and PostgreSQL accept.
const qSetUserSetting = `INSERT INTO user_settings (user_id, name, value) VALUES (?, ?, ?)
	ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value`

// UserSettings implements Settings.
func (d *DB) UserSettings(ctx context.Context, userID uint64) (map[string]string, error) {
	const op = "user settings"
	if err := d.check(op); err != nil {
		return nil, err
	}
	rows, err := d.rdb.QueryContext(ctx, `SELECT name, value FROM user_settings WHERE user_id = ?`, userID)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, d.wrap(op, err)
		}
		out[name] = value
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	return out, nil
}

// SetUserSetting implements Settings.
func (d *DB) SetUserSetting(ctx context.Context, userID uint64, name, value string) error {
	const op = "set user setting"
	if err := d.check(op); err != nil {
		return err
	}
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, qSetUserSetting, userID, name, value)
		return err
	})
	if err != nil {
		return d.wrap(op, err)
	}
	return nil
}

// migrateUserSettings creates user_settings: one row per user and setting.
func migrateUserSettings(tx *gorm.DB) error {
	return tx.Exec(`CREATE TABLE user_settings (
		user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		name VARCHAR(32) NOT NULL,
		value VARCHAR(128) NOT NULL,
		PRIMARY KEY (user_id, name)
	)`).Error
}
