package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

func TestEditEventShowsEditedAndDeletedInPlace(t *testing.T) {
	h := newHarness(t, nil)
	lobby := chat.Conversation{ID: chat.Lobby}
	h.events(chat.MessageEvent{Message: msgAt(10, chat.Lobby, bobID, "bob", "helo wrld"), Conversation: lobby})
	h.events(chat.MessageEvent{Message: msgAt(11, chat.Lobby, bobID, "bob", "second line"), Conversation: lobby})
	edited := msgAt(10, chat.Lobby, bobID, "bob", "hello world")
	edited.Edited = time.Date(2026, 1, 2, 9, 31, 0, 0, time.UTC)
	h.events(chat.EditEvent{Message: edited})
	scr := h.screen()
	if !strings.Contains(scr, "hello world (edited)") || strings.Contains(scr, "helo wrld") {
		t.Fatalf("edit not shown in place:\n%s", scr)
	}
	if strings.Index(scr, "hello world") > strings.Index(scr, "second line") {
		t.Fatalf("edited message moved:\n%s", scr)
	}
	gone := msgAt(11, chat.Lobby, bobID, "bob", "")
	gone.Deleted, gone.Edited = true, edited.Edited
	h.events(chat.EditEvent{Message: gone})
	scr = h.screen()
	if !strings.Contains(scr, "bob: message deleted") || strings.Contains(scr, "second line") {
		t.Fatalf("delete not shown in place:\n%s", scr)
	}
}

func TestShiftUpInEmptyComposerOffersYourLastMessageForEdit(t *testing.T) {
	h := newHarness(t, nil)
	h.typeText("my typo")
	h.press(tea.KeyEnter)
	h.press(tea.KeyUp, tea.ModShift)
	if v := h.app.composer.Value(); v != "/edit my typo" {
		t.Fatalf("shift+up gave %q", v)
	}
}

// TestUpInEmptyComposerEditsYourLastMessageThenRecallsLines: Up offers
// "/edit" for the message just sent, Up again the input history, Down
// from the offer clears it; after a command Up recalls the command.
func TestUpInEmptyComposerEditsYourLastMessageThenRecallsLines(t *testing.T) {
	h := newHarness(t, nil)
	h.typeText("my typo")
	h.press(tea.KeyEnter)
	h.press(tea.KeyUp)
	if v := h.app.composer.Value(); v != "/edit my typo" {
		t.Fatalf("Up gave %q, want the edit offer", v)
	}
	h.press(tea.KeyDown)
	if v := h.app.composer.Value(); v != "" {
		t.Fatalf("Down from the offer left %q", v)
	}
	h.press(tea.KeyUp)
	h.press(tea.KeyUp)
	if v := h.app.composer.Value(); v != "my typo" {
		t.Fatalf("Up again gave %q, want the line entered", v)
	}
	// An edited offer is a draft: Up leaves it alone.
	h.app.composer.Reset()
	h.press(tea.KeyUp)
	h.typeText("x")
	h.press(tea.KeyUp)
	if v := h.app.composer.Value(); v != "/edit my typox" {
		t.Fatalf("Up replaced an edited offer: %q", v)
	}
	h.app.composer.Reset()
	h.typeText("/topic hi")
	h.press(tea.KeyEnter)
	h.press(tea.KeyUp)
	if v := h.app.composer.Value(); v != "/topic hi" {
		t.Fatalf("Up after a command gave %q", v)
	}
}
