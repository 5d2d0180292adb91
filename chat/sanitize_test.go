package chat

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

type sanitizeCase struct {
	name, in, want string
}

// escapeCases are terminal-escape payloads (CSI, OSC, DCS, C1, bidi, zero-width) plus variations.
var escapeCases = []sanitizeCase{
	{"OSC 52 clipboard write, BEL", "a\x1b]52;c;ZXZpbA==\x07b", "ab"},
	{"OSC 52 clipboard write, ST", "a\x1b]52;c;Y3VybCB4fHNoCg==\x1b\\b", "ab"},
	{"OSC 52 clipboard read", "a\x1b]52;c;?\x07b", "ab"},
	{"OSC 0 title, BEL", "x\x1b]0;PWN\x07y", "xy"},
	{"OSC 0 title, ST", "x\x1b]0;PWN\x1b\\y", "xy"},
	{"OSC 2 title, BEL", "x\x1b]2;PWN\x07y", "xy"},
	{"OSC 2 title, ST", "x\x1b]2;PWN\x1b\\y", "xy"},
	{"OSC 8 hyperlink", "see \x1b]8;;https://evil.example/\x1b\\docs\x1b]8;;\x1b\\ here", "see docs here"},
	{"OSC 8 hyperlink, BEL", "\x1b]8;id=1;https://evil.example/\x07docs\x1b]8;;\x07", "docs"},
	{"raw 0x9D byte is not an OSC introducer", "x\x9d0;PWN\x07y", "x0;PWNy"},
	{"OSC 8-bit introducer and ST, UTF-8", "x\u009d0;PWN\u009cy", "xy"},
	{"OSC not ended by a raw 0x9C byte", "x\x1b]0;PWN\x9cy", "x"},
	{"OSC ended by U+009C", "x\x1b]0;PWN\u009cy", "xy"},
	{"OSC with multibyte text containing 0x9c bytes", "x\x1b]0;\u271c\u271c\x07y", "xy"},
	{"OSC aborted by a new CSI", "x\x1b]0;PWN\x1b[2Jy", "xy"},
	{"OSC aborted by CAN", "x\x1b]0;PWN\x18y", "xy"},
	{"OSC aborted by SUB", "x\x1b]0;PWN\x1ay", "xy"},
	{"OSC swallows C0 inside", "x\x1b]0;a\nb\rc\x07y", "xy"},
	{"CSI cursor position", "\x1b[13;37Hbob: fake line", "bob: fake line"},
	{"CSI erase display", "a\x1b[2Jb", "ab"},
	{"CSI erase scrollback", "a\x1b[3Jb", "ab"},
	{"CSI leave alt screen", "a\x1b[?1049lb", "ab"},
	{"CSI DECSTBM", "a\x1b[1;5rb", "ab"},
	{"CSI with intermediate", "a\x1b[2 qb", "ab"},
	{"CSI cursor up and erase line", "ok\x1b[1A\x1b[2Kfake", "okfake"},
	{"SGR 8 conceal", "\x1b[8mhidden\x1b[0m", "hidden"},
	{"SGR fg equals bg", "\x1b[38;2;0;0;0;48;2;0;0;0mhidden\x1b[m", "hidden"},
	{"8-bit CSI, raw byte", "x\x9b2Jy", "x2Jy"},
	{"8-bit CSI, U+009B", "x\u009b2Jy", "xy"},
	{"8-bit CSI cursor move, U+009B", "x\u009b13;37Hy", "xy"},
	{"DCS", "x\x1bP1$r0m\x1b\\y", "xy"},
	{"DCS sixel", "x\x1bPq#0;2;0;0;0#0~~~~\x1b\\y", "xy"},
	{"raw DCS and ST bytes", "x\x90q#0~\x9cy", "xq#0~y"},
	{"DCS 8-bit UTF-8", "x\u0090q#0~\u009cy", "xy"},
	{"SOS", "x\x1bXhidden\x1b\\y", "xy"},
	{"PM", "x\x1b^hidden\x1b\\y", "xy"},
	{"APC", "x\x1b_Gf=100;AAAA\x1b\\y", "xy"},
	{"SOS PM APC 8-bit", "a\u0098s\u009cb\u009ep\u009cc\u009fa\u009cd", "abcd"},
	{"ESC 7 / ESC 8 save and restore cursor", "a\x1b7b\x1b8c", "abc"},
	{"ESC c full reset", "a\x1bcb", "ab"},
	{"ESC M reverse index", "a\x1bMb", "ab"},
	{"ESC charset designation", "a\x1b(0lqk\x1b(Bb", "alqkb"},
	{"ESC # 8 DECALN", "a\x1b#8b", "ab"},
	{"ESC \\ on its own", "a\x1b\\b", "ab"},
	{"ESC ESC", "a\x1b\x1b[2Jb", "ab"},
	{"lone ESC before non-ASCII", "a\x1bé", "aé"},
	{"lone ESC before newline", "a\x1b\nb", "a b"},
	{"BEL", "ding\x07", "ding"},
	{"BEL x1000", strings.Repeat("\x07", 1000), ""},
	{"x/ansi.Strip leftovers", "a\x1b[31mb\x07c\u202ed\rX\x1b]0;pwned\x07Y\x9b2J", "abcd XY2J"},
	// An unterminated sequence swallows the rest of the input, as a
	// terminal waiting for the terminator would.
	{"unterminated OSC at end", "hi \x1b]52;c;ZXZp", "hi"},
	{"unterminated OSC swallows the rest", "hi \x1b]0;title and more text", "hi"},
	{"unterminated DCS at end", "hi \x1bPq#0", "hi"},
	{"unterminated CSI at end", "hi \x1b[12;3", "hi"},
	{"unterminated 8-bit CSI at end", "hi \u009b12", "hi"},
	{"CSI cut by a control", "hi\x1b[12\nthere", "hi there"},
	{"CSI cut by non-ASCII", "hi\x1b[12é", "hié"},
	{"lone ESC at end", "hi\x1b", "hi"},
	{"ESC [ at end", "hi\x1b[", "hi"},
	{"ESC ] at end", "hi\x1b]", "hi"},
	{"ESC intermediate at end", "hi\x1b(", "hi"},
}

func TestSanitizeStripsTerminalEscapes(t *testing.T) {
	runSanitizeCases(t, escapeCases)
}

func TestSanitizeFlattensControlsToOneLine(t *testing.T) {
	runSanitizeCases(t, []sanitizeCase{
		{"carriage return overwrite", "hi\rbob: ", "hi bob:"},
		{"carriage return mid line", "alice: hi\rbob: after", "alice: hi bob: after"},
		{"newline", "line1\nline2", "line1 line2"},
		{"CRLF", "line1\r\nline2", "line1  line2"},
		{"tab", "a\tb", "a b"},
		{"vertical tab and form feed", "a\vb\fc", "a b c"},
		{"NEL U+0085", "a\u0085b", "a b"},
		{"NEL raw byte is just invalid UTF-8", "a\x85b", "ab"},
		{"line separator", "a\u2028b", "a b"},
		{"paragraph separator", "a\u2029b", "a b"},
		{"backspaces", "abc\b\b\bxyz", "abcxyz"},
		{"backspace over the sender prefix", "\b\b\b\b\b\b\bbob: hi", "bob: hi"},
		{"NUL", "a\x00b", "ab"},
		{"DEL", "a\x7fb", "ab"},
		{"every C0 control", c0Controls(), ""},
		{"every C1 control as UTF-8", c1Controls(), ""},
		{"shift out / shift in", "a\x0eb\x0fc", "abc"},
	})
}

func TestSanitizeRemovesBidiAndInvisible(t *testing.T) {
	drop := []rune{
		0x202a, 0x202b, 0x202c, 0x202d, 0x202e, // embeddings, overrides
		0x2066, 0x2067, 0x2068, 0x2069, // isolates
		0x200e, 0x200f, 0x061c, // marks
		0x200b, 0x200c, 0x200d, // zero width space, non-joiner, joiner
		0x2060, 0x2061, 0x2062, 0x2063, 0x2064, // word joiner, invisible operators
		0x206a, 0x206f, // deprecated format characters
		0xfeff,                         // BOM / zero width no-break space
		0x00ad,                         // soft hyphen
		0x034f,                         // combining grapheme joiner
		0x115f, 0x1160, 0x3164, 0xffa0, // Hangul fillers
		0x17b4, 0x17b5, 0x180e, // Khmer vowels inherent, Mongolian vowel separator
		0xfff9, 0xfffa, 0xfffb, // interlinear annotation
		0x1bca0, 0x1d173, // shorthand and musical format controls
		0xe0001, 0xe0020, 0xe0041, 0xe007f, // tag characters
		0xe0080, 0xe0fff, // reserved default ignorables
		0xfffe, 0xffff, 0xfdd0, 0x1fffe, 0x10ffff, // noncharacters
		0x0600, // other Cf
	}
	for _, r := range drop {
		in := "a" + string(r) + "b"
		if got := SanitizeText(in); got != "ab" {
			t.Errorf("SanitizeText(%+q) = %+q, want \"ab\"", in, got)
		}
	}
	runSanitizeCases(t, []sanitizeCase{
		{"Trojan Source RLO", "\u202eecila", "ecila"},
		{"RLO in the middle", "hello \u202edlrow", "hello dlrow"},
		{"isolate around text", "x\u2067abc\u2069y", "xabcy"},
		{"ASCII smuggling via tags", "hi\U000E0069\U000E0067\U000E006E\U000E006F\U000E0072\U000E0065", "hi"},
		{"only invisibles", "\u200b\u200c\u200d\ufeff\u2060", ""},
		{"zero width around spaces", "\u200b a \u200b", "a"},
	})
}

func TestSanitizeKeepsZWJOnlyBetweenEmoji(t *testing.T) {
	runSanitizeCases(t, []sanitizeCase{
		{"family", "👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"},
		{"skin tone before the joiner", "👩🏽\u200d💻", "👩🏽\u200d💻"},
		{"variation selector", "❤\ufe0f\u200d🔥", "❤\ufe0f\u200d🔥"},
		{"rainbow flag", "🏳\ufe0f\u200d🌈", "🏳\ufe0f\u200d🌈"},
		{"between letters", "a\u200db", "ab"},
		{"emoji then letter", "👨\u200db", "👨b"},
		{"letter then emoji", "a\u200d👩", "a👩"},
		{"leading", "\u200d👩", "👩"},
		{"trailing", "👩\u200d", "👩"},
		{"doubled", "👨\u200d\u200d👩", "👨\u200d👩"},
		{"removed text after", "👨\u200d\u200b👩", "👨👩"},
		{"escape before", "👨\x1b[31m\u200d👩", "👨\u200d👩"},
		{"escape after", "👨\u200d\x1b[0m👩", "👨👩"},
		{"space between", "👨 \u200d👩", "👨 👩"},
		{"newline between", "👨\n\u200d👩", "👨 👩"},
	})
}

func TestSanitizeKeepsText(t *testing.T) {
	keep := []string{
		"hello, world!",
		"naïve café — “quotes” ‘single’ … ±½",
		"e\u0301 a\u0300 n\u0303", // decomposed accents
		"日本語のテキスト 中文 한국어",
		"مرحبا بالعالم שלום עולם", // RTL scripts keep their own direction
		"👍🏽 🎉 🇩🇪 ❤\ufe0f ☺\ufe0e",
		"葛\U000E0100", // ideographic variation selector
		"a  b   c",    // inner spaces are not collapsed
		"a\u00a0b",    // inner no-break space
		"tab-less ~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./",
		"\ufffd literal replacement character",
		"\U0010fffd private use and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
		"ก่ำ", // Thai with stacked marks
	}
	for _, in := range keep {
		if got := SanitizeText(in); got != in {
			t.Errorf("SanitizeText(%+q) = %+q, want it unchanged", in, got)
		}
	}
}

func TestSanitizeCleanInputDoesNotAllocate(t *testing.T) {
	for _, in := range []string{"hello there, how is everyone?", "日本語 👍🏽 e\u0301", "  padded  "} {
		if n := testing.AllocsPerRun(100, func() { SanitizeText(in) }); n != 0 {
			t.Errorf("SanitizeText(%+q) allocates %v times, want 0", in, n)
		}
	}
}

func TestSanitizeDropsInvalidUTF8(t *testing.T) {
	runSanitizeCases(t, []sanitizeCase{
		{"stray byte", "a\xffb", "ab"},
		{"stray continuation", "a\xa0b", "ab"},
		{"truncated sequence", "a\xe2\x82b", "ab"},
		{"truncated at end", "ab\xe2\x82", "ab"},
		{"overlong slash", "a\xc0\xafb", "ab"},
		{"encoded surrogate", "a\xed\xa0\x80b", "ab"},
		{"above U+10FFFF", "a\xf4\x90\x80\x80b", "ab"},
		{"raw C1 bytes", "a\x80\x8d\x91\x9a\x9cb", "ab"},
		{"raw C1 introducers", "a\x9b\x9d\x90\x98\x9e\x9fb", "ab"},
	})
}

func TestSanitizeTrimsSurroundingSpace(t *testing.T) {
	runSanitizeCases(t, []sanitizeCase{
		{"ASCII spaces", "   hi   ", "hi"},
		{"newlines and tabs", "\r\n\thi\t\r\n", "hi"},
		{"Unicode spaces", "\u3000\u00a0\u2003hi\u205f\u3000", "hi"},
		{"spaces exposed by removal", "\u200b hi \x1b[0m", "hi"},
		{"inner kept", " a  b ", "a  b"},
		{"only spaces", " \t\r\n\u3000 ", ""},
	})
}

func TestSanitizeCapsCombiningMarks(t *testing.T) {
	zalgo := "a" + strings.Repeat("\u0301", 10000) + "b"
	want := "a" + strings.Repeat("\u0301", maxMarkRun) + "b"
	if got := SanitizeText(zalgo); got != want {
		t.Errorf("10000 marks: got %d runes, want %d", utf8.RuneCountInString(got), utf8.RuneCountInString(want))
	}
	// A removed character between two runs must not reset the count.
	split := "a" + strings.Repeat("\u0301", maxMarkRun) + "\u200b\x1b[0m" + strings.Repeat("\u0300", maxMarkRun) + "b"
	if got := SanitizeText(split); got != want {
		t.Errorf("runs split by removed characters: got %+q, want %+q", got, want)
	}
	ok := "a" + strings.Repeat("\u0301", maxMarkRun) + "b" + strings.Repeat("\u0301", maxMarkRun)
	if got := SanitizeText(ok); got != ok {
		t.Errorf("runs at the cap changed: got %+q", got)
	}
}

func TestPlainRangesArePlain(t *testing.T) {
	prev := rune(0x2ff)
	for _, p := range plainRanges {
		if p.lo <= prev || p.hi < p.lo {
			t.Fatalf("plainRanges not sorted at %U-%U", p.lo, p.hi)
		}
		prev = p.hi
		for r := p.lo; r <= p.hi; r++ {
			if invisible(r) || isMark(r) || r == 0x2028 || r == 0x2029 {
				t.Errorf("%U in plainRanges needs the slow path", r)
			}
		}
	}
}

func TestSanitizeIsIdempotent(t *testing.T) {
	for _, in := range sanitizeSeeds() {
		once := SanitizeText(in)
		if twice := SanitizeText(once); twice != once {
			t.Errorf("SanitizeText(%+q) = %+q, but again gives %+q", in, once, twice)
		}
	}
}

func TestSanitizeHugeInputIsLinear(t *testing.T) {
	const size = 1 << 20
	inputs := map[string]string{
		"plain ASCII":          strings.Repeat("a", size),
		"unterminated CSI":     "\x1b[" + strings.Repeat("1;", size/2),
		"unterminated OSC":     "\x1b]0;" + strings.Repeat("x", size),
		"OSC introducers":      strings.Repeat("\x1b]", size/2),
		"CSI introducers":      strings.Repeat("\x1b[", size/2),
		"lone ESCs":            strings.Repeat("\x1b", size),
		"8-bit CSIs":           strings.Repeat("\x9b", size),
		"invalid bytes":        strings.Repeat("\xff", size),
		"combining marks":      "a" + strings.Repeat("\u0301", size/2),
		"zero width":           strings.Repeat("\u200b", size/3),
		"emoji":                strings.Repeat("👍🏽", size/8),
		"mixed escapes":        strings.Repeat("a\x1b[31mb\x07c\u202ed\rX\x1b]0;t\x07Y\x9b2J", size/32),
		"spaces around a word": strings.Repeat(" ", size/2) + "x" + strings.Repeat(" ", size/2),
	}
	for name, in := range inputs {
		start := time.Now()
		out := SanitizeText(in)
		// Generous: a linear pass takes a few milliseconds, a quadratic one
		// would take minutes.
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v", name, d)
		}
		if !utf8.ValidString(out) {
			t.Errorf("%s: invalid UTF-8 output", name)
		}
	}
}

func TestCheckMessageRejectsEmpty(t *testing.T) {
	for _, in := range []string{"", "   ", "\r\n", "\x1b[2J", "\x1b]52;c;ZXZpbA==\x07", "\u200b\u202e", "\u0301\u0301", "\ufe0f", "\u3000"} {
		got, err := CheckMessage(in)
		if !errors.Is(err, ErrEmpty) || got != "" {
			t.Errorf("CheckMessage(%+q) = %+q, %v; want ErrEmpty", in, got, err)
		}
	}
}

func TestCheckMessageEnforcesLimitAfterSanitizing(t *testing.T) {
	atLimit := strings.Repeat("é", MaxMessageLen)
	if got, err := CheckMessage(atLimit); err != nil || got != atLimit {
		t.Errorf("%d runes: err = %v", MaxMessageLen, err)
	}
	// Escapes and padding do not count towards the limit.
	padded := "  " + strings.Repeat("\x1b[31mx", MaxMessageLen) + "\u200b  "
	if got, err := CheckMessage(padded); err != nil || got != strings.Repeat("x", MaxMessageLen) {
		t.Errorf("padded message at the limit: %v", err)
	}
	_, err := CheckMessage(atLimit + "!")
	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("%d runes: err = %v, want ErrTooLong", MaxMessageLen+1, err)
	}
	if want := "message too long (2001 characters, limit 2000)"; err.Error() != want {
		t.Errorf("error text = %q, want %q", err, want)
	}
}

func TestCheckMessageReturnsSanitizedText(t *testing.T) {
	got, err := CheckMessage("  hi\rbob: \x1b]52;c;ZXZpbA==\x07\u202eok  ")
	if err != nil || got != "hi bob: ok" {
		t.Errorf("CheckMessage = %+q, %v", got, err)
	}
}

func FuzzSanitizeText(f *testing.F) {
	for _, s := range sanitizeSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := SanitizeText(in)
		checkSanitized(t, in, out)
		if again := SanitizeText(out); again != out {
			t.Fatalf("not idempotent: %+q -> %+q -> %+q", in, out, again)
		}
		msg, err := CheckMessage(in)
		switch {
		case err == nil:
			if msg != out || utf8.RuneCountInString(msg) > MaxMessageLen {
				t.Fatalf("CheckMessage(%+q) = %+q", in, msg)
			}
		case !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrTooLong):
			t.Fatalf("CheckMessage(%+q): unexpected error %v", in, err)
		}
	})
}

// checkSanitized asserts the output invariants of SanitizeText.
func checkSanitized(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("SanitizeText(%+q) = %+q: invalid UTF-8", in, out)
	}
	if out != strings.TrimSpace(out) {
		t.Fatalf("SanitizeText(%+q) = %+q: not trimmed", in, out)
	}
	marks := 0
	emoji := false // out so far ends with an emoji (plus extenders)
	for i, r := range out {
		if r == zwj {
			// A ZWJ is allowed only between two emoji.
			nr, _ := utf8.DecodeRuneInString(out[i+utf8.RuneLen(r):])
			if !emoji || !Pictographic(nr) {
				t.Fatalf("SanitizeText(%+q) = %+q: ZWJ not between emoji at %d", in, out, i)
			}
			emoji, marks = false, 0
			continue
		}
		emoji = Pictographic(r) || (emoji && emojiExtender(r))
		switch {
		case r < 0x20, r >= 0x7f && r <= 0x9f:
			t.Fatalf("SanitizeText(%+q) = %+q: control %U", in, out, r)
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069,
			r == 0x200e, r == 0x200f, r == 0x061c:
			t.Fatalf("SanitizeText(%+q) = %+q: bidi control %U", in, out, r)
		case r >= 0x200b && r <= 0x200d, r >= 0x2060 && r <= 0x2064,
			r == 0xfeff, r == 0x00ad, r >= 0xe0000 && r <= 0xe007f:
			t.Fatalf("SanitizeText(%+q) = %+q: invisible %U", in, out, r)
		case r == 0x2028, r == 0x2029:
			t.Fatalf("SanitizeText(%+q) = %+q: line break %U", in, out, r)
		case invisible(r):
			t.Fatalf("SanitizeText(%+q) = %+q: default ignorable %U", in, out, r)
		}
		if isMark(r) {
			if marks++; marks > maxMarkRun {
				t.Fatalf("SanitizeText(%+q): more than %d marks in a row", in, maxMarkRun)
			}
		} else {
			marks = 0
		}
	}
	if len(out) > len(in) {
		t.Fatalf("SanitizeText(%+q) = %+q: output longer than input", in, out)
	}
}

func BenchmarkSanitizeText(b *testing.B) {
	for _, bc := range []struct{ name, msg string }{
		{"ascii", "hey everyone, the deploy finished at 14:02 and the dashboards look fine; ping me if anything breaks!"},
		{"unicode", "ну что, деплой прошёл 👍🏽 — 日本語も大丈夫？ café naïve résumé, all good here, see you at 14:02 ok"},
		{"escapes", "hey \x1b[31meveryone\x1b[0m, the deploy\r finished \x1b]8;;http://x.example\x07here\x1b]8;;\x07 \u202eok\u202c fine!!"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.msg)))
			b.ReportAllocs()
			for b.Loop() {
				SanitizeText(bc.msg)
			}
		})
	}
}

func runSanitizeCases(t *testing.T, cases []sanitizeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := SanitizeText(tc.in)
			if got != tc.want {
				t.Errorf("SanitizeText(%+q) = %+q, want %+q", tc.in, got, tc.want)
			}
			checkSanitized(t, tc.in, got)
		})
	}
}

func sanitizeSeeds() []string {
	seeds := []string{
		"", "hello", "  hi  ", "hi\rbob: ", "abc\b\b\bxyz", "\u202eecila", "e\u0301",
		"👨\u200d👩\u200d👧", "a" + strings.Repeat("\u0301", 40), c0Controls(), c1Controls(),
		"\xff\xfe", "\xed\xa0\x80", "\xe2\x82", "\x1b", "\x1b[", "\x1b]", "\x1bP", "\x9b", "\x9d",
		"\U000E0041", "\ufeff", "\u00ad", "\u2028",
	}
	for _, c := range escapeCases {
		seeds = append(seeds, c.in)
	}
	return seeds
}

func c0Controls() string {
	var b strings.Builder
	for c := rune(0); c < 0x20; c++ {
		b.WriteRune(c)
	}
	b.WriteRune(0x7f)
	return b.String()
}

func c1Controls() string {
	var b strings.Builder
	for c := rune(0x80); c < 0xa0; c++ {
		b.WriteRune(c)
	}
	return b.String()
}
