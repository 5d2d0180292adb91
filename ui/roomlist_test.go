package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"sshchat/chat"
)

func TestRoomsReplyListsRoomsPagesToTheEndAndJoins(t *testing.T) {
	b := roomsBroker([]chat.Conversation{roomConv("#r007")}, nil, nil)
	for i := range 120 {
		name := fmt.Sprintf("#r%03d", i)
		b.rooms = append(b.rooms, chat.RoomInfo{ID: chat.ConvID(name), Name: name, Topic: "topic of " + name,
			Members: i + 1, Online: i % 5, Joined: name == "#r007"})
	}
	b.onConnect = func(s *fakeSession) {
		s.execFn = func(_ chat.ConvID, line string) (chat.Reply, error) {
			if line != "/rooms" {
				return chat.Reply{}, nil
			}
			first, err := s.Rooms(context.Background(), "", roomsPage)
			return chat.Reply{Rooms: first}, err
		}
	}
	h := newHarness(t, b)
	h.send(tea.WindowSizeMsg{Width: 120, Height: 30})
	listRooms := func() *RoomList {
		t.Helper()
		h.typeText("/rooms")
		h.press(tea.KeyEnter)
		l, ok := h.app.modal.(*RoomList)
		if !ok {
			t.Fatalf("/rooms opened %T", h.app.modal)
		}
		return l
	}
	l := listRooms()
	s := h.screen()
	for _, want := range []string{"Rooms", "50+ listed", "#r000", "1 member  · 0 online · topic of #r000", "#r007", "joined"} {
		if !strings.Contains(s, want) {
			t.Fatalf("list lacks %q:\n%s", want, s)
		}
	}
	for range 200 {
		h.press(tea.KeyDown)
	}
	if len(l.rooms) != 120 || !l.end || l.rooms[119].Name != "#r119" {
		t.Fatalf("paged to %d rooms (end %v)", len(l.rooms), l.end)
	}
	h.sess.mu.Lock()
	calls := slices.Clone(h.sess.roomsAt)
	h.sess.mu.Unlock()
	if want := []string{"", "#r049", "#r099"}; !slices.Equal(calls, want) {
		t.Fatalf("Rooms called after %q, want %q", calls, want)
	}
	if !strings.Contains(h.screen(), "#r119") || !strings.Contains(h.screen(), "120 listed") {
		t.Fatalf("the end is not on screen:\n%s", h.screen())
	}
	// Enter on a room not joined runs /join; the list closes.
	for range 59 {
		h.press(tea.KeyUp)
	}
	h.press(tea.KeyEnter)
	_, execs, _, _, _ := h.sess.calls()
	if h.app.modal != nil || execs[len(execs)-1].text != "/join #r060" {
		t.Fatalf("enter ran %q", execs[len(execs)-1].text)
	}
	// Enter on a room joined already brings it to the front.
	l = listRooms()
	for range 7 {
		h.press(tea.KeyDown)
	}
	n := len(execs)
	h.press(tea.KeyEnter)
	_, execs, _, _, _ = h.sess.calls()
	if h.app.current != "#r007" || len(execs) != n+1 {
		t.Fatalf("current %s, execs %d→%d", h.app.current, n, len(execs))
	}
	// Esc closes without running anything.
	listRooms()
	h.press(tea.KeyEscape)
	if _, e, _, _, _ := h.sess.calls(); h.app.modal != nil || len(e) != len(execs)+1 {
		t.Fatalf("esc: modal %T, execs %d", h.app.modal, len(e))
	}
}

func TestSwitcherAndRoomListFitTheTerminalAtEverySize(t *testing.T) {
	rooms := make([]chat.RoomInfo, 0, 60)
	for i := range 60 {
		name := fmt.Sprintf("#a-rather-long-room-name-%02d", i)
		rooms = append(rooms, chat.RoomInfo{ID: chat.ConvID(name), Name: name, Topic: strings.Repeat("topic ", 30), Members: 1000 + i})
	}
	for _, size := range [][2]int{{80, 24}, {200, 50}, {59, 24}, {20, 5}, {500, 200}, {100, 6}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			var convs []chat.Conversation
			for _, r := range rooms {
				convs = append(convs, roomConv(r.Name))
			}
			h := newHarness(t, roomsBroker(convs, nil, nil))
			h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			check := func(what string) {
				t.Helper()
				lines := strings.Split(h.app.View().Content, "\n")
				if len(lines) != size[1] {
					t.Errorf("%s: %d lines, want %d", what, len(lines), size[1])
				}
				for i, l := range lines {
					if w := ansi.StringWidth(l); w > size[0] {
						t.Errorf("%s: line %d is %d wide (max %d): %q", what, i, w, size[0], ansi.Strip(l))
					}
				}
			}
			openSwitcher(h)
			check("switcher")
			for range 70 {
				h.press(tea.KeyDown)
			}
			check("switcher at the end")
			h.press(tea.KeyEscape)
			h.app.openModal(newRoomList(h.app.common, h.sess, rooms))
			check("rooms")
			for range 70 {
				h.press(tea.KeyDown)
			}
			check("rooms at the end")
		})
	}
}
