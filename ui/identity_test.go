package ui

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// TestShownMessagesFollowTheirAuthorsRename checks that a rename re-labels
// the author's messages already on screen (their old handle may pass to
// someone else) and that a rename on record in history shows as a system
// line.
func TestShownMessagesFollowTheirAuthorsRename(t *testing.T) {
	h := newHarness(t, newFakeBroker())
	h.events(chat.MessageEvent{Message: msgAt(10, chat.Lobby, bobID, "rca", "send payments to account 999"), Conversation: chat.Conversation{ID: chat.Lobby}})
	if s := h.screen(); !strings.Contains(s, "rca: send payments") {
		t.Fatalf("message not shown:\n%s", s)
	}
	h.events(chat.PresenceEvent{Presence: chat.Presence{User: bobID, Handle: "rca_away", Status: chat.Online}, OldHandle: "rca"})
	s := h.screen()
	if strings.Contains(s, "rca: send payments") || !strings.Contains(s, "rca_away: send payments") {
		t.Fatalf("old message not re-labelled after the rename:\n%s", s)
	}
	rename := msgAt(11, chat.Lobby, bobID, "rca_away", "rca is now known as rca_away")
	rename.Kind = chat.KindRename
	h.events(chat.MessageEvent{Message: rename, Conversation: chat.Conversation{ID: chat.Lobby}})
	if s := h.screen(); strings.Contains(s, "rca_away: rca is now") {
		t.Fatalf("rename on record shown as a message:\n%s", s)
	}
}

// TestStorageFailureIsToldAndNeverMergesLines checks the UI's part of issue
// 7 item 11: a line the server could not store is reported in words, does
// not merge into what the user typed meanwhile, and Up on the empty input
// recalls it.
func TestStorageFailureIsToldAndNeverMergesLines(t *testing.T) {
	h := newHarness(t, newFakeBroker())
	h.typeText("second draft")
	h.send(sentMsg{item: outItem{conv: chat.Lobby, text: "first", typed: "first"},
		err: fmt.Errorf("%w; your message was not sent", chat.ErrStorageUnavailable)})
	lines := strings.Split(h.screen(), "\n")
	// A long status wraps to two lines at the bottom.
	status := strings.Join(strings.Fields(strings.Join(lines[len(lines)-2:], " ")), " ")
	if !strings.Contains(status, "the server cannot store anything right now; your message was not sent") {
		t.Errorf("status lines = %q", lines[len(lines)-2:])
	}
	if got := h.app.composer.Value(); got != "second draft" {
		t.Fatalf("input = %q, want the new typing alone", got)
	}
	h.press(tea.KeyEnter) // sends "second draft"
	h.press(tea.KeyUp)
	if got := h.app.composer.Value(); got != "first" {
		t.Fatalf("Up on the empty input gave %q, want the unsent line", got)
	}
}

// TestUnsentLineStaysInItsConversation checks that a direct message that
// could not be stored, failing after the user moved to the lobby, is never
// put into the lobby's input (where Enter would post it to everyone), by
// itself or by Up; Up in its own conversation recalls it.
func TestUnsentLineStaysInItsConversation(t *testing.T) {
	h := newHarness(t, newFakeBroker())
	h.app.ensureConv(dmBob)
	storageErr := fmt.Errorf("%w; your message was not sent", chat.ErrStorageUnavailable)
	secret := "my door code is 4711"

	// The input is empty when the failure arrives.
	h.send(sentMsg{item: outItem{conv: dmBob.ID, text: secret, typed: secret}, err: storageErr})
	if got := h.app.composer.Value(); got != "" {
		t.Fatalf("lobby input = %q after a direct message failed", got)
	}
	h.press(tea.KeyUp)
	if got := h.app.composer.Value(); got != "" {
		t.Fatalf("Up in the lobby gave %q, a line meant for bob", got)
	}

	// The input holds new typing when the failure arrives.
	h.typeText("hello all")
	h.send(sentMsg{item: outItem{conv: dmBob.ID, text: "second", typed: "second"}, err: storageErr})
	h.press(tea.KeyEnter) // sends "hello all" to the lobby
	// Up walks the lobby's own lines, never bob's (the first Up offers to
	// edit the message just sent: edit.go).
	for range 3 {
		h.press(tea.KeyUp)
		if got := h.app.composer.Value(); got != "hello all" && got != "/edit hello all" {
			t.Fatalf("Up in the lobby gave %q, want only the lobby's own line", got)
		}
	}
	if got := h.app.composer.Value(); got != "hello all" {
		t.Fatalf("Up in the lobby ended at %q", got)
	}
	h.app.composer.Reset()

	h.run(h.app.switchTo(dmBob.ID))
	for _, want := range []string{"second", secret} {
		h.press(tea.KeyUp)
		if got := h.app.composer.Value(); got != want {
			t.Fatalf("Up in bob's conversation gave %q, want %q", got, want)
		}
		h.app.composer.Reset()
	}
}

// TestLineNotStoredDoesNotMergeWithTheNextOne replays issue 7 item 11's
// merge: the storage refusal comes late (after the busy timeout), while
// the input is empty; the user, taking the line for sent, types the next
// one. It must start a line of its own, and Up recalls the unsent one.
func TestLineNotStoredDoesNotMergeWithTheNextOne(t *testing.T) {
	h := newHarness(t, newFakeBroker())
	h.send(sentMsg{item: outItem{conv: chat.Lobby, text: "first", typed: "first"},
		err: fmt.Errorf("%w; your message was not sent", chat.ErrStorageUnavailable)})
	if s := h.screen(); !strings.Contains(s, "your message was not sent") {
		t.Fatalf("refusal not shown:\n%s", s)
	}
	h.typeText("second")
	if got := h.app.composer.Value(); got != "second" {
		t.Fatalf("input = %q, want the new line alone", got)
	}
	h.press(tea.KeyEnter)
	h.press(tea.KeyUp)
	if got := h.app.composer.Value(); got != "first" {
		t.Fatalf("Up on the empty input gave %q, want the unsent line", got)
	}
}
