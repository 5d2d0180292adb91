package ui

import (
	"charm.land/ssh"

	"sshchat/chat"
)

// UserText is the one line a person is shown for err (see userText), for
// the command sessions of package main, which answer in the same words as
// the chat.
func UserText(err error) string { return userText(err) }

// Identify returns the chat key of the key that signed the session's
// handshake, or false when it had none.
func Identify(s ssh.Session) (chat.Key, bool) { return identify(s) }
