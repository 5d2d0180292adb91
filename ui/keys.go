package ui

import "charm.land/bubbles/v2/key"

// keyMap is the one source of key bindings: Update matches against it and
// the status line's hints are built from its help texts.
type keyMap struct {
	Quit     key.Binding
	Enter    key.Binding
	NextConv key.Binding
	PrevConv key.Binding
	Sidebar  key.Binding // focus the sidebar (Esc or Ctrl+S)
	Back     key.Binding // leave the sidebar / dismiss a dialog
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Switcher key.Binding // the quick switcher
	Complete key.Binding // @handle completion in the input (Tab)
	Help     key.Binding // the key and command overlay (? with an empty composer)
}

func newKeyMap() keyMap {
	return keyMap{
		Quit:     key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("^C", "quit")),
		Enter:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "send")),
		NextConv: key.NewBinding(key.WithKeys("tab", "ctrl+n"), key.WithHelp("tab", "switch")),
		PrevConv: key.NewBinding(key.WithKeys("shift+tab", "ctrl+p"), key.WithHelp("shift+tab", "previous")),
		Sidebar:  key.NewBinding(key.WithKeys("esc", "ctrl+s"), key.WithHelp("esc", "contacts")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Up:       key.NewBinding(key.WithKeys("up"), key.WithHelp("↑/↓", "select")),
		Down:     key.NewBinding(key.WithKeys("down"), key.WithHelp("↑/↓", "select")),
		PageUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup/dn", "scroll")),
		PageDown: key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgup/pgdn", "scroll")),
		Switcher: key.NewBinding(key.WithKeys("ctrl+k"), key.WithHelp("^K", "go to")),
		Complete: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "@name")),
		Help:     key.NewBinding(key.WithKeys("f1", "?"), key.WithHelp("?/F1", "keys")),
	}
}

// hint renders "key desc" for the status line.
func hint(b key.Binding) string {
	h := b.Help()
	return h.Key + " " + h.Desc
}

// The status line names the two or three keys that matter in each mode
// (? or F1 shows them all); a wide chat screen gets more.

// helpChat is the status line while typing; wide terminals get every key.
func (k keyMap) helpChat(wide bool) []string {
	if wide {
		return []string{hint(k.Enter), "tab/^N/^P switch", hint(k.Switcher), "@name+tab complete", "esc/^S contacts", hint(k.PageUp), hint(k.Help), hint(k.Quit)}
	}
	return []string{hint(k.Enter), hint(k.Switcher), hint(k.Help)}
}

// helpSidebar is the status line while the sidebar has focus.
func (k keyMap) helpSidebar() []string {
	return []string{"enter open", "esc back", hint(k.Help)}
}

// helpDialog is the status line while the offline dialog is open.
func (k keyMap) helpDialog() []string {
	return []string{"↑/↓ pick", "enter open conversation", "esc dismiss"}
}

// helpSwitcher is the status line while the quick switcher is open.
func (k keyMap) helpSwitcher() []string {
	return []string{"type to filter", "enter open", "esc close"}
}

// helpRooms is the status line while the /rooms list is open.
func (k keyMap) helpRooms() []string {
	return []string{"↑/↓ pick", "enter join", "esc close"}
}

// helpOverlay is the status line while the key overlay is open.
func (k keyMap) helpOverlay() []string { return []string{"any key closes", hint(k.Quit)} }

// helpLogin is the status line of the login screen.
func (k keyMap) helpLogin() []string {
	return []string{"enter confirm", "tab handle/link", hint(k.Quit)}
}
