package main

// limits_admin.go gives /admin limits the server's lines: each admission
// limit with its configured value and who is nearest it now.

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// limitsTop is how many of those nearest a limit /admin limits names.
const limitsTop = 3

// count is one source's or key's count toward a limit.
type count struct {
	name string
	n    int
}

// topCounts returns the limitsTop largest counts of m, largest first
// (ties by name), skipping the empty name.
func topCounts(m map[string]int) []count {
	var top []count
	for k, n := range m {
		if k == "" {
			continue
		}
		top = append(top, count{k, n})
		if len(top) > 4*limitsTop {
			top = trimTop(top)
		}
	}
	return trimTop(top)
}

// trimTop sorts counts largest first and keeps limitsTop.
func trimTop(top []count) []count {
	slices.SortFunc(top, func(a, b count) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return top[:min(len(top), limitsTop)]
}

// admissionSnapshot is the admission counts /admin limits shows.
type admissionSnapshot struct {
	unauth                                         int
	startups, connsBySource, keyConns, keySessions []count
}

// snapshot copies the largest counts, holding a.mu only for that.
func (a *admission) snapshot() admissionSnapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	return admissionSnapshot{
		unauth:        a.unauth,
		startups:      topCounts(a.unauthBySource),
		connsBySource: topCounts(a.connsBySource),
		keyConns:      topCounts(a.connsByKey),
		keySessions:   topCounts(a.sessionsByKey),
	}
}

// top returns the sources with the most accounts created in the last
// accountWindow.
func (l *accountLimit) top() []count {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	m := map[string]int{}
	for src := range l.created {
		if n := len(l.prune(src, now)); n > 0 {
			m[src] = n
		}
	}
	return topCounts(m)
}

// limitLines is chat.Options.Limits: one line per admission limit, with
// the flag that sets it, its value and the sources or keys nearest it.
// Keys are named with the handle of their account when they have one.
func (s *server) limitLines(ctx context.Context) []string {
	snap := s.admit.snapshot()
	cfg := s.cfg
	value := func(n int, unit string) string {
		if n == 0 {
			return "no limit"
		}
		return fmt.Sprintf("%d%s", n, unit)
	}
	most := func(top []count, named bool) string {
		if len(top) == 0 {
			return "nobody"
		}
		parts := make([]string, len(top))
		for i, c := range top {
			name := c.name
			if named {
				if u, err := s.store.UserByFingerprint(ctx, c.name); err == nil {
					name += " (" + u.Handle + ")"
				}
			}
			parts[i] = fmt.Sprintf("%s %d", name, c.n)
		}
		return strings.Join(parts, ", ")
	}
	accounts := "off (--authorized-keys decides who gets in)"
	if cfg.AuthorizedKeys == "" {
		accounts = value(cfg.MaxNewAccountsPerSource, " an hour")
		if s.broker.accounts != nil {
			accounts += "; most this hour: " + most(s.broker.accounts.top(), false)
		}
	}
	return []string{
		fmt.Sprintf("connections (--max-sessions + 256): %d; open now: %d", int64(cfg.MaxSessions)+256, s.conns.Load()),
		fmt.Sprintf("sessions (--max-sessions): %d; open now: %d", cfg.MaxSessions, s.active.Load()),
		fmt.Sprintf("unauthenticated connections (--max-startups): %s (from %d, %d %% of new ones refused, rising to all at %d); now: %d",
			cfg.MaxStartups, cfg.MaxStartups.begin, cfg.MaxStartups.rate, cfg.MaxStartups.full, snap.unauth),
		fmt.Sprintf("unauthenticated connections per source (--max-startups-per-source): %s; most: %s", value(cfg.MaxStartupsPerSource, ""), most(snap.startups, false)),
		fmt.Sprintf("connections per source (--max-conns-per-source): %s; most: %s", value(cfg.MaxConnsPerSource, ""), most(snap.connsBySource, false)),
		fmt.Sprintf("connections per key (--max-conns-per-key): %s; most: %s", value(cfg.MaxConnsPerKey, ""), most(snap.keyConns, true)),
		fmt.Sprintf("sessions per key (--max-sessions-per-key): %s; most: %s", value(cfg.MaxSessionsPerKey, ""), most(snap.keySessions, true)),
		fmt.Sprintf("sessions per connection: %d (fixed)", maxSessionsPerConn),
		"new accounts per source (--max-new-accounts-per-source): " + accounts,
		fmt.Sprintf("wrong link codes: %d per source, %d per account, per %s (fixed)", linkFailsPerSource, linkFailsPerAccount, minutes(linkWindow)),
		fmt.Sprintf("timeouts: login %s (--login-timeout), session start %s (--open-timeout), idle without a session %s (--idle-timeout)",
			cfg.LoginTimeout, cfg.OpenTimeout, cfg.IdleTimeout),
	}
}
