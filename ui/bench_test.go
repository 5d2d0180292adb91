package ui

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// BenchmarkDeliverMessageInFront is the per-session cost of one lobby
// message in the conversation in front: Update plus View, as the event loop
// runs them (the renderer's diff is Bubble Tea's and is paced by FPS).
func BenchmarkDeliverMessageInFront(b *testing.B) {
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		b.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(b *testing.B) {
			h := newHarness(&testing.T{}, nil)
			h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			for i := range 1000 {
				h.events(chat.MessageEvent{Message: msgAt(i+1, chat.Lobby, bobID, "bob", "warming up the window with a message"), Conversation: chat.Conversation{ID: chat.Lobby}})
			}
			for i := range 50 {
				h.events(chat.PresenceEvent{Presence: chat.Presence{User: chat.UserID(5000 + i), Handle: fmt.Sprintf("user%d", i), Status: chat.Online}})
			}
			h.app.View()
			body := "a typical chat line, about sixty characters long, give or take"
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ev := chat.MessageEvent{Message: msgAt(2000+i, chat.Lobby, bobID, "bob", body), Conversation: chat.Conversation{ID: chat.Lobby}}
				_, _ = h.app.Update(eventsMsg{ev})
				_ = h.app.View()
			}
		})
	}
}

// BenchmarkKeystroke is the cost of typing one character.
func BenchmarkKeystroke(b *testing.B) {
	h := newHarness(&testing.T{}, nil)
	fillScreen(h)
	h.app.composer.Reset()
	h.app.View()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%100 == 0 {
			h.app.composer.Reset()
		}
		_, _ = h.app.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
		_ = h.app.View()
	}
}

// BenchmarkKeystrokeAtDraftLength is the cost of typing one character
// (Update plus View) at the end of drafts of 1 KiB and 16 KiB: it must not
// grow with the draft. The limit is lifted so the long draft can exist.
func BenchmarkKeystrokeAtDraftLength(b *testing.B) {
	for _, n := range []int{1 << 10, 16 << 10} {
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			h := newHarness(&testing.T{}, nil)
			fillScreen(h)
			h.app.composer.limit = 1 << 30
			draft := strings.Repeat("typing along ", n/13+1)[:n]
			h.app.composer.SetValue(draft)
			h.app.View()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%1000 == 999 {
					h.app.composer.SetValue(draft)
				}
				_, _ = h.app.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
				_ = h.app.View()
			}
		})
	}
}

// BenchmarkKeystrokePastTheLimit is the cost of a key refused because the
// draft is full.
func BenchmarkKeystrokePastTheLimit(b *testing.B) {
	h := newHarness(&testing.T{}, nil)
	fillScreen(h)
	h.app.composer.SetValue(strings.Repeat("x", chat.MaxMessageLen))
	h.app.View()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_, _ = h.app.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
		_ = h.app.View()
	}
}

// BenchmarkDeliverMessageToARoomInTheBack is the per-session cost of one
// message in a room not in front, for a user in 200 rooms with 2,000
// people online (the sidebar's counts change; the room keeps no message).
func BenchmarkDeliverMessageToARoomInTheBack(b *testing.B) {
	h := bigSession(&testing.T{})
	h.app.View()
	room := chat.Conversation{ID: "#room-150", Kind: chat.KindRoom, Name: "#room-150"}
	body := "a typical chat line, about sixty characters long, give or take"
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ev := chat.MessageEvent{Message: msgAt(1+i, room.ID, bobID, "bob", body), Conversation: room}
		_, _ = h.app.Update(eventsMsg{ev})
		_ = h.app.View()
	}
}
