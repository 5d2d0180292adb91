package chat

import (
	"context"
	"time"
)

// Lobby is the public room every user is in.
const Lobby ConvID = "#lobby"

// ConvID names a conversation: a room ("#lobby") or a direct conversation
// between two users ("dm:<lowID>:<highID>").
type ConvID string

// MessageID orders messages; IDs grow in the order messages were accepted.
type MessageID int64

// UserID identifies an account.
type UserID uint64

// Key is the public key a session authenticated with.
type Key struct {
	// Fingerprint is the SHA256 fingerprint ("SHA256:...").
	Fingerprint string
	// Authorized is the key in authorized_keys format.
	Authorized string
}

// Account is a logged-in user as the broker sees them.
type Account struct {
	ID          UserID
	Handle      string
	Fingerprint string
}

// Broker is the seam between the UI and the chat core: an in-process Hub by
// default, a message bus later. Every method is safe for concurrent use.
type Broker interface {
	// Authenticate returns the account that owns key, or ErrUnknownKey for a
	// key that has never logged in.
	Authenticate(ctx context.Context, key Key) (Account, error)
	// Register creates an account for a new key with the given handle. It
	// fails with ErrHandleInvalid or ErrHandleTaken (wrapped, with a
	// one-line reason in the message).
	Register(ctx context.Context, key Key, handle string) (Account, error)
	// LinkKey adds a key that has no account to the account with the
	// given handle, spending code, a one-time code the account's owner
	// got from /keys link. A wrong, used or expired code (or an unknown
	// handle) is ErrLinkCode.
	LinkKey(ctx context.Context, key Key, handle, code string) (Account, error)
	// Connect opens a session for acct: it subscribes to events, marks the
	// user online and claims their offline messages.
	Connect(ctx context.Context, acct Account) (Session, error)
	// Online returns how many users are online.
	Online() int
}

// Session is one connected terminal of a user. Its owner (the UI's pump)
// reads Events and calls Close exactly once when the terminal goes away.
type Session interface {
	// Events delivers live events. It is closed when the broker drops the
	// session (shutdown, slow consumer); read Err for the reason.
	Events() <-chan Event
	// Done is closed together with Events, so that a goroutine other than
	// the events reader can notice the session was dropped.
	Done() <-chan struct{}
	// Err tells why Events was closed, or nil while it is open.
	Err() error
	// Snapshot is the state at connect time.
	Snapshot() Snapshot
	// Send posts text to conv; the returned message is committed to the
	// store. Text is sanitised and length-checked first.
	Send(ctx context.Context, conv ConvID, text string) (Message, error)
	// Exec runs a /command line (with its leading slash); conv is the
	// conversation in front, where commands like /me act.
	Exec(ctx context.Context, conv ConvID, line string) (Reply, error)
	// History returns up to n messages of conv older than before (0: the
	// newest), oldest first.
	History(ctx context.Context, conv ConvID, before MessageID, n int) ([]Message, error)
	// HistoryAfter returns up to n messages of conv newer than after,
	// oldest first: the page that follows a message (a search result
	// opened in its context), read forwards.
	HistoryAfter(ctx context.Context, conv ConvID, after MessageID, n int) ([]Message, error)
	// MarkRead records that conv was read up to upTo and tells the user's
	// other sessions (a ReadEvent).
	MarkRead(ctx context.Context, conv ConvID, upTo MessageID) error
	// Rooms returns up to n public rooms (and the private rooms the user is
	// a member of) whose names sort after after (by name key; "" from the
	// first), for paging the /rooms list.
	Rooms(ctx context.Context, after string, n int) ([]RoomInfo, error)
	// Search returns up to n messages containing words, newest first,
	// older than before (0: from the newest), from every conversation the
	// user may read; never a blocked sender's or a deleted message.
	Search(ctx context.Context, words string, before MessageID, n int) ([]Message, error)
	// DismissOffline marks the offline batch of the snapshot delivered.
	DismissOffline(ctx context.Context) error
	// Close ends the session (idempotent).
	Close()
}

// MsgKind says how a message is shown.
type MsgKind int

// Message kinds.
const (
	KindText   MsgKind = iota // "alice: hello"
	KindAction                // "* alice waves"
	// KindRename is a line of lobby history recording a change of handle;
	// Body is the whole line ("alice is now known as bob"). Live sessions
	// are told by a PresenceEvent with OldHandle instead.
	KindRename
	// KindSystem is a line of a room's history recording a change of the
	// room: a join, part, invite, kick, ban, unban, op, deop or topic.
	// Body is the whole line ("bob kicked carol: spam"); From is who did it.
	KindSystem
)

// Message is a committed chat message.
type Message struct {
	ID   MessageID
	Conv ConvID
	From UserID
	// FromHandle is the sender's handle when the message was served: their
	// current one, not the one they sent it with, which may since belong to
	// someone else. A PresenceEvent with OldHandle renames From in every
	// message already shown.
	FromHandle string
	Kind       MsgKind
	Body       string
	At         time.Time
	// Edited is when the body was last edited or deleted (zero: never).
	Edited time.Time
	// Deleted: the sender (or an admin) deleted it; Body is empty.
	Deleted bool
}

// ConvKind tells rooms from direct conversations.
type ConvKind int

// Conversation kinds.
const (
	KindRoom ConvKind = iota
	KindDirect
)

// Role is a user's standing in a room.
type Role int

// Room roles, weakest first.
const (
	RoleMember   Role = iota
	RoleOperator      // may /topic, /kick, /ban, /unban
	RoleOwner         // the creator: also /op and /deop
)

// Conversation is a conversation as one user sees it.
type Conversation struct {
	ID   ConvID
	Kind ConvKind
	// Name is the room's name with its '#' ("#lobby", "#Go-Nuts") for a
	// room, the peer's handle for a direct one.
	Name string
	// Peer is the other user of a direct conversation.
	Peer UserID
	// Unread counts messages newer than the user's read marker.
	Unread int
	// Mentions counts the unread messages that mention the user (see
	// Mentions); a room's sidebar entry shows it as a badge.
	Mentions int
	// Topic is a room's topic ("" when none).
	Topic string
	// Private marks an invite-only room.
	Private bool
	// Role is the user's role in a room they are a member of.
	Role Role
	// Invited marks a private room the user is invited to and has not
	// joined: listed in the sidebar, opened with /join; it has no history
	// or unread count for them until they join.
	Invited bool
}

// RoomInfo is a public room as /rooms lists it.
type RoomInfo struct {
	ID      ConvID
	Name    string // with its '#'
	Topic   string
	Members int // members in total
	Online  int // members online now
	Joined  bool
}

// Status is a user's presence.
type Status int

// Presence states.
const (
	Offline Status = iota
	Online
	Away
)

// String names the status.
func (s Status) String() string {
	switch s {
	case Online:
		return "online"
	case Away:
		return "away"
	default:
		return "offline"
	}
}

// Presence is a user's state as others see it.
type Presence struct {
	User     UserID
	Handle   string
	Status   Status
	Reason   string    // away reason
	LastSeen time.Time // for offline users
	// Admin marks a user online with an administrator's key (Hub.isAdmin),
	// as of the last presence change; the hub publishes a change of it.
	Admin bool
}

// Contact is one entry of a user's contact list.
type Contact struct {
	Presence
	Blocked bool
}

// OfflineGroup is the messages one sender left while the user was away.
//
// A room group ("3 mentions in #ops") has Conv set to the room, Room true
// and Name the room's name; its messages mention the user and may come from
// several senders (From is 0).
type OfflineGroup struct {
	From       UserID
	FromHandle string
	Conv       ConvID
	Room       bool
	Name       string // the room's name, for a room group
	// Count is how many messages this sender left (may exceed len(Messages)).
	Count    int
	Messages []Message // oldest first
}

// Snapshot is a session's starting state.
type Snapshot struct {
	Me            Account
	Online        *Roster        // users online now, by handle (shared, read-only)
	Contacts      []Contact      // the user's contacts, by handle
	Conversations []Conversation // lobby first, then rooms (joined, then invited) by name, then direct ones
	Offline       []OfflineGroup // "while you were away", by sender
	Settings      Settings       // the user's stored preferences
}

// Reply is the result of a /command.
type Reply struct {
	// Lines are shown to the user as system output (may be empty).
	Lines []string
	// Open asks the UI to switch to this conversation (may be empty).
	Open *Conversation
	// Sent is the message the command posted to Open, if any ("/msg bob
	// hi"), so the UI shows it as it shows a typed line.
	Sent *Message
	// Quit asks the UI to end the session.
	Quit bool
	// Rooms is a page of public rooms (/rooms), which the UI shows as a
	// list to pick one from and join; more are read with Session.Rooms.
	Rooms []RoomInfo
	// Closed asks the UI to drop this conversation from view (/part).
	Closed ConvID
	// Found are the results of /search, newest first, which the UI shows
	// as a list to open one from; more are read with Session.Search.
	Found []Message
}

// Event is something the broker tells a session. The concrete types are
// the *Event structs of this package.
type Event interface{ isEvent() }

// MessageEvent is a new message in a conversation the user can see.
type MessageEvent struct {
	Message      Message
	Conversation Conversation // as the receiving user sees it
}

// PresenceEvent is a change of a user's presence or handle. Joined and
// Left mark the first session opening and the last one closing.
type PresenceEvent struct {
	Presence
	Joined, Left bool
	OldHandle    string // set when the user renamed
	// Online is the roster right after this change, shared by every
	// session (never modify it). A broker that does not track one leaves it
	// nil and the receiver applies Presence to its own roster with With.
	Online *Roster
}

// ContactsEvent carries the user's whole contact list after it changed.
type ContactsEvent struct{ Contacts []Contact }

// NoticeEvent is a line of system text for one conversation.
type NoticeEvent struct {
	Conv ConvID
	Text string
}

// LinkEvent tells a session whether its node reaches the other nodes of
// its cluster (sent when that changes, and at login while it does not):
// while Down, other nodes' messages wait and the UI says so in its status
// line; it follows a NoticeEvent that says so in the conversation.
type LinkEvent struct{ Down bool }

// ReadEvent tells a user's other sessions that one of their sessions read
// Conv up to UpTo, so that they clear (or reduce) its unread count.
type ReadEvent struct {
	Conv ConvID
	UpTo MessageID
}

// ConversationEvent tells every session of a user that one of their
// conversations was added or changed (joined, invited, topic or role
// changed) or removed (parted, kicked, banned, invitation withdrawn). A
// removed room is gone from view at once: its lines, unread count and
// entry; Reason is the line to show ("bob kicked you from #ops: spam").
type ConversationEvent struct {
	Conversation Conversation
	Removed      bool
	Reason       string
}

// AnnouncementEvent is a line from a server administrator to every
// session (/admin announce); it belongs to no conversation.
type AnnouncementEvent struct {
	From string // the administrator's handle
	Text string
	At   time.Time
}

// SettingsEvent tells every session of a user their settings after one
// of them changed (/theme, /tz, /clock, /bell, /notices, /links).
type SettingsEvent struct{ Settings Settings }

// ShutdownEvent tells the session the server is going down.
type ShutdownEvent struct{ Reason string }

func (MessageEvent) isEvent()      {}
func (PresenceEvent) isEvent()     {}
func (ContactsEvent) isEvent()     {}
func (NoticeEvent) isEvent()       {}
func (ReadEvent) isEvent()         {}
func (ShutdownEvent) isEvent()     {}
func (ConversationEvent) isEvent() {}
func (AnnouncementEvent) isEvent() {}
func (SettingsEvent) isEvent()     {}
func (LinkEvent) isEvent()         {}
