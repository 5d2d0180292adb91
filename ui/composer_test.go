package ui

import (
	"runtime"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"sshchat/chat"
)

func TestTypingPastTheLimitIsRefusedWithTheCount(t *testing.T) {
	h := newHarness(t, nil)
	h.app.composer.SetValue(strings.Repeat("x", chat.MaxMessageLen-1))
	h.typeText("ab")
	if n := h.app.composer.Len(); n != chat.MaxMessageLen {
		t.Fatalf("draft has %d characters, want the limit %d", n, chat.MaxMessageLen)
	}
	if s := h.screen(); !strings.Contains(s, "message too long: 2,001/2,000 characters") {
		t.Errorf("no reason with the count:\n%s", s)
	}
	if s := h.screen(); !strings.Contains(s, "2,000/2,000") {
		t.Errorf("the composer does not show the length near the limit:\n%s", s)
	}
}

func TestOverLongLineIsNotSentAndSaysSo(t *testing.T) {
	h := newHarness(t, nil)
	h.app.composer.SetValue(strings.Repeat("y", 2431))
	h.press(tea.KeyEnter)
	if got := h.sess.sentBodies(); len(got) != 0 {
		t.Fatalf("sent %d messages", len(got))
	}
	if s := h.screen(); !strings.Contains(s, "line too long: 2,431/2,000 characters") {
		t.Errorf("no reason with the count:\n%s", s)
	}
	if h.app.composer.Len() != 2431 {
		t.Errorf("the draft was changed: %d characters", h.app.composer.Len())
	}
	// Shortened to fit, it goes.
	h.app.composer.SetValue(strings.Repeat("y", chat.MaxMessageLen))
	h.press(tea.KeyEnter)
	if got := h.sess.sentBodies(); len(got) != 1 || len(got[0]) != chat.MaxMessageLen {
		t.Fatalf("sent %d messages", len(got))
	}
}

// TestKeystrokeCostDoesNotGrowWithTheDraft types at the end of a 1 KiB and
// a 16 KiB draft (limit lifted) and compares the bytes allocated per key
// (Update plus View): a per-key copy, sanitising or measuring of the whole
// draft would make the long draft cost 16 times more.
func TestKeystrokeCostDoesNotGrowWithTheDraft(t *testing.T) {
	perKey := func(n int) float64 {
		h := newHarness(t, nil)
		h.app.composer.limit = 1 << 30
		h.app.composer.SetValue(strings.Repeat("typing along ", n/13+1)[:n])
		h.app.View()
		const keys = 300
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range keys {
			_, _ = h.app.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
			_ = h.app.View()
		}
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc-before.TotalAlloc) / keys
	}
	small, large := perKey(1<<10), perKey(16<<10)
	if large > 2*small {
		t.Errorf("a key costs %.0f B at 16 KiB against %.0f B at 1 KiB", large, small)
	}
}

func TestComposerEditingKeys(t *testing.T) {
	h := newHarness(t, nil)
	h.typeText("hello wide world")
	h.press('w', tea.ModCtrl) // delete "world"
	h.press(tea.KeyLeft)
	h.press(tea.KeyBackspace) // delete the e of "wide"
	h.press(tea.KeyHome)
	h.typeText(">")
	h.press(tea.KeyEnd)
	h.typeText("!")
	if got := h.app.composer.Value(); got != ">hello wid !" {
		t.Fatalf("draft = %q", got)
	}
	h.press('u', tea.ModCtrl)
	if got := h.app.composer.Value(); got != "" {
		t.Fatalf("ctrl+u left %q", got)
	}
	// A skin-tone modifier typed after its emoji joins it: one cluster.
	h.typeText("👍🏽")
	if n := len(h.app.composer.gs); n != 1 {
		t.Errorf("👍🏽 is %d clusters", n)
	}
	h.press(tea.KeyBackspace)
	if got := h.app.composer.Value(); got != "" {
		t.Errorf("backspace left %q", got)
	}
}

func TestComposerScrollsAroundTheCursorByClusterWidths(t *testing.T) {
	c := newComposer(NewStyles(true), 1000)
	c.SetWidth(20) // "> " + 17 cells + one for the cursor
	c.Insert(strings.Repeat("漢", 30) + "end")
	if v := ansi.Strip(c.View()); !strings.HasSuffix(v, "end") || ansi.StringWidth(v) > 20 {
		t.Fatalf("end of the draft not shown: %q", v)
	}
	if x := c.Cursor().X; x != ansi.StringWidth(ansi.Strip(c.View())) {
		t.Errorf("cursor at %d after %q", x, ansi.Strip(c.View()))
	}
	c.Update(tea.KeyPressMsg{Code: tea.KeyHome})
	if v := ansi.Strip(c.View()); !strings.HasPrefix(v, "> 漢漢") || c.Cursor().X != 2 {
		t.Fatalf("start not shown: %q, cursor %d", v, c.Cursor().X)
	}
	c.Update(tea.KeyPressMsg{Code: tea.KeyRight})
	c.Insert("x") // in the middle
	if got := c.Value(); !strings.HasPrefix(got, "漢x漢") || c.Len() != 34 {
		t.Fatalf("middle insert: %q (%d)", got[:10], c.Len())
	}
	if c.Cursor().X != 2+2+1 {
		t.Errorf("cursor at %d, want 5", c.Cursor().X)
	}
}
