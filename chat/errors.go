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
)
