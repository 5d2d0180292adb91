package model

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Room roles as stored (room_members.role).
const (
	RoleMember   = 0
	RoleOperator = 1
	RoleOwner    = 2
)

// Room is a group conversation other than the lobby. Its conversation ID
// is RoomConv(NameKey). The tables of rooms are created by schema step 3
// (migrateRooms), not by AutoMigrate, and read and written with plain SQL.
type Room struct {
	ID        int64
	Name      string // as its creator spelled it, with its '#'
	NameKey   string // lower-cased, without '#'; unique
	Skeleton  string // Skeleton(NameKey), set by CreateRoom
	Private   bool
	Topic     string
	OwnerID   uint64
	CreatedAt time.Time
}

// RoomMember is a member of a room and their role.
type RoomMember struct {
	UserID uint64
	Role   int
}

// RoomState is a room with everyone who stands in a relation to it.
type RoomState struct {
	Room    Room
	Members []RoomMember
	Invited []uint64
	Banned  []uint64
}

// UserRoom is a room one user is a member of (Role) or invited to.
type UserRoom struct {
	Room    Room
	Role    int
	Invited bool
}

// RoomListing is a room as a list of rooms shows it.
type RoomListing struct {
	Room    Room
	Members int
	Joined  bool
}

// RoomConflictError says a room name cannot be taken. It wraps
// ErrConflict. Holder names the room in the way, which may be private:
// callers decide whether to show it.
type RoomConflictError struct{ Holder Room }

func (e *RoomConflictError) Error() string { return "room " + e.Holder.Name + " exists" }

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *RoomConflictError) Unwrap() error { return ErrConflict }

const (
	roomColumns = `r.id, r.name, r.name_key, r.skeleton, r.private, r.topic, r.owner_id, r.created_at`

	qRoomHolder = `SELECT ` + roomColumns + ` FROM rooms r WHERE r.skeleton = ? OR r.name_key = ?
		ORDER BY CASE WHEN r.name_key = ? THEN 0 ELSE 1 END LIMIT 1`
	qInsertRoom   = `INSERT INTO rooms (id, name, name_key, skeleton, private, topic, owner_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertMember = `INSERT INTO room_members (room_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)`
	qDeleteMember = `DELETE FROM room_members WHERE room_id = ? AND user_id = ?`
	qDeleteInvite = `DELETE FROM room_invites WHERE room_id = ? AND user_id = ?`
	qInsertInvite = `INSERT INTO room_invites (room_id, user_id, by_id, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (room_id, user_id) DO NOTHING`
	qInsertBan = `INSERT INTO room_bans (room_id, user_id, by_id, reason, created_at) VALUES (?, ?, ?, ?, ?)`
	qDeleteBan = `DELETE FROM room_bans WHERE room_id = ? AND user_id = ?`
	qSetRole   = `UPDATE room_members SET role = ? WHERE room_id = ? AND user_id = ?`
	qSetTopic  = `UPDATE rooms SET topic = ? WHERE id = ?`

	qRoomByKey   = `SELECT ` + roomColumns + ` FROM rooms r WHERE r.name_key = ?`
	qRoomMembers = `SELECT user_id, role FROM room_members WHERE room_id = ? ORDER BY user_id`
	qRoomInvites = `SELECT user_id FROM room_invites WHERE room_id = ? ORDER BY user_id`
	qRoomBans    = `SELECT user_id FROM room_bans WHERE room_id = ? ORDER BY user_id`

	// qRoomsOf (args: user, user): joined rooms, then invitations.
	qRoomsOf = `SELECT ` + roomColumns + `, m.role, FALSE FROM room_members m JOIN rooms r ON r.id = m.room_id WHERE m.user_id = ?
		UNION ALL
		SELECT ` + roomColumns + `, 0, TRUE FROM room_invites i JOIN rooms r ON r.id = i.room_id WHERE i.user_id = ?`

	// qListRooms (args: user, after, user, limit).
	qListRooms = `SELECT ` + roomColumns + `,
			(SELECT count(*) FROM room_members c WHERE c.room_id = r.id),
			EXISTS (SELECT 1 FROM room_members j WHERE j.room_id = r.id AND j.user_id = ?)
		FROM rooms r
		WHERE r.name_key > ?
			AND (r.private = FALSE OR EXISTS (SELECT 1 FROM room_members p WHERE p.room_id = r.id AND p.user_id = ?))
		ORDER BY r.name_key LIMIT ?`

	qCountUsers = `SELECT count(*) FROM users`
)

// mentionSQL returns the per-conversation mention count query for nHidden
// hidden senders (args: user, conv, user, conv, hidden...).
func mentionSQL(nHidden int) string {
	return `SELECT count(*) FROM (SELECT 1 FROM mentions WHERE user_id = ? AND conv = ?
		AND message_id > coalesce((SELECT last_read_id FROM read_markers WHERE user_id = ? AND conv = ?), 0)` +
		notInSenders("sender_id", nHidden) + ` LIMIT ` + strconv.Itoa(UnreadCap) + `) AS mentioned`
}

type scanner interface{ Scan(dest ...any) error }

func scanRoom(row scanner, r *Room, extra ...any) error {
	return row.Scan(append([]any{&r.ID, &r.Name, &r.NameKey, &r.Skeleton, &r.Private, &r.Topic, &r.OwnerID, &r.CreatedAt}, extra...)...)
}

// insertNotice appends a room's history line in tx, setting its ID.
func insertNotice(ctx context.Context, tx *sql.Tx, m *Message, now time.Time) error {
	if m == nil {
		return nil
	}
	return insertChained(ctx, tx, []*Message{m}, now, nil)
}

// roomWrite runs fn and appends notice in one write transaction. On error
// notice is left unchanged.
func (d *DB) roomWrite(ctx context.Context, op string, notice *Message, fn func(tx *sql.Tx, now time.Time) error) error {
	if err := d.check(op); err != nil {
		return err
	}
	now := time.Now().UTC()
	var n Message
	if notice != nil {
		n = *notice
		n.ID = 0
	}
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx, now); err != nil {
			return err
		}
		if notice != nil {
			return insertNotice(ctx, tx, &n, now)
		}
		return nil
	})
	if err != nil {
		var rc *RoomConflictError
		if errors.As(err, &rc) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
			return fmt.Errorf("%s: %w", op, err)
		}
		return d.wrap(op, err)
	}
	if notice != nil {
		*notice = n
	}
	return nil
}

// affected returns ErrNotFound when res changed no row.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// CreateRoom creates r with its owner as its only member and appends
// notice, in one transaction. The name is checked in the same transaction:
// a *RoomConflictError when a room has the key or the skeleton.
func (d *DB) CreateRoom(ctx context.Context, r *Room, notice *Message) error {
	if r == nil {
		return errors.New("create room: nil room")
	}
	rc := *r
	rc.Skeleton = Skeleton(rc.NameKey)
	if rc.CreatedAt.IsZero() {
		rc.CreatedAt = time.Now()
	}
	rc.CreatedAt = rc.CreatedAt.UTC()
	err := d.roomWrite(ctx, "create room", notice, func(tx *sql.Tx, now time.Time) error {
		// The ID first: its lock makes creations wait for each other, so
		// that the check sees a look-alike created meanwhile.
		if err := tx.QueryRowContext(ctx, qNextID, "rooms").Scan(&rc.ID); err != nil {
			return err
		}
		var h Room
		err := scanRoom(tx.QueryRowContext(ctx, qRoomHolder, rc.Skeleton, rc.NameKey, rc.NameKey), &h)
		if err == nil {
			return &RoomConflictError{Holder: h}
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, qInsertRoom, rc.ID, rc.Name, rc.NameKey, rc.Skeleton, rc.Private, rc.Topic, rc.OwnerID, rc.CreatedAt); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, qInsertMember, rc.ID, rc.OwnerID, RoleOwner, rc.CreatedAt)
		return err
	})
	if err != nil {
		return err
	}
	*r = rc
	return nil
}

// RoomState returns the room with key key, its members, invites and bans,
// read in one transaction; ErrNotFound when there is no such room.
func (d *DB) RoomState(ctx context.Context, key string) (RoomState, error) {
	const op = "room state"
	if err := d.check(op); err != nil {
		return RoomState{}, err
	}
	tx, err := d.rdb.BeginTx(ctx, d.dia.readTx)
	if err != nil {
		return RoomState{}, d.wrap(op, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var st RoomState
	if err := scanRoom(tx.QueryRowContext(ctx, qRoomByKey, key), &st.Room); err != nil {
		return RoomState{}, d.wrap(op, err)
	}
	rows, err := tx.QueryContext(ctx, qRoomMembers, st.Room.ID)
	if err != nil {
		return RoomState{}, d.wrap(op, err)
	}
	for rows.Next() {
		var m RoomMember
		if err := rows.Scan(&m.UserID, &m.Role); err != nil {
			rows.Close()
			return RoomState{}, d.wrap(op, err)
		}
		st.Members = append(st.Members, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return RoomState{}, d.wrap(op, err)
	}
	for _, q := range []struct {
		sql string
		out *[]uint64
	}{{qRoomInvites, &st.Invited}, {qRoomBans, &st.Banned}} {
		ids, err := queryIDs(ctx, tx, q.sql, st.Room.ID)
		if err != nil {
			return RoomState{}, d.wrap(op, err)
		}
		*q.out = ids
	}
	return st, nil
}

// queryIDs reads a column of user IDs.
func queryIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]uint64, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// RoomsOf lists the rooms user is a member of, then those they are invited
// to, each by key.
func (d *DB) RoomsOf(ctx context.Context, userID uint64) ([]UserRoom, error) {
	const op = "rooms of"
	if err := d.check(op); err != nil {
		return nil, err
	}
	rows, err := d.rdb.QueryContext(ctx, qRoomsOf, userID, userID)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer rows.Close()
	var joined, invited []UserRoom
	for rows.Next() {
		var ur UserRoom
		if err := scanRoom(rows, &ur.Room, &ur.Role, &ur.Invited); err != nil {
			return nil, d.wrap(op, err)
		}
		if ur.Invited {
			invited = append(invited, ur)
		} else {
			joined = append(joined, ur)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	byKey := func(s []UserRoom) {
		slices.SortFunc(s, func(a, b UserRoom) int { return strings.Compare(a.Room.NameKey, b.Room.NameKey) })
	}
	byKey(joined)
	byKey(invited)
	return append(joined, invited...), nil
}

// ListRooms returns up to limit rooms whose key sorts after after: the
// public ones and the private ones user is a member of, by key, each with
// its member count and whether user is a member.
func (d *DB) ListRooms(ctx context.Context, userID uint64, after string, limit int) ([]RoomListing, error) {
	const op = "list rooms"
	if err := d.check(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	rows, err := d.rdb.QueryContext(ctx, qListRooms, userID, after, userID, limit)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer rows.Close()
	var out []RoomListing
	for rows.Next() {
		var l RoomListing
		if err := scanRoom(rows, &l.Room, &l.Members, &l.Joined); err != nil {
			return nil, d.wrap(op, err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	return out, nil
}

// JoinRoom makes user a member of the room with role, using up any
// invitation, and appends notice; ErrConflict when already a member. The
// joiner's read marker of the room moves to the newest message: what was
// said before they joined is history to read, not unread.
func (d *DB) JoinRoom(ctx context.Context, roomID int64, userID uint64, role int, notice *Message) error {
	return d.roomWrite(ctx, "join room", notice, func(tx *sql.Tx, now time.Time) error {
		if _, err := tx.ExecContext(ctx, qDeleteInvite, roomID, userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, qInsertMember, roomID, userID, role, now); err != nil {
			return err
		}
		var key string
		if err := tx.QueryRowContext(ctx, qRoomKey, roomID).Scan(&key); err != nil {
			return err
		}
		conv := RoomConv(key)
		_, err := tx.ExecContext(ctx, qMarkReadToNewest, userID, conv, conv)
		return err
	})
}

// qMarkReadToNewest moves a user's read marker of a room to its newest
// message (args: user, conv, conv); qRoomKey reads a room's key.
const (
	qMarkReadToNewest = `INSERT INTO read_markers (user_id, conv, last_read_id)
	SELECT ?, ?, coalesce(max(id), 0) FROM messages WHERE conv = ?
	ON CONFLICT (user_id, conv) DO UPDATE SET last_read_id = ` + keepNewerMark
	qRoomKey = `SELECT name_key FROM rooms WHERE id = ?`
)

// LeaveRoom removes a member and appends notice; ErrNotFound when user is
// not a member.
func (d *DB) LeaveRoom(ctx context.Context, roomID int64, userID uint64, notice *Message) error {
	return d.roomWrite(ctx, "leave room", notice, func(tx *sql.Tx, _ time.Time) error {
		return affected(tx.ExecContext(ctx, qDeleteMember, roomID, userID))
	})
}

// InviteToRoom records that byID invited userID (idempotent) and appends
// notice.
func (d *DB) InviteToRoom(ctx context.Context, roomID int64, userID, byID uint64, notice *Message) error {
	return d.roomWrite(ctx, "invite to room", notice, func(tx *sql.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, qInsertInvite, roomID, userID, byID, now)
		return err
	})
}

// BanFromRoom bans userID from the room, ending their membership and
// invitation if any, and appends notice; ErrConflict when already banned.
func (d *DB) BanFromRoom(ctx context.Context, roomID int64, userID, byID uint64, reason string, notice *Message) error {
	return d.roomWrite(ctx, "ban from room", notice, func(tx *sql.Tx, now time.Time) error {
		for _, q := range []string{qDeleteMember, qDeleteInvite} {
			if _, err := tx.ExecContext(ctx, q, roomID, userID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, qInsertBan, roomID, userID, byID, reason, now)
		return err
	})
}

// UnbanFromRoom lifts userID's ban and appends notice; ErrNotFound when
// there is none.
func (d *DB) UnbanFromRoom(ctx context.Context, roomID int64, userID uint64, notice *Message) error {
	return d.roomWrite(ctx, "unban from room", notice, func(tx *sql.Tx, _ time.Time) error {
		return affected(tx.ExecContext(ctx, qDeleteBan, roomID, userID))
	})
}

// SetRoomRole changes a member's role and appends notice; ErrNotFound when
// user is not a member.
func (d *DB) SetRoomRole(ctx context.Context, roomID int64, userID uint64, role int, notice *Message) error {
	return d.roomWrite(ctx, "set room role", notice, func(tx *sql.Tx, _ time.Time) error {
		return affected(tx.ExecContext(ctx, qSetRole, role, roomID, userID))
	})
}

// SetRoomTopic changes the room's topic and appends notice; ErrNotFound
// when there is no such room.
func (d *DB) SetRoomTopic(ctx context.Context, roomID int64, topic string, notice *Message) error {
	return d.roomWrite(ctx, "set room topic", notice, func(tx *sql.Tx, _ time.Time) error {
		return affected(tx.ExecContext(ctx, qSetTopic, topic, roomID))
	})
}

// MentionCounts counts, for every conversation in convs, the messages
// newer than user's read marker that mention user and were not sent by a
// user in hidden. Every conversation of convs is a key of the result.
func (d *DB) MentionCounts(ctx context.Context, userID uint64, convs []string, hidden []uint64) (map[string]int, error) {
	return d.countPerConv(ctx, "mention counts", mentionSQL, convs, hidden, func(conv string) [4]any {
		return [4]any{userID, conv, userID, conv}
	})
}

// CountUsers returns how many accounts exist.
func (d *DB) CountUsers(ctx context.Context) (int, error) {
	const op = "count users"
	if err := d.check(op); err != nil {
		return 0, err
	}
	var n int
	if err := d.rdb.QueryRowContext(ctx, qCountUsers).Scan(&n); err != nil {
		return 0, d.wrap(op, err)
	}
	return n, nil
}
