package chat

import (
	"errors"
	"strings"
	"testing"
)

func TestHandleAcceptsValid(t *testing.T) {
	for _, tc := range []struct{ in, display, key string }{
		{"alice", "alice", "alice"},
		{"Alice", "Alice", "alice"},
		{"ALICE", "ALICE", "alice"},
		{"bob_42", "bob_42", "bob_42"},
		{"x", "x", "x"},
		{"7", "7", "7"},
		{"0day", "0day", "0day"},
		{"a.b-c_d", "a.b-c_d", "a.b-c_d"},
		{"alice_", "alice_", "alice_"},
		{"  carol  ", "carol", "carol"},
		{strings.Repeat("Z", MaxHandleLen), strings.Repeat("Z", MaxHandleLen), strings.Repeat("z", MaxHandleLen)},
		{"Administrator", "Administrator", "administrator"}, // only exact reserved names are refused
		{"root2", "root2", "root2"},
	} {
		display, key, err := NormalizeHandle(tc.in)
		if err != nil || display != tc.display || key != tc.key {
			t.Errorf("NormalizeHandle(%q) = %q, %q, %v; want %q, %q, nil", tc.in, display, key, err, tc.display, tc.key)
		}
	}
}

func TestHandleKeyIsCaseInsensitive(t *testing.T) {
	for _, in := range []string{"alice", "Alice", "ALICE", "aLiCe", " alice "} {
		if got := HandleKey(in); got != "alice" {
			t.Errorf("HandleKey(%q) = %q, want \"alice\"", in, got)
		}
	}
}

// TestHandleRejectsLookalikes covers lookalike and invisible-character
// names: names that look like someone else's are either refused or
// normalise to the same key.
func TestHandleRejectsLookalikes(t *testing.T) {
	invalid := []string{
		"\u0430lice",                  // Cyrillic a
		"\u0430\u0406\u0456ce",        // more Cyrillic
		"alic\u0435",                  // Cyrillic e at the end
		"\u03b1lice",                  // Greek alpha
		"alice\u200b",                 // zero width space
		"al\u200dice",                 // zero width joiner
		"\u200balice",                 // leading zero width space
		"al\u00adice",                 // soft hyphen
		"a\u0301lice",                 // combining accent (NFKC composes to U+00E1)
		"alice\u0301",                 // trailing combining accent
		"\u202eecila",                 // RLO
		"alice\u2066",                 // isolate
		"alice\u200e",                 // LRM
		"alice\ufeff",                 // BOM
		"alice\U000E0041",             // tag character
		"alice\x1b[0m",                // escape sequence
		"alice\x1b",                   // bare ESC
		"\x9b2Jalice",                 // 8-bit CSI
		"alice\x00",                   // NUL
		"alice\r",                     // CR
		"alice\n",                     // LF
		"alice\t",                     // tab
		"alice\x07",                   // BEL
		"ali ce",                      // inner space
		"ali\u3000ce",                 // inner ideographic space (NFKC: inner ASCII space)
		"alice\xff",                   // invalid UTF-8
		strings.Repeat("a", 200),      // 200 ASCII
		strings.Repeat("\u0430", 200), // 200 Cyrillic
		"alice" + strings.Repeat("\u200b", 195),
		strings.Repeat("x", 1<<20), // 1 MiB
		"@alice",
		"alice!",
		"al/ice",
		"alice@example",
		"<alice>",
		"ali'ce",
		"ali\"ce",
		"ali\\ce",
	}
	for _, in := range invalid {
		display, key, err := NormalizeHandle(in)
		if !errors.Is(err, ErrHandleInvalid) || display != "" || key != "" {
			t.Errorf("NormalizeHandle(%+q) = %q, %q, %v; want ErrHandleInvalid", in, display, key, err)
			continue
		}
		checkHandleError(t, in, err)
		if k := HandleKey(in); k != "" {
			t.Errorf("HandleKey(%+q) = %q, want \"\"", in, k)
		}
	}
}

// TestHandleFoldsCompatibilityFormsToASCII: compatibility lookalikes of an
// ASCII name normalise to it, so they collide with the real owner.
func TestHandleFoldsCompatibilityFormsToASCII(t *testing.T) {
	for _, tc := range []struct{ in, display, key string }{
		{"\uff41\uff4c\uff49\uff43\uff45", "alice", "alice"}, // fullwidth
		{"\uff21\uff2c\uff29\uff23\uff25", "ALICE", "alice"}, // fullwidth capitals
		{"\u212aate", "Kate", "kate"},                        // Kelvin sign
		{"\ufb01sh", "fish", "fish"},                         // fi ligature
		{"alice\u00a0", "alice", "alice"},                    // trailing NBSP
		{"\u3000alice\u3000", "alice", "alice"},              // ideographic spaces around
		{"\U0001d41a\U0001d425ice", "alice", "alice"},        // mathematical bold
		{"bob\u2081", "bob1", "bob1"},                        // subscript one
	} {
		display, key, err := NormalizeHandle(tc.in)
		if err != nil || display != tc.display || key != tc.key {
			t.Errorf("NormalizeHandle(%+q) = %q, %q, %v; want %q, %q, nil", tc.in, display, key, err, tc.display, tc.key)
		}
	}
}

func TestHandleRejectsReservedNames(t *testing.T) {
	for _, name := range []string{"server", "system", "admin", "root", "sshchat", "lobby", "everyone", "here"} {
		for _, in := range []string{name, strings.ToUpper(name), strings.ToUpper(name[:1]) + name[1:], " " + name + " ", fullwidth(name)} {
			display, key, err := NormalizeHandle(in)
			if !errors.Is(err, ErrHandleInvalid) || display != "" || key != "" {
				t.Errorf("NormalizeHandle(%+q) = %q, %q, %v; want reserved", in, display, key, err)
				continue
			}
			if !strings.Contains(err.Error(), "reserved") {
				t.Errorf("NormalizeHandle(%+q): reason %q does not say reserved", in, err)
			}
			if k := HandleKey(in); k != "" {
				t.Errorf("HandleKey(%+q) = %q, want \"\"", in, k)
			}
		}
	}
}

func TestHandleEnforcesShape(t *testing.T) {
	for _, tc := range []struct{ in, reason string }{
		{"", handleRule},
		{"   ", handleRule},
		{strings.Repeat("a", MaxHandleLen+1), "25 characters is too long"},
		{".alice", "start with a letter or digit"},
		{"-alice", "start with a letter or digit"},
		{"_alice", "start with a letter or digit"},
		{"alice.", "must not end with '.' or '-'"},
		{"alice-", "must not end with '.' or '-'"},
		{"al\u0430ce", "'\u0430' (U+0430) is not allowed; handles are 1-24 ASCII letters"},
		{"caf\u00e9", "'\u00e9' (U+00E9) is not allowed"},
		{"a\u200bb", "U+200B is not allowed"},
		{"ali ce", "a space is not allowed"},
		{"ali@ce", "'@' is not allowed"},
		{"ali\x1bce", "U+001B is not allowed"},
		{"\u2026", "start with a letter or digit"}, // NFKC: "..."
	} {
		_, _, err := NormalizeHandle(tc.in)
		if !errors.Is(err, ErrHandleInvalid) {
			t.Errorf("NormalizeHandle(%+q): err = %v, want ErrHandleInvalid", tc.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("NormalizeHandle(%+q): reason %q, want it to contain %q", tc.in, err, tc.reason)
		}
		checkHandleError(t, tc.in, err)
	}
}

func TestHandleKeyOfInvalidIsEmpty(t *testing.T) {
	for _, in := range []string{"", " ", "a b", "admin", "\u0430lice", ".x", strings.Repeat("a", 25)} {
		if got := HandleKey(in); got != "" {
			t.Errorf("HandleKey(%+q) = %q, want \"\"", in, got)
		}
	}
	if got := HandleKey("Bob_42"); got != "bob_42" {
		t.Errorf("HandleKey(\"Bob_42\") = %q", got)
	}
}

func FuzzNormalizeHandle(f *testing.F) {
	for _, s := range []string{
		"alice", "Alice", " alice ", "\u0430lice", "alice\u200b", "al\u00adice", "\uff41\uff4c\uff49\uff43\uff45",
		"a\u0301lice", "\u202eecila", "alice\x1b[0m", strings.Repeat("a", 200), "admin", "ＡＤＭＩＮ", "a.b", "a.",
		"_a", "\u212a", "\ufb01", "\u2026", "\u3000x\u3000", "x\xff", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		display, key, err := NormalizeHandle(in)
		if err != nil {
			if !errors.Is(err, ErrHandleInvalid) || display != "" || key != "" {
				t.Fatalf("NormalizeHandle(%+q) = %q, %q, %v", in, display, key, err)
			}
			checkHandleError(t, in, err)
			if k := HandleKey(in); k != "" {
				t.Fatalf("HandleKey(%+q) = %q for an invalid handle", in, k)
			}
			return
		}
		if n := len(display); n < 1 || n > MaxHandleLen {
			t.Fatalf("NormalizeHandle(%+q): display %q has length %d", in, display, n)
		}
		for i := 0; i < len(display); i++ {
			c := display[i]
			if !alnum(c) && c != '_' && c != '-' && c != '.' {
				t.Fatalf("NormalizeHandle(%+q): display %q has byte %#x", in, display, c)
			}
		}
		if !alnum(display[0]) || strings.HasSuffix(display, ".") || strings.HasSuffix(display, "-") {
			t.Fatalf("NormalizeHandle(%+q): display %q has a bad shape", in, display)
		}
		if key != strings.ToLower(display) {
			t.Fatalf("NormalizeHandle(%+q): key %q is not lower(%q)", in, key, display)
		}
		for _, r := range reservedHandles {
			if key == r {
				t.Fatalf("NormalizeHandle(%+q): reserved key %q accepted", in, key)
			}
		}
		if d2, k2, err := NormalizeHandle(display); err != nil || d2 != display || k2 != key {
			t.Fatalf("NormalizeHandle(%q) = %q, %q, %v; not stable", display, d2, k2, err)
		}
		if k := HandleKey(in); k != key {
			t.Fatalf("HandleKey(%+q) = %q, want %q", in, k, key)
		}
		if SanitizeText(display) != display {
			t.Fatalf("display %q changes under SanitizeText", display)
		}
	})
}

// checkHandleError asserts a refusal is one printable line that does not
// echo the input back: printable ASCII, plus at most the one visible
// character it names.
func checkHandleError(t *testing.T, in string, err error) {
	t.Helper()
	msg := err.Error()
	other := 0
	for _, r := range msg {
		if r >= 0x20 && r < 0x7f {
			continue
		}
		if other++; other > 1 || !visibleRune(r) {
			t.Fatalf("NormalizeHandle(%+q): reason %q has %U", in, msg, r)
		}
	}
	if len(msg) > 200 {
		t.Fatalf("NormalizeHandle(%+q): reason is %d bytes long", in, len(msg))
	}
}

func fullwidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r - 'a' + 0xff41)
	}
	return b.String()
}
