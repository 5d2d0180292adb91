package main

import (
	"io"
	"math"
	"reflect"
	"regexp"
	"unsafe"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
)

// parserDataSize bounds the emulator's buffer for OSC/DCS/APC payloads. vt
// allocates 4 MiB per emulator by default, which is far more than a chat UI
// needs and would dominate the tool's memory at 2,000 sessions.
const parserDataSize = 16 << 10

// screen is one session's emulated terminal plus the incremental token
// scanner. It is owned by a single goroutine (the session's reader), except
// for the query-reply pipe, which is read by the session's reply goroutine.
//
// After every chunk of output it scans only the rows the emulator marked as
// touched, and within each row only the changed cells widened by
// tokenLen-1 on both sides: a token that became complete during this chunk
// must overlap a changed cell. Then it clears the touched marks. So the cost
// per chunk is proportional to what the server redrew, not to the screen.
type screen struct {
	emu *vt.Emulator
	w   int
	h   int

	// row is a reusable buffer holding one byte per cell of the window being
	// scanned (0 for non-ASCII and wide-continuation cells).
	row []byte
	// text is a reusable buffer for the full text of a row (used only until
	// the ready pattern has been seen).
	text []byte

	readyRe *regexp.Regexp
	ready   bool
	// scanAll forces a scan of every row on the next chunk (set when the
	// emulator switches between main and alternate screen, which changes
	// the visible content without touching rows).
	scanAll bool
	// tuned reports whether tuneEmulator could trim the emulator.
	tuned bool
	// curRow is the row being scanned while onToken is called.
	curRow int
}

// newScreen returns a screen of w×h cells that reports ready once readyRe
// matches a row.
func newScreen(w, h int, readyRe *regexp.Regexp) *screen {
	s := &screen{
		emu:     vt.NewEmulator(w, h),
		w:       w,
		h:       h,
		row:     make([]byte, 0, w),
		text:    make([]byte, 0, 4*w),
		readyRe: readyRe,
	}
	s.tuned = tuneEmulator(s.emu)
	s.emu.SetCallbacks(vt.Callbacks{AltScreen: func(bool) { s.scanAll = true }})
	return s
}

// tuneEmulator trims per-emulator memory that a load generator does not need:
// it disables the scrollback of both the main and the alternate screen (vt
// keeps up to 10,000 lines per screen, and a full-screen UI that scrolls its
// message list with DL/SU would fill the alternate screen's scrollback, which
// the public API cannot bound) and shrinks the parser's string buffer.
// It reaches the unexported fields through reflect; if a future vt version
// renames them, it falls back to the public API (main screen scrollback of
// one line) and reports false.
func tuneEmulator(e *vt.Emulator) bool {
	ok := true
	v := reflect.ValueOf(e).Elem()
	if f := v.FieldByName("scrs"); f.IsValid() && f.Type() == reflect.TypeFor[[2]vt.Screen]() {
		scrs := (*[2]vt.Screen)(unsafe.Pointer(f.UnsafeAddr()))
		for i := range scrs {
			scrs[i].SetScrollback(nil)
		}
	} else {
		e.SetScrollbackSize(1)
		ok = false
	}
	if f := v.FieldByName("parser"); f.IsValid() && f.Type() == reflect.TypeFor[*ansi.Parser]() {
		if p := *(**ansi.Parser)(unsafe.Pointer(f.UnsafeAddr())); p != nil {
			p.SetDataSize(parserDataSize)
		}
	} else {
		ok = false
	}
	return ok
}

// replies returns the stream of the emulator's answers to terminal queries
// (DA, DSR/CPR, DECRQM, OSC colour queries...). vt writes them to an
// unbuffered io.Pipe while parsing, so this stream MUST be read
// continuously, or feed blocks forever on the first query.
func (s *screen) replies() io.Reader { return s.emu }

// closeReplies ends the replies stream (the reader sees EOF). It does not use
// Emulator.Close, whose unsynchronised flag would race with the reply reader.
func (s *screen) closeReplies() {
	if pw, ok := s.emu.InputPipe().(*io.PipeWriter); ok {
		_ = pw.Close()
	}
}

// feed writes one chunk of terminal output into the emulator, then scans the
// changed parts of the screen. It calls onToken for each token found (which
// may be a token seen before; deduplication is the caller's job) and reports
// whether the ready pattern was seen for the first time in this chunk.
func (s *screen) feed(p []byte, onToken func(tokenID)) (becameReady bool) {
	_, _ = s.emu.Write(p)
	return s.scan(onToken)
}

// scan examines touched rows and clears the touched marks.
func (s *screen) scan(onToken func(tokenID)) (becameReady bool) {
	touched := s.emu.Touched()
	all := s.scanAll
	s.scanAll = false
	for y := 0; y < s.h; y++ {
		lo, hi := 0, s.w
		if !all {
			if y >= len(touched) || touched[y] == nil || touched[y].FirstCell > touched[y].LastCell {
				continue
			}
			lo = max(0, touched[y].FirstCell-(tokenLen-1))
			hi = min(s.w, touched[y].LastCell+(tokenLen-1))
		}
		if !s.ready && s.readyRe != nil && s.readyRe.Match(s.rowText(y)) {
			s.ready = true
			becameReady = true
		}
		if hi-lo < tokenLen {
			continue
		}
		row := s.row[:0]
		for x := lo; x < hi; x++ {
			row = append(row, s.cellByte(x, y))
		}
		s.row = row
		prevAlnum := lo > 0 && isAlnum(s.cellByte(lo-1, y))
		s.curRow = y
		scanTokens(row, prevAlnum, onToken)
	}
	// Mark every row untouched. Rather than dropping the LineData (which
	// makes vt allocate a new one on the next touch of the row), reset it to
	// an empty range: TouchLine then just widens it again.
	for _, t := range touched {
		if t != nil {
			t.FirstCell, t.LastCell = math.MaxInt, -1
		}
	}
	return becameReady
}

// cellByte returns the cell's content if it is a single ASCII byte, else 0.
func (s *screen) cellByte(x, y int) byte {
	c := s.emu.CellAt(x, y)
	if c == nil || len(c.Content) != 1 {
		return 0
	}
	return c.Content[0]
}

// rowText returns the text of row y (wide-character continuation cells are
// skipped). The returned slice is reused by the next call.
func (s *screen) rowText(y int) []byte {
	t := s.text[:0]
	for x := 0; x < s.w; x++ {
		if c := s.emu.CellAt(x, y); c != nil {
			t = append(t, c.Content...)
		}
	}
	s.text = t
	return t
}

// String returns the visible screen as text (for diagnostics).
func (s *screen) String() string { return s.emu.String() }
