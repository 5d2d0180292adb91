package ui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"sshchat/chat"
)

// safeLine is the UI's last line of defence for text it did not write
// (command output, notices, error reasons, MOTD). The broker sanitises user
// text at ingress; this drops anything that could still steer the terminal
// (C0/C1 controls, ESC, DEL, bidi and other format characters) and turns
// tabs into spaces. Unlike chat.SanitizeText it keeps leading blanks, so
// indented command output stays indented. Clean input is returned as is.
func safeLine(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	emoji := false // the output ends with an emoji a ZWJ may join
	for i, r := range s {
		switch {
		case r == '\t':
			b.WriteByte(' ')
			emoji = false
		case r == utf8.RuneError, r < 0x20, r >= 0x7f && r < 0xa0:
			// controls and invalid bytes: dropped
		case r == 0x200d:
			// A zero-width joiner stays only between emoji (👨‍👩‍👧), as
			// chat.SanitizeText keeps it.
			next, _ := utf8.DecodeRuneInString(s[i+3:])
			if emoji && chat.Pictographic(next) {
				b.WriteRune(r)
			}
			emoji = false
		case unicode.Is(unicode.Cf, r):
			// bidi overrides/isolates, zero-width and other format characters
		default:
			b.WriteRune(r)
			emoji = chat.Pictographic(r) || emoji && (r == 0xfe0e || r == 0xfe0f || r >= 0x1f3fb && r <= 0x1f3ff)
		}
	}
	return b.String()
}

// userText turns an error into the one line a person sees. Errors of the
// chat package (chat.UserErrors) carry a one-line reason that is safe to
// show; for those whose reason is a sentence of its own (bareErrors) the
// sentinel's prefix is dropped ("you cannot message yourself", not "not
// allowed: you cannot message yourself"). Anything else (a store or network
// failure) is shown generically and logged by the Cmd that got it.
func userText(err error) string {
	if err == nil {
		return ""
	}
	for _, known := range knownErrors {
		if errors.Is(err, known) {
			line, _, _ := strings.Cut(err.Error(), "\n")
			if slices.Contains(bareErrors, known) {
				line = strings.TrimPrefix(line, known.Error()+": ")
			}
			return safeLine(line)
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "the session is closing"
	}
	return internalError
}

// internalError is what a person sees of an unexpected error.
const internalError = "internal error; please try again"

var (
	// knownErrors are the chat errors whose reasons are shown.
	knownErrors = chat.UserErrors()
	// bareErrors are shown without their sentinel's prefix.
	bareErrors = []error{chat.ErrHandleTaken, chat.ErrNotAllowed, chat.ErrNotListed,
		chat.ErrAlreadyListed, chat.ErrUnknownCommand, chat.ErrRemoved, chat.ErrSetting}
)

// isKnownChatError reports whether err is one of the chat package's user
// errors (so it need not be logged as unexpected).
func isKnownChatError(err error) bool {
	return userText(err) != internalError
}

// mentions reports whether body mentions the user whose handle is handle,
// by chat's one rule (chat.Mentions on the handle's key).
func mentions(body, handle string) bool {
	return chat.Mentions(body, chat.HandleKey(handle))
}

// paintMentions paints line in p, with every mention of the user whose
// handle key is key in mp. Each '@' token is judged by chat's rule
// (chat.Mentioned, with the byte before it), so the highlight never
// disagrees with the mention counts and the bell.
func paintMentions(line, key string, p, mp paint) string {
	if key == "" || !strings.Contains(line, "@") {
		return p.s(line)
	}
	var b strings.Builder
	from := 0
	for i := 0; i < len(line); i++ {
		if line[i] != '@' {
			continue
		}
		j := i + 1
		for j < len(line) && handleByte(line[j]) {
			j++
		}
		ks := chat.Mentioned(line[max(0, i-1):j])
		if len(ks) != 1 || ks[0] != key {
			i = j - 1
			continue
		}
		end := i + 1 + len(key)
		b.WriteString(p.s(line[from:i]))
		b.WriteString(mp.s(line[i:end]))
		from = end
		i = end - 1
	}
	if from == 0 {
		return p.s(line)
	}
	b.WriteString(p.s(line[from:]))
	return b.String()
}

// handleByte is a byte of the handle alphabet (either letter case): it
// bounds the token chat.Mentioned is asked about.
func handleByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// wrapText wraps plain (unstyled) text to lines of at most width cells,
// breaking words only when a word is longer than a line.
func wrapText(s string, width int) []string {
	if width < 1 {
		width = 1
	}
	if ansi.StringWidth(s) <= width {
		return []string{s}
	}
	lines := strings.Split(ansi.Wrap(s, width, ""), "\n")
	for i, l := range lines {
		// Wrap may leave a trailing blank at a break; it is invisible but
		// would count against the width.
		lines[i] = strings.TrimRight(l, " ")
		if ansi.StringWidth(lines[i]) > width {
			lines[i] = ansi.Truncate(lines[i], width, "")
		}
	}
	return lines
}

// wrapHanging wraps a plain line of system text like wrapText, indenting
// the continuation lines (a hanging indent) so they do not run under the
// start of the line: under the value of a "label:   value" or
// "  /cmd ARGS   description" line (the column after its first run of two
// or more blanks, when that is in the left half), else two columns in from
// the line's own indent.
func wrapHanging(s string, width int) []string {
	lines := wrapText(s, width)
	if len(lines) < 2 || !strings.HasPrefix(s, lines[0]) {
		return lines
	}
	lead := len(s) - len(strings.TrimLeft(s, " "))
	hang := lead + 2
	if i := strings.Index(s[lead:], "  "); i > 0 {
		col := lead + i
		for col < len(s) && s[col] == ' ' {
			col++
		}
		if w := ansi.StringWidth(s[:col]); w <= width/2 {
			hang = w
		}
	}
	if hang >= width/2 {
		hang = min(2, width/2)
	}
	rest := strings.TrimLeft(s[len(lines[0]):], " ")
	// Never break a word (a key fingerprint, say) that would fit unindented:
	// indent less instead.
	for _, word := range strings.Fields(rest) {
		if ww := ansi.StringWidth(word); ww > width-hang && ww <= width {
			hang = width - ww
		}
	}
	out := []string{lines[0]}
	pad := strings.Repeat(" ", hang)
	for _, l := range wrapText(rest, width-hang) {
		out = append(out, pad+l)
	}
	return out
}

// fit truncates a (possibly styled) line to width cells.
func fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= width {
		return s
	}
	return ansi.Truncate(s, width, "…")
}

// pad fills a (possibly styled) line with blanks to exactly width cells,
// truncating it first if it is wider.
func pad(s string, width int) string {
	s = fit(s, width)
	if n := width - ansi.StringWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
