package main

// accounts.go limits how many accounts one source address may create on
// an open server, in front of the hub's Register.

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"charm.land/ssh"

	"sshchat/chat"
)

// accountWindow is the period MaxNewAccountsPerSource counts over.
const accountWindow = time.Hour

// accountLimit counts the accounts created per source (sourceOf: an IPv4
// address or an IPv6 /64) over the last accountWindow.
type accountLimit struct {
	max int
	now func() time.Time

	mu        sync.Mutex
	created   map[string][]time.Time // by source, oldest first, each within the window
	lastSweep time.Time
}

func newAccountLimit(max int, now func() time.Time) *accountLimit {
	return &accountLimit{max: max, now: now, created: map[string][]time.Time{}}
}

// reserve takes one of source's new accounts, or returns the one-line
// reason there is none left. A reservation whose account is not created
// is given back with release.
func (l *accountLimit) reserve(source string) (at time.Time, refusal string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastSweep) > time.Minute {
		for src := range l.created {
			l.prune(src, now)
		}
		l.lastSweep = now
	}
	times := l.prune(source, now)
	if len(times) >= l.max {
		wait := times[0].Add(accountWindow).Sub(now).Round(time.Minute)
		return time.Time{}, fmt.Sprintf("too many new accounts from your address (at most %d an hour); try again in %s or log in with a key that has one",
			l.max, max(wait, time.Minute))
	}
	l.created[source] = append(times, now)
	return now, ""
}

// release gives back a reservation made at at.
func (l *accountLimit) release(source string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	times := l.created[source]
	for i, t := range times {
		if t.Equal(at) {
			l.created[source] = append(times[:i:i], times[i+1:]...)
			break
		}
	}
	if len(l.created[source]) == 0 {
		delete(l.created, source)
	}
}

// prune drops source's creations older than the window; l.mu is held.
func (l *accountLimit) prune(source string, now time.Time) []time.Time {
	times := l.created[source]
	i := 0
	for i < len(times) && now.Sub(times[i]) >= accountWindow {
		i++
	}
	times = times[i:]
	if len(times) == 0 {
		delete(l.created, source)
		return nil
	}
	l.created[source] = times
	return times
}

// broker is the hub as sessions see it: Register is limited per source
// address when the server is open and Config.MaxNewAccountsPerSource is
// set. The source is the SSH connection's, read from ctx (a session's
// context or one derived from it).
type broker struct {
	*chat.Hub
	accounts *accountLimit // nil: no limit
}

// Register creates an account unless the connection's source address has
// created its share in the last hour.
func (b *broker) Register(ctx context.Context, key chat.Key, handle string) (chat.Account, error) {
	if b.accounts == nil {
		return b.Hub.Register(ctx, key, handle)
	}
	addr, _ := ctx.Value(ssh.ContextKeyRemoteAddr).(net.Addr)
	source := sourceOf(addr)
	at, refusal := b.accounts.reserve(source)
	if refusal != "" {
		return chat.Account{}, fmt.Errorf("%w: %s", chat.ErrNotAllowed, refusal)
	}
	acct, err := b.Hub.Register(ctx, key, handle)
	if err != nil {
		b.accounts.release(source, at)
	}
	return acct, err
}
