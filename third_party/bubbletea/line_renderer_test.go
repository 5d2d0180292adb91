package tea

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"
	"unsafe"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
)

// lineTerm runs a line renderer against a terminal emulator.
type lineTerm struct {
	t   *testing.T
	out bytes.Buffer
	r   *lineRenderer
	emu *vt.Emulator
}

func newLineTerm(t *testing.T, w, h int) *lineTerm {
	t.Helper()
	lt := &lineTerm{t: t, emu: vt.NewEmulator(w, h)}
	go func() { _, _ = io.Copy(io.Discard, lt.emu) }() // answers to queries
	t.Cleanup(func() {
		// Ends the reader; vt's own Close is not safe alongside Read.
		if pw, ok := lt.emu.InputPipe().(io.Closer); ok {
			_ = pw.Close()
		}
	})
	lt.r = newLineRenderer(&lt.out, w, h)
	return lt
}

// frame renders v, feeds the output to the emulator and returns the bytes.
func (lt *lineTerm) frame(v View) string {
	lt.t.Helper()
	lt.r.render(v)
	if err := lt.r.flush(false); err != nil {
		lt.t.Fatal(err)
	}
	s := lt.out.String()
	lt.out.Reset()
	if _, err := lt.emu.WriteString(s); err != nil {
		lt.t.Fatal(err)
	}
	return s
}

// reference paints content on a fresh emulator the simplest way.
func reference(w, h int, content string) *vt.Emulator {
	e := vt.NewEmulator(w, h)
	for y, l := range strings.Split(content, "\n") {
		if y >= h {
			break
		}
		if ansi.StringWidth(l) > w {
			l = ansi.Truncate(l, w, "")
		}
		_, _ = e.WriteString(ansi.CursorPosition(1, y+1) + l + ansi.ResetStyle)
	}
	return e
}

// sameScreen fails unless the emulator shows what reference shows, cell by
// cell, content and style.
func (lt *lineTerm) sameScreen(content string) {
	lt.t.Helper()
	w, h := lt.r.width, lt.r.height
	ref := reference(w, h, content)
	defer ref.Close()
	for y := range h {
		for x := range w {
			a, b := lt.emu.CellAt(x, y), ref.CellAt(x, y)
			if a == nil || b == nil {
				continue
			}
			if a.Content != b.Content || !a.Style.Equal(&b.Style) {
				lt.t.Errorf("cell %d,%d: got %q %+v, want %q %+v\ngot screen:\n%s\nwant screen:\n%s",
					x, y, a.Content, a.Style, b.Content, b.Style, lt.emu.String(), ref.String())
				return
			}
		}
	}
}

func alt(content string) View {
	v := NewView(content)
	v.AltScreen = true
	return v
}

var (
	red  = "\x1b[38;2;255;0;0m"
	bold = "\x1b[1m"
	bg   = "\x1b[48;5;17m"
	rst  = "\x1b[m"
)

func TestLineRendererFrames(t *testing.T) {
	lt := newLineTerm(t, 20, 5)
	frames := []string{
		"hello\nworld",
		"hello\nworld!",
		red + "hel" + rst + "lo\nwor" + bold + "ld" + rst,
		red + "hel" + rst + "LO\nwor" + bold + "LD" + rst + " x",
		"αβγ wide 界界 z\n" + bg + "bg" + rst + " end",
		"αβγ wide 界x界 z\n" + bg + "bgX" + rst + " end",
		"12345678901234567890\nline two is much longer than twenty",
		"",
		"a\nb\nc\nd\ne\nf\ng",
	}
	for i, f := range frames {
		lt.frame(alt(f))
		t.Run(fmt.Sprint(i), func(t *testing.T) { lt.t = t; lt.sameScreen(f) })
	}
}

// TestLineRendererRandomEdits applies random edits to styled lines and
// checks every frame against a full repaint.
func TestLineRendererRandomEdits(t *testing.T) {
	for seed := range int64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomEdits(t, seed) })
	}
}

func randomEdits(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	words := []string{"a", "bb", "ccc", "界", "é", red + "r" + rst, bold + "B", rst, bg + " " + rst, "  ", "xyz"}
	line := func() string {
		var sb strings.Builder
		for range rng.Intn(14) {
			sb.WriteString(words[rng.Intn(len(words))])
		}
		return sb.String()
	}
	const w, h = 40, 6
	lt := newLineTerm(t, w, h)
	lines := make([]string, h)
	for i := range lines {
		lines[i] = line()
	}
	for i := range 500 {
		switch rng.Intn(5) {
		case 4: // replace single ASCII cells, keeping the width
			y := rng.Intn(h)
			b := []byte(lines[y])
			var text []int // printable ASCII letters, never inside a sequence
			for sc := (lineScan{s: lines[y], m: ansi.GraphemeWidth}); ; {
				if k := sc.i; k < len(b) && b[k] >= 'a' && b[k] <= 'z' {
					text = append(text, k)
				}
				if !sc.next() {
					break
				}
			}
			for range 1 + rng.Intn(3) {
				if len(text) > 0 {
					b[text[rng.Intn(len(text))]] = 'a' + byte(rng.Intn(26))
				}
			}
			lines[y] = string(b)
		case 0: // scroll up by 1..2 and append
			k := 1 + rng.Intn(2)
			lines = append(lines[k:], make([]string, k)...)
			for j := h - k; j < h; j++ {
				lines[j] = line()
			}
		case 1: // edit in the middle of a line
			y := rng.Intn(h)
			l := lines[y]
			cuts := []int{0} // token boundaries: never inside a sequence
			for sc := (lineScan{s: l, m: ansi.GraphemeWidth}); sc.next(); {
				cuts = append(cuts, sc.i)
			}
			p := cuts[rng.Intn(len(cuts))]
			lines[y] = l[:p] + words[rng.Intn(len(words))] + l[p:]
		default:
			lines[rng.Intn(h)] = line()
		}
		content := strings.Join(lines, "\n")
		prev := append([]string(nil), lt.r.lines...)
		out := lt.frame(alt(content))
		lt.sameScreen(content)
		if t.Failed() {
			for y := range lines {
				if y < len(prev) && prev[y] != lines[y] {
					t.Logf("row %d: %q -> %q", y, prev[y], lines[y])
				}
			}
			t.Logf("out %q", out)
		}
		if t.Failed() {
			t.Fatalf("frame %d", i)
		}
	}
}

func TestLineRendererScrollsChat(t *testing.T) {
	const w, h = 30, 10
	lt := newLineTerm(t, w, h)
	msgs := make([]string, 0, 100)
	screen := func() string {
		body := make([]string, h-2)
		for i := range body {
			if j := len(msgs) - len(body) + i; j >= 0 {
				body[i] = fmt.Sprintf(bold+"12:00"+rst+" user%d: message %d", j%7, j)
			}
		}
		return red + "#lobby" + rst + "\n" + strings.Join(body, "\n") + "\n> composer"
	}
	for i := range 30 {
		msgs = append(msgs, fmt.Sprint(i))
		out := lt.frame(alt(screen()))
		lt.sameScreen(screen())
		if i > h && !strings.Contains(out, ansi.SetTopBottomMargins(2, h-1)) {
			t.Fatalf("frame %d did not scroll: %q", i, out)
		}
		if i > h && len(out) > 80 {
			t.Fatalf("frame %d: %d bytes for one new line: %q", i, len(out), out)
		}
	}
}

func TestLineRendererResizeAndRaw(t *testing.T) {
	lt := newLineTerm(t, 20, 5)
	lt.frame(alt("one\ntwo\nthree"))
	lt.sameScreen("one\ntwo\nthree")
	// A resize repaints everything.
	lt.emu.Resize(10, 3)
	lt.r.resize(10, 3)
	lt.frame(alt("one\ntwo\nthree"))
	lt.sameScreen("one\ntwo\nthree")
	// Raw writes go out with the next frame, before it.
	_, _ = lt.r.writeString("\a")
	out := lt.frame(alt("one\ntwo\nthree"))
	if !strings.HasPrefix(out, "\a") {
		t.Fatalf("raw write not written first: %q", out)
	}
	// Unchanged view: nothing written.
	if out := lt.frame(alt("one\ntwo\nthree")); out != "" {
		t.Fatalf("unchanged frame wrote %q", out)
	}
}

func TestLineRendererModesAndCursor(t *testing.T) {
	lt := newLineTerm(t, 20, 5)
	v := alt("hi")
	v.Cursor = NewCursor(2, 0)
	out := lt.frame(v)
	for _, want := range []string{ansi.SetModeAltScreenSaveCursor, ansi.SetModeBracketedPaste, ansi.PushKittyKeyboard(1), ansi.SetModeTextCursorEnable} {
		if !strings.Contains(out, want) {
			t.Errorf("first frame lacks %q: %q", want, out)
		}
	}
	if got := lt.emu.CursorPosition(); got.X != 2 || got.Y != 0 {
		t.Errorf("cursor at %v, want 2,0", got)
	}
	v = alt("hi there")
	v.Cursor = NewCursor(8, 0)
	lt.frame(v)
	if got := lt.emu.CursorPosition(); got.X != 8 || got.Y != 0 {
		t.Errorf("cursor at %v, want 8,0", got)
	}
	v.Cursor = nil
	if out := lt.frame(v); !strings.Contains(out, ansi.ResetModeTextCursorEnable) {
		t.Errorf("cursor not hidden: %q", out)
	}
	if err := lt.r.close(); err != nil {
		t.Fatal(err)
	}
	out = lt.out.String()
	for _, want := range []string{ansi.ResetModeAltScreenSaveCursor, ansi.ResetModeBracketedPaste, ansi.PopKittyKeyboard(1), ansi.SetModeTextCursorEnable} {
		if !strings.Contains(out, want) {
			t.Errorf("close lacks %q: %q", want, out)
		}
	}
}

func TestLineRendererDownsamples(t *testing.T) {
	lt := newLineTerm(t, 20, 3)
	lt.r.setColorProfile(colorprofile.ANSI256)
	out := lt.frame(alt(red + "red" + rst))
	if strings.Contains(out, "38;2;") || !strings.Contains(out, "38;5;196") {
		t.Fatalf("not downsampled to 256 colours: %q", out)
	}
}

func TestLineRendererInline(t *testing.T) {
	lt := newLineTerm(t, 20, 6)
	for _, f := range []string{"a\nb", "a\nbb\nc", "x", "x\ny\nz\nw"} {
		lt.frame(NewView(f))
		lt.sameScreen(f)
	}
}

func TestLineDiffSegments(t *testing.T) {
	for _, c := range []struct {
		old, new string
		seg      string // new[start:end]
		col      int
		erase    bool
	}{
		{"hello world", "hello World", "W", 6, false},
		{"hello", "hello!", "!", 5, true},
		{red + "abc" + rst, red + "abd" + rst, "d", 2, false},
		{red + "abc" + rst, "\x1b[38;2;0;0;255mabc" + rst, "\x1b[38;2;0;0;255mabc" + rst, 0, false},
		{"界a", "界b", "b", 2, false},
		{"ab", "a", "", 1, true},
	} {
		start, col, end, erase := lineDiff(c.old, c.new, ansi.GraphemeWidth)
		if got := c.new[start:end]; got != c.seg || col != c.col || erase != c.erase {
			t.Errorf("lineDiff(%q, %q) = %q col %d erase %v, want %q col %d erase %v",
				c.old, c.new, got, col, erase, c.seg, c.col, c.erase)
		}
	}
}

func TestLineRendererSkipsEqualCells(t *testing.T) {
	lt := newLineTerm(t, 40, 2)
	lt.frame(alt("aaaa " + bold + "1234567890" + rst + " bbbb"))
	out := lt.frame(alt("cccc " + bold + "1234567890" + rst + " dddd"))
	lt.sameScreen("cccc " + bold + "1234567890" + rst + " dddd")
	if strings.Contains(out, "123") {
		t.Fatalf("equal cells rewritten: %q", out)
	}
}

// TestLineRendererGraphemeClusters types after clusters whose widths
// terminals disagree on (skin tone, ZWJ family, flag, VS16, CJK, combining
// mark): every frame must match a full repaint, and each multi-code-point
// cluster is followed by an absolute column move, so a terminal that adds
// up wcwidth per code point cannot shift the cells after it.
func TestLineRendererGraphemeClusters(t *testing.T) {
	for _, w := range []int{80, 200} {
		lt := newLineTerm(t, w, 4)
		base := "> skin tone 👍🏽 family 👨\u200d👩\u200d👧 flag 🇺🇸 heart ❤\ufe0f 漢字 e\u0301 "
		var typed string
		for i, r := range "test more" {
			typed += string(r)
			f := "header\n" + base + typed + "\n" + bold + " status line" + rst
			lt.frame(alt(f))
			t.Run(fmt.Sprint(w, "/", i), func(t *testing.T) { lt.t = t; lt.sameScreen(f) })
		}
	}
	var b bytes.Buffer
	resyncClusters(&b, "a👍🏽b", 3)
	if want := "a  " + ansi.CursorHorizontalAbsolute(5) + "👍🏽" + ansi.CursorHorizontalAbsolute(7) + "b"; b.String() != want {
		t.Errorf("resync = %q, want %q", b.String(), want)
	}
	b.Reset()
	resyncClusters(&b, red+"漢"+rst+"x", 0)
	if want := red + "漢" + rst + "x"; b.String() != want {
		t.Errorf("a plain wide character got %q", b.String())
	}
}

// TestLineRendererKeepsNoFrameAlive: the rows it remembers are its own
// copies, so a row left unchanged on screen does not keep the whole content
// of the frame it came from (one per row, at worst) in memory.
func TestLineRendererKeepsNoFrameAlive(t *testing.T) {
	lt := newLineTerm(t, 20, 4)
	content := "header\nline one\nline two\ninput"
	lt.frame(alt(content))
	lo := uintptr(unsafe.Pointer(unsafe.StringData(content)))
	hi := lo + uintptr(len(content))
	for y, l := range lt.r.lines {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(l))); l != "" && p >= lo && p < hi {
			t.Fatalf("row %d %q points into the frame's content", y, l)
		}
	}
}

// sidebarScreen is a chat screen with a sidebar beside the messages: no
// row moves as a whole when a message arrives.
func sidebarScreen(h int, side []string, msgs []string) string {
	rows := []string{red + "#lobby" + rst}
	body := h - 2
	for i := range body {
		var s, m string
		if i < len(side) {
			s = side[i]
		}
		if j := len(msgs) - body + i; j >= 0 {
			m = msgs[j]
		}
		rows = append(rows, fmt.Sprintf("%s%-12s%s│ %s", bold, s, rst, m))
	}
	return strings.Join(append(rows, "> composer"), "\n")
}

// With left/right margins (mode 69 reported) a new message scrolls the
// message pane's columns only; without them the renderer never sends
// DECSLRM (a terminal without margins reads CSI s as "save cursor").
func TestLineRendererScrollsThePaneBesideASidebar(t *testing.T) {
	const w, h = 60, 12
	side := []string{"Online (3)", "alice", "bob", "carol"}
	for _, margins := range []bool{true, false} {
		t.Run(fmt.Sprint("margins=", margins), func(t *testing.T) {
			lt := newLineTerm(t, w, h)
			lt.r.setLeftRightMargins(margins)
			var msgs []string
			for i := range 40 {
				msgs = append(msgs, fmt.Sprintf(bold+"12:00"+rst+" user%d: message %d", i%7, i))
				content := sidebarScreen(h, side, msgs)
				out := lt.frame(alt(content))
				lt.sameScreen(content)
				if t.Failed() {
					t.Fatalf("frame %d: %q", i, out)
				}
				scrolled := strings.Contains(out, ansi.SetModeLeftRightMargin)
				if !margins && strings.Contains(out, ansi.SetModeLeftRightMargin) {
					t.Fatalf("frame %d used margins the terminal did not report: %q", i, out)
				}
				if margins && i > h {
					if !scrolled {
						t.Fatalf("frame %d did not scroll the pane: %q", i, out)
					}
					if len(out) > 140 {
						t.Fatalf("frame %d: %d bytes for one new line: %q", i, len(out), out)
					}
				}
			}
		})
	}
}

// Random sidebar changes, pane scrolls and edits with margins: every frame
// equals a full repaint.
func TestLineRendererColumnScrollRandom(t *testing.T) {
	for seed := range int64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			const w, h = 50, 10
			lt := newLineTerm(t, w, h)
			lt.r.setLeftRightMargins(true)
			side := []string{"Online (2)", "alice", "bob"}
			words := []string{"a", "bb", "界", "é", red + "r" + rst, bold + "B" + rst, "xyz", "  "}
			msg := func() string {
				var sb strings.Builder
				for range 1 + rng.Intn(12) {
					sb.WriteString(words[rng.Intn(len(words))])
				}
				return sb.String()
			}
			var msgs []string
			for i := range 400 {
				switch rng.Intn(6) {
				case 0:
					side[rng.Intn(len(side))] = fmt.Sprint("user", rng.Intn(100))
				case 1:
					if len(msgs) > 0 {
						msgs[len(msgs)-1-rng.Intn(min(3, len(msgs)))] = msg()
					}
				case 2:
					msgs = append(msgs, msg(), msg())
				default:
					msgs = append(msgs, msg())
				}
				content := sidebarScreen(h, side, msgs)
				out := lt.frame(alt(content))
				lt.sameScreen(content)
				if t.Failed() {
					t.Fatalf("frame %d: %q", i, out)
				}
			}
		})
	}
}
