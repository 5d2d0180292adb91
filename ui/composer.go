package ui

import (
	"unicode/utf8"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// Composer is the input line. It wraps a bubbles textinput limited to
// chat.MaxMessageLen characters and uses the terminal's real cursor (no
// blink ticks: a blinking virtual cursor would cost a render per blink per
// session).
type Composer struct {
	input textinput.Model
	limit int
	width int
	view  string // cached View; "" after any change
	cur   *tea.Cursor
}

func newComposer(st *Styles, limit int) Composer {
	in := textinput.New()
	in.Prompt = "> "
	in.Placeholder = "type a message or /help"
	in.CharLimit = limit
	in.SetStyles(st.Input)
	in.SetVirtualCursor(false)
	in.Focus()
	return Composer{input: in, limit: limit}
}

// SetStyles switches the composer to a new style set.
func (c *Composer) SetStyles(st *Styles) { c.input.SetStyles(st.Input); c.view = "" }

// SetWidth sets the width of the whole line, prompt included.
func (c *Composer) SetWidth(w int) {
	c.width = w
	c.input.SetWidth(max(1, w-len(c.input.Prompt)-1))
	c.view = ""
}

// Fits reports whether pasting text keeps the input within the limit.
func (c *Composer) Fits(text string) bool {
	return utf8.RuneCountInString(c.input.Value())+utf8.RuneCountInString(text) <= c.limit
}

// Update passes a key press or paste to the text input.
func (c *Composer) Update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	c.input, cmd = c.input.Update(msg)
	c.view = ""
	return cmd
}

// Value returns the text typed so far.
func (c *Composer) Value() string { return c.input.Value() }

// SetValue replaces the text (used to give back a message that failed).
func (c *Composer) SetValue(s string) {
	c.input.SetValue(s)
	c.input.CursorEnd()
	c.view = ""
}

// Reset empties the input.
func (c *Composer) Reset() { c.input.Reset(); c.view = "" }

// Focus moves the keyboard focus to the input.
func (c *Composer) Focus() { c.input.Focus(); c.view = "" }

// Blur takes the keyboard focus away from the input.
func (c *Composer) Blur() { c.input.Blur(); c.view = "" }

// View renders the input line, at most the width set by SetWidth; it is
// cached between changes, so frames caused by incoming messages reuse it.
func (c *Composer) View() string {
	if c.view == "" {
		c.view = fit(c.input.View(), c.width)
		c.cur = c.input.Cursor()
	}
	return c.view
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

// defaultLimit is the composer's character limit.
const defaultLimit = chat.MaxMessageLen
