package ui

import (
	"time"

	"sshchat/chat"
)

// prefs are the user's settings as this session applies them, with what
// the terminal told it (its background).
type prefs struct {
	chat.Settings
	// termLight is set once the terminal reported a light background; a
	// terminal that never answers keeps the dark palette.
	termLight bool
}

// dark reports whether the dark palette is the one to draw with.
func (p prefs) dark() bool {
	switch p.Theme {
	case chat.ThemeLight:
		return false
	case chat.ThemeDark:
		return true
	}
	return !p.termLight
}

// applySettings makes s this session's settings (at connect and on a
// chat.SettingsEvent): the palette, the time zone and clock of message
// times, the bell, join/leave notices and links. Rendered lines that
// depend on them are dropped.
func (a *App) applySettings(s chat.Settings) {
	old := a.prefs.Settings
	a.prefs.Settings = s
	loc := a.cfg.loc
	if s.TZ != "" {
		if l, err := time.LoadLocation(s.TZ); err == nil {
			loc = l
		}
	}
	links := linksOn(s.Links, a.cfg.hyperlinks)
	redraw := loc.String() != a.rc.loc.String() || s.Clock12 != old.Clock12 || links != a.rc.links
	a.rc.loc, a.rc.clock12, a.rc.links = loc, s.Clock12, links
	if a.setStyles(a.prefs.dark()) {
		return // dropped every cache already
	}
	if redraw {
		a.dropRenderCaches()
		if a.dialog != nil {
			a.dialog.bump()
		}
		a.pane.Touch()
	}
}

// onBackground records the terminal's background and picks the palette
// (unless the user chose one with /theme).
func (a *App) onBackground(isDark bool) {
	a.prefs.termLight = !isDark
	a.setStyles(a.prefs.dark())
}

// linksOn decides whether URLs become OSC 8 hyperlinks: /links on or off,
// else (auto) only on terminals known to support them.
func linksOn(setting string, terminal bool) bool {
	switch setting {
	case chat.LinksOn:
		return true
	case chat.LinksOff:
		return false
	}
	return terminal
}

// clockFormat is the layout of message times.
func (rc *renderCtx) clockFormat() string {
	if rc.clock12 {
		return "3:04pm"
	}
	return "15:04"
}

// stamp is a message time as the user reads it, in their zone and clock,
// always stampWidth-1 cells wide for the 24-hour clock and 7 for the
// 12-hour one ("12:04pm", " 3:04pm").
func (rc *renderCtx) stamp(t time.Time) string {
	s := t.In(rc.loc).Format(rc.clockFormat())
	if rc.clock12 && len(s) < 7 {
		s = " " + s
	}
	return s
}

// stampCells is the width of a stamp and the space after it.
func (rc *renderCtx) stampCells() int {
	if rc.clock12 {
		return 8
	}
	return stampWidth
}
