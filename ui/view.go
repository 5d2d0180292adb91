package ui

// The App's layout drawn into one frame: the main area (sidebar and
// conversation or dialog), the status line, and the keys that let a frame
// be reused when nothing it shows changed.

import (
	"strings"

	tea "charm.land/bubbletea/v2"
)

// mainKey is what the area above the input depends on: the versions of
// the components drawn there and the layout.
type mainKey struct {
	pane, side, dialogVer uint64
	dialog                *OfflineDialog
	modal                 modal
	modalVer              uint64
	st                    *Styles
	w, h, rows            int
	focus                 focusArea
}

// frameKey is what the whole chat screen depends on.
type frameKey struct {
	main          mainKey
	input, status uint64
}

// View draws the screen. Each part is redrawn only when its version
// changed; an unchanged frame is returned as it was.
func (a *App) View() tea.View {
	var v tea.View
	v.AltScreen = true
	switch a.phase {
	case phaseLogin:
		v.SetContent(a.login.View() + "\n" + a.statusLine())
		v.Cursor = a.login.Cursor()
		return v
	case phaseConnecting:
		v.SetContent(" " + a.st.System.Render("joining "+safeLine(a.cfg.serverName)+"…"))
		return v
	}
	status := a.statusLine()
	mk := mainKey{pane: a.pane.Version(), side: a.sidebar.Version(), dialog: a.dialog, modal: a.modal,
		st: a.st, w: a.w, h: a.h, rows: a.mainRows(), focus: a.focus}
	if a.dialog != nil {
		mk.dialogVer = a.dialog.Version()
	}
	if a.modal != nil {
		mk.modalVer = a.modal.Version()
	}
	if mk != a.mainKey || a.mainCache == "" {
		a.mainCache, a.mainKey = a.mainView(), mk
	}
	input := a.composer.View()
	fk := frameKey{mk, a.composer.Version(), a.status.Version()}
	if fk != a.frameKey || a.frame == "" {
		var b strings.Builder
		b.Grow(len(a.mainCache) + len(input) + len(status) + 2)
		b.WriteString(a.mainCache)
		b.WriteByte('\n')
		b.WriteString(input)
		b.WriteByte('\n')
		b.WriteString(status)
		a.frame, a.frameKey = b.String(), fk
	}
	v.SetContent(a.frame)
	if a.focus == focusInput && a.dialog == nil && a.modal == nil && a.phase == phaseChat {
		if c := a.composer.Cursor(); c != nil {
			c.Y = a.mainRows()
			c.X = min(c.X, a.w-1)
			v.Cursor = c
		}
	}
	return v
}

// mainView draws everything above the input line: sidebar, conversation
// pane or the offline dialog, as one string of mainRows lines.
func (a *App) mainView() string {
	rows := a.mainRows()
	switch {
	case a.dialog != nil:
		return padRows(a.dialog.View(), rows)
	case a.modal != nil:
		return padRows(a.modal.View(), rows)
	case a.focus == focusSidebar && !a.sidebarShown():
		return padRows(a.sidebar.View(), rows)
	}
	if !a.sidebarShown() {
		return padRows(a.pane.View(), rows)
	}
	// Pane and sidebar side by side, row by row.
	lines, side := a.pane.Lines(), a.sidebar.Lines()
	sep := a.st.pSeparator.s("│")
	size := 0
	for i := range rows {
		if i < len(side) {
			size += len(side[i]) + len(sep)
		}
		if i < len(lines) {
			size += len(lines[i])
		}
		size++
	}
	var b strings.Builder
	b.Grow(size)
	for i := range rows {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i < len(side) {
			b.WriteString(side[i])
			b.WriteString(sep)
		}
		if i < len(lines) {
			b.WriteString(lines[i])
		}
	}
	return b.String()
}

// padRows makes s at least rows lines long.
func padRows(s string, rows int) string {
	if n := strings.Count(s, "\n") + 1; n < rows {
		s += strings.Repeat("\n", rows-n)
	}
	return s
}

// statusLine is the status line with the hints of the current mode.
func (a *App) statusLine() string {
	h := hintChat
	switch {
	case a.phase == phaseLogin:
		h = hintLogin
	case a.dialog != nil:
		h = hintDialog
	case a.modal != nil:
		h = a.modal.Hints()
	case a.focus == focusSidebar:
		h = hintSidebar
	}
	a.status.SetHints(h)
	return a.status.View()
}
