package chat

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// limitsTop is how many of those nearest a limit /admin limits names.
const limitsTop = 3

// adminLimits runs /admin limits: the limits in force, one line each with
// its value and who is nearest it now. The server's admission limits come
// from Options.Limits, asked outside Hub.mu; the message rate limit is the
// hub's own.
func adminLimits(ctx context.Context, s *session, rest string) (Reply, error) {
	if rest != "" {
		return Reply{}, adminUsageErr("limits")
	}
	h := s.hub
	var lines []string
	if h.opts.Limits != nil {
		lines = append(lines, h.opts.Limits(ctx)...)
	}
	return Reply{Lines: append(lines, h.rateLimitLine(ctx))}, nil
}

// spent is a user's message-rate bucket as /admin limits shows it.
type spent struct {
	id     UserID
	handle string // "" for a quiet entry: looked up after Hub.mu is released
	tokens float64
	quiet  bool
}

// rateLimitLine is the message rate limit and the users with the fewest
// tokens left in their buckets (chat sessions and commands have one each).
// It holds Hub.mu only to copy the few lowest buckets.
func (h *Hub) rateLimitLine(ctx context.Context) string {
	burst, rate := float64(h.opts.RateBurst), h.opts.RatePerSecond
	var top []spent
	now := h.opts.Now()
	add := func(u *userState, quiet bool) {
		b := u.limiter
		if b.last.IsZero() {
			return
		}
		t := min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
		if t >= burst {
			return
		}
		if len(top) == limitsTop && t >= top[limitsTop-1].tokens {
			return
		}
		e := spent{id: u.id, handle: u.handle, tokens: t, quiet: quiet}
		i := sort.Search(len(top), func(i int) bool { return top[i].tokens > t })
		top = append(top, spent{})
		copy(top[i+1:], top[i:])
		top[i] = e
		if len(top) > limitsTop {
			top = top[:limitsTop]
		}
	}
	h.mu.Lock()
	for _, u := range h.users {
		add(u, false)
	}
	for _, u := range h.quiet.users {
		add(u, true)
	}
	h.mu.Unlock()
	line := fmt.Sprintf("message rate (--msg-rate, --msg-burst): %g per second per user, bursts of %d", rate, h.opts.RateBurst)
	if len(top) == 0 {
		return line + "; every bucket is full"
	}
	names := make([]string, len(top))
	for i, e := range top {
		if e.handle == "" {
			e.handle = h.handleOf(ctx, e.id)
		}
		via := ""
		if e.quiet {
			via = " (commands)"
		}
		names[i] = fmt.Sprintf("%s%s %.1f", e.handle, via, e.tokens)
	}
	return line + "; fewest tokens left: " + strings.Join(names, ", ")
}
