package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"charm.land/log/v2"
)

// Log hygiene: strings a client controls are escaped and cut before they
// are logged, and lines a client can cause at will (refusals) are
// rate-limited per source address.

// maxLogField is how many bytes of a client-controlled string, once
// escaped, are logged.
const maxLogField = 64

// logSafe is the one form in which client-controlled strings (SSH user
// name, client version, remote strings) reach the log: at most
// maxLogField bytes once escaped, followed by "…(N more bytes)" when cut;
// backslash, invalid UTF-8 and every rune that is not printable (controls,
// bidi overrides and other format characters) are written as Go escapes
// (\\, \x9b, \u202e), so a line cannot be spoofed, reordered or lengthened
// by its fields. The bound is on the escaped form: a rune escaped as
// \U000e0041 is ten bytes.
func logSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case r == utf8.RuneError && size == 1:
			esc = fmt.Sprintf(`\x%02x`, s[i])
		case r == '\\':
			esc = `\\`
		case unicode.IsPrint(r):
			esc = s[i : i+size]
		case r <= 0xffff:
			esc = fmt.Sprintf(`\u%04x`, r)
		default:
			esc = fmt.Sprintf(`\U%08x`, r)
		}
		if b.Len()+len(esc) > maxLogField {
			fmt.Fprintf(&b, "…(%d more bytes)", len(s)-i)
			break
		}
		b.WriteString(esc)
		i += size
	}
	return b.String()
}

// refusalLinesPerMinute is how many refusal lines one source address may
// cause per minute; the next one says that its lines are suppressed, and
// a summary line later counts the suppressed ones.
const refusalLinesPerMinute = 10

// sessionLinesPerMinute is how many session start and end lines one
// source address may cause per minute: enough for people, not for a
// client looping sessions.
const sessionLinesPerMinute = 60

// maxLogSources bounds the sources a logLimiter tracks; beyond it, new
// sources share one entry.
const maxLogSources = 4096

// logLimiter counts log lines per source in fixed windows.
type logLimiter struct {
	max    int
	window time.Duration
	kind   string // what its lines are, for the notices about suppressed ones: "refusal", "session"
	now    func() time.Time
	// report writes the summary of suppressed lines when no later line
	// carries it: at the end of a window that suppressed some, and at
	// stop. Called with mu held, so that nothing is reported after stop.
	report func(suppressed, sources int)

	mu      sync.Mutex // guards the fields below
	sources map[string]*logWindow
	swept   time.Time   // last sweep of ended windows
	timer   *time.Timer // armed while a window holds suppressed lines
	stopped bool
}

// logWindow is one source's current window.
type logWindow struct {
	start      time.Time
	lines      int
	suppressed int
}

// newLogLimiter allows max lines per source per window.
func newLogLimiter(max int, window time.Duration) *logLimiter {
	return &logLimiter{max: max, window: window, now: time.Now, sources: map[string]*logWindow{}, swept: time.Now()}
}

// allow reports whether a line about source may be written (ok), whether
// it is the first suppressed one in the source's window (first), and how
// many lines from how many sources were suppressed in windows that ended
// since they were last reported.
func (l *logLimiter) allow(source string) (ok, first bool, suppressed, sources int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.swept) >= l.window {
		suppressed, sources = l.sweepLocked(now, false)
	}
	w := l.sources[source]
	if w == nil {
		if len(l.sources) >= maxLogSources {
			source = "(other sources)"
			w = l.sources[source]
		}
	}
	if w != nil && now.Sub(w.start) >= l.window { // ended since the last sweep
		if w.suppressed > 0 {
			suppressed += w.suppressed
			sources++
		}
		w = nil
	}
	if w == nil {
		w = &logWindow{start: now}
		l.sources[source] = w
	}
	if w.lines < l.max {
		w.lines++
		return true, false, suppressed, sources
	}
	w.suppressed++
	if w.suppressed == 1 && l.timer == nil && l.report != nil && !l.stopped {
		l.timer = time.AfterFunc(w.start.Add(l.window).Sub(now), l.flush)
	}
	return false, w.suppressed == 1, suppressed, sources
}

// sweepLocked forgets the windows that ended by now (all of them if all),
// and returns how many lines from how many sources they suppressed.
func (l *logLimiter) sweepLocked(now time.Time, all bool) (suppressed, sources int) {
	l.swept = now
	for k, w := range l.sources {
		if all || now.Sub(w.start) >= l.window {
			if w.suppressed > 0 {
				suppressed += w.suppressed
				sources++
			}
			delete(l.sources, k)
		}
	}
	return suppressed, sources
}

// flush reports the lines suppressed in windows that have ended, and
// re-arms the timer for the next window that holds suppressed lines.
func (l *logLimiter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = nil
	if l.stopped {
		return
	}
	now := l.now()
	if suppressed, sources := l.sweepLocked(now, false); suppressed > 0 {
		l.report(suppressed, sources)
	}
	var next time.Time
	for _, w := range l.sources {
		if end := w.start.Add(l.window); w.suppressed > 0 && (next.IsZero() || end.Before(next)) {
			next = end
		}
	}
	if !next.IsZero() {
		l.timer = time.AfterFunc(next.Sub(now), l.flush)
	}
}

// stop reports every line suppressed so far, ended window or not, and
// reports nothing after it returns.
func (l *logLimiter) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	l.stopped = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if suppressed, sources := l.sweepLocked(l.now(), true); suppressed > 0 && l.report != nil {
		l.report(suppressed, sources)
	}
}

// limiter builds the server's limiter of kind lines, perMinute per source
// address, whose suppressed lines are counted in the log.
func (s *server) limiter(kind string, perMinute int) *logLimiter {
	l := newLogLimiter(perMinute, time.Minute)
	l.kind = kind
	l.report = func(lines, sources int) { s.logSuppressed(kind, lines, sources) }
	return l
}

// logThrough writes a line a client can cause at will, within l's budget
// for source. The first line over the budget says that the source's lines
// are suppressed; a later line counts them. Client-controlled values in kv
// must already be wrapped in logSafe.
func (s *server) logThrough(l *logLimiter, level log.Level, source, msg string, kv ...any) {
	ok, first, suppressed, sources := l.allow(source)
	if suppressed > 0 {
		s.logSuppressed(l.kind, suppressed, sources)
	}
	switch {
	case ok:
		s.log.Log(level, msg, kv...)
	case first:
		s.log.Warn("too many "+l.kind+" lines from one address; they are suppressed for up to a minute", "remote", logSafe(source))
	}
}

// logSuppressed writes the summary of kind lines a limiter suppressed.
func (s *server) logSuppressed(kind string, lines, sources int) {
	s.log.Warn(kind+" lines suppressed", "lines", lines, "sources", sources)
}

// logLimited writes a refusal line, at most refusalLinesPerMinute per
// source address (see logThrough).
func (s *server) logLimited(level log.Level, source, msg string, kv ...any) {
	s.logThrough(s.warns, level, source, msg, kv...)
}

// warnLimited is logLimited at warn level.
func (s *server) warnLimited(source, msg string, kv ...any) {
	s.logLimited(log.WarnLevel, source, msg, kv...)
}
