package tea

// sshchat fork: a line-based renderer, selected with [WithLineRenderer].
//
// The cursed renderer parses the whole view into a grid of cells on every
// frame and diffs it cell by cell against a second grid. That costs two
// 80×24 grids of large cells per program (≈ 360 KB) and a full parse per
// frame, which dominates a server that runs one program per SSH session.
// The line renderer keeps the previous frame as a slice of line strings
// instead. Unchanged lines cost one string comparison; for a changed line
// it writes only the bytes between the common prefix and the common suffix
// of the old and new line (when that is safe), and when lines moved up by
// k rows (a chat scrolling) it scrolls that region with DECSTBM + index
// instead of repainting it.

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/lucasb-eyer/go-colorful"
)

// lineRenderer is a [renderer] that diffs frames line by line. See the
// comment at the top of this file.
type lineRenderer struct {
	mu sync.Mutex
	w  io.Writer

	width, height int
	profile       colorprofile.Profile
	method        ansi.Method
	syncd         bool // wrap frames in synchronized output (mode 2026)
	lrMargins     bool // the terminal has left/right margins (DECLRMM, mode 69)
	noInput       bool // no keyboard enhancement push/query

	view     View
	lastView *View // nil until the first frame (and after close)

	// lines is what the screen shows, one string per frame row, as last
	// written; valid is false when the screen must be repainted in full.
	lines []string
	valid bool
	// curY is the cursor row relative to the frame's top in inline mode.
	curY int
	// frameH is how many rows of the terminal the inline frame occupies.
	frameH int

	pending bytes.Buffer // sequences queued outside a frame (writeString, mode changes)
	buf     bytes.Buffer // the frame being built
	seg     bytes.Buffer // a line segment before colour downsampling

	// sgrCache maps an SGR sequence to its conversion to profile.
	sgrCache map[string]string
	spans    []span // reused by writeLine
}

var _ renderer = (*lineRenderer)(nil)

// newLineRenderer measures cells by grapheme cluster ([ansi.GraphemeWidth]),
// whatever the terminal reports, so its columns agree with what the
// program measured (lipgloss, ansi.StringWidth); see [resyncClusters] for
// terminals that measure some clusters differently.
func newLineRenderer(w io.Writer, width, height int) *lineRenderer {
	return &lineRenderer{w: w, width: width, height: height, profile: colorprofile.TrueColor, method: ansi.GraphemeWidth}
}

func (r *lineRenderer) setNoInput(v bool) { r.noInput = v }

// start implements renderer. State is rebuilt by the next flush: close
// forgets the last view, so the next frame re-enters every mode.
func (r *lineRenderer) start() {}

// close implements renderer: it restores every mode the frames set.
func (r *lineRenderer) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := &r.buf
	b.Reset()
	b.Write(r.pending.Bytes())
	r.pending.Reset()
	if lv := r.lastView; lv != nil {
		if !r.noInput {
			b.WriteString(ansi.ResetModifyOtherKeys)
			b.WriteString(ansi.PopKittyKeyboard(1))
		}
		b.WriteString(ansi.ResetStyle)
		if lv.AltScreen {
			b.WriteString(ansi.ResetModeAltScreenSaveCursor)
		} else {
			r.moveInline(b, len(r.lines))
			b.WriteString("\r" + ansi.EraseScreenBelow)
		}
		if lv.Cursor == nil {
			b.WriteString(ansi.SetModeTextCursorEnable)
		}
		if !lv.DisableBracketedPasteMode {
			b.WriteString(ansi.ResetModeBracketedPaste)
		}
		if lv.ReportFocus {
			b.WriteString(ansi.ResetModeFocusEvent)
		}
		if lv.MouseMode != MouseModeNone {
			b.WriteString(ansi.ResetModeMouseButtonEvent + ansi.ResetModeMouseAnyEvent + ansi.ResetModeMouseExtSgr)
		}
		if lv.WindowTitle != "" {
			b.WriteString(ansi.SetWindowTitle(""))
		}
		if lc := lv.Cursor; lc != nil {
			if s := encodeCursorStyle(lc.Shape, lc.Blink); s != 0 && s != 1 {
				b.WriteString(ansi.SetCursorStyle(0))
			}
			if lc.Color != nil {
				b.WriteString(ansi.ResetCursorColor)
			}
		}
		if lv.BackgroundColor != nil {
			b.WriteString(ansi.ResetBackgroundColor)
		}
		if lv.ForegroundColor != nil {
			b.WriteString(ansi.ResetForegroundColor)
		}
		if lv.ProgressBar != nil && lv.ProgressBar.State != ProgressBarNone {
			b.WriteString(ansi.ResetProgressBar)
		}
	}
	if r.method == ansi.GraphemeWidth {
		b.WriteString(ansi.ResetModeUnicodeCore)
	}
	r.lastView = nil
	r.valid = false
	r.curY, r.frameH = 0, 0
	return r.write()
}

// write sends r.buf to the output and empties it.
func (r *lineRenderer) write() error {
	if r.buf.Len() == 0 {
		return nil
	}
	_, err := r.w.Write(r.buf.Bytes())
	r.buf.Reset()
	if err != nil {
		return fmt.Errorf("bubbletea: error writing to screen: %w", err)
	}
	return nil
}

// render implements renderer.
func (r *lineRenderer) render(v View) {
	r.mu.Lock()
	r.view = v
	r.mu.Unlock()
}

// reset implements renderer.
func (r *lineRenderer) reset() {
	r.mu.Lock()
	r.lastView = nil
	r.valid = false
	r.pending.Reset()
	r.mu.Unlock()
}

// insertAbove implements renderer. Nothing is printed while the alt screen
// is active (as documented on [Println]); in inline mode the lines are
// written where the frame was and the frame is drawn again below them.
func (r *lineRenderer) insertAbove(s string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s == "" || r.lastView == nil || r.view.AltScreen {
		return nil
	}
	b := &r.buf
	r.moveInline(b, 0)
	b.WriteString("\r" + ansi.EraseScreenBelow)
	for _, l := range strings.Split(s, "\n") {
		b.WriteString(l)
		b.WriteString(ansi.ResetStyle + ansi.EraseLineRight + "\r\n")
	}
	r.curY, r.frameH = 0, 1
	r.valid = false
	return r.write()
}

// setLeftRightMargins says whether the terminal reported mode 69 (DECLRMM):
// then a region of columns can scroll (see scrollColumns).
func (r *lineRenderer) setLeftRightMargins(v bool) {
	r.mu.Lock()
	r.lrMargins = v
	r.mu.Unlock()
}

func (r *lineRenderer) setSyncdUpdates(v bool) {
	r.mu.Lock()
	r.syncd = v
	r.mu.Unlock()
}

// setWidthMethod implements renderer. The line renderer always measures by
// grapheme cluster (see newLineRenderer); a terminal that reports mode 2027
// gets it set, so it clusters too.
func (r *lineRenderer) setWidthMethod(m ansi.Method) {
	r.mu.Lock()
	if m == ansi.GraphemeWidth {
		r.pending.WriteString(ansi.SetModeUnicodeCore)
	}
	r.mu.Unlock()
}

// resize implements renderer: the next frame is a full repaint.
func (r *lineRenderer) resize(w, h int) {
	r.mu.Lock()
	r.width, r.height = w, h
	r.valid = false
	r.mu.Unlock()
}

func (r *lineRenderer) setColorProfile(p colorprofile.Profile) {
	r.mu.Lock()
	if p != r.profile {
		r.sgrCache = nil
	}
	r.profile = p
	r.mu.Unlock()
}

// clearScreen implements renderer: the next frame is a full repaint.
func (r *lineRenderer) clearScreen() {
	r.mu.Lock()
	r.valid = false
	r.mu.Unlock()
}

// writeString implements renderer: str is written before the next frame.
func (r *lineRenderer) writeString(s string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pending.WriteString(s) //nolint:wrapcheck
}

func (r *lineRenderer) onMouse(m MouseMsg) Cmd {
	r.mu.Lock()
	var f func(MouseMsg) Cmd
	if r.lastView != nil {
		f = r.lastView.OnMouse
	}
	r.mu.Unlock()
	if f != nil {
		return f(m)
	}
	return nil
}

// flush implements renderer.
func (r *lineRenderer) flush(closing bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()

	view := r.view
	lv := r.lastView
	if lv != nil && r.valid && r.pending.Len() == 0 && viewEquals(lv, &view) {
		return nil
	}
	if r.width <= 0 || r.height <= 0 {
		return nil
	}
	first := lv == nil
	b := &r.buf
	b.Reset()
	b.Write(r.pending.Bytes())
	r.pending.Reset()

	// Modes. Screen switches first: the cursor and keyboard state that
	// follow belong to the screen we end up on.
	switchScreen := first || lv.AltScreen != view.AltScreen
	if switchScreen {
		if !first && !r.noInput {
			b.WriteString(ansi.ResetModifyOtherKeys + ansi.PopKittyKeyboard(1))
		}
		if view.AltScreen {
			b.WriteString(ansi.SetModeAltScreenSaveCursor)
		} else if !first {
			b.WriteString(ansi.ResetModeAltScreenSaveCursor)
		}
		r.valid = false
		r.curY, r.frameH = 0, 0
	}
	if first || switchScreen || (lv.Cursor == nil) != (view.Cursor == nil) {
		if view.Cursor == nil {
			b.WriteString(ansi.ResetModeTextCursorEnable)
		}
	}
	if first || view.DisableBracketedPasteMode != lv.DisableBracketedPasteMode {
		if !view.DisableBracketedPasteMode {
			b.WriteString(ansi.SetModeBracketedPaste)
		} else if !first {
			b.WriteString(ansi.ResetModeBracketedPaste)
		}
	}
	if (first && view.ReportFocus) || (!first && lv.ReportFocus != view.ReportFocus) {
		if view.ReportFocus {
			b.WriteString(ansi.SetModeFocusEvent)
		} else {
			b.WriteString(ansi.ResetModeFocusEvent)
		}
	}
	if (first && view.MouseMode != MouseModeNone) || (!first && lv.MouseMode != view.MouseMode) {
		switch view.MouseMode {
		case MouseModeNone:
			b.WriteString(ansi.ResetModeMouseButtonEvent + ansi.ResetModeMouseAnyEvent + ansi.ResetModeMouseExtSgr)
		case MouseModeCellMotion:
			b.WriteString(ansi.ResetModeMouseAnyEvent + ansi.SetModeMouseButtonEvent + ansi.SetModeMouseExtSgr)
		case MouseModeAllMotion:
			b.WriteString(ansi.SetModeMouseAnyEvent + ansi.SetModeMouseExtSgr)
		}
	}
	if (first && view.WindowTitle != "") || (!first && lv.WindowTitle != view.WindowTitle) {
		b.WriteString(ansi.SetWindowTitle(view.WindowTitle))
	}
	if !r.noInput && (switchScreen || view.KeyboardEnhancements != lv.KeyboardEnhancements) {
		flags := keyboardEnhancementsFlags(view.KeyboardEnhancements)
		b.WriteString(ansi.SetModifyOtherKeys2)
		if switchScreen {
			b.WriteString(ansi.PushKittyKeyboard(flags))
		} else {
			b.WriteString(ansi.KittyKeyboard(flags, 1))
		}
		if !closing {
			b.WriteString(ansi.RequestKittyKeyboard)
		}
	}
	r.writeColors(b, lv, &view)
	if !first || view.ProgressBar != nil {
		var old *ProgressBar
		if lv != nil {
			old = lv.ProgressBar
		}
		if (old == nil) != (view.ProgressBar == nil) || (old != nil && *old != *view.ProgressBar) {
			pb := view.ProgressBar
			switch {
			case pb == nil || pb.State == ProgressBarNone:
				b.WriteString(ansi.ResetProgressBar)
			case pb.State == ProgressBarDefault:
				b.WriteString(ansi.SetProgressBar(pb.Value))
			case pb.State == ProgressBarError:
				b.WriteString(ansi.SetErrorProgressBar(pb.Value))
			case pb.State == ProgressBarIndeterminate:
				b.WriteString(ansi.SetIndeterminateProgressBar)
			case pb.State == ProgressBarWarning:
				b.WriteString(ansi.SetWarningProgressBar(pb.Value))
			}
		}
	}
	modes := b.Len()

	// Content. Without synchronized output a visible cursor is hidden
	// while lines are written, so it does not fly over the screen.
	hide := !r.syncd && view.Cursor != nil && lv != nil && lv.Cursor != nil && !switchScreen
	if hide {
		b.WriteString(ansi.ResetModeTextCursorEnable)
	}
	lines := r.frameLines(view)
	if view.AltScreen {
		r.drawAlt(b, lines)
	} else {
		r.drawInline(b, lines)
	}
	drew := b.Len() > modes
	if hide && b.Len() == modes+len(ansi.ResetModeTextCursorEnable) {
		b.Truncate(modes)
		hide, drew = false, false
	}

	// Cursor.
	if c := view.Cursor; c != nil {
		if view.AltScreen {
			b.WriteString(ansi.CursorPosition(c.X+1, c.Y+1))
		} else {
			r.moveInline(b, c.Y)
			b.WriteByte('\r')
			if c.X > 0 {
				b.WriteString(ansi.CursorForward(c.X))
			}
		}
		var oc *Cursor
		if lv != nil {
			oc = lv.Cursor
		}
		if oc == nil || oc.Shape != c.Shape || oc.Blink != c.Blink || switchScreen {
			if s := encodeCursorStyle(c.Shape, c.Blink); oc != nil || (s != 0 && s != 1) {
				b.WriteString(ansi.SetCursorStyle(s))
			}
		}
		if first || switchScreen || lv.Cursor == nil || hide {
			b.WriteString(ansi.SetModeTextCursorEnable)
		}
	} else if lv != nil && lv.Cursor != nil {
		if s := encodeCursorStyle(lv.Cursor.Shape, lv.Cursor.Blink); s != 0 && s != 1 {
			b.WriteString(ansi.SetCursorStyle(0))
		}
	}

	r.lastView = &view
	if b.Len() == 0 {
		return nil
	}
	if r.syncd && drew {
		// Wrap the whole update, so the terminal shows it at once.
		out := make([]byte, 0, b.Len()+len(ansi.SetModeSynchronizedOutput)*2)
		out = append(out, ansi.SetModeSynchronizedOutput...)
		out = append(out, b.Bytes()...)
		out = append(out, ansi.ResetModeSynchronizedOutput...)
		b.Reset()
		b.Write(out)
	}
	return r.write()
}

// writeColors writes the terminal colour changes between two views.
func (r *lineRenderer) writeColors(b *bytes.Buffer, lv, v *View) {
	var cc, lcc, lfg, lbg color.Color
	if v.Cursor != nil {
		cc = v.Cursor.Color
	}
	if lv != nil {
		if lv.Cursor != nil {
			lcc = lv.Cursor.Color
		}
		lfg, lbg = lv.ForegroundColor, lv.BackgroundColor
	}
	for _, c := range [...]struct {
		n, o   color.Color
		reset  string
		setter func(string) string
	}{
		{cc, lcc, ansi.ResetCursorColor, ansi.SetCursorColor},
		{v.ForegroundColor, lfg, ansi.ResetForegroundColor, ansi.SetForegroundColor},
		{v.BackgroundColor, lbg, ansi.ResetBackgroundColor, ansi.SetBackgroundColor},
	} {
		if c.n == c.o {
			continue
		}
		if c.n == nil {
			b.WriteString(c.reset)
		} else if col, ok := colorful.MakeColor(c.n); ok {
			b.WriteString(c.setter(col.Hex()))
		}
	}
}

// frameLines splits the view into at most height lines (the bottom ones
// when it is taller, as the cursed renderer does).
func (r *lineRenderer) frameLines(v View) []string {
	if v.Content == "" {
		return nil
	}
	lines := strings.Split(v.Content, "\n")
	if v.AltScreen && len(lines) > r.height {
		lines = lines[:r.height] // the alt screen shows the top
	} else if len(lines) > r.height {
		lines = lines[len(lines)-r.height:]
	}
	for i, l := range lines {
		if strings.IndexByte(l, '\r') >= 0 {
			lines[i] = strings.ReplaceAll(l, "\r", "")
		}
	}
	return lines
}

// drawAlt brings the alt screen from r.lines to lines.
func (r *lineRenderer) drawAlt(b *bytes.Buffer, lines []string) {
	old := r.lines
	if !r.valid {
		b.WriteString(ansi.ResetStyle + ansi.CursorHomePosition + ansi.EraseEntireScreen)
		old = old[:0]
		for range r.height {
			old = append(old, "")
		}
	} else if len(old) != r.height {
		old = resizeLines(old, r.height)
	}
	// With left/right margins a pane beside a fixed column can scroll
	// too, when whole rows do not: the scroll that saves more rows is used.
	rs := findRowScroll(old, lines)
	var cs colScroll
	if r.lrMargins && changedRows(old, lines)-rs.gain > 3 {
		cs = r.findColumnScroll(old, lines)
	}
	if cs.gain > rs.gain {
		r.applyColumnScroll(b, old, lines, cs)
	} else {
		applyRowScroll(b, old, rs)
	}
	for y := range r.height {
		var l string
		if y < len(lines) {
			l = lines[y]
		}
		if l == old[y] {
			continue
		}
		r.writeLine(b, y, old[y], l, true)
		// A copy: the row would otherwise keep its whole frame's content
		// alive for as long as it stays unchanged on screen.
		old[y] = strings.Clone(l)
	}
	r.lines = old
	r.valid = true
}

// resizeLines returns lines with exactly n entries.
func resizeLines(lines []string, n int) []string {
	for len(lines) < n {
		lines = append(lines, "")
	}
	return lines[:n]
}

// changedRows counts the rows that differ between old and lines.
func changedRows(old, lines []string) int {
	n := 0
	for y := range min(len(old), len(lines)) {
		if old[y] != lines[y] {
			n++
		}
	}
	return n + max(len(old), len(lines)) - min(len(old), len(lines))
}

// rowScroll is a scroll of whole rows top..bot up by k, saving gain row
// writes (zero: none worth it).
type rowScroll struct{ k, top, bot, gain int }

// findRowScroll looks for the region whose lines moved up by k rows
// between old and lines, worth scrolling when it saves more rows than it
// costs. Only whole rows can scroll, so this works when the moving lines
// span the full width (see findColumnScroll for a pane beside a sidebar).
func findRowScroll(old, lines []string) rowScroll {
	n := min(len(lines), len(old))
	bestK, bestTop, bestBot, bestGain := 0, 0, 0, 0
	for k := 1; k < n/2+1; k++ {
		runStart, gain := -1, 0
		for i := 0; i <= n-k; i++ {
			if i < n-k && lines[i] == old[i+k] {
				if runStart < 0 {
					runStart, gain = i, 0
				}
				if lines[i] != old[i] {
					gain++
				}
				continue
			}
			if runStart >= 0 && gain > bestGain {
				bestK, bestTop, bestBot, bestGain = k, runStart, i-1+k, gain
			}
			runStart = -1
		}
	}
	if bestGain <= bestK {
		return rowScroll{}
	}
	return rowScroll{bestK, bestTop, bestBot, bestGain}
}

// applyRowScroll scrolls rs (if any) with a scroll region and updates old
// to match the screen.
func applyRowScroll(b *bytes.Buffer, old []string, rs rowScroll) {
	if rs.gain == 0 {
		return
	}
	k, top, bot := rs.k, rs.top, rs.bot
	b.WriteString(ansi.ResetStyle)
	b.WriteString(ansi.SetTopBottomMargins(top+1, bot+1))
	b.WriteString(ansi.CursorPosition(1, bot+1))
	for range k {
		b.WriteByte('\n')
	}
	b.WriteString(ansi.SetTopBottomMargins(0, 0))
	copy(old[top:bot+1-k], old[top+k:bot+1])
	for i := bot + 1 - k; i <= bot; i++ {
		old[i] = ""
	}
}

// colCut is where a row is cut at a column: the byte offset of the cut and
// the hash of the SGR state in force there (see lineScan).
type colCut struct {
	off int
	sgr uint64
	ok  bool // the row has a cut point at that column
}

// cutAt finds the cut point of s at column col: before an ASCII byte or
// an escape sequence, or at the end of the row when it is narrower (the
// cells from there on are blank).
func cutAt(s string, col int, m ansi.Method) colCut {
	sc := lineScan{s: s, m: m, sgr: fnvOffset}
	for {
		if sc.col == col && (sc.i == len(s) || s[sc.i] < 0x80) {
			return colCut{sc.i, sc.sgr, true}
		}
		if sc.col > col || !sc.next() || sc.bad {
			break
		}
	}
	if !sc.bad && sc.i == len(s) && sc.col < col {
		return colCut{len(s), fnvOffset, true}
	}
	return colCut{}
}

// sameRight reports whether rows a and b, cut at ca and cb, show the same
// cells from the cut on.
func sameRight(a string, ca colCut, b string, cb colCut) bool {
	if !ca.ok || !cb.ok {
		return false
	}
	ra, rb := a[ca.off:], b[cb.off:]
	if ra == "" && rb == "" {
		return true
	}
	return ca.sgr == cb.sgr && ra == rb
}

// colScroll is a scroll of the columns from left on, rows top..bot, up by
// k, saving gain row writes (zero: none worth it).
type colScroll struct {
	left, k, top, bot, gain int
	oldCut                  []colCut
}

// findColumnScroll looks for a block of rows whose right-hand part moved
// up, for screens where a fixed column (a sidebar) sits beside a scrolling
// pane, so no whole row moves. Scrolling it needs left/right margins
// (DECLRMM, mode 69, which the terminal reported). The column L where the
// rows start to differ is the smallest first changed column of any
// changed row, so the cells left of L are the same in every row of the
// old and the new frame; it then looks, like scroll, for the block whose
// cells from L on moved up by k rows.
func (r *lineRenderer) findColumnScroll(old, lines []string) colScroll {
	n := min(len(lines), len(old))
	left, changed := r.width, 0
	for y := range n {
		if lines[y] == old[y] {
			continue
		}
		changed++
		_, col, _, _, _ := lineDiffW(old[y], lines[y], r.method, -1)
		left = min(left, col)
	}
	if changed < 3 || left <= 0 || left >= r.width-1 {
		return colScroll{}
	}
	newCut := make([]colCut, n)
	oldCut := make([]colCut, n)
	for y := range n {
		newCut[y] = cutAt(lines[y], left, r.method)
		oldCut[y] = cutAt(old[y], left, r.method)
	}
	bestK, bestTop, bestBot, bestGain := 0, 0, 0, 0
	for k := 1; k < n/2+1; k++ {
		runStart, gain := -1, 0
		for i := 0; i <= n-k; i++ {
			if i < n-k && sameRight(lines[i], newCut[i], old[i+k], oldCut[i+k]) {
				if runStart < 0 {
					runStart, gain = i, 0
				}
				if lines[i] != old[i] {
					gain++
				}
				continue
			}
			if runStart >= 0 && gain > bestGain {
				bestK, bestTop, bestBot, bestGain = k, runStart, i-1+k, gain
			}
			runStart = -1
		}
	}
	// The sequences cost about as much as rewriting two short rows.
	if bestGain <= bestK+2 {
		return colScroll{}
	}
	return colScroll{left: left, k: bestK, top: bestTop, bot: bestBot, gain: bestGain, oldCut: oldCut}
}

// applyColumnScroll scrolls cs (if any) with DECSTBM + DECSLRM and SU, and
// updates old to what the screen then shows.
func (r *lineRenderer) applyColumnScroll(b *bytes.Buffer, old, lines []string, cs colScroll) {
	if cs.gain == 0 {
		return
	}
	k, top, bot, left, oldCut := cs.k, cs.top, cs.bot, cs.left, cs.oldCut
	b.WriteString(ansi.ResetStyle + ansi.SetModeLeftRightMargin)
	b.WriteString(ansi.SetTopBottomMargins(top+1, bot+1))
	b.WriteString(ansi.SetLeftRightMargins(left+1, r.width))
	// SU scrolls the region; the cursor goes inside it first, as some
	// terminals (x/vt) only scroll when it is.
	b.WriteString(ansi.CursorPosition(left+1, top+1))
	b.WriteString(ansi.ScrollUp(k))
	b.WriteString(ansi.SetLeftRightMargins(0, 0) + ansi.ResetModeLeftRightMargin + ansi.SetTopBottomMargins(0, 0))
	for i := top; i <= bot-k; i++ {
		old[i] = strings.Clone(lines[i])
	}
	for i := bot + 1 - k; i <= bot; i++ {
		old[i] = old[i][:oldCut[i].off] + ansi.ResetStyle
	}
}

// drawInline brings the inline frame from r.lines to lines.
func (r *lineRenderer) drawInline(b *bytes.Buffer, lines []string) {
	if !r.valid {
		r.moveInline(b, 0)
		b.WriteString("\r" + ansi.ResetStyle + ansi.EraseScreenBelow)
		r.lines = r.lines[:0]
		r.frameH = max(r.frameH, 1)
	}
	old := r.lines
	for y, l := range lines {
		var o string
		if y < len(old) {
			o = old[y]
		}
		if y < len(old) && l == o {
			continue
		}
		r.moveInline(b, y)
		r.writeLine(b, y, o, l, y < len(old))
	}
	if len(lines) < len(old) {
		// The frame got shorter: erase what is left below it.
		r.moveInline(b, len(lines))
		b.WriteString("\r" + ansi.EraseScreenBelow)
	}
	r.lines = append(r.lines[:0], lines...)
	r.valid = true
}

// moveInline moves the cursor to frame row y in inline mode, growing the
// frame downwards with newlines when y is below it.
func (r *lineRenderer) moveInline(b *bytes.Buffer, y int) {
	switch {
	case y < r.curY:
		b.WriteString(ansi.CursorUp(r.curY - y))
	case y > r.curY:
		down := min(y, r.frameH-1) - r.curY
		if down > 0 {
			b.WriteString(ansi.CursorDown(down))
		}
		for range y - max(r.curY, r.frameH-1) {
			b.WriteString("\r\n")
		}
	}
	r.curY = y
	r.frameH = max(r.frameH, y+1)
}

// span is a part of a line to write: l[start:end], from column col.
type span struct{ start, end, col int }

// minGap is the number of equal cells worth skipping inside a changed
// part: moving the cursor and restating the style cost about that much.
const minGap = 8

// writeLine writes line l at row y, where the screen shows old. When diff
// is true the screen row really shows old, and only the parts of l that
// differ from it are written when that can be done exactly. Between
// segments the terminal's SGR state is the default one: every segment
// that sets attributes ends with a reset.
func (r *lineRenderer) writeLine(b *bytes.Buffer, y int, old, l string, diff bool) {
	r.spans = r.spans[:0]
	eraseRest := true
	w, plain := scanWidth(l, r.method)
	switch {
	case w > r.width:
		// Too wide: the terminal would wrap it. Write it cut to the row.
		l = ansi.Truncate(l, r.width, "")
		w = r.width
		r.spans = append(r.spans, span{0, len(l), 0})
	case diff && old != "":
		nw := -1 // l's width, if it has no sequences but SGR
		if plain {
			nw = w
		}
		start, col, end, erase, sgr := lineDiffW(old, l, r.method, nw)
		eraseRest = erase
		if !erase {
			r.spans = splitSpan(r.spans, old, l, r.method, start, col, end, sgr)
		} else {
			r.spans = append(r.spans, span{start, end, col})
		}
	default:
		// The row is blank (or unknown and about to be erased): skip
		// leading blanks.
		n := 0
		if diff {
			for n < len(l) && l[n] == ' ' {
				n++
			}
		}
		r.spans = append(r.spans, span{n, len(l), n})
	}
	for k, sp := range r.spans {
		last := k == len(r.spans)-1
		if sp.start == sp.end && !(last && eraseRest) {
			continue
		}
		if r.view.AltScreen {
			b.WriteString(ansi.CursorPosition(sp.col+1, y+1))
		} else {
			b.WriteByte('\r')
			if sp.col > 0 {
				b.WriteString(ansi.CursorForward(sp.col))
			}
		}
		// The segment starts with the SGR state in force at its start.
		r.seg.Reset()
		if sp.start > 0 {
			writeActiveSGR(&r.seg, l[:sp.start])
		}
		resyncClusters(&r.seg, l[sp.start:sp.end], sp.col)
		hasEsc := bytes.IndexByte(r.seg.Bytes(), ansi.ESC) >= 0
		if hasEsc {
			r.seg.WriteString(ansi.ResetStyle)
		}
		if r.profile == colorprofile.TrueColor || !hasEsc {
			b.Write(r.seg.Bytes())
		} else {
			r.downsample(b, r.seg.Bytes())
		}
	}
	// A line that fills the row leaves the cursor on the last column
	// (pending wrap), where erasing would erase its last cell.
	if eraseRest && w < r.width {
		b.WriteString(ansi.EraseLineRight)
	}
}

// resyncClusters writes the line segment s, which starts at column col, to
// b. Terminals disagree on the width of some grapheme clusters: a
// skin-toned 👍🏽, a ZWJ family, a flag, ❤️ with VS16 are one 2-cell
// cluster to a terminal that segments graphemes (and to the program), but
// 4, 6, 2 or 1 cells to one that adds up wcwidth per code point. Left
// alone, every cell after such a cluster lands off by the difference until
// the line is repainted (the corrupted input line of issue 7). So each
// cluster of more than one code point, or whose wcwidth differs from its
// grapheme width, is written over blanks of its width and followed by an
// absolute column move (CHA) to where the program expects the next cell:
// the terminal may draw the glyph narrower or clipped, never shift the
// rest. Plain text is copied as is.
func resyncClusters(b *bytes.Buffer, s string, col int) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ansi.ESC:
			j := escEnd(s, i)
			b.WriteString(s[i:j])
			i = j
			continue
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			if c >= ' ' && c != 0x7f {
				col++
			}
			i++
			continue
		}
		g, w := ansi.FirstGraphemeCluster(s[i:], ansi.GraphemeWidth)
		if g == "" {
			b.WriteString(s[i:])
			return
		}
		if w > 0 && (utf8.RuneCountInString(g) > 1 || ansi.StringWidthWc(g) != w) {
			b.WriteString(strings.Repeat(" ", w))
			b.WriteString(ansi.CursorHorizontalAbsolute(col + 1))
			b.WriteString(g)
			b.WriteString(ansi.CursorHorizontalAbsolute(col + w + 1))
		} else {
			b.WriteString(g)
		}
		col += w
		i += len(g)
	}
}

// escEnd is the index after the escape sequence that starts at s[i]: CSI
// up to its final byte, OSC/DCS/APC up to BEL or ST, else the ESC and one
// byte.
func escEnd(s string, i int) int {
	if i+1 >= len(s) {
		return len(s)
	}
	switch s[i+1] {
	case '[':
		j := i + 2
		for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
			j++
		}
		return min(j+1, len(s))
	case ']', 'P', '_', '^', 'X':
		for j := i + 2; j < len(s); j++ {
			if s[j] == ansi.BEL {
				return j + 1
			}
			if s[j] == ansi.ESC && j+1 < len(s) && s[j+1] == '\\' {
				return j + 2
			}
		}
		return len(s)
	}
	return i + 2
}

// splitSpan splits the changed part l[start:end] (at column col; old shows
// cells of the same width there) into the runs of cells that differ,
// leaving out runs of at least minGap equal cells. Cells are compared by
// their bytes and the SGR state in force.
func splitSpan(spans []span, old, l string, m ansi.Method, start, col, end int, sgr uint64) []span {
	oend := len(old) - (len(l) - end)
	sn := lineScan{s: l[:end], m: m, i: start, col: col}
	so := lineScan{s: old[:oend], m: m, i: start, col: col}
	// Both lines share l[:start], so they share its SGR state.
	sn.sgr, so.sgr = sgr, sgr
	cur := span{start: start, end: -1, col: col} // the open run; end < 0 while open
	eq, eqStart := 0, 0                          // equal cells since eqStart
	for {
		sn.skipEsc()
		so.skipEsc()
		if sn.bad || so.bad {
			return append(spans, span{start, end, col})
		}
		if sn.i >= len(sn.s) || so.i >= len(so.s) {
			break
		}
		ni, nc, oi, oc := sn.i, sn.col, so.i, so.col
		switch {
		case nc == oc && sn.sgr == so.sgr:
			sn.next()
			so.next()
			if l[ni:sn.i] == old[oi:so.i] {
				// Equal cells: same bytes, column and style.
				if eq == 0 {
					eqStart = ni
				}
				eq += sn.col - nc
				if eq >= minGap && cur.end < 0 {
					cur.end = eqStart // close the run before the gap
				}
				continue
			}
		case nc == oc:
			sn.next()
			so.next()
		case nc < oc:
			sn.next()
		default:
			so.next()
		}
		// A differing cell. After a gap of equal cells, start a new run
		// only if that costs fewer bytes than rewriting the gap: a cursor
		// move and the style in force here against the gap's bytes.
		eq = 0
		if cur.end >= 0 {
			if splitCost(l[:ni]) < ni-cur.end {
				spans = append(spans, cur)
				cur = span{start: ni, end: -1, col: nc}
			} else {
				cur.end = -1 // merge the gap into the open run
			}
		}
	}
	if cur.end < 0 {
		cur.end = end
	}
	if cur.end > cur.start || len(spans) == 0 {
		spans = append(spans, cur)
	}
	return spans
}

// maxSGRCache bounds [lineRenderer.sgrCache]; a UI uses a few dozen
// distinct styles, so the cache is cleared (rarely) when it fills up.
const maxSGRCache = 128

// downsample writes seg to b with every SGR sequence converted to the
// session's colour profile. Conversions are cached per renderer: the
// colour matching behind them (colorprofile) costs far more than the rest
// of a frame, and a UI repeats the same few styles on every line.
func (r *lineRenderer) downsample(b *bytes.Buffer, seg []byte) {
	for len(seg) > 0 {
		i := bytes.IndexByte(seg, ansi.ESC)
		if i < 0 {
			b.Write(seg)
			return
		}
		b.Write(seg[:i])
		seg = seg[i:]
		j := 1
		if len(seg) > 1 && seg[1] == '[' {
			j = 2
			for j < len(seg) && (seg[j] < 0x40 || seg[j] > 0x7e) {
				j++
			}
			j = min(j+1, len(seg))
		}
		sq := seg[:j]
		seg = seg[j:]
		if sq[len(sq)-1] != 'm' || len(sq) < 3 {
			b.Write(sq)
			continue
		}
		conv, ok := r.sgrCache[string(sq)]
		if !ok {
			var out bytes.Buffer
			cw := colorprofile.Writer{Forward: &out, Profile: r.profile}
			_, _ = cw.Write(sq)
			conv = out.String()
			if r.sgrCache == nil || len(r.sgrCache) >= maxSGRCache {
				r.sgrCache = make(map[string]string)
			}
			r.sgrCache[string(sq)] = conv
		}
		b.WriteString(conv)
	}
}

// styledWidth is the display width of a styled line. It walks the line
// with [lineScan], which counts ASCII without the grapheme machinery and
// measures only the non-ASCII runs.
func styledWidth(s string, m ansi.Method) int {
	w, _ := scanWidth(s, m)
	return w
}

// scanWidth is [styledWidth] that also reports whether s holds no escape
// sequence but SGR (plain), the lines [lineDiff] can compare cell by cell.
func scanWidth(s string, m ansi.Method) (w int, plain bool) {
	sc := lineScan{s: s, m: m}
	for sc.next() {
		if sc.bad {
			return lineWidth(s, m), false
		}
	}
	return sc.col, true
}

// lineWidth is the display width of a styled line.
func lineWidth(s string, m ansi.Method) int {
	if m == ansi.GraphemeWidth {
		return ansi.StringWidth(s)
	}
	return ansi.StringWidthWc(s)
}

// lineScan walks a styled line and reports, at every position where the
// old content may be cut (before an ASCII character or an escape sequence,
// outside escape sequences), the column and a hash of the SGR state in
// force there. ok is false if the line holds an escape sequence other than
// SGR (OSC 8 hyperlinks, for instance), whose state is not tracked.
type lineScan struct {
	s   string
	m   ansi.Method
	i   int    // byte offset of the next token
	col int    // column at i
	sgr uint64 // hash of the SGR sequences since the last reset, at i
	bad bool   // a sequence other than SGR was seen
}

// FNV-1a parameters for the SGR state hash.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// skipEsc advances over escape sequences (zero width) at the scan point.
func (sc *lineScan) skipEsc() {
	for sc.i < len(sc.s) && sc.s[sc.i] == ansi.ESC && !sc.bad {
		sc.next()
	}
}

// next advances over one token (an ASCII character, a run of non-ASCII
// text, or an escape sequence). It returns false at the end of the line.
func (sc *lineScan) next() bool {
	s := sc.s
	i := sc.i
	if i >= len(s) {
		return false
	}
	switch c := s[i]; {
	case c == ansi.ESC:
		j := i + 1
		if j < len(s) && s[j] == '[' {
			j++
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			if j < len(s) && s[j] == 'm' {
				p := s[i+2 : j]
				if p == "" || p == "0" {
					sc.sgr = fnvOffset
				} else {
					h := sc.sgr
					for k := 0; k < len(p); k++ {
						h = (h ^ uint64(p[k])) * fnvPrime
					}
					sc.sgr = (h ^ ';') * fnvPrime
				}
			} else {
				sc.bad = true
			}
			sc.i = min(j+1, len(s))
		} else {
			sc.bad = true
			sc.i = len(s) // give up on this line: no more cut points
		}
	case c < 0x80:
		sc.col++
		sc.i = i + 1
	default:
		j := i + 1
		for j < len(s) && s[j] >= 0x80 {
			j++
		}
		sc.col += lineWidth(s[i:j], sc.m)
		sc.i = j
	}
	return true
}

// lineDiff finds the part of l to write over old: l[start:end] written
// from column col, after the SGR state of l[:start] is restored. eraseRest
// says whether the rest of the row must be rewritten (end is len(l) then,
// followed by erase-to-end-of-line); otherwise the cells after the segment
// already show l[end:].
func lineDiff(old, l string, m ansi.Method) (start, col, end int, eraseRest bool) {
	start, col, end, eraseRest, _ = lineDiffW(old, l, m, -1)
	return start, col, end, eraseRest
}

// lineDiffW is [lineDiff] given l's width from [scanWidth] (-1 if l is not
// plain, or unknown), and also returns the hash of the SGR state at start.
func lineDiffW(old, l string, m ansi.Method, lw int) (start, col, end int, eraseRest bool, sgrAt uint64) {
	n := min(len(old), len(l))
	p := 0
	for p < n && old[p] == l[p] {
		p++
	}
	// Cut the prefix at the last cut point at or before p: before an
	// ASCII byte or an escape sequence of both lines (never before a
	// non-ASCII byte, which may continue the previous grapheme).
	sc := lineScan{s: l, m: m, sgr: fnvOffset}
	sgr := sc.sgr
	for sc.i <= p {
		ok := (sc.i == len(l) || l[sc.i] < 0x80) && (sc.i < p || sc.i == len(old) || old[sc.i] < 0x80)
		if ok {
			start, col, sgr = sc.i, sc.col, sc.sgr
		}
		if !sc.next() || sc.bad {
			break
		}
	}
	// Common suffix, not overlapping the prefix.
	q := 0
	for q < len(l)-start && q < len(old)-start && old[len(old)-1-q] == l[len(l)-1-q] {
		q++
	}
	if q == 0 {
		return start, col, len(l), !sameWidth(old, l, m, lw), sgr
	}
	// Scan both remainders; the suffix may start at a cut point of both
	// lines where the column and the SGR state agree: the cells from there
	// on already show it.
	sn := lineScan{s: l, m: m, i: start, col: col, sgr: sgr}
	so := lineScan{s: old, m: m, i: start, col: col, sgr: sgr}
	for !sn.bad && !so.bad {
		dn, do := len(l)-sn.i, len(old)-so.i
		switch {
		case dn > do:
			sn.next()
			continue
		case do > dn:
			so.next()
			continue
		}
		if dn <= q && sn.col == so.col && sn.sgr == so.sgr && (dn == 0 || l[sn.i] < 0x80) {
			return start, col, sn.i, false, sgr
		}
		if dn == 0 {
			break
		}
		sn.next()
	}
	return start, col, len(l), !sameWidth(old, l, m, lw), sgr
}

// sameWidth reports whether two lines are as wide as each other and
// without sequences other than SGR, so that the cells after the shorter
// one's end are blank in both.
// bw is b's width if known (from [scanWidth] of a plain line), else -1.
func sameWidth(a, b string, m ansi.Method, bw int) bool {
	if bw < 0 {
		w, plain := scanWidth(b, m)
		if !plain {
			return false
		}
		bw = w
	}
	sa := lineScan{s: a, m: m}
	for sa.next() {
		if sa.bad || sa.col > bw {
			return false
		}
	}
	return sa.col == bw
}

// splitCost estimates the bytes a new segment starting after prefix costs:
// a cursor position, the SGR state in force restated, and the reset that
// ends the previous segment.
func splitCost(prefix string) int {
	var b bytes.Buffer
	writeActiveSGR(&b, prefix)
	n := 8 + b.Len()
	if strings.IndexByte(prefix, ansi.ESC) >= 0 {
		n += len(ansi.ResetStyle)
	}
	return n
}

// writeActiveSGR writes the SGR sequences of s that are in force at its
// end (those after the last reset).
func writeActiveSGR(b *bytes.Buffer, s string) {
	from := 0
	for i := 0; i < len(s); i++ {
		if s[i] != ansi.ESC || i+1 >= len(s) || s[i+1] != '[' {
			continue
		}
		j := i + 2
		for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
			j++
		}
		if j < len(s) && s[j] == 'm' {
			if p := s[i+2 : j]; p == "" || p == "0" {
				from = j + 1
			}
		}
		i = j
	}
	for i := from; i < len(s); i++ {
		if s[i] != ansi.ESC || i+1 >= len(s) || s[i+1] != '[' {
			continue
		}
		j := i + 2
		for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
			j++
		}
		if j < len(s) && s[j] == 'm' {
			b.WriteString(s[i : j+1])
		}
		i = j
	}
}
