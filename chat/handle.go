package chat

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"sshchat/model"
)

// MaxHandleLen is the most characters a handle may have.
const MaxHandleLen = 24

// maxHandleInput bounds the bytes NormalizeHandle normalises. It is far
// above anything that can normalise to MaxHandleLen ASCII characters.
const maxHandleInput = 16 * MaxHandleLen

// handleRule is the one-line rule shown when a handle is refused.
const handleRule = "handles are 1-24 ASCII letters, digits, underscores (_), hyphens (-) and dots (.), starting with a letter or digit"

// reservedHandles are keys nobody may take, so that no user can pass for
// the server itself.
var reservedHandles = [...]string{
	"server", "system", "admin", "root", "sshchat", "lobby", "everyone", "here",
}

// NormalizeHandle validates a requested handle and returns the form to
// display and the key that must be unique among accounts.
//
// Rules, applied in order:
//   - ASCII spaces around the input are trimmed; the result is NFKC
//     normalised (and trimmed again), so compatibility forms of ASCII —
//     fullwidth "ａｌｉｃｅ", the Kelvin sign, ligatures, NBSP around the
//     name — turn into plain ASCII and collide with the real handle instead
//     of impersonating it.
//   - The result must be 1 to MaxHandleLen characters from A–Z, a–z, 0–9,
//     '_', '-' and '.', start with a letter or digit and not end with '.' or
//     '-' (so "@alice." in a sentence still means alice). Anything else —
//     Cyrillic or other lookalike letters, combining marks, zero-width,
//     bidi and other format characters, controls, inner spaces — is refused.
//   - The key is the lowercased display form; the reserved keys (server,
//     system, admin, root, sshchat, lobby, everyone, here) are refused.
//
// Errors wrap ErrHandleInvalid with a one-line reason that is safe to print.
func NormalizeHandle(s string) (display string, key string, err error) {
	display, key, err = normalizeName(s, handleNames)
	if err != nil {
		return "", "", err
	}
	for _, r := range reservedHandles {
		if key == r {
			return "", "", fmt.Errorf("%w: %q is reserved for the system", ErrHandleInvalid, key)
		}
	}
	return display, key, nil
}

// nameKind is what normalizeName checks: handles or room names, which
// share one rule and differ only in how a refusal reads.
type nameKind struct {
	plural string // "handles"
	rule   string // the rule as one sentence
	err    error  // the sentinel a refusal wraps
}

var (
	handleNames = nameKind{"handles", handleRule, ErrHandleInvalid}
	roomNames   = nameKind{"room names", roomRule, ErrRoomNameInvalid}
)

// normalizeName applies the rules NormalizeHandle documents (all but the
// reserved keys) and returns the display form and the key.
func normalizeName(s string, kind nameKind) (display string, key string, err error) {
	t := strings.Trim(s, " ")
	if len(t) > maxHandleInput { // bound the work done on hostile input
		return "", "", tooLongName(kind, utf8.RuneCountInString(t))
	}
	t = strings.Trim(norm.NFKC.String(t), " ")
	if t == "" {
		return "", "", fmt.Errorf("%w: %s", kind.err, kind.rule)
	}
	if n := utf8.RuneCountInString(t); n > MaxHandleLen {
		return "", "", tooLongName(kind, n)
	}
	for _, r := range t {
		if !handleRune(r) {
			return "", "", fmt.Errorf("%w: %s not allowed; %s", kind.err, describeRune(r), kind.rule)
		}
	}
	if !alnum(t[0]) {
		return "", "", fmt.Errorf("%w: %s must start with a letter or digit", kind.err, kind.plural)
	}
	if c := t[len(t)-1]; c == '.' || c == '-' {
		return "", "", fmt.Errorf("%w: %s must not end with '.' or '-'", kind.err, kind.plural)
	}
	return t, strings.ToLower(t), nil
}

// HandleKey returns the uniqueness key of a handle, for looking users up by
// a handle someone typed (as in "/whois Alice"). It applies the rules of
// NormalizeHandle, so "ALICE" and fullwidth "ａｌｉｃｅ" both give "alice". It
// returns "" when s is not a valid handle (reserved names included), which
// callers treat as "no such user".
func HandleKey(s string) string {
	_, key, err := NormalizeHandle(s)
	if err != nil {
		return ""
	}
	return key
}

func tooLongName(kind nameKind, n int) error {
	return fmt.Errorf("%w: %d characters is too long; %s", kind.err, n, kind.rule)
}

// handleRune reports whether r is in the handle alphabet.
func handleRune(r rune) bool {
	return r < utf8.RuneSelf && (alnum(byte(r)) || r == '_' || r == '-' || r == '.')
}

// alnum reports whether c is an ASCII letter or digit.
func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// describeRune names r for an error message without echoing anything a
// terminal could act on: printable ASCII quoted; a visible letter, digit,
// punctuation or symbol quoted with its code point ("'é' (U+00E9)"), so
// people see which character is wrong; the rest (controls, marks, format
// characters, spaces) only as U+XXXX.
func describeRune(r rune) string {
	switch {
	case r == ' ':
		return "a space is"
	case r > ' ' && r < 0x7f:
		return fmt.Sprintf("%q is", r)
	case visibleRune(r):
		return fmt.Sprintf("'%c' (%U) is", r, r)
	}
	return fmt.Sprintf("%U is", r)
}

// visibleRune reports whether r is a letter, digit, punctuation or symbol
// that shows as itself: not a control, mark, space or format character.
func visibleRune(r rune) bool {
	return r >= 0xa0 && utf8.ValidRune(r) && !invisible(r) &&
		unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S)
}

// handleRefusal turns the store's refusal of handle display into the
// user's one-line reason (wrapping ErrHandleTaken), or returns nil when err
// is not about the handle. Only handles are named, which are public.
func handleRefusal(display string, err error) error {
	var hc *model.HandleConflictError
	if !errors.As(err, &hc) {
		return nil
	}
	holder := SanitizeText(hc.Holder)
	switch {
	case !hc.HeldUntil.IsZero() && strings.EqualFold(holder, display):
		return fmt.Errorf("%w: %q is held for its previous owner until %s; pick another",
			ErrHandleTaken, display, hc.HeldUntil.UTC().Format("2006-01-02 15:04 MST"))
	case !hc.HeldUntil.IsZero():
		return fmt.Errorf("%w: handle %q is too similar to %q, held for its previous owner until %s; pick another",
			ErrHandleTaken, display, holder, hc.HeldUntil.UTC().Format("2006-01-02 15:04 MST"))
	case strings.EqualFold(holder, display):
		return fmt.Errorf("%w: %q is already taken; pick another", ErrHandleTaken, display)
	}
	return fmt.Errorf("%w: handle %q is too similar to %q; pick another", ErrHandleTaken, display, holder)
}
