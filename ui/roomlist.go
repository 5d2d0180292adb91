package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"sshchat/chat"
)

// roomsPage is how many rooms one Session.Rooms call asks for.
const roomsPage = 50

// roomsPageMsg is the answer to Session.Rooms for the /rooms list.
type roomsPageMsg struct {
	list  *RoomList
	rooms []chat.RoomInfo
	err   error
}

// joinRoomMsg asks the App to open a room picked from the /rooms list:
// switch to it if the user is in it, else join it.
type joinRoomMsg struct{ room chat.RoomInfo }

// RoomList is the /rooms dialog: the public rooms (name, members, online,
// topic), read a page at a time with Session.Rooms as the cursor reaches
// the end. Enter joins the room picked (or opens it when joined already),
// Esc closes.
type RoomList struct {
	*common
	pickList
	sess    chat.Session
	rooms   []chat.RoomInfo
	seen    map[chat.ConvID]bool
	loading bool // a page is being read
	end     bool // no more pages
	failed  string
}

func newRoomList(com *common, sess chat.Session, first []chat.RoomInfo) *RoomList {
	l := &RoomList{common: com, sess: sess, seen: make(map[chat.ConvID]bool)}
	l.add(first)
	return l
}

// add appends the rooms not listed yet and reports how many were new (a
// page that brings none ends the list, whatever the broker's paging key).
func (l *RoomList) add(rooms []chat.RoomInfo) int {
	n := 0
	for _, r := range rooms {
		if !l.seen[r.ID] {
			l.seen[r.ID] = true
			l.rooms = append(l.rooms, r)
			n++
		}
	}
	return n
}

// Hints names the status line's hints while open.
func (l *RoomList) Hints() hintSet { return hintRooms }

// Update moves the cursor (Up, Down, PgUp, PgDn), reading the next page
// when it reaches the end; Enter picks, Esc closes. It also takes the
// pages it asked for.
func (l *RoomList) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case roomsPageMsg:
		if msg.list != l {
			return nil
		}
		l.loading = false
		switch {
		case msg.err != nil:
			l.failed, l.end = userText(msg.err), true
		case l.add(msg.rooms) == 0 || len(msg.rooms) < roomsPage:
			l.end = true
		}
		l.bump()
		return nil
	case tea.KeyPressMsg:
		if l.closed {
			return nil
		}
		switch {
		case key.Matches(msg, l.keys.Back):
			l.closed = true
		case key.Matches(msg, l.keys.Enter):
			if len(l.rooms) == 0 {
				return nil
			}
			l.closed = true
			r := l.rooms[l.sel]
			return func() tea.Msg { return joinRoomMsg{r} }
		}
		if d, ok := l.cursorDelta(l.keys, msg); ok {
			return l.move(d)
		}
	}
	return nil
}

// move moves the cursor; on the last room it reads the next page.
func (l *RoomList) move(delta int) tea.Cmd {
	l.moveBy(delta, len(l.rooms))
	if l.sel < len(l.rooms)-1 || l.end || l.loading || l.sess == nil {
		return nil
	}
	l.loading = true
	l.bump()
	after := ""
	if len(l.rooms) > 0 {
		after = strings.ToLower(l.rooms[len(l.rooms)-1].Name)
	}
	sess, ctx, lg := l.sess, l.cfg.ctx, l.cfg.logger
	return func() tea.Msg {
		rooms, err := sess.Rooms(ctx, after, roomsPage)
		logUnexpected(lg, "rooms", err)
		return roomsPageMsg{list: l, rooms: rooms, err: err}
	}
}

// rows is how many rooms fit on screen.
// View draws the list as at most h lines of at most w cells.
func (l *RoomList) View() string { return l.drawCached(l.lines) }

func (l *RoomList) lines() []string {
	st := l.st
	boxW := min(l.w, 90)
	inner := max(1, boxW-4)
	nameW := 4
	for _, r := range l.rooms {
		nameW = max(nameW, len(r.Name))
	}
	nameW = min(nameW, 24, inner/3)
	avail := l.rows()
	top := clampInt(l.sel-avail/2, 0, max(0, len(l.rooms)-avail))
	var body []string
	for i := top; i < len(l.rooms) && len(body) < avail; i++ {
		r := l.rooms[i]
		info := fmt.Sprintf("%4d %s · %d online", r.Members, plural(r.Members, "member ", "members"), r.Online)
		if r.Joined {
			info += " · joined"
		}
		if t := strings.TrimSpace(safeLine(r.Topic)); t != "" {
			info += " · " + t
		}
		row := pad(safeLine(r.Name), nameW) + " " + info
		if i == l.sel {
			body = append(body, st.DialogSelected.Render(pad("› "+row, inner)))
		} else {
			body = append(body, "  "+st.HandleStyle(r.Name).Render(pad(safeLine(r.Name), nameW))+" "+st.System.Render(fit(info, max(1, inner-3-nameW))))
		}
	}
	switch {
	case l.loading:
		body = append(body, st.System.Render("  loading…"))
	case l.failed != "":
		body = append(body, st.Error.Render(fit("  "+l.failed, inner)))
	case len(l.rooms) == 0:
		body = append(body, st.System.Render("  no public rooms yet: /join #name creates one"))
	}
	if len(body) > avail {
		body = body[len(body)-avail:]
	}
	more := ""
	if !l.end {
		more = "+"
	}
	title := st.DialogTitle.Render("Rooms") + st.System.Render(fmt.Sprintf("  %d%s listed", len(l.rooms), more))
	content := append([]string{fit(title, inner), ""}, body...)
	content = append(content, "", st.System.Render(fit("↑/↓ pick · enter join · esc close", inner)))
	box := lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1).Width(boxW).
		Render(strings.Join(content, "\n"))
	lines := strings.Split(box, "\n")
	left := strings.Repeat(" ", max(0, (l.w-boxW)/2))
	for i := range lines {
		lines[i] = fit(left+lines[i], l.w)
	}
	if len(lines) > l.h {
		lines = lines[:l.h]
	}
	return lines
}
