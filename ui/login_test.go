package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

func TestLoginScreenLinksAKeyToAnAccountWithACode(t *testing.T) {
	b := newFakeBroker()
	if _, err := b.Register(context.Background(), chat.Key{Fingerprint: "SHA256:laptop"}, "alice"); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, b: b}
	h.app = newApp(appConfig{
		broker: b, serverName: "testchat", key: chat.Key{Fingerprint: "SHA256:desktop"},
		wanted: "link", loginReason: "This key has no account yet.", loginLink: true, loc: time.UTC,
		quitDelay: time.Millisecond, markDelay: time.Millisecond, statusTTL: time.Millisecond,
	})
	h.send(tea.WindowSizeMsg{Width: sidebarMinWidth, Height: 30})
	h.run(h.app.Init())
	if s := h.screen(); !strings.Contains(s, "handle and code:") || !strings.Contains(s, "/keys link") {
		t.Fatalf("link screen:\n%s", s)
	}
	h.typeText("alice")
	h.press(tea.KeyEnter)
	if s := h.screen(); !strings.Contains(s, "Type your handle and the code") || h.app.phase != phaseLogin {
		t.Fatalf("a missing code is not explained inline:\n%s", s)
	}
	h.typeText(" WRONG")
	h.press(tea.KeyEnter)
	if s := h.screen(); !strings.Contains(s, "wrong or expired link code") || h.app.phase != phaseLogin {
		t.Fatalf("a wrong code is not refused inline:\n%s", s)
	}
	// Tab goes to choosing a handle and back.
	h.press(tea.KeyTab)
	if s := h.screen(); !strings.Contains(s, "handle: ") || strings.Contains(s, "handle and code:") {
		t.Fatalf("Tab does not switch to choosing a handle:\n%s", s)
	}
	h.press(tea.KeyTab)
	h.typeText("alice GOODCODE01")
	h.press(tea.KeyEnter)
	if h.app.phase != phaseChat || h.app.me.Handle != "alice" {
		t.Fatalf("phase=%v me=%+v", h.app.phase, h.app.me)
	}
}
