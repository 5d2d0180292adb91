package ui

import (
	"context"
	"errors"
	"io"
	"time"

	"charm.land/log/v2"
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

// EndRequests registers s, a session that does not run the chat UI, for
// End: a reason End is given is then sent on the returned channel, for the
// session's owner to end it in its own way, instead of End writing it and
// closing the channel. release unregisters s; call it before the session's
// handler returns.
func EndRequests(s ssh.Session) (ends <-chan string, release func()) {
	ch := make(chan string, 1)
	key := endKeyOf(s)
	s.Context().SetValue(key, ch)
	return ch, func() { s.Context().SetValue(key, nil) }
}

// HangUpWhenDropped closes ch when the broker drops sess as a slow consumer
// and ctx has not ended within dropGrace: the chat UI's slow-consumer
// policy (see feeder) for sessions that do not run the chat UI. It returns
// when ctx ends or the policy has been applied.
func HangUpWhenDropped(ctx context.Context, sess chat.Session, ch io.Closer, lg *log.Logger) {
	select {
	case <-ctx.Done():
		return
	case <-sess.Done():
	}
	if !errors.Is(sess.Err(), chat.ErrSlowConsumer) {
		return
	}
	t := time.NewTimer(dropGrace)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
		lg.Warn("closing the channel of a session that stopped reading")
		_ = ch.Close()
	}
}
