package model

import (
	"context"
	"time"
)

const (
	qAddContact    = `INSERT INTO contacts (owner_id, contact_id, created_at) VALUES (?, ?, ?) ON CONFLICT (owner_id, contact_id) DO NOTHING`
	qRemoveContact = `DELETE FROM contacts WHERE owner_id = ? AND contact_id = ?`
	qContactsOf    = `SELECT u.id, u.handle, u.handle_key, u.created_at, u.last_seen
		FROM contacts c JOIN users u ON u.id = c.contact_id
		WHERE c.owner_id = ? ORDER BY u.handle_key, u.id`
	qBlock     = `INSERT INTO blocks (owner_id, blocked_id, created_at) VALUES (?, ?, ?) ON CONFLICT (owner_id, blocked_id) DO NOTHING`
	qUnblock   = `DELETE FROM blocks WHERE owner_id = ? AND blocked_id = ?`
	qBlockedBy = `SELECT blocked_id FROM blocks WHERE owner_id = ? ORDER BY blocked_id`
	qIsBlocked = `SELECT EXISTS (SELECT 1 FROM blocks WHERE owner_id = ? AND blocked_id = ?)`
)

// AddContact adds contact to owner's list (idempotent); ErrNotFound when
// either user does not exist.
func (d *DB) AddContact(ctx context.Context, owner, contact uint64) error {
	return d.insertPair(ctx, "add contact", qAddContact, owner, contact)
}

// insertPair runs an idempotent insert of an (owner, other) row.
func (d *DB) insertPair(ctx context.Context, op, query string, owner, other uint64) error {
	if err := d.check(op); err != nil {
		return err
	}
	if _, err := d.exec(ctx, query, owner, other, time.Now().UTC()); err != nil {
		return d.wrap(op, err)
	}
	return nil
}

// RemoveContact removes contact from owner's list; ErrNotFound if absent.
func (d *DB) RemoveContact(ctx context.Context, owner, contact uint64) error {
	return d.deletePair(ctx, "remove contact", qRemoveContact, owner, contact)
}

// ContactsOf lists owner's contacts with their user rows, ordered by handle.
func (d *DB) ContactsOf(ctx context.Context, owner uint64) ([]User, error) {
	const op = "contacts of"
	if err := d.check(op); err != nil {
		return nil, err
	}
	rows, err := d.rdb.QueryContext(ctx, qContactsOf, owner)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.ID, &u.Handle, &u.HandleKey, &u.CreatedAt, &u.LastSeen); err != nil {
			return nil, d.wrap(op, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	return out, nil
}

// Block makes owner stop receiving anything from blocked (idempotent);
// ErrNotFound when either user does not exist.
func (d *DB) Block(ctx context.Context, owner, blocked uint64) error {
	return d.insertPair(ctx, "block", qBlock, owner, blocked)
}

// Unblock removes a block; ErrNotFound if absent.
func (d *DB) Unblock(ctx context.Context, owner, blocked uint64) error {
	return d.deletePair(ctx, "unblock", qUnblock, owner, blocked)
}

// BlockedBy lists the user IDs owner has blocked, ascending.
func (d *DB) BlockedBy(ctx context.Context, owner uint64) ([]uint64, error) {
	const op = "blocked by"
	if err := d.check(op); err != nil {
		return nil, err
	}
	rows, err := d.rdb.QueryContext(ctx, qBlockedBy, owner)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			return nil, d.wrap(op, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	return out, nil
}

// IsBlocked reports whether owner has blocked other.
func (d *DB) IsBlocked(ctx context.Context, owner, other uint64) (bool, error) {
	const op = "is blocked"
	if err := d.check(op); err != nil {
		return false, err
	}
	var b bool
	if err := d.rdb.QueryRowContext(ctx, qIsBlocked, owner, other).Scan(&b); err != nil {
		return false, d.wrap(op, err)
	}
	return b, nil
}

// deletePair runs a two-argument DELETE and reports ErrNotFound when it
// removed nothing.
func (d *DB) deletePair(ctx context.Context, op, q string, a, b uint64) error {
	if err := d.check(op); err != nil {
		return err
	}
	res, err := d.exec(ctx, q, a, b)
	if err != nil {
		return d.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return d.wrap(op, err)
	}
	if n == 0 {
		return d.wrap(op, ErrNotFound)
	}
	return nil
}
