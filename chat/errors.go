package chat

import "errors"

// Sentinel errors of the chat package. Errors returned to users wrap one of
// these with a one-line reason.
var (
	// ErrUnknownKey means the key has no account yet.
	ErrUnknownKey = errors.New("unknown key")
	// ErrHandleInvalid means a handle breaks the handle rules.
	ErrHandleInvalid = errors.New("invalid handle")
	// ErrHandleTaken means another account holds the handle.
	ErrHandleTaken = errors.New("handle taken")
	// ErrTooLong means a message exceeds MaxMessageLen.
	ErrTooLong = errors.New("message too long")
	// ErrEmpty means a message has no visible text.
	ErrEmpty = errors.New("empty message")
	// ErrNoSuchUser means a handle names nobody.
	ErrNoSuchUser = errors.New("no such user")
	// ErrUsage means a command was given bad arguments.
	ErrUsage = errors.New("usage")
	// ErrUnknownCommand means a /command does not exist.
	ErrUnknownCommand = errors.New("unknown command")
	// ErrNotAllowed means the user may not do this.
	ErrNotAllowed = errors.New("not allowed")
	// ErrClosed means the broker or session has shut down.
	ErrClosed = errors.New("closed")
	// ErrShutdown means the server is shutting down.
	ErrShutdown = errors.New("server shutting down")
	// ErrSlowConsumer means a session fell too far behind and was dropped.
	ErrSlowConsumer = errors.New("session too slow: too many undelivered events")
	// ErrRateLimited means a user is sending too fast.
	ErrRateLimited = errors.New("slow down")
	// ErrNotListed means a user is not on the list a command changes (not
	// a contact for /remove, not blocked for /unblock).
	ErrNotListed = errors.New("not listed")
	// ErrAlreadyListed means a user is already on the list a command
	// changes (a contact for /add, blocked for /block).
	ErrAlreadyListed = errors.New("already listed")
	// ErrRoomNameInvalid means a room name breaks the room-name rules.
	ErrRoomNameInvalid = errors.New("invalid room name")
	// ErrNameTaken means a room name is taken (or looks like one that is).
	// It says nothing more: the room in the way may be private.
	ErrNameTaken = errors.New("room name taken")
	// ErrStorageUnavailable means the store cannot be written right now
	// (locked by another process, disk full, read-only, I/O error); the
	// error wrapping it says what was not done ("your message was not sent").
	ErrStorageUnavailable = errors.New("the server cannot store anything right now")
	// ErrLinkCode means a link code is wrong, used or expired (or names
	// no account: the error does not tell which).
	ErrLinkCode = errors.New("wrong or expired link code")
	// ErrRemoved means an administrator ended the session or refused the
	// key (/admin kick, /admin ban); the error wrapping it is the line to
	// show ("you were kicked by alice: spam").
	ErrRemoved = errors.New("removed by an administrator")
	// ErrSetting means a setting's value is not one it accepts (/theme,
	// /tz, /clock, /bell, /notices, /links).
	ErrSetting = errors.New("bad setting")
)

// UserErrors returns every sentinel above. Each is a user error: an error
// wrapping one carries a one-line reason that is safe to show a person.
// Keep it in step with the var block (TestUserErrorsListsEverySentinel).
func UserErrors() []error {
	return []error{
		ErrUnknownKey, ErrHandleInvalid, ErrHandleTaken, ErrTooLong, ErrEmpty,
		ErrNoSuchUser, ErrUsage, ErrUnknownCommand, ErrNotAllowed, ErrClosed,
		ErrShutdown, ErrSlowConsumer, ErrRateLimited, ErrNotListed, ErrAlreadyListed,
		ErrStorageUnavailable, ErrRoomNameInvalid, ErrNameTaken, ErrLinkCode, ErrRemoved,
		ErrSetting,
	}
}
