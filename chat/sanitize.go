package chat

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxMessageLen is the most runes a message may have after SanitizeText.
const MaxMessageLen = 2000

// maxMarkRun caps how many combining marks (Mn, Me) may follow each other in
// sanitised text. Real orthographies stack a handful; "Zalgo" text stacks
// thousands on one cell, which costs width computation and terminal memory.
// Counted on the output, so the cap is idempotent.
const maxMarkRun = 16

// SanitizeText neutralises user text before it reaches anyone's terminal.
//
// It removes:
//   - escape sequences introduced by ESC or by a C1 introducer (U+0090,
//     U+0098, U+009B, U+009D–U+009F): CSI with its parameters, OSC, DCS,
//     SOS, PM and APC strings (ended by BEL, ST, CAN, SUB or a new ESC) and
//     two-byte ESC sequences (ESC 7, ESC c, ESC ( B, ...). A sequence left
//     unterminated at the end of the input swallows the rest of the input,
//     as a terminal would.
//   - every other C0 control, DEL and C1 control. Tab, LF, VT, FF, CR, NEL
//     (U+0085) and the Unicode line/paragraph separators become a space,
//     because a message is one line.
//   - bytes that are not valid UTF-8, one at a time, as a UTF-8 terminal
//     would: a raw 0x9B byte is dropped but does not start a CSI, so
//     "\x9b2J" leaves "2J".
//   - format characters (category Cf: bidi marks, embeddings, overrides and
//     isolates, zero-width space/joiners, word joiner, BOM, soft hyphen, tag
//     characters, ...), the remaining default-ignorable code points (CGJ,
//     Hangul fillers, ...) except variation selectors, and noncharacters.
//     The one exception is a zero-width joiner (U+200D) that joins two
//     emoji, as in 👨‍👩‍👧: it is kept when the kept text before it ends with an
//     Extended_Pictographic rune (optionally followed by variation
//     selectors or skin-tone modifiers) and the next rune of the input is
//     Extended_Pictographic.
//   - combining marks beyond maxMarkRun in a row.
//
// Other text, including emoji, CJK, combining accents and variation
// selectors, is kept as is. Surrounding white space is trimmed; nothing else
// is collapsed. The result is valid UTF-8 and SanitizeText is idempotent. It
// runs in linear time and does not allocate when the input is already clean.
func SanitizeText(s string) string {
	var out strings.Builder
	dirty := false // until the first change, the output is s[:i] verbatim
	marks := 0     // combining marks at the end of the output
	emoji := false // the output ends with an emoji a ZWJ may follow
	for i := 0; i < len(s); {
		if printableASCII(s[i]) { // the hot path: copy a run at once
			j := i + 1
			for j < len(s) && printableASCII(s[j]) {
				j++
			}
			if dirty {
				out.WriteString(s[i:j])
			}
			marks, emoji, i = 0, false, j
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		keep, space, mark, next := true, false, false, i+size
		pict, ext := false, false // r is Extended_Pictographic / an emoji extender
		switch {
		case r == utf8.RuneError && size == 1:
			keep = false
		case r == 0x1b:
			keep, next = false, skipEscape(s, next)
		case r == 0x9b:
			keep, next = false, skipCSI(s, next)
		case r == 0x90 || r == 0x98 || r == 0x9d || r == 0x9e || r == 0x9f:
			keep, next = false, skipString(s, next)
		case r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' ||
			r == 0x85 || r == 0x2028 || r == 0x2029:
			keep, space = false, true
		case r < 0xa0: // other C0 and C1 controls, DEL
			keep = false
		case r < 0x300: // Latin-1 and Latin Extended: no marks, one Cf
			keep = r != 0xad
			pict = r == 0xa9 || r == 0xae
		case r == zwj:
			nr, _ := utf8.DecodeRuneInString(s[next:])
			keep = emoji && next < len(s) && Pictographic(nr)
		case plain(r):
			pict = Pictographic(r)
			ext = emojiExtender(r)
		case invisible(r):
			keep = false
		default:
			mark = isMark(r)
			keep = !mark || marks < maxMarkRun
			pict = Pictographic(r)
			ext = emojiExtender(r)
		}
		if keep {
			if dirty {
				out.WriteString(s[i:next])
			}
			if mark {
				marks++
			} else {
				marks = 0
			}
			emoji = pict || (emoji && ext)
		} else {
			if !dirty {
				dirty = true
				out.Grow(len(s))
				out.WriteString(s[:i])
			}
			if space {
				out.WriteByte(' ')
				marks, emoji = 0, false
			}
		}
		i = next
	}
	if !dirty {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(out.String())
}

// CheckMessage sanitises a message for sending. It fails with ErrEmpty when
// nothing visible is left and with ErrTooLong when the sanitised text has
// more than MaxMessageLen runes.
func CheckMessage(s string) (string, error) {
	t := SanitizeText(s)
	if !hasVisible(t) {
		return "", fmt.Errorf("%w: nothing visible to send", ErrEmpty)
	}
	if n := utf8.RuneCountInString(t); n > MaxMessageLen {
		return "", fmt.Errorf("%w (%d characters, limit %d)", ErrTooLong, n, MaxMessageLen)
	}
	return t, nil
}

// hasVisible reports whether sanitised text has a rune other than white
// space and combining marks.
func hasVisible(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) && !isMark(r) {
			return true
		}
	}
	return false
}

// zwj is the zero-width joiner.
const zwj = 0x200d

// emojiExtender reports whether r may sit between an emoji and a ZWJ that
// joins it to the next: a variation selector (U+FE0E, U+FE0F) or a
// skin-tone modifier (U+1F3FB–U+1F3FF).
func emojiExtender(r rune) bool {
	return r == 0xfe0e || r == 0xfe0f || r >= 0x1f3fb && r <= 0x1f3ff
}

// Pictographic reports whether r has the Unicode Extended_Pictographic
// property (emoji and pictographs; Unicode 15).
func Pictographic(r rune) bool {
	if r < 0xa9 || r > 0x1fffd {
		return false
	}
	lo, hi := 0, len(pictographic)
	for lo < hi {
		m := (lo + hi) / 2
		switch p := pictographic[m]; {
		case r < p.lo:
			hi = m
		case r > p.hi:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}

// pictographic are the Extended_Pictographic ranges, sorted (from the
// Unicode 15 emoji-data.txt).
var pictographic = [...]struct{ lo, hi rune }{
	{0xa9, 0xa9}, {0xae, 0xae}, {0x203c, 0x203c}, {0x2049, 0x2049}, {0x2122, 0x2122}, {0x2139, 0x2139},
	{0x2194, 0x2199}, {0x21a9, 0x21aa}, {0x231a, 0x231b}, {0x2328, 0x2328}, {0x2388, 0x2388}, {0x23cf, 0x23cf},
	{0x23e9, 0x23f3}, {0x23f8, 0x23fa}, {0x24c2, 0x24c2}, {0x25aa, 0x25ab}, {0x25b6, 0x25b6}, {0x25c0, 0x25c0},
	{0x25fb, 0x25fe}, {0x2600, 0x2605}, {0x2607, 0x2612}, {0x2614, 0x2685}, {0x2690, 0x2705}, {0x2708, 0x2712},
	{0x2714, 0x2714}, {0x2716, 0x2716}, {0x271d, 0x271d}, {0x2721, 0x2721}, {0x2728, 0x2728}, {0x2733, 0x2734},
	{0x2744, 0x2744}, {0x2747, 0x2747}, {0x274c, 0x274c}, {0x274e, 0x274e}, {0x2753, 0x2755}, {0x2757, 0x2757},
	{0x2763, 0x2767}, {0x2795, 0x2797}, {0x27a1, 0x27a1}, {0x27b0, 0x27b0}, {0x27bf, 0x27bf}, {0x2934, 0x2935},
	{0x2b05, 0x2b07}, {0x2b1b, 0x2b1c}, {0x2b50, 0x2b50}, {0x2b55, 0x2b55}, {0x3030, 0x3030}, {0x303d, 0x303d},
	{0x3297, 0x3297}, {0x3299, 0x3299}, {0x1f000, 0x1f0ff}, {0x1f10d, 0x1f10f}, {0x1f12f, 0x1f12f},
	{0x1f16c, 0x1f171}, {0x1f17e, 0x1f17f}, {0x1f18e, 0x1f18e}, {0x1f191, 0x1f19a}, {0x1f1ad, 0x1f1e5},
	{0x1f201, 0x1f20f}, {0x1f21a, 0x1f21a}, {0x1f22f, 0x1f22f}, {0x1f232, 0x1f23a}, {0x1f23c, 0x1f23f},
	{0x1f249, 0x1f3fa}, {0x1f400, 0x1f53d}, {0x1f546, 0x1f64f}, {0x1f680, 0x1f6ff}, {0x1f774, 0x1f77f},
	{0x1f7d5, 0x1f7ff}, {0x1f80c, 0x1f80f}, {0x1f848, 0x1f84f}, {0x1f85a, 0x1f85f}, {0x1f888, 0x1f88f},
	{0x1f8ae, 0x1f8ff}, {0x1f90c, 0x1f93a}, {0x1f93c, 0x1f945}, {0x1f947, 0x1faff}, {0x1fc00, 0x1fffd},
}

// plainRanges are sorted blocks of common scripts and symbols that hold no
// format character, default-ignorable, noncharacter or combining mark, so
// SanitizeText keeps their runes without table lookups.
// TestPlainRangesArePlain checks this against the unicode package.
var plainRanges = [...]struct{ lo, hi rune }{
	{0x0370, 0x0482},   // Greek, Cyrillic
	{0x048a, 0x0590},   // Cyrillic, Armenian
	{0x2010, 0x2027},   // dashes, quotes
	{0x2030, 0x205e},   // punctuation
	{0x2070, 0x20cf},   // super- and subscripts, currency
	{0x2100, 0x2bff},   // letterlike, arrows, maths, box drawing, shapes, dingbats
	{0x3000, 0x3029},   // CJK punctuation
	{0x3030, 0x3098},   // hiragana
	{0x309b, 0x3163},   // katakana, bopomofo, Hangul jamo
	{0x3165, 0x9fff},   // CJK
	{0xac00, 0xd7a3},   // Hangul syllables
	{0xff01, 0xff9f},   // fullwidth and halfwidth forms
	{0x1f000, 0x1faff}, // emoji and other pictographs
}

// plain reports whether r lies in plainRanges.
func plain(r rune) bool {
	for _, p := range plainRanges {
		if r < p.lo {
			return false
		}
		if r <= p.hi {
			return true
		}
	}
	return false
}

// printableASCII reports whether c is a printable ASCII byte (space to ~).
func printableASCII(c byte) bool {
	return c >= 0x20 && c < 0x7f
}

// isMark reports whether r is a non-spacing or enclosing combining mark.
func isMark(r rune) bool {
	return r >= 0x300 && unicode.In(r, unicode.Mn, unicode.Me)
}

// invisible reports whether a rune at or above U+00A0 is a format character,
// another default-ignorable code point (variation selectors excepted) or a
// noncharacter.
func invisible(r rune) bool {
	switch {
	case r == 0xad, r == 0x34f, r == 0x61c, r == 0x115f, r == 0x1160,
		r == 0x17b4, r == 0x17b5, r == 0x180e, r == 0x3164, r == 0xfeff, r == 0xffa0:
		return true
	case r >= 0x200b && r <= 0x200f, // zero width, LRM, RLM
		r >= 0x202a && r <= 0x202e, // bidi embeddings and overrides
		r >= 0x2060 && r <= 0x206f, // word joiner, invisible operators, isolates
		r >= 0xfff0 && r <= 0xfffb, // unassigned ignorables, interlinear annotation
		r >= 0x1bca0 && r <= 0x1bca3,
		r >= 0x1d173 && r <= 0x1d17a:
		return true
	case r >= 0xe0000 && r <= 0xe0fff: // tags and reserved ignorables
		return r < 0xe0100 || r > 0xe01ef // keep variation selectors 17-256
	case r >= 0xfdd0 && r <= 0xfdef, r&0xfffe == 0xfffe: // noncharacters
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// skipEscape returns the index just past the escape sequence whose ESC ends
// at s[i]. A lone ESC (followed by a control, a non-ASCII rune or nothing)
// is skipped on its own.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch c := s[i]; {
	case c == '[':
		return skipCSI(s, i+1)
	case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
		return skipString(s, i+1)
	case c >= 0x20 && c <= 0x2f: // intermediates, then one final byte
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e {
			i++
		}
		return i
	case c >= 0x30 && c <= 0x7e:
		return i + 1
	}
	return i
}

// skipCSI returns the index just past the CSI whose introducer ends at s[i]:
// parameter and intermediate bytes (0x20–0x3F), then a final byte
// (0x40–0x7E). Any other byte ends the sequence and is not consumed.
func skipCSI(s string, i int) int {
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 0x20 && c <= 0x3f:
		case c >= 0x40 && c <= 0x7e:
			return i + 1
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the control string (OSC, DCS, SOS,
// PM, APC) whose introducer ends at s[i]. It ends at BEL, CAN, SUB, ST
// (U+009C or ESC \) — all consumed — or before any other ESC, which starts a
// new sequence. Unterminated, it runs to the end of s.
func skipString(s string, i int) int {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case 0x07, 0x18, 0x1a, 0x9c:
			return i + size
		case 0x1b:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i
		}
		i += size
	}
	return i
}
