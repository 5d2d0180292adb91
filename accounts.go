package main

// accounts.go limits how many accounts one source address may create on
// an open server, in front of the hub's Register.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
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
		return time.Time{}, fmt.Sprintf("too many new accounts from your address (at most %d an hour); try again in %s or log in with a key that has one",
			l.max, minutes(times[0].Add(accountWindow).Sub(now)))
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
// set, and wrong link codes per source and per account (LinkKey). The source is the SSH connection's, read from ctx (a session's
// context or one derived from it).
type broker struct {
	*chat.Hub
	accounts *accountLimit // nil: no limit
	links    *linkLimit
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

// minutes says d, rounded up to whole minutes, for a person: "1 minute",
// "10 minutes".
func minutes(d time.Duration) string {
	n := max(1, int((d+time.Minute-1)/time.Minute))
	if n == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", n)
}

// Wrong link codes allowed per linkWindow, from one source address and
// against one account, before more tries are refused.
const (
	linkFailsPerSource  = 5
	linkFailsPerAccount = 10
	linkWindow          = 10 * time.Minute
)

// linkLimit counts wrong link codes by source address and by account.
// With 50-bit codes valid 10 minutes, it makes guessing hopeless; an
// attacker can at worst make an account's owner wait linkWindow.
type linkLimit struct {
	now func() time.Time

	mu    sync.Mutex
	fails map[string][]time.Time // "src " + source or "acct " + handle key; oldest first
}

func newLinkLimit(now func() time.Time) *linkLimit {
	return &linkLimit{now: now, fails: map[string][]time.Time{}}
}

// refusal returns why a try from source against the account with handle
// key account is refused now, or "".
func (l *linkLimit) refusal(source, account string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for k, times := range l.fails {
		i := 0
		for i < len(times) && now.Sub(times[i]) >= linkWindow {
			i++
		}
		if i == len(times) {
			delete(l.fails, k)
		} else {
			l.fails[k] = times[i:]
		}
	}
	wait := func(times []time.Time) string { return minutes(times[0].Add(linkWindow).Sub(now)) }
	if times := l.fails["src "+source]; len(times) >= linkFailsPerSource {
		return fmt.Sprintf("too many wrong link codes from your address; try again in %s", wait(times))
	}
	if times := l.fails["acct "+account]; len(times) >= linkFailsPerAccount {
		return fmt.Sprintf("too many wrong link codes for this account; try again in %s", wait(times))
	}
	return ""
}

// failed counts a wrong code.
func (l *linkLimit) failed(source, account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.fails["src "+source] = append(l.fails["src "+source], now)
	l.fails["acct "+account] = append(l.fails["acct "+account], now)
}

// LinkKey links a new key to an account with a code, refusing tries once
// the connection's source address or the account has had too many wrong
// codes lately.
func (b *broker) LinkKey(ctx context.Context, key chat.Key, handle, code string) (chat.Account, error) {
	addr, _ := ctx.Value(ssh.ContextKeyRemoteAddr).(net.Addr)
	source, account := sourceOf(addr), chat.HandleKey(strings.TrimPrefix(strings.TrimSpace(handle), "@"))
	if refusal := b.links.refusal(source, account); refusal != "" {
		return chat.Account{}, fmt.Errorf("%w: %s", chat.ErrNotAllowed, refusal)
	}
	acct, err := b.Hub.LinkKey(ctx, key, handle, code)
	if errors.Is(err, chat.ErrLinkCode) {
		b.links.failed(source, account)
	}
	return acct, err
}

// endKeySessions ends the open sessions of the key with fingerprint fp,
// which its owner removed from their account (/keys remove), each told
// why as a revoked key's are. It does not block: the server owns the
// goroutines and waits for them at shutdown.
func (s *server) endKeySessions(fp string) {
	s.endKeys([]string{fp}, "this key was removed from its account")
}
