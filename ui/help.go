package ui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// HelpOverlay is the key and command overlay (? with an empty composer, or
// F1): every key binding in columns (bubbles' help component over the
// keyMap) and the commands to try first. Any key closes it.
type HelpOverlay struct {
	*common
	version
	w, h   int
	closed bool
	view   string
	drawn  uint64
}

func newHelpOverlay(com *common) *HelpOverlay { return &HelpOverlay{common: com} }

// Closed reports whether a key closed the overlay.
func (o *HelpOverlay) Closed() bool { return o.closed }

// Hints names the status line's hints while open.
func (o *HelpOverlay) Hints() hintSet { return hintHelp }

// SetSize sets the area the overlay is centred in.
func (o *HelpOverlay) SetSize(w, h int) {
	if w != o.w || h != o.h {
		o.w, o.h = w, h
		o.bump()
	}
}

// Update closes the overlay on any key.
func (o *HelpOverlay) Update(msg tea.Msg) tea.Cmd {
	if _, ok := msg.(tea.KeyPressMsg); ok {
		o.closed = true
	}
	return nil
}

// helpCommands are the commands the overlay lists; /help lists them all.
var helpCommands = [][2]string{
	{"/help [COMMAND]", "all commands, or one explained"},
	{"/msg HANDLE", "a direct conversation"},
	{"/join #ROOM", "join or create a room"},
	{"/rooms", "rooms to join"},
	{"/set", "your settings (/theme /tz /clock /bell /notices /links)"},
	{"/quit", "leave"},
}

// View draws the overlay.
func (o *HelpOverlay) View() string {
	if o.drawn == o.Version() && o.view != "" {
		return o.view
	}
	st := o.st
	boxW := min(o.w, 90)
	inner := max(1, boxW-4)
	hm := help.New()
	hm.ShowAll = true
	hm.SetWidth(inner)
	hm.Styles.FullKey = st.Header
	hm.Styles.FullDesc = st.System
	hm.Styles.FullSeparator = st.System
	content := []string{fit(st.DialogTitle.Render("Keys"), inner), ""}
	content = append(content, strings.Split(hm.View(o.keys), "\n")...)
	content = append(content, "", fit(st.DialogTitle.Render("Commands"), inner), "")
	for _, c := range helpCommands {
		content = append(content, fit(st.Header.Render(pad(c[0], 18))+" "+st.System.Render(c[1]), inner))
	}
	content = append(content, "", st.System.Render(fit("any key closes", inner)))
	box := lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1).Width(boxW).
		Render(strings.Join(content, "\n"))
	lines := strings.Split(box, "\n")
	left := strings.Repeat(" ", max(0, (o.w-boxW)/2))
	for i := range lines {
		lines[i] = fit(left+lines[i], o.w)
	}
	if len(lines) > o.h && o.h > 0 {
		lines = lines[:o.h]
	}
	o.view, o.drawn = strings.Join(lines, "\n"), o.Version()
	return o.view
}

// ShortHelp makes keyMap a help.KeyMap: the keys that matter most.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Enter, k.Switcher, k.Help, k.Quit}
}

// FullHelp makes keyMap a help.KeyMap: every binding, in columns.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Enter, k.Complete, k.Switcher, k.Help},
		{k.NextConv, k.PrevConv, k.Sidebar, k.Back},
		{k.Up, k.PageUp, k.PageDown, k.Quit},
	}
}
