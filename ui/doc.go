// Package ui is the terminal chat client that every SSH session gets: one
// Bubble Tea program per session, fed by that session's chat.Session.
//
// Middleware (session.go, the only file that knows SSH) identifies the user
// from the public key that signed the handshake, logs them in or shows a
// login screen, runs the program with clamped window sizes and coalesced
// resizes, and owns the session's feeder: the one goroutine that hands
// window sizes and broker events to the program, events in batches and
// presence changes at most about once a second. Who is online is a
// chat.Roster shared by every session, never copied per session.
//
// App (app.go) is the root model: it routes messages and lays out the
// screen (its other methods are grouped by job: lifecycle.go, navigate.go,
// events.go, send.go, rooms.go, complete.go); the parts are components with
// one contract (common.go: Update, View, SetSize, Version) — Login, Pane
// (the conversation in front), Sidebar, Composer, Status, OfflineDialog,
// the modal dialogs (switcher.go: the Ctrl+K quick switcher; roomlist.go:
// the /rooms list), which hand what is picked back to App as messages, and
// the Outbox and presence Notes, which draw nothing. App does no I/O in Update — broker
// calls run in tea.Cmds and come back as messages — and keeps View cheap:
// each component bumps its version when its view changes, and App redraws
// the area above the input and the whole frame only when the versions
// they were drawn from changed. The package imports chat, never
// model.
package ui
