package ui

import (
	"slices"
	"strconv"
	"strings"
	"unicode"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"sshchat/chat"
)

// Composer is the input line: a draft of at most limit characters (runes,
// as chat.MaxMessageLen counts them), edited with the usual readline keys,
// shown scrolled horizontally around the terminal's real cursor (no blink
// ticks: a blinking virtual cursor would cost a render per blink per
// session).
//
// The draft is kept as grapheme clusters with their widths, so a key costs
// O(1) amortised whatever the draft's length: typing appends a cluster
// (re-segmenting only its neighbour, which a combining mark, skin-tone
// modifier or ZWJ may join), and View measures only the clusters on screen.
// Cluster widths are ansi's grapheme widths, the rule the rest of the UI
// (fit, pad, wrap) and the line renderer use.
type Composer struct {
	version
	gs      []glyph // the draft, one entry per grapheme cluster
	pos     int     // cursor: index into gs
	off     int     // first cluster on screen
	runes   int     // runes in gs
	limit   int
	width   int
	focused bool
	st      *Styles
	rev     int  // counts changes of the draft
	refused bool // the last Update refused text over the limit

	view string // cached View; "" after any change
	cur  *tea.Cursor
}

// glyph is one grapheme cluster of the draft.
type glyph struct {
	s     string
	w     int // cells
	runes int
}

const (
	composerPrompt      = "> "
	composerPlaceholder = "type a message or /help"
)

func newComposer(st *Styles, limit int) Composer {
	return Composer{limit: limit, st: st, focused: true}
}

// SetStyles switches the composer to a new style set.
func (c *Composer) SetStyles(st *Styles) { c.st = st; c.redraw() }

// redraw drops the cached view.
func (c *Composer) redraw() {
	c.view = ""
	c.bump()
}

// SetWidth sets the width of the whole line, prompt included.
func (c *Composer) SetWidth(w int) {
	if w != c.width {
		c.width = w
		c.redraw()
	}
}

// SetSize sets the width; the input is one line high.
func (c *Composer) SetSize(w, _ int) { c.SetWidth(w) }

// Len is the draft's length in characters (runes).
func (c *Composer) Len() int { return c.runes }

// Rev changes whenever the draft does.
func (c *Composer) Rev() int { return c.rev }

// Fits reports whether inserting text keeps the draft within the limit.
func (c *Composer) Fits(text string) bool {
	return c.runes+len([]rune(cleanInput(text))) <= c.limit
}

// composerKeys are the editing keys (readline's, as bubbles' textinput
// binds them).
var composerKeys = struct {
	left, right, wordLeft, wordRight, home, end key.Binding
	backspace, del, wordBackspace, wordDel      key.Binding
	killEnd, killStart                          key.Binding
}{
	left:          key.NewBinding(key.WithKeys("left", "ctrl+b")),
	right:         key.NewBinding(key.WithKeys("right", "ctrl+f")),
	wordLeft:      key.NewBinding(key.WithKeys("alt+left", "ctrl+left", "alt+b")),
	wordRight:     key.NewBinding(key.WithKeys("alt+right", "ctrl+right", "alt+f")),
	home:          key.NewBinding(key.WithKeys("home", "ctrl+a")),
	end:           key.NewBinding(key.WithKeys("end", "ctrl+e")),
	backspace:     key.NewBinding(key.WithKeys("backspace", "ctrl+h")),
	del:           key.NewBinding(key.WithKeys("delete", "ctrl+d")),
	wordBackspace: key.NewBinding(key.WithKeys("alt+backspace", "ctrl+w")),
	wordDel:       key.NewBinding(key.WithKeys("alt+delete", "alt+d")),
	killEnd:       key.NewBinding(key.WithKeys("ctrl+k")),
	killStart:     key.NewBinding(key.WithKeys("ctrl+u")),
}

// Update applies a key press or paste. Refused says afterwards whether
// text was refused because the draft would pass the limit (nothing is
// inserted then).
func (c *Composer) Update(msg tea.Msg) tea.Cmd {
	c.refused = !c.update(msg)
	return nil
}

// Refused reports whether the last Update refused text over the limit.
func (c *Composer) Refused() bool { return c.refused }

// update is Update; it reports false when text was refused.
func (c *Composer) update(msg tea.Msg) bool {
	if !c.focused {
		return true
	}
	switch msg := msg.(type) {
	case tea.PasteMsg:
		return c.Insert(msg.Content)
	case tea.KeyPressMsg:
		k := composerKeys
		switch {
		case key.Matches(msg, k.left):
			c.moveTo(c.pos - 1)
		case key.Matches(msg, k.right):
			c.moveTo(c.pos + 1)
		case key.Matches(msg, k.wordLeft):
			c.moveTo(c.wordStart(c.pos))
		case key.Matches(msg, k.wordRight):
			c.moveTo(c.wordEnd(c.pos))
		case key.Matches(msg, k.home):
			c.moveTo(0)
		case key.Matches(msg, k.end):
			c.moveTo(len(c.gs))
		case key.Matches(msg, k.backspace):
			c.delete(c.pos-1, c.pos)
		case key.Matches(msg, k.del):
			c.delete(c.pos, c.pos+1)
		case key.Matches(msg, k.wordBackspace):
			c.delete(c.wordStart(c.pos), c.pos)
		case key.Matches(msg, k.wordDel):
			c.delete(c.pos, c.wordEnd(c.pos))
		case key.Matches(msg, k.killEnd):
			c.delete(c.pos, len(c.gs))
		case key.Matches(msg, k.killStart):
			c.delete(0, c.pos)
		default:
			if msg.Text != "" {
				return c.Insert(msg.Text)
			}
		}
	}
	return true
}

// cleanInput turns tabs and line breaks into blanks and drops the other
// control and format characters (a zero-width joiner stays: it builds
// emoji sequences).
func cleanInput(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == 0x7f || b >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case r < 0x20 || r >= 0x7f && r < 0xa0 || r == 0xfffd:
			return -1
		case r == 0x200d:
			return r
		case unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)
}

// Insert puts text at the cursor, unless the draft would pass the limit:
// then nothing is inserted and Insert reports false.
func (c *Composer) Insert(text string) bool {
	text = cleanInput(text)
	if text == "" {
		return true
	}
	n := 0
	for range text {
		n++
	}
	if c.runes+n > c.limit {
		return false
	}
	// Re-segment the text with its neighbours: it may join either.
	lo, hi := max(c.pos-1, 0), min(c.pos+1, len(c.gs))
	var b strings.Builder
	for _, g := range c.gs[lo:c.pos] {
		b.WriteString(g.s)
	}
	b.WriteString(text)
	cursorAt := b.Len()
	for _, g := range c.gs[c.pos:hi] {
		b.WriteString(g.s)
	}
	segs := segment(b.String())
	newPos, at := lo, 0
	for _, g := range segs {
		if at+len(g.s) > cursorAt {
			break
		}
		at += len(g.s)
		newPos++
	}
	for _, g := range c.gs[lo:hi] {
		c.runes -= g.runes
	}
	for _, g := range segs {
		c.runes += g.runes
	}
	c.gs = replace(c.gs, lo, hi, segs)
	c.pos = newPos
	c.changed()
	return true
}

// replace replaces s[i:j] with v in place when s has room: appending at
// the end (typing) is amortised O(1).
func replace(s []glyph, i, j int, v []glyph) []glyph {
	return slices.Replace(s, i, j, v...)
}

// segment splits s into grapheme clusters.
func segment(s string) []glyph {
	var out []glyph
	for s != "" {
		g, w := ansi.FirstGraphemeCluster(s, ansi.GraphemeWidth)
		if g == "" {
			break
		}
		n := 0
		for range g {
			n++
		}
		out = append(out, glyph{s: g, w: w, runes: n})
		s = s[len(g):]
	}
	return out
}

func (c *Composer) moveTo(p int) {
	p = clampInt(p, 0, len(c.gs))
	if p != c.pos {
		c.pos = p
		c.redraw()
	}
}

func (c *Composer) delete(i, j int) {
	i, j = max(i, 0), min(j, len(c.gs))
	if i >= j {
		return
	}
	for _, g := range c.gs[i:j] {
		c.runes -= g.runes
	}
	c.gs = append(c.gs[:i], c.gs[j:]...)
	if c.pos > j {
		c.pos -= j - i
	} else if c.pos > i {
		c.pos = i
	}
	c.changed()
}

func (c *Composer) blank(i int) bool { return c.gs[i].s == " " }

// wordStart is the start of the word before p (readline's Alt+B).
func (c *Composer) wordStart(p int) int {
	for p > 0 && c.blank(p-1) {
		p--
	}
	for p > 0 && !c.blank(p-1) {
		p--
	}
	return p
}

// wordEnd is the end of the word after p (readline's Alt+F).
func (c *Composer) wordEnd(p int) int {
	for p < len(c.gs) && c.blank(p) {
		p++
	}
	for p < len(c.gs) && !c.blank(p) {
		p++
	}
	return p
}

// WordBeforeCursor returns the word that ends at the cursor (blank
// separated, "" after a blank) and the cluster index where it starts.
func (c *Composer) WordBeforeCursor() (string, int) {
	i := c.pos
	for i > 0 && !c.blank(i-1) {
		i--
	}
	var b strings.Builder
	for _, g := range c.gs[i:c.pos] {
		b.WriteString(g.s)
	}
	return b.String(), i
}

// ReplaceBeforeCursor replaces the clusters from start to the cursor with
// text, the cursor after it, unless the draft would pass the limit (then
// nothing changes and it reports false).
func (c *Composer) ReplaceBeforeCursor(start int, text string) bool {
	start = clampInt(start, 0, c.pos)
	n := 0
	for _, g := range c.gs[start:c.pos] {
		n += g.runes
	}
	if c.runes-n+len([]rune(cleanInput(text))) > c.limit {
		return false
	}
	c.delete(start, c.pos)
	return c.Insert(text)
}

func (c *Composer) changed() {
	c.rev++
	c.redraw()
}

// Value returns the draft.
func (c *Composer) Value() string {
	var b strings.Builder
	for _, g := range c.gs {
		b.WriteString(g.s)
	}
	return b.String()
}

// SetValue replaces the draft, cursor at its end (a message given back, a
// conversation's saved draft, a recalled line). Text past the limit is
// kept: the draft then says it is too long and is not sent.
func (c *Composer) SetValue(s string) {
	c.gs = segment(cleanInput(s))
	c.runes = 0
	for _, g := range c.gs {
		c.runes += g.runes
	}
	c.pos, c.off = len(c.gs), 0
	c.changed()
}

// Reset empties the draft.
func (c *Composer) Reset() {
	c.gs = c.gs[:0]
	c.pos, c.off, c.runes = 0, 0, 0
	c.changed()
}

// Focus moves the keyboard focus to the input.
func (c *Composer) Focus() { c.focused = true; c.redraw() }

// Blur takes the keyboard focus away from the input.
func (c *Composer) Blur() { c.focused = false; c.redraw() }

// counterFrom is how close to the limit a draft must be for the composer to
// show its length.
const counterFrom = 200

// View renders the input line, at most the width set by SetWidth. It costs
// O(width), not O(draft), and is cached between changes, so frames caused
// by incoming messages reuse it.
func (c *Composer) View() string {
	if c.view != "" {
		return c.view
	}
	prompt := c.st.Input.Blurred.Prompt
	if c.focused {
		prompt = c.st.Input.Focused.Prompt
	}
	pw := ansi.StringWidth(composerPrompt)
	counter := ""
	if c.runes > c.limit-counterFrom {
		counter = " " + thousands(c.runes) + "/" + thousands(c.limit)
	}
	// Cells for the draft: one column is kept for the cursor at the end.
	avail := max(1, c.width-pw-1-len(counter))
	if len(c.gs) == 0 {
		c.off = 0
		c.view = fit(prompt.Render(composerPrompt)+c.st.Input.Focused.Placeholder.Render(composerPlaceholder), c.width)
		c.cur = c.cursorAt(pw)
		return c.view
	}
	// Scroll so the cursor is on screen: walk back from it at most avail
	// cells.
	if c.pos < c.off {
		c.off = c.pos
	}
	i, used := c.pos, 0
	for i > c.off && used+c.gs[i-1].w <= avail {
		i--
		used += c.gs[i].w
	}
	if i > c.off {
		c.off = i
	}
	var b strings.Builder
	b.WriteString(prompt.Render(composerPrompt))
	x, w := pw, 0
	for j := c.off; j < len(c.gs) && w+c.gs[j].w <= avail; j++ {
		if j == c.pos {
			x = pw + w
		}
		b.WriteString(c.gs[j].s)
		w += c.gs[j].w
	}
	if c.pos >= len(c.gs) {
		x = pw + w
	}
	if counter != "" {
		p := c.st.pHelp
		if c.runes > c.limit {
			p = c.st.pError
		}
		b.WriteString(strings.Repeat(" ", max(0, avail-w+1)))
		b.WriteString(p.s(counter))
	}
	c.view = fit(b.String(), c.width)
	c.cur = c.cursorAt(x)
	return c.view
}

func (c *Composer) cursorAt(x int) *tea.Cursor {
	if !c.focused {
		return nil
	}
	cur := tea.NewCursor(x, 0)
	cur.Blink = false
	return cur
}

// Cursor is the real cursor's position within the line (nil when blurred).
// The returned cursor is a copy the caller may move.
func (c *Composer) Cursor() *tea.Cursor {
	c.View() // refreshes the cached cursor
	if c.cur == nil {
		return nil
	}
	cur := *c.cur
	return &cur
}

// thousands formats n with comma separators ("2,431").
func thousands(n int) string {
	s := strings.TrimPrefix(strconv.Itoa(n), "-")
	var b strings.Builder
	if n < 0 {
		b.WriteByte('-')
	}
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

// defaultLimit is the composer's character limit.
const defaultLimit = chat.MaxMessageLen
