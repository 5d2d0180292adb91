package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// pickList is what the centred pick-one dialogs (/rooms, /search) share:
// their size, cursor, closing and the cached drawing of their lines. The
// dialog keeps its items and says how many there are.
type pickList struct {
	version
	sel    int
	closed bool
	w, h   int
	view   string
	drawn  uint64
}

// Closed reports whether Esc or Enter closed the list.
func (l *pickList) Closed() bool { return l.closed }

// SetSize sets the area the list is centred in.
func (l *pickList) SetSize(w, h int) {
	if w != l.w || h != l.h {
		l.w, l.h = w, h
		l.bump()
	}
}

// rows is how many items fit on screen: border, title, blank, blank, hint.
func (l *pickList) rows() int { return max(1, l.h-2-4) }

// cursorDelta is how far a cursor key (Up, Down, PgUp, PgDn) moves, or
// false for another key.
func (l *pickList) cursorDelta(keys keyMap, k tea.KeyPressMsg) (int, bool) {
	switch {
	case key.Matches(k, keys.Up):
		return -1, true
	case key.Matches(k, keys.Down):
		return 1, true
	case key.Matches(k, keys.PageUp):
		return -l.rows(), true
	case key.Matches(k, keys.PageDown):
		return l.rows(), true
	}
	return 0, false
}

// moveBy moves the cursor by delta within n items.
func (l *pickList) moveBy(delta, n int) {
	if sel := clampInt(l.sel+delta, 0, max(0, n-1)); sel != l.sel {
		l.sel = sel
		l.bump()
	}
}

// drawCached returns lines joined, drawn again only after a change.
func (l *pickList) drawCached(lines func() []string) string {
	if l.drawn == l.Version() && l.view != "" {
		return l.view
	}
	l.view, l.drawn = strings.Join(lines(), "\n"), l.Version()
	return l.view
}
