package ui

import (
	"strings"
	"testing"
	"unsafe"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// TestComponentVersionMovesWithItsView checks the one redraw mechanism:
// a change that alters a component's View moves its Version on, and a
// View without any change in between is the string drawn before.
func TestComponentVersionMovesWithItsView(t *testing.T) {
	h := newHarness(t, nil)
	fillScreen(h)
	a := h.app
	a.dialog = newOfflineDialog(a.common, &a.rc, nil, []chat.OfflineGroup{
		{Conv: "dm:1:2", From: bobID, FromHandle: "bob", Count: 1},
		{Conv: "dm:1:3", From: 3, FromHandle: "carol", Count: 1},
	})
	a.dialog.SetSize(a.w, a.mainRows())
	cases := []struct {
		name   string
		c      Component
		change func()
	}{
		{"status", a.status, func() { a.status.SetError("something broke") }},
		{"sidebar", a.sidebar, func() {
			a.convs[chat.Lobby].info.Unread = 7
			a.sidebar.Touch()
		}},
		{"composer", &a.composer, func() { a.composer.SetValue("hello") }},
		{"dialog", a.dialog, func() { a.dialog.Update(tea.KeyPressMsg{Code: tea.KeyDown}) }},
		{"pane", a.pane, func() {
			a.convs[a.current].addSystem("a new line", entSystem)
			a.pane.Touch()
		}},
	}
	for _, tc := range cases {
		v0, before := tc.c.Version(), tc.c.View()
		if again := tc.c.View(); unsafe.StringData(again) != unsafe.StringData(before) {
			t.Errorf("%s: an unchanged view was drawn again", tc.name)
		}
		tc.change()
		if tc.c.Version() == v0 {
			t.Errorf("%s: the view changed but the version did not", tc.name)
		}
		if tc.c.View() == before {
			t.Errorf("%s: the change did not show", tc.name)
		}
	}
}

// TestUnchangedFrameIsReused checks that App redraws the frame only when
// the version of a part of it moved.
func TestUnchangedFrameIsReused(t *testing.T) {
	h := newHarness(t, nil)
	fillScreen(h)
	f1 := h.app.View().Content
	if f2 := h.app.View().Content; unsafe.StringData(f1) != unsafe.StringData(f2) {
		t.Fatal("a frame with nothing changed was rebuilt")
	}
	h.app.status.SetError("boom")
	if f3 := h.app.View().Content; !strings.Contains(f3, "boom") {
		t.Fatal("a status change did not reach the frame")
	}
}
