package ui

import (
	"hash/fnv"
	"strings"

	"charm.land/bubbles/v2/textinput"
	"charm.land/lipgloss/v2"
)

// Styles holds every lipgloss style the UI draws with. A Styles is built
// once (NewStyles) and shared read-only by all sessions: lipgloss v2 styles
// are plain values that never touch the server's terminal, and each
// session's renderer downsamples colours for its own client.
type Styles struct {
	Time      lipgloss.Style // "12:34" before a message
	Body      lipgloss.Style // another user's message text
	SelfBody  lipgloss.Style // the user's own message text
	Self      lipgloss.Style // the user's own handle
	Action    lipgloss.Style // "* alice waves"
	System    lipgloss.Style // notices, command output, welcome
	Error     lipgloss.Style // one-line errors in the status line
	Help      lipgloss.Style // key hints in the status line
	Header    lipgloss.Style // conversation title
	HeaderDim lipgloss.Style // text next to the title
	Separator lipgloss.Style // the column between sidebar and conversation
	Mention   lipgloss.Style // "@you" in a message that mentions you

	SideTitle    lipgloss.Style // "Conversations", "Contacts", "Online"
	SideItem     lipgloss.Style // a plain sidebar row
	SideCurrent  lipgloss.Style // the conversation in front
	SideSelected lipgloss.Style // the row under the sidebar cursor
	Unread       lipgloss.Style // "(3)" unread counts
	Online       lipgloss.Style // an online contact
	Away         lipgloss.Style // an away contact
	Offline      lipgloss.Style // an offline contact (grayed)

	DialogTitle    lipgloss.Style // "While you were away"
	DialogSelected lipgloss.Style // the picked group

	Input textinput.Styles // the composer and the login field

	// Handles are the per-handle colours; HandleStyle picks one by hash.
	Handles []lipgloss.Style

	// Precomputed escape sequences of the styles drawn per message and per
	// frame: wrapping text in them costs a concatenation instead of a
	// lipgloss Render.
	pTime, pBody, pSelfBody, pSelf, pAction, pSystem, pError, pHelp paint
	pHeader, pHeaderDim, pSeparator                                 paint
	pMention                                                        paint
	pSideItem, pSideCurrent, pUnread, pOnline, pAway, pOffline      paint
	pHandles                                                        []paint
}

// paint is a style reduced to the escape sequences around its text. It is
// only valid for styles without width, padding, margins or borders.
type paint struct{ open, close string }

func paintOf(st lipgloss.Style) paint {
	const mark = "\uE000" // a private-use rune no style touches
	r := st.Render(mark)
	i := strings.Index(r, mark)
	if i < 0 {
		return paint{}
	}
	return paint{open: r[:i], close: r[i+len(mark):]}
}

// s wraps text in the paint.
func (p paint) s(text string) string {
	if text == "" || p.open == "" {
		return text
	}
	return p.open + text + p.close
}

// NewStyles builds the styles for a dark (isDark) or light terminal
// background.
func NewStyles(isDark bool) *Styles {
	ld := lipgloss.LightDark(isDark)
	c := lipgloss.Color
	dim := ld(c("245"), c("244"))
	s := &Styles{
		Time:      lipgloss.NewStyle().Foreground(dim),
		Body:      lipgloss.NewStyle(),
		SelfBody:  lipgloss.NewStyle().Foreground(ld(c("24"), c("153"))),
		Self:      lipgloss.NewStyle().Bold(true).Foreground(ld(c("25"), c("117"))),
		Action:    lipgloss.NewStyle().Italic(true),
		System:    lipgloss.NewStyle().Foreground(dim),
		Error:     lipgloss.NewStyle().Foreground(ld(c("160"), c("203"))).Bold(true),
		Help:      lipgloss.NewStyle().Foreground(dim),
		Header:    lipgloss.NewStyle().Bold(true),
		HeaderDim: lipgloss.NewStyle().Foreground(dim),
		Separator: lipgloss.NewStyle().Foreground(ld(c("250"), c("238"))),
		Mention:   lipgloss.NewStyle().Bold(true).Reverse(true),

		SideTitle:    lipgloss.NewStyle().Bold(true).Foreground(dim),
		SideItem:     lipgloss.NewStyle(),
		SideCurrent:  lipgloss.NewStyle().Bold(true),
		SideSelected: lipgloss.NewStyle().Reverse(true),
		Unread:       lipgloss.NewStyle().Bold(true).Foreground(ld(c("166"), c("214"))),
		Online:       lipgloss.NewStyle().Foreground(ld(c("28"), c("78"))),
		Away:         lipgloss.NewStyle().Foreground(ld(c("136"), c("179"))),
		Offline:      lipgloss.NewStyle().Foreground(ld(c("248"), c("240"))),

		DialogTitle:    lipgloss.NewStyle().Bold(true).Underline(true),
		DialogSelected: lipgloss.NewStyle().Reverse(true),
	}
	in := textinput.DefaultStyles(isDark)
	in.Focused.Prompt = lipgloss.NewStyle().Foreground(ld(c("25"), c("117"))).Bold(true)
	in.Blurred.Prompt = lipgloss.NewStyle().Foreground(dim)
	in.Cursor.Blink = false
	s.Input = in
	for _, col := range handlePalette(isDark) {
		hs := lipgloss.NewStyle().Bold(true).Foreground(c(col))
		s.Handles = append(s.Handles, hs)
		s.pHandles = append(s.pHandles, paintOf(hs))
	}
	s.pTime, s.pBody, s.pSelfBody, s.pSelf = paintOf(s.Time), paintOf(s.Body), paintOf(s.SelfBody), paintOf(s.Self)
	s.pAction, s.pSystem, s.pError, s.pHelp = paintOf(s.Action), paintOf(s.System), paintOf(s.Error), paintOf(s.Help)
	s.pHeader, s.pHeaderDim, s.pSeparator = paintOf(s.Header), paintOf(s.HeaderDim), paintOf(s.Separator)
	s.pMention = paintOf(s.Mention)
	s.pSideItem, s.pSideCurrent, s.pUnread = paintOf(s.SideItem), paintOf(s.SideCurrent), paintOf(s.Unread)
	s.pOnline, s.pAway, s.pOffline = paintOf(s.Online), paintOf(s.Away), paintOf(s.Offline)
	return s
}

// handlePalette lists ANSI-256 colours readable on the given background.
func handlePalette(isDark bool) []string {
	if isDark {
		return []string{"203", "209", "220", "113", "79", "81", "111", "141", "177", "211", "150", "180"}
	}
	return []string{"124", "130", "136", "28", "30", "25", "61", "90", "127", "161", "64", "94"}
}

// HandleStyle returns the stable colour of handle: the same handle (in any
// letter case) gets the same colour in every session.
func (s *Styles) HandleStyle(handle string) lipgloss.Style {
	if len(s.Handles) == 0 {
		return lipgloss.NewStyle().Bold(true)
	}
	return s.Handles[handleHash(handle)%uint32(len(s.Handles))]
}

// handlePaint is HandleStyle as a paint.
func (s *Styles) handlePaint(handle string) paint {
	if len(s.pHandles) == 0 {
		return paint{}
	}
	return s.pHandles[handleHash(handle)%uint32(len(s.pHandles))]
}

func handleHash(handle string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.ToLower(handle)))
	return h.Sum32()
}

// Theme is the pair of style sets a session picks from once the client's
// background colour is known.
type Theme struct {
	Dark, Light *Styles
	// lines are the message renderings shared by the sessions of the
	// theme (nil: each session renders its own).
	lines *sharedLines
}

// NewTheme builds both style sets once.
func NewTheme() Theme {
	return Theme{Dark: NewStyles(true), Light: NewStyles(false), lines: newSharedLines()}
}
