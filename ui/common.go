package ui

import tea "charm.land/bubbletea/v2"

// Component is the contract of every part of the screen (modelled on
// soft-serve's pkg/ui/common): it handles the messages routed to it,
// draws itself within the size the App's layout gives it, and says by its
// Version whether its View changed, so the App redraws only what did.
// Components that draw nothing (the outbox, the presence notes) keep the
// same shape so the App routes to all of them alike.
type Component interface {
	Update(tea.Msg) tea.Cmd
	View() string
	SetSize(w, h int)
	// Version changes whenever View would return something else.
	Version() uint64
}

// common is what the App shares with its components: the style set in use
// (switched when the client reports its background), the key map and the
// configuration (clock, timers, logger, the context of broker calls).
type common struct {
	st   *Styles
	keys keyMap
	cfg  *appConfig
}

// version counts the changes of a component's view. It is the one "what
// changed" mechanism of the UI: a component bumps it when its View would
// differ, and a container keeps its children's output keyed by their
// versions instead of tracking dirty flags.
type version uint64

func (v *version) bump() { *v++ }

// Version is the number of view changes so far.
func (v *version) Version() uint64 { return uint64(*v) }

var (
	_ Component = (*Login)(nil)
	_ Component = (*Pane)(nil)
	_ Component = (*Sidebar)(nil)
	_ Component = (*Composer)(nil)
	_ Component = (*Status)(nil)
	_ Component = (*OfflineDialog)(nil)
	_ Component = (*Outbox)(nil)
	_ Component = (*Notes)(nil)
	_ modal     = (*Switcher)(nil)
	_ modal     = (*RoomList)(nil)
)
