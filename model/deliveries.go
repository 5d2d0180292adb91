package model

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"
)

// Offline-queue queries. All of them are served by idx_deliveries_pending
// (recipient_id, delivered_at, claim, message_id, sender_id), except
// qReleaseAll, served by the partial index idx_deliveries_held.
const (
	qClaim = `UPDATE deliveries SET claim = ?
		WHERE recipient_id = ? AND delivered_at IS NULL AND claim = ''`
	qClaimCounts = `SELECT d.sender_id, m.conv, count(*) FROM deliveries d JOIN messages m ON m.id = d.message_id
		WHERE d.recipient_id = ? AND d.delivered_at IS NULL AND d.claim = ?
		GROUP BY d.sender_id, m.conv`
	qClaimMessages = `SELECT ` + messageColumns + `
		FROM deliveries d JOIN messages m ON m.id = d.message_id LEFT JOIN users u ON u.id = m.sender_id` + joinEdits + `
		WHERE d.recipient_id = ? AND d.delivered_at IS NULL AND d.claim = ?
		ORDER BY d.message_id DESC LIMIT ?`
	qHasOffline = `SELECT count(*) FROM (SELECT 1 FROM deliveries
		WHERE recipient_id = ? AND delivered_at IS NULL AND claim = '' LIMIT 1) AS pending`
	qAck = `UPDATE deliveries SET delivered_at = ?
		WHERE recipient_id = ? AND delivered_at IS NULL AND claim = ?`
	qRelease = `UPDATE deliveries SET claim = ''
		WHERE recipient_id = ? AND delivered_at IS NULL AND claim = ?`
	qReleaseAll = `UPDATE deliveries SET claim = ''
		WHERE delivered_at IS NULL AND claim <> ''`
	// qReleasePrefix releases the claims that start with a prefix (args:
	// its length, the prefix); substr, not LIKE, so that no character of
	// the prefix is a wildcard.
	qReleasePrefix = `UPDATE deliveries SET claim = ''
		WHERE delivered_at IS NULL AND claim <> '' AND substr(claim, 1, ?) = ?`
)

// errEmptyClaim rejects the empty claim, which is how unclaimed deliveries
// are stored.
var errEmptyClaim = errors.New("empty claim")

// ClaimOffline atomically claims every pending, unclaimed delivery of
// recipient for claim and returns the messages claim holds, oldest first,
// with the count per sender. At most limit messages (the newest) are
// returned; Counts and Total cover all of them. claim must not be empty.
// Deliveries claim already held are returned again.
func (d *DB) ClaimOffline(ctx context.Context, recipient uint64, claim string, limit int) (OfflineBatch, error) {
	const op = "claim offline"
	if err := d.check(op); err != nil {
		return OfflineBatch{}, err
	}
	if claim == "" {
		return OfflineBatch{}, d.wrap(op, errEmptyClaim)
	}
	limit = max(limit, 0)
	var b OfflineBatch
	// The claiming UPDATE and the read-back share one BEGIN IMMEDIATE
	// transaction: no other claim, ack or release can interleave.
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		b = OfflineBatch{Counts: map[uint64]int{}, RoomCounts: map[string]int{}}
		if _, err := tx.ExecContext(ctx, qClaim, claim, recipient); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, qClaimCounts, recipient, claim)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sender uint64
			var conv string
			var n int
			if err := rows.Scan(&sender, &conv, &n); err != nil {
				return err
			}
			if strings.HasPrefix(conv, dmPrefix) {
				b.Counts[sender] += n
			} else {
				b.RoomCounts[conv] += n
			}
			b.Total += n
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if b.Total == 0 || limit == 0 {
			return nil
		}
		rows, err = tx.QueryContext(ctx, qClaimMessages, recipient, claim, limit)
		if err != nil {
			return err
		}
		b.Messages, err = scanMessages(rows, min(limit, b.Total))
		return err
	})
	if err != nil {
		return OfflineBatch{}, d.wrap(op, err)
	}
	slices.Reverse(b.Messages)
	return b, nil
}

// HasOffline reports whether recipient has pending, unclaimed deliveries.
// It reads (from the reader pool) and never takes the write lock, so a
// login with nothing queued costs no write.
func (d *DB) HasOffline(ctx context.Context, recipient uint64) (bool, error) {
	const op = "has offline"
	if err := d.check(op); err != nil {
		return false, err
	}
	var n int
	if err := d.rdb.QueryRowContext(ctx, qHasOffline, recipient).Scan(&n); err != nil {
		return false, d.wrap(op, err)
	}
	return n > 0, nil
}

// AckOffline marks every delivery held by claim as delivered; they are never
// offered again.
func (d *DB) AckOffline(ctx context.Context, recipient uint64, claim string) error {
	const op = "ack offline"
	if err := d.check(op); err != nil {
		return err
	}
	if claim == "" {
		return d.wrap(op, errEmptyClaim)
	}
	if _, err := d.exec(ctx, qAck, time.Now().UTC(), recipient, claim); err != nil {
		return d.wrap(op, err)
	}
	return nil
}

// ReleaseOffline returns claim's undelivered deliveries to pending.
func (d *DB) ReleaseOffline(ctx context.Context, recipient uint64, claim string) error {
	const op = "release offline"
	if err := d.check(op); err != nil {
		return err
	}
	if claim == "" {
		return d.wrap(op, errEmptyClaim)
	}
	if _, err := d.exec(ctx, qRelease, recipient, claim); err != nil {
		return d.wrap(op, err)
	}
	return nil
}

// ReleaseAllClaims returns every claimed but undelivered delivery to
// pending. Run it at start-up, before any session claims.
func (d *DB) ReleaseAllClaims(ctx context.Context) error {
	const op = "release all claims"
	if err := d.check(op); err != nil {
		return err
	}
	if _, err := d.exec(ctx, qReleaseAll); err != nil {
		return d.wrap(op, err)
	}
	return nil
}

// ReleaseClaimsPrefix returns to pending every claimed but undelivered
// delivery whose claim starts with prefix: the claims of one node of a
// cluster (its sessions' claims carry its name), released when it starts
// again or when the others find it dead. prefix must not be empty.
func (d *DB) ReleaseClaimsPrefix(ctx context.Context, prefix string) error {
	const op = "release claims"
	if err := d.check(op); err != nil {
		return err
	}
	if prefix == "" {
		return d.wrap(op, errEmptyClaim)
	}
	if _, err := d.wdb.ExecContext(ctx, qReleasePrefix, len(prefix), prefix); err != nil {
		return d.wrap(op, err)
	}
	return nil
}
