package ui

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"sshchat/chat"
)

func settings(f func(*chat.Settings)) chat.SettingsEvent {
	s := chat.DefaultSettings()
	f(&s)
	return chat.SettingsEvent{Settings: s}
}

// TestSettingsEventAppliesThemeZoneAndClockAtOnce: a SettingsEvent
// switches the palette and redraws message times in the new zone and clock.
func TestSettingsEventAppliesThemeZoneAndClockAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.events(chat.MessageEvent{Message: msgAt(1, chat.Lobby, bobID, "bob", "hello"), Conversation: chat.Conversation{ID: chat.Lobby, Kind: chat.KindRoom}})
	if s := h.screen(); !strings.Contains(s, "09:30 bob: hello") {
		t.Fatalf("before: \n%s", s)
	}
	h.events(settings(func(s *chat.Settings) { s.Theme, s.TZ, s.Clock12 = chat.ThemeLight, "Europe/Paris", true }))
	if h.app.st != h.app.cfg.theme.Light {
		t.Fatal("/theme light did not switch to the light palette")
	}
	if s := h.screen(); !strings.Contains(s, "10:30am bob: hello") {
		t.Fatalf("after /tz Europe/Paris and /clock 12:\n%s", s)
	}
}

// TestThemeAutoFollowsTheTerminalUnlessChosen: with theme auto the
// terminal's reported background picks the palette; /theme dark holds
// whatever the terminal says; a terminal that never answers keeps dark.
func TestThemeAutoFollowsTheTerminalUnlessChosen(t *testing.T) {
	h := newHarness(t, nil)
	if h.app.st != h.app.cfg.theme.Dark {
		t.Fatal("before any answer the palette is not dark")
	}
	h.send(tea.BackgroundColorMsg{Color: lightBG{}})
	if h.app.st != h.app.cfg.theme.Light {
		t.Fatal("a light background did not pick the light palette")
	}
	h.events(settings(func(s *chat.Settings) { s.Theme = chat.ThemeDark }))
	if h.app.st != h.app.cfg.theme.Dark {
		t.Fatal("/theme dark on a light terminal kept the light palette")
	}
	h.events(settings(func(s *chat.Settings) { s.Theme = chat.ThemeAuto }))
	if h.app.st != h.app.cfg.theme.Light {
		t.Fatal("/theme auto did not go back to the terminal's background")
	}
}

type lightBG struct{}

func (lightBG) RGBA() (r, g, b, a uint32) { return 0xffff, 0xffff, 0xffff, 0xffff }

// TestBellOffSilencesDirectMessages: /bell off stops the bell.
func TestBellOffSilencesDirectMessages(t *testing.T) {
	h := newHarness(t, nil)
	h.events(settings(func(s *chat.Settings) { s.Bell = false }))
	h.events(chat.MessageEvent{Message: msgAt(1, dmBob.ID, bobID, "bob", "psst"), Conversation: dmBob})
	if h.bells() != 0 {
		t.Fatalf("bells = %d with /bell off", h.bells())
	}
	h.events(settings(func(s *chat.Settings) {}))
	h.events(chat.MessageEvent{Message: msgAt(2, dmBob.ID, bobID, "bob", "psst again"), Conversation: dmBob})
	if h.bells() != 1 {
		t.Fatalf("bells = %d with /bell on, want 1", h.bells())
	}
}

// TestNoticesOffHidesJoinAndLeaveLines: /notices off drops join lines.
func TestNoticesOffHidesJoinAndLeaveLines(t *testing.T) {
	h := newHarness(t, nil)
	h.events(settings(func(s *chat.Settings) { s.Notices = false }))
	h.events(chat.PresenceEvent{Presence: chat.Presence{User: bobID, Handle: "bob", Status: chat.Online}, Joined: true})
	h.run(func() tea.Msg { return notesTickMsg{} })
	if s := h.screen(); strings.Contains(s, "bob joined") {
		t.Fatalf("join line with /notices off:\n%s", s)
	}
}

// TestHelpOverlayOpensOnQuestionMarkOrF1: ? with an empty composer or F1
// opens the key overlay, any key closes it; ? while typing is text.
func TestHelpOverlayOpensOnQuestionMarkOrF1(t *testing.T) {
	h := newHarness(t, nil)
	h.typeText("?")
	s := h.screen()
	if !strings.Contains(s, "Keys") || !strings.Contains(s, "quick") && !strings.Contains(s, "go to") || !strings.Contains(s, "/set") {
		t.Fatalf("? did not open the overlay:\n%s", s)
	}
	if !strings.Contains(s, "any key closes") {
		t.Fatalf("status line while open:\n%s", s)
	}
	h.press(tea.KeyEscape)
	if h.app.modal != nil {
		t.Fatal("a key did not close the overlay")
	}
	h.press(tea.KeyF1)
	if h.app.modal == nil {
		t.Fatal("F1 did not open the overlay")
	}
	for _, size := range [][2]int{{minWidth, minHeight}, {60, 12}} {
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		lines := strings.Split(h.app.View().Content, "\n")
		for _, l := range lines {
			if w := ansi.StringWidth(l); w > size[0] {
				t.Fatalf("at %v a line is %d wide: %q", size, w, ansi.Strip(l))
			}
		}
		if len(lines) > size[1] {
			t.Fatalf("at %v the overlay takes %d rows", size, len(lines))
		}
	}
	h.send(tea.WindowSizeMsg{Width: sidebarMinWidth, Height: 30})
	h.press(tea.KeyEscape)
	h.typeText("why?")
	if h.app.modal != nil || h.app.composer.Value() != "why?" {
		t.Fatalf("? while typing: modal %v, composer %q", h.app.modal != nil, h.app.composer.Value())
	}
}

// TestStatusLineShowsTheKeysOfTheMode: a narrow status line names three
// keys, the help key among them.
func TestStatusLineShowsTheKeysOfTheMode(t *testing.T) {
	h := newHarness(t, nil)
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	status := func() string {
		lines := strings.Split(h.screen(), "\n")
		return lines[len(lines)-1]
	}
	if last := status(); !strings.Contains(last, "?/F1 keys") || strings.Count(last, "·") != 2 {
		t.Fatalf("composer status line %q", last)
	}
	h.press(tea.KeyEscape) // the sidebar
	if last := status(); !strings.Contains(last, "esc back") || strings.Count(last, "·") != 2 {
		t.Fatalf("sidebar status line %q", last)
	}
	h.press(tea.KeyEscape)
	h.press('k', tea.ModCtrl) // the switcher
	if last := status(); !strings.Contains(last, "esc close") || strings.Count(last, "·") != 2 {
		t.Fatalf("switcher status line %q", last)
	}
}

var osc8re = regexp.MustCompile("\x1b\\]8;;([^\x1b]*)\x1b\\\\([^\x1b]*)\x1b\\]8;;\x1b\\\\")

// TestLinksAreOSC8OnlyAroundParsedURLs: with links on, a URL in a message
// is wrapped in an OSC 8 hyperlink whose target is the URL shown; text
// that tries to smuggle escape sequences never opens a link; with links
// off (or auto on an unknown terminal) there is none.
func TestLinksAreOSC8OnlyAroundParsedURLs(t *testing.T) {
	h := newHarness(t, nil)
	lobby := chat.Conversation{ID: chat.Lobby, Kind: chat.KindRoom}
	h.events(chat.MessageEvent{Message: msgAt(1, chat.Lobby, bobID, "bob", "İ see HTTPS://example.com/a_(b)."), Conversation: lobby})
	if strings.Contains(h.app.View().Content, "\x1b]8;") {
		t.Fatal("a link on a terminal not known to show them (links auto)")
	}
	h.events(settings(func(s *chat.Settings) { s.Links = chat.LinksOn }))
	h.events(chat.MessageEvent{Message: msgAt(2, chat.Lobby, bobID, "bob", "evil \x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ and \x1b]8;;javascript:x\a"), Conversation: lobby})
	out := h.app.View().Content
	got := osc8re.FindAllStringSubmatch(out, -1)
	if len(got) == 0 || got[0][1] != "HTTPS://example.com/a_(b)" || got[0][2] != "HTTPS://example.com/a_(b)" {
		t.Fatalf("links %q", got)
	}
	for _, m := range got {
		if m[1] != m[2] || !strings.HasPrefix(strings.ToLower(m[1]), "http") {
			t.Fatalf("a link whose target is not the URL shown: %q", m)
		}
	}
	if n := strings.Count(out, "\x1b]8;;"); n != 2*len(got) {
		t.Fatalf("%d OSC 8 sequences for %d links: message text opened one", n, len(got))
	}
	h.events(settings(func(s *chat.Settings) { s.Links = chat.LinksOff }))
	if strings.Contains(h.app.View().Content, "\x1b]8;") {
		t.Fatal("/links off left cached links on screen")
	}
}

// TestLinkedURLWrapsWithinTheWidth: a URL longer than the line is linked
// on every line it takes to the whole URL, and the escape sequences do not
// count toward the width.
func TestLinkedURLWrapsWithinTheWidth(t *testing.T) {
	rc := &renderCtx{st: NewStyles(true), loc: time.UTC, links: true}
	url := "https://example.com/" + strings.Repeat("abcdefghij", 6)
	m := msgAt(1, chat.Lobby, bobID, "bob", "look "+url+" now")
	lines := renderMessage(rc, &m, 40)
	if len(lines) < 2 {
		t.Fatalf("not wrapped: %q", lines)
	}
	linked := 0
	for _, l := range lines {
		if w := ansi.StringWidth(l); w > 40 {
			t.Fatalf("line %q is %d cells wide, over 40", l, w)
		}
		for _, g := range osc8re.FindAllStringSubmatch(l, -1) {
			if g[1] != url {
				t.Fatalf("a piece linked to %q, want the whole URL", g[1])
			}
			linked++
		}
	}
	if linked < 2 {
		t.Fatalf("%d pieces linked across %d lines: %q", linked, len(lines), lines)
	}
}

// TestHyperlinkTerminalsAreKnownOnes: links auto only on listed terminals.
func TestHyperlinkTerminalsAreKnownOnes(t *testing.T) {
	for env, want := range map[string]bool{
		"TERM=xterm-kitty": true, "TERM_PROGRAM=WezTerm": true, "TERM=xterm-256color": false,
		"TERM=linux": false, "": false,
	} {
		if got := hyperlinkTerminal([]string{env}); got != want {
			t.Errorf("%q: %v, want %v", env, got, want)
		}
	}
}

// TestPalettesStayLegibleIn16ColoursAndMonochrome captures the marks that
// must stand out (mention, sidebar selection, current conversation, unread
// count, dialog selection, errors) through the 16-colour and the
// monochrome (NO_COLOR, Ascii) profiles, for both palettes: each differs
// from plain text by an attribute, not colour alone; and in 16 colours no
// handle is drawn in the background's own colour.
func TestPalettesStayLegibleIn16ColoursAndMonochrome(t *testing.T) {
	capture := func(p colorprofile.Profile, s string) string {
		var b bytes.Buffer
		w := &colorprofile.Writer{Forward: &b, Profile: p}
		_, _ = w.WriteString(s)
		return b.String()
	}
	for _, dark := range []bool{true, false} {
		st := NewStyles(dark)
		plain := capture(colorprofile.Ascii, st.SideItem.Render("x"))
		marks := map[string]string{
			"mention": st.Mention.Render("x"), "selected": st.SideSelected.Render("x"),
			"current": st.SideCurrent.Render("x"), "unread": st.Unread.Render("x"),
			"dialog": st.DialogSelected.Render("x"), "error": st.Error.Render("x"),
		}
		for name, s := range marks {
			if got := capture(colorprofile.Ascii, s); got == plain || ansi.Strip(got) != "x" {
				t.Errorf("dark=%v: %s is %q in monochrome, like plain text %q", dark, name, got, plain)
			}
		}
		bg := []string{"30", "90"} // black foregrounds on a dark background
		if !dark {
			bg = []string{"37", "97"}
		}
		for i, hs := range st.Handles {
			got := capture(colorprofile.ANSI, hs.Render("x"))
			for _, code := range bg {
				if strings.Contains(got, ";"+code+"m") || strings.Contains(got, "["+code+"m") {
					t.Errorf("dark=%v: handle colour %d is %q in 16 colours: unreadable on the background", dark, i, got)
				}
			}
		}
	}
}

// TestFindURLsTakesOnlyWholeWebAddresses: http and https only, sentence
// punctuation and unbalanced brackets left out, no scheme inside a word.
func TestFindURLsTakesOnlyWholeWebAddresses(t *testing.T) {
	for text, want := range map[string]string{
		"see https://go.dev/doc.":             "https://go.dev/doc",
		"(http://a.example/x_(y))":            "http://a.example/x_(y)",
		"at <https://b.example/?q=1&r=2>, ok": "https://b.example/?q=1&r=2",
		"xhttp://c.example ftp://d.example":   "",
		"https:// alone":                      "",
		"javascript:alert(1) http":            "",
	} {
		var got []string
		for _, r := range findURLs(text) {
			got = append(got, text[r.start:r.end])
		}
		if strings.Join(got, " ") != want {
			t.Errorf("findURLs(%q) = %q, want %q", text, got, want)
		}
	}
}
