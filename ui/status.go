package ui

import (
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"sshchat/chat"
)

// statusExpiredMsg says the error of generation gen may have expired.
type statusExpiredMsg struct{ gen int }

// hintSet names the key hints the status line shows when it has no text.
type hintSet uint8

const (
	hintChat hintSet = iota
	hintSidebar
	hintDialog
	hintLogin
	hintSwitcher
	hintRooms
	hintHelp
)

// Status is the bottom line: the last error (red, until the next edit, a
// mode change or statusTTL) or status, else the key hints of the mode. An
// error too long for one line gets two rows in the chat screen when the
// terminal is tall enough; the App asks Rows for its layout.
type Status struct {
	*common
	version
	w, h   int
	inChat bool    // the chat screen is up: errors expire and may wrap
	hints  hintSet // shown when there is no text

	text  string
	isErr bool
	until time.Time // when an error may be cleared by statusExpiredMsg
	gen   int       // counts errors set, so only the last one's timer clears
	timer bool      // Timer must schedule a statusExpiredMsg
	slow  bool      // the text is the outbox's "slow down"
	// linkDown: the node does not reach the other nodes of its cluster;
	// said instead of the key hints until it does again.
	linkDown bool

	cache    string
	cacheVer uint64
}

func newStatus(com *common) *Status { return &Status{common: com} }

// SetSize sets the terminal's size: the line spans its width; its height
// decides whether a long error may take two rows.
func (s *Status) SetSize(w, h int) {
	if w != s.w || h != s.h {
		s.w, s.h = w, h
		s.bump()
	}
}

// SetChat says whether the chat screen is up.
func (s *Status) SetChat(on bool) {
	if on != s.inChat {
		s.inChat = on
		s.bump()
	}
}

// SetHints picks the key hints shown when there is no text.
func (s *Status) SetHints(h hintSet) {
	if h != s.hints {
		s.hints = h
		s.bump()
	}
}

// Text is the text shown, "" when the hints are.
func (s *Status) Text() string { return s.text }

// Slow reports whether the text is the outbox's "slow down".
func (s *Status) Slow() bool { return s.slow }

// SetError shows text as an error.
func (s *Status) SetError(text string) {
	s.text, s.isErr, s.slow = text, true, false
	s.until = s.cfg.now().Add(s.cfg.statusTTL)
	s.gen++
	s.timer = true
	s.bump()
}

// SetSlow shows the outbox's "slow down" error, which the outbox clears
// when the lines get through.
func (s *Status) SetSlow(text string) {
	s.SetError(text)
	s.slow = true
}

// SetLinkDown says whether the node reaches the rest of its cluster.
func (s *Status) SetLinkDown(down bool) {
	if down != s.linkDown {
		s.linkDown = down
		s.bump()
	}
}

// Clear empties the line (the key hints come back).
func (s *Status) Clear() {
	if s.text != "" || s.isErr || s.slow {
		s.text, s.isErr, s.slow = "", false, false
		s.bump()
	}
}

// Timer is the tick that expires the error set last, once per SetError.
func (s *Status) Timer() tea.Cmd {
	if !s.timer {
		return nil
	}
	s.timer = false
	gen := s.gen
	return tea.Tick(s.cfg.statusTTL, func(time.Time) tea.Msg { return statusExpiredMsg{gen} })
}

// Update clears an error whose time is up.
func (s *Status) Update(msg tea.Msg) tea.Cmd {
	if msg, ok := msg.(statusExpiredMsg); ok {
		if msg.gen == s.gen && s.isErr && s.inChat && !s.cfg.now().Before(s.until) {
			s.Clear()
		}
	}
	return nil
}

// Rows is the height of the status line: 2 for an error too long for one
// line in the chat screen (when the terminal is tall enough), else 1.
func (s *Status) Rows() int {
	if s.isErr && s.inChat && s.h >= 10 && ansi.StringWidth(safeLine(s.text))+1 > s.w {
		return 2
	}
	return 1
}

// View is the line (two when Rows says so); it is redrawn only when the
// version changed.
func (s *Status) View() string {
	if s.cache != "" && s.cacheVer == s.Version() {
		return s.cache
	}
	var line string
	if s.text != "" {
		p := s.st.pHelp
		if s.isErr {
			p = s.st.pError
		}
		text := " " + safeLine(s.text)
		if s.Rows() == 2 {
			parts := wrapText(text, s.w)
			rest := strings.Join(parts[1:], " ")
			line = p.s(parts[0]) + "\n" + p.s(fit(" "+rest, s.w))
		} else {
			line = p.s(fit(text, s.w))
		}
	} else if s.linkDown {
		line = s.st.pError.s(fit(" "+chat.LinkDownNotice, s.w))
	} else {
		var hints []string
		switch s.hints {
		case hintLogin:
			hints = s.keys.helpLogin()
		case hintDialog:
			hints = s.keys.helpDialog()
		case hintSidebar:
			hints = s.keys.helpSidebar()
		case hintSwitcher:
			hints = s.keys.helpSwitcher()
		case hintRooms:
			hints = s.keys.helpRooms()
		case hintHelp:
			hints = s.keys.helpOverlay()
		default:
			hints = s.keys.helpChat(s.w >= 100)
		}
		line = s.st.pHelp.s(fit(" "+strings.Join(hints, " · "), s.w))
	}
	s.cache, s.cacheVer = line, s.Version()
	return line
}
