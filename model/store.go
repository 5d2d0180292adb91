// Package model holds sshchat's persistent data: the GORM models and the Store
// seam behind which SQLite (the default, Open) or PostgreSQL (OpenURL with a
// postgres:// URL) keeps them.
//
// One storage idiom serves both databases: plain SQL that both accept,
// written with ? placeholders, run through database/sql (or GORM's Raw and
// Exec); the dialect (dialect.go) rebinds ? to $n for PostgreSQL, maps each
// driver's errors to this package's sentinels and holds the little else
// that differs (connection setup, the read snapshot). GORM's query builder
// and AutoMigrate serve only the baseline tables' DDL and a few simple
// lookups; every later schema change is a numbered step of migrate.go, the
// same on both, except full-text search (search.go), the one feature
// whose SQL differs. TestQueriesAreValidOnPostgreSQLToo keeps SQLite-only
// constructs out, and the package's tests run on both databases.
//
// Times are stored in UTC; PostgreSQL keeps them to the microsecond.
//
// model imports no other sshchat package. Every method is safe for
// concurrent use and returns only after its transaction has committed.
package model

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors returned (wrapped) by Store implementations.
var (
	// ErrNotFound means the requested row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique constraint (handle, fingerprint) was violated.
	ErrConflict = errors.New("already exists")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("store closed")
	// ErrUnavailable means the database cannot be written (or read) now
	// for a reason outside the server that may pass: locked by another
	// process, disk full, read-only, I/O error. The error wrapping it also
	// wraps the driver's error.
	ErrUnavailable = errors.New("storage unavailable")
)

// Store is the persistence seam used by the chat broker. It is composed of
// small per-aggregate interfaces.
type Store interface {
	Users
	Messages
	Contacts
	Deliveries
	Rooms
	Moderation
	Settings
	// InstallationID returns the random ID the database got when it was
	// created: nodes sharing a database have the same.
	InstallationID(ctx context.Context) (string, error)
	// Close flushes and closes the database.
	Close() error
}

// Users manages accounts and the keys that log into them.
type Users interface {
	// UserByFingerprint returns the account owning the key with the given
	// SHA256 fingerprint, or ErrNotFound.
	UserByFingerprint(ctx context.Context, fingerprint string) (User, error)
	// UserByHandle looks a user up by normalised handle key, or ErrNotFound.
	UserByHandle(ctx context.Context, handleKey string) (User, error)
	// UserByID returns one user, or ErrNotFound.
	UserByID(ctx context.Context, id uint64) (User, error)
	// CreateUser creates the user and its first key in one transaction.
	// It returns a *HandleConflictError when the handle is taken or held
	// for its previous owner (as of u.CreatedAt), ErrConflict when the
	// fingerprint is taken.
	CreateUser(ctx context.Context, u *User, k *Key) error
	// RenameUser changes a user's handle, holds the old one for them and
	// appends a notice, in one transaction (see Rename); a
	// *HandleConflictError when the new handle is taken or held.
	RenameUser(ctx context.Context, r Rename) error
	// KeysOf lists a user's keys.
	KeysOf(ctx context.Context, id uint64) ([]Key, error)
	// CreateLinkCode stores a one-time link code, replacing the user's
	// earlier ones.
	CreateLinkCode(ctx context.Context, c LinkCode) error
	// LinkKey consumes a valid link code of the user and adds the key to
	// the account, in one transaction; ErrNotFound for no such code.
	LinkKey(ctx context.Context, userID uint64, codeHash string, k *Key, now time.Time) error
	// RemoveKey deletes one of a user's keys; ErrLastKey for the only one.
	RemoveKey(ctx context.Context, userID uint64, fingerprint string) error
	// CountUsers returns how many accounts exist.
	CountUsers(ctx context.Context) (int, error)
	// TouchLastSeen records when a user was last online.
	TouchLastSeen(ctx context.Context, id uint64, at time.Time) error
	// TouchLastSeenAll records several users' last-seen times in one
	// transaction; users that do not exist are skipped.
	TouchLastSeenAll(ctx context.Context, seen map[uint64]time.Time) error
}

// Messages stores conversation history.
type Messages interface {
	// AppendMessages persists the messages in one transaction, in order,
	// assigning each its ID (IDs grow in slice order). For every message with
	// OfflineFor set, a pending Delivery row is written in the same
	// transaction. It returns only after commit.
	AppendMessages(ctx context.Context, msgs []*Message) error
	// History returns up to limit messages of conv with ID < before (before
	// <= 0 means from the newest), oldest first, each with its sender's
	// current handle in Author. Messages sent by a user in hidden are left
	// out (blocked senders).
	History(ctx context.Context, conv string, before int64, limit int, hidden []uint64) ([]Message, error)
	// HistoryAfter returns up to limit messages of conv with ID > after,
	// oldest first, leaving out messages sent by a user in hidden.
	HistoryAfter(ctx context.Context, conv string, after int64, limit int, hidden []uint64) ([]Message, error)
	// NewestMessageID returns the greatest message ID committed in any
	// conversation (0: none).
	NewestMessageID(ctx context.Context) (int64, error)
	// Search returns the messages of the given conversations that contain
	// the words, newest first (see search.go).
	Search(ctx context.Context, q Search) ([]Message, error)
	// LastOwnMessage returns the newest text or action a user sent in a
	// conversation that is not deleted, or ErrNotFound.
	LastOwnMessage(ctx context.Context, conv string, userID uint64) (Message, error)
	// MessageByID returns one message, or ErrNotFound.
	MessageByID(ctx context.Context, id int64) (Message, error)
	// EditMessage replaces a message's body and records the edit time.
	EditMessage(ctx context.Context, id int64, body string, at time.Time) error
	// DeleteMessage empties a message and marks it deleted.
	DeleteMessage(ctx context.Context, id int64, at time.Time) error
	// AuditedDeleteMessage deletes a message and stores the audit entry
	// of the administrator who did, in one transaction.
	AuditedDeleteMessage(ctx context.Context, id int64, at time.Time, a *AuditEntry) error
	// Conversations lists the direct-message conversations user takes part
	// in, each with its newest message ID.
	Conversations(ctx context.Context, userID uint64) ([]ConvSummary, error)
	// MarkRead records that user has read conv up to message ID upTo. The
	// marker never moves backwards.
	MarkRead(ctx context.Context, userID uint64, conv string, upTo int64) error
	// MarkReadAll records several markers in one transaction, each as
	// MarkRead does.
	MarkReadAll(ctx context.Context, marks []ReadMark) error
	// Unread counts, per conversation in convs, messages newer than the
	// user's read marker that were not sent by the user nor by a user in
	// hidden. Counts stop at UnreadCap.
	Unread(ctx context.Context, userID uint64, convs []string, hidden []uint64) (map[string]int, error)
}

// Contacts stores contact lists and blocks.
type Contacts interface {
	// AddContact adds contact to owner's list (idempotent).
	AddContact(ctx context.Context, owner, contact uint64) error
	// RemoveContact removes contact from owner's list; ErrNotFound if absent.
	RemoveContact(ctx context.Context, owner, contact uint64) error
	// ContactsOf lists owner's contacts with their user rows, by handle.
	ContactsOf(ctx context.Context, owner uint64) ([]User, error)
	// Block makes owner stop receiving anything from blocked (idempotent).
	Block(ctx context.Context, owner, blocked uint64) error
	// Unblock removes a block; ErrNotFound if absent.
	Unblock(ctx context.Context, owner, blocked uint64) error
	// BlockedBy lists the user IDs owner has blocked.
	BlockedBy(ctx context.Context, owner uint64) ([]uint64, error)
	// IsBlocked reports whether owner has blocked other.
	IsBlocked(ctx context.Context, owner, other uint64) (bool, error)
}

// Deliveries tracks messages waiting for an offline recipient.
//
// A pending delivery is claimed by exactly one session (ClaimOffline), then
// either acknowledged (AckOffline, it is never offered again) or released
// (ReleaseOffline, offered again at the next login). ReleaseAllClaims runs at
// start-up so that claims of a crashed process are offered again.
type Deliveries interface {
	// ClaimOffline atomically claims every pending, unclaimed delivery of
	// recipient for claim and returns the claimed messages (with Author set,
	// as History), oldest first, with the count of direct messages per
	// sender and of room messages (offline mentions) per room. At most limit messages are returned
	// (the newest ones); the counts cover all claimed messages.
	ClaimOffline(ctx context.Context, recipient uint64, claim string, limit int) (OfflineBatch, error)
	// HasOffline reports, without writing, whether recipient has pending
	// deliveries no session has claimed: when it says no, a ClaimOffline
	// would claim nothing committed before the call.
	HasOffline(ctx context.Context, recipient uint64) (bool, error)
	// AckOffline marks every delivery held by claim as delivered.
	AckOffline(ctx context.Context, recipient uint64, claim string) error
	// ReleaseOffline returns claim's undelivered deliveries to pending.
	ReleaseOffline(ctx context.Context, recipient uint64, claim string) error
	// ReleaseAllClaims returns every claimed but undelivered delivery to
	// pending.
	ReleaseAllClaims(ctx context.Context) error
	// ReleaseClaimsPrefix returns to pending the claimed but undelivered
	// deliveries whose claim starts with prefix (one node's, in a cluster).
	ReleaseClaimsPrefix(ctx context.Context, prefix string) error
}

// Rooms stores rooms, their members, invites and bans, and mentions.
//
// Every change of a room writes the change and, when notice is not nil,
// the line of the room's history recording it (a KindSystem message, its
// ID set), in one transaction: history records the change exactly where it
// took effect. A room is named by its key (the lower-cased name without
// its '#').
type Rooms interface {
	// CreateRoom creates r (setting its ID) with its owner as the only
	// member. It returns a *RoomConflictError when a room of that key or
	// of the same skeleton exists.
	CreateRoom(ctx context.Context, r *Room, notice *Message) error
	// RoomState returns a room with its members, invites and bans, or
	// ErrNotFound.
	RoomState(ctx context.Context, key string) (RoomState, error)
	// RoomsOf lists the rooms user is a member of or invited to, by key.
	RoomsOf(ctx context.Context, userID uint64) ([]UserRoom, error)
	// ListRooms returns up to limit rooms with a key after after (by key):
	// the public ones and the private ones user is a member of.
	ListRooms(ctx context.Context, userID uint64, after string, limit int) ([]RoomListing, error)
	// JoinRoom makes user a member with role (any invitation is used up);
	// ErrConflict when already a member.
	JoinRoom(ctx context.Context, roomID int64, userID uint64, role int, notice *Message) error
	// LeaveRoom removes a member (part or kick); ErrNotFound when not one.
	LeaveRoom(ctx context.Context, roomID int64, userID uint64, notice *Message) error
	// InviteToRoom records an invitation (idempotent).
	InviteToRoom(ctx context.Context, roomID int64, userID, byID uint64, notice *Message) error
	// BanFromRoom removes user's membership and invitation, if any, and
	// bans them; ErrConflict when already banned.
	BanFromRoom(ctx context.Context, roomID int64, userID, byID uint64, reason string, notice *Message) error
	// UnbanFromRoom lifts a ban; ErrNotFound when there is none.
	UnbanFromRoom(ctx context.Context, roomID int64, userID uint64, notice *Message) error
	// SetRoomRole changes a member's role; ErrNotFound when not a member.
	SetRoomRole(ctx context.Context, roomID int64, userID uint64, role int, notice *Message) error
	// SetRoomTopic changes a room's topic.
	SetRoomTopic(ctx context.Context, roomID int64, topic string, notice *Message) error
	// MentionCounts counts, per conversation in convs, the messages newer
	// than user's read marker that mention user, leaving out those sent by
	// a user in hidden. Counts stop at UnreadCap.
	MentionCounts(ctx context.Context, userID uint64, convs []string, hidden []uint64) (map[string]int, error)
}

// User is an account. Its identity is its keys; Handle is its display name.
type User struct {
	ID        uint64 `gorm:"primaryKey"`
	Handle    string `gorm:"size:64;not null"`
	HandleKey string `gorm:"size:128;not null;uniqueIndex"` // normalised, case-folded handle
	// Skeleton is Skeleton(HandleKey), set by CreateUser and RenameUser: a
	// new handle whose skeleton another account's has is refused. Indexed,
	// not unique: databases from before the rule may hold look-alikes.
	Skeleton  string `gorm:"size:128;not null;default:'';-:migration"`
	CreatedAt time.Time
	LastSeen  time.Time
}

// Key is an SSH public key that logs into a User.
type Key struct {
	ID          uint64 `gorm:"primaryKey"`
	Fingerprint string `gorm:"size:128;not null;uniqueIndex"` // SHA256:...
	UserID      uint64 `gorm:"not null;index"`
	PublicKey   string `gorm:"not null"` // authorized_keys format
	CreatedAt   time.Time
}

// Message kinds.
const (
	KindText   = 0 // an ordinary message
	KindAction = 1 // a /me action
	KindRename = 2 // a line of history recording a change of handle
	KindSystem = 3 // a line of a room's history recording a change of the room
)

// Message is one stored chat message. Conv names the conversation: a room
// ("#lobby") or a direct conversation ("dm:<lowID>:<highID>").
type Message struct {
	ID           int64  `gorm:"primaryKey;autoIncrement"`
	Conv         string `gorm:"size:64;not null;index:idx_conv_id,priority:1"`
	SenderID     uint64 `gorm:"not null;index"`
	SenderHandle string `gorm:"size:64;not null"` // handle at send time
	Kind         int    `gorm:"not null;default:0"`
	Body         string `gorm:"not null"`
	CreatedAt    time.Time
	// EditedAt is when the body was last edited or deleted (nil: never),
	// read from message_edits. It is not a column.
	EditedAt *time.Time `gorm:"-"`
	// Deleted marks a message its sender (or an admin) deleted: the row
	// stays, with an empty body, so that order and replies hold. It is
	// not a column (message_edits).
	Deleted bool `gorm:"-"`

	// Prev is the ID of the message before this one in its conversation
	// (0: none), set when the message is appended. It is not a column.
	Prev int64 `gorm:"-"`

	// OfflineFor, when non-zero on AppendMessages, records a pending
	// delivery for that recipient. It is not a column.
	OfflineFor uint64 `gorm:"-"`
	// Mentions, on AppendMessages, are the users the message mentions: a
	// mention row each, and a pending delivery for those marked Offline.
	// It is not a column.
	Mentions []Mention `gorm:"-"`
	// Author is the sender's current handle, filled in by the queries that
	// read messages (SenderHandle may since have passed to someone else).
	// It is not a column.
	Author string `gorm:"-"`
}

// Mention is a user a message mentions; Offline asks for a pending
// delivery (the user was not online when the message was committed).
type Mention struct {
	UserID  uint64
	Offline bool
}

// ConvSummary is a direct conversation a user takes part in.
type ConvSummary struct {
	Conv   string
	PeerID uint64
	LastID int64
}

// OfflineBatch is what a login claimed from the offline queue.
type OfflineBatch struct {
	// Messages are the claimed messages kept for display, oldest first.
	Messages []Message
	// Counts maps sender ID to the number of claimed direct messages from
	// it.
	Counts map[uint64]int
	// RoomCounts maps a room's conversation ID to the number of claimed
	// messages of it (offline mentions).
	RoomCounts map[string]int
	// Total is the number of claimed messages.
	Total int
}
