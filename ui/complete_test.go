package ui

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

func TestTabCompletesTheMentionAndCyclesItsCandidates(t *testing.T) {
	online := []chat.Presence{
		{User: bobID, Handle: "bob", Status: chat.Online},
		{User: 41, Handle: "Bobby", Status: chat.Away},
		{User: 42, Handle: "carol", Status: chat.Online},
	}
	contacts := []chat.Contact{{Presence: chat.Presence{User: 43, Handle: "bodil"}}, {Presence: chat.Presence{User: bobID, Handle: "bob"}}}
	h := newHarness(t, roomsBroker([]chat.Conversation{roomConv("#ops")}, contacts, online))
	h.events(chat.MessageEvent{Message: msgAt(1, chat.Lobby, 44, "boris", "hello"), Conversation: lobbyConv},
		chat.MessageEvent{Message: msgAt(2, chat.Lobby, 45, "bo", "hi"), Conversation: lobbyConv})
	h.typeText("hi @BO")
	var got []string
	for range 6 {
		h.press(tea.KeyTab)
		got = append(got, h.app.composer.Value())
	}
	want := []string{"hi @bob", "hi @Bobby", "hi @bodil", "hi @bo", "hi @boris", "hi @bob"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("tab %d: %q (all: %q), want %q", i+1, got[i], got, want[i])
		}
	}
	if h.app.current != chat.Lobby {
		t.Fatalf("tab switched to %s while completing", h.app.current)
	}
	// Typing ends the cycle; after a blank Tab switches conversations again.
	h.typeText(" see")
	h.press(tea.KeyTab)
	if h.app.current != "#ops" {
		t.Fatalf("tab after a plain word stayed in %s", h.app.current)
	}
	// A word in the middle of the line completes where the cursor is.
	h.typeText("@car and more")
	for range 9 {
		h.press(tea.KeyLeft)
	}
	h.press(tea.KeyTab)
	if v := h.app.composer.Value(); v != "@carol and more" || h.app.current != "#ops" {
		t.Fatalf("mid-line completion: %q in %s", v, h.app.current)
	}
	// Nobody by that name: said so, Tab does not switch.
	h.app.composer.Reset()
	h.typeText("@zed")
	h.press(tea.KeyTab)
	if h.app.current != "#ops" || h.app.composer.Value() != "@zed" || h.app.status.Text() == "" {
		t.Fatalf("no candidate: current %s, input %q, status %q", h.app.current, h.app.composer.Value(), h.app.status.Text())
	}
}

func TestCompletionNeverOffersMyOwnHandle(t *testing.T) {
	h := newHarness(t, nil)
	h.typeText("@ali")
	h.press(tea.KeyTab)
	if v := h.app.composer.Value(); v != "@ali" {
		t.Fatalf("completed to %q", v)
	}
}
