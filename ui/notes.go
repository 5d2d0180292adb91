package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"sshchat/chat"
)

// notesTickMsg says the rate-limit pause of join/leave lines is over.
type notesTickMsg struct{}

// In a lobby of more than quietLobby people, join and leave lines are
// added at most once per noticeEvery, each summarising everyone who came
// or went since the last one; in a smaller lobby every batch gets its line
// at once. (IRC servers hide joins in big channels; we keep them, but
// rate-limited, because a line per login is noise there and, in a connect
// storm, a repaint of every screen per login.)
const (
	quietLobby  = 30
	noticeEvery = 10 * time.Second
)

// maxNamed is how many handles a summary line names.
const maxNamed = 3

// Notes turns joins and leaves into summary lines in the lobby: one join
// is "bob joined"; a burst becomes one line such as "alice, bob, carol and
// 12 others joined", so a connect storm neither floods the lobby nor costs
// every session a line per login. Its lines go into the lobby's
// conversation, which draws them: Notes itself draws nothing.
type Notes struct {
	*common
	version
	pending presenceNotes
	at      time.Time // when the last join/leave line was added
	tick    bool      // a notesTickMsg is scheduled
	// target is the lobby (nil before it exists) and how many are online.
	target func() (*Conversation, int)
	// window is how many entries a conversation keeps (App.window).
	window func(*Conversation) int
}

func newNotes(com *common, target func() (*Conversation, int), window func(*Conversation) int) *Notes {
	return &Notes{common: com, target: target, window: window}
}

// Add records a join or leave.
func (n *Notes) Add(id chat.UserID, handle string, joined bool) { n.pending.add(id, handle, joined) }

// Flush adds the pending lines to the lobby if the rate limit allows; it
// reports whether nothing is left pending.
func (n *Notes) Flush() bool {
	if n.pending.empty() {
		return true
	}
	now := n.cfg.now()
	if _, online := n.target(); online > quietLobby && now.Sub(n.at) < n.cfg.noticeEvery {
		return false
	}
	n.FlushNow()
	n.at = now
	return true
}

// FlushNow adds the pending lines whatever the rate limit (before a line
// that must come after them).
func (n *Notes) FlushNow() {
	if n.pending.empty() {
		return
	}
	if lobby, _ := n.target(); lobby != nil {
		if len(n.pending.joined) > 0 {
			lobby.addSystem(summarise(n.pending.joined)+" joined", entSystem)
		}
		if len(n.pending.left) > 0 {
			lobby.addSystem(summarise(n.pending.left)+" left", entSystem)
		}
		lobby.trimOld(n.window(lobby))
	}
	// Released, not kept for reuse: a connect storm's arrays would stay
	// with every session for good.
	n.pending.joined, n.pending.left = nil, nil
}

// Schedule flushes after a batch of events and, when the rate limit holds
// lines back, returns the tick that flushes them later (one at a time).
func (n *Notes) Schedule() tea.Cmd {
	if n.Flush() || n.tick {
		return nil
	}
	n.tick = true
	return tea.Tick(n.cfg.noticeEvery, func(time.Time) tea.Msg { return notesTickMsg{} })
}

// Update flushes when the rate-limit pause is over.
func (n *Notes) Update(msg tea.Msg) tea.Cmd {
	if _, ok := msg.(notesTickMsg); ok {
		n.tick = false
		n.at = time.Time{}
		n.Flush()
	}
	return nil
}

// View is empty: the lines are the lobby's.
func (n *Notes) View() string { return "" }

// SetSize does nothing: Notes has no area.
func (n *Notes) SetSize(int, int) {}

// presenceNotes collects the joins and leaves not yet shown.
type presenceNotes struct {
	joined, left []presenceNote
}

type presenceNote struct {
	user   chat.UserID
	handle string
}

func (n *presenceNotes) empty() bool { return len(n.joined) == 0 && len(n.left) == 0 }

// add records a join or leave. A leave cancels a join of the same batch
// (and a join a leave): whoever came and went within one batch is not
// mentioned at all.
func (n *presenceNotes) add(id chat.UserID, handle string, joined bool) {
	this, other := &n.left, &n.joined
	if joined {
		this, other = &n.joined, &n.left
	}
	if i := slices.IndexFunc(*other, func(x presenceNote) bool { return x.user == id }); i >= 0 {
		*other = slices.Delete(*other, i, i+1)
		return
	}
	*this = append(*this, presenceNote{id, handle})
}

// summarise names up to maxNamed people: "bob", "alice and bob",
// "alice, bob and carol", "alice, bob, carol and 4 others".
func summarise(ps []presenceNote) string {
	names := make([]string, 0, maxNamed)
	for _, p := range ps[:min(len(ps), maxNamed)] {
		names = append(names, p.handle)
	}
	rest := len(ps) - len(names)
	switch {
	case rest == 1:
		return strings.Join(names, ", ") + " and 1 other"
	case rest > 1:
		return strings.Join(names, ", ") + fmt.Sprintf(" and %d others", rest)
	case len(names) == 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
