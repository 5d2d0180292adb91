package model

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"gorm.io/gorm"
)

// InstallationID returns the random ID the database got when it was
// created (schema step 11). Nodes of a cluster compare it, so that a node
// started on another database by mistake (its own SQLite file, another
// PostgreSQL) is not taken for one of them.
func (d *DB) InstallationID(ctx context.Context) (string, error) {
	const op = "installation id"
	if err := d.check(op); err != nil {
		return "", err
	}
	var id string
	if err := d.rdb.QueryRowContext(ctx, `SELECT id FROM installation`).Scan(&id); err != nil {
		return "", d.wrap(op, err)
	}
	return id, nil
}

// migrateInstallation creates the installation table with the database's
// random ID.
func migrateInstallation(tx *gorm.DB) error {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`CREATE TABLE installation (id VARCHAR(64) PRIMARY KEY)`, nil},
		{`INSERT INTO installation (id) VALUES (?)`, []any{hex.EncodeToString(b)}},
	} {
		if err := tx.Exec(q.sql, q.args...).Error; err != nil {
			return err
		}
	}
	return nil
}
