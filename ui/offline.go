package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"sshchat/chat"
)

// offlinePerGroup is how many messages of a group the dialog shows.
const offlinePerGroup = 3

// OfflineDialog is the "While you were away" overlay: the messages that
// arrived while the user was offline, grouped by sender.
type OfflineDialog struct {
	*common
	version
	rc     *renderCtx   // styles and the client's time zone
	sess   chat.Session // told once when the dialog is closed
	groups []chat.OfflineGroup
	sel    int
	closed bool // Esc or Enter closed it
	picked bool // Enter closed it: open the conversation of selected
	w, h   int
	view   string // drawn at version drawn
	drawn  uint64
}

// dismissedMsg is the answer to DismissOffline.
type dismissedMsg struct{ err error }

func newOfflineDialog(com *common, rc *renderCtx, sess chat.Session, groups []chat.OfflineGroup) *OfflineDialog {
	return &OfflineDialog{common: com, rc: rc, sess: sess, groups: groups}
}

// SetSize sets the area the dialog is centred in.
func (d *OfflineDialog) SetSize(w, h int) {
	if w != d.w || h != d.h {
		d.w, d.h = w, h
		d.bump()
	}
}

// Update moves the cursor with the Up and Down keys; Esc closes the
// dialog and Enter closes it picking the group under the cursor. Closing
// tells the broker the messages were seen.
func (d *OfflineDialog) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok || d.closed {
		return nil
	}
	switch {
	case key.Matches(k, d.keys.Up):
		d.move(-1)
	case key.Matches(k, d.keys.Down):
		d.move(1)
	case key.Matches(k, d.keys.Back):
		return d.close(false)
	case key.Matches(k, d.keys.Enter):
		return d.close(true)
	}
	return nil
}

// close closes the dialog and tells the broker.
func (d *OfflineDialog) close(picked bool) tea.Cmd {
	d.closed, d.picked = true, picked
	d.bump()
	if d.sess == nil {
		return nil
	}
	sess, ctx, lg := d.sess, d.cfg.ctx, d.cfg.logger
	return func() tea.Msg {
		err := sess.DismissOffline(ctx)
		logUnexpected(lg, "dismiss offline", err)
		return dismissedMsg{err: err}
	}
}

// move moves the cursor by delta groups.
func (d *OfflineDialog) move(delta int) {
	if sel := clampInt(d.sel+delta, 0, len(d.groups)-1); sel != d.sel {
		d.sel = sel
		d.bump()
	}
}

// selected returns the group under the cursor.
func (d *OfflineDialog) selected() chat.OfflineGroup { return d.groups[d.sel] }

// View renders the dialog as at most h lines of at most w cells.
func (d *OfflineDialog) View() string {
	if d.drawn == d.Version() && d.view != "" {
		return d.view
	}
	d.view, d.drawn = strings.Join(d.lines(), "\n"), d.Version()
	return d.view
}

// summary counts the groups for the title: "5 messages from 2 people ·
// 3 mentions in 1 room".
func (d *OfflineDialog) summary() string {
	var msgs, people, ments, rooms int
	for _, g := range d.groups {
		n := max(g.Count, len(g.Messages))
		if g.Room {
			ments += n
			rooms++
		} else {
			msgs += n
			people++
		}
	}
	var parts []string
	if people > 0 {
		parts = append(parts, fmt.Sprintf("%d %s from %d %s", msgs, plural(msgs, "message", "messages"), people, plural(people, "person", "people")))
	}
	if rooms > 0 {
		parts = append(parts, fmt.Sprintf("%d %s in %d %s", ments, plural(ments, "mention", "mentions"), rooms, plural(rooms, "room", "rooms")))
	}
	return strings.Join(parts, " · ")
}

func (d *OfflineDialog) lines() []string {
	rc, w, h := d.rc, d.w, d.h
	st := rc.st
	boxW := min(w, 72)
	inner := max(1, boxW-4) // border + one blank each side
	// Build the body with each group's first line index, then scroll so
	// the picked group is on screen.
	var body []string
	starts := make([]int, len(d.groups))
	for i, g := range d.groups {
		starts[i] = len(body)
		n := max(g.Count, len(g.Messages))
		who := g.FromHandle
		head := fmt.Sprintf("%s — %d %s", safeLine(g.FromHandle), n, plural(n, "message", "messages"))
		if g.Room {
			who = g.Name
			head = fmt.Sprintf("%d %s in %s", n, plural(n, "mention", "mentions"), safeLine(g.Name))
		}
		if i == d.sel {
			head = st.DialogSelected.Render(pad("› "+head, inner))
		} else {
			head = "  " + st.HandleStyle(who).Render(fit(head, inner-2))
		}
		body = append(body, head)
		msgs := g.Messages
		if len(msgs) > offlinePerGroup {
			body = append(body, st.System.Render(fit(fmt.Sprintf("    … %d earlier", n-offlinePerGroup), inner)))
			msgs = msgs[len(msgs)-offlinePerGroup:]
		}
		for _, m := range msgs {
			text := safeLine(m.Body)
			switch {
			case m.Kind == chat.KindAction:
				// The actor is part of an action: "* bob waves".
				text = st.Action.Render("* " + safeLine(m.FromHandle) + " " + text)
			case g.Room:
				// A room's group has several senders: each line names its own.
				text = st.HandleStyle(m.FromHandle).Render(safeLine(m.FromHandle)) + ": " + text
			}
			line := "    " + st.Time.Render(rc.stamp(m.At)) + " " + text
			body = append(body, fit(line, inner))
		}
	}
	avail := max(1, h-4-2) // border, title, hint
	top := 0
	if len(body) > avail {
		end := len(body)
		if d.sel+1 < len(starts) {
			end = starts[d.sel+1]
		}
		top = clampInt(end-avail, 0, starts[d.sel])
		body = body[top:min(len(body), top+avail)]
	}
	title := st.DialogTitle.Render("While you were away") + st.System.Render("  "+d.summary())
	content := []string{fit(title, inner), ""}
	content = append(content, body...)
	content = append(content, "", st.System.Render(fit("↑/↓ pick · enter open · esc dismiss", inner)))
	box := lipgloss.NewStyle().
		Border(lipgloss.RoundedBorder()).
		Padding(0, 1).
		Width(boxW).
		Render(strings.Join(content, "\n"))
	lines := strings.Split(box, "\n")
	left := strings.Repeat(" ", max(0, (w-boxW)/2))
	for i := range lines {
		lines[i] = fit(left+lines[i], w)
	}
	if len(lines) > h {
		lines = lines[:h]
	}
	return lines
}
