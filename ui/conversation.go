package ui

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"time"

	"sshchat/chat"
)

// renderCtx is what rendering a message depends on besides the width.
type renderCtx struct {
	st    *Styles
	me    chat.UserID
	meKey string // the user's handle key: mentions of it are highlighted
	loc   *time.Location
	// clock12 draws times on the 12-hour clock; links wraps URLs in OSC 8
	// hyperlinks (see settings.go).
	clock12, links bool
	// shared holds renderings of messages common to every reader (nil:
	// none); see sharedLines.
	shared *sharedLines
}

// entryKind tells message entries from system lines.
type entryKind uint8

const (
	entMessage entryKind = iota
	entSystem
	entError
)

// entry is one item of a conversation: a message or a (possibly multi-line)
// system text. Entries are ordered by key: 2*ID for a message, 2*anchor+1
// for a system text, where anchor is the newest message ID before it. Keys
// never decrease along the slice, so lookups by message ID are binary
// searches and merged history lands around system lines correctly.
type entry struct {
	key   int64
	kind  entryKind
	width int32        // of lines
	msg   chat.Message // a system text is its Body
	lines []string     // rendered lines, valid while width matches
}

func msgKey(id chat.MessageID) int64 { return 2 * int64(id) }

// paneMargin starts every line the pane shows (its left margin). The
// cached lines carry it, so that a frame does not build a new string per
// row to add it.
const paneMargin = " "

// render returns the entry's lines at width w, each after paneMargin,
// from the cache when it can.
func (e *entry) render(rc *renderCtx, w int) []string {
	if e.lines != nil && int(e.width) == w {
		return e.lines
	}
	var share sharedKey
	shareable := false
	if e.kind == entMessage && e.msg.Kind != chat.KindRename && e.msg.Kind != chat.KindSystem {
		if share, shareable = sharedKeyOf(rc, &e.msg, w); shareable {
			if lines, ok := rc.shared.get(share); ok {
				e.lines, e.width = lines, int32(w)
				return e.lines
			}
		}
		e.lines = renderMessage(rc, &e.msg, w)
	} else {
		// A rename or a room's system line on record is a system line too.
		p, text := rc.st.pSystem, e.msg.Body
		if e.kind == entError {
			p = rc.st.pError
		}
		e.lines = e.lines[:0]
		for _, raw := range strings.Split(text, "\n") {
			for _, l := range wrapHanging(safeLine(raw), w) {
				e.lines = append(e.lines, p.s(l))
			}
		}
	}
	for i, l := range e.lines {
		e.lines[i] = paneMargin + l
	}
	e.width = int32(w)
	if shareable {
		rc.shared.put(share, e.lines)
	}
	return e.lines
}

// noLines is the rendering of a join or part line folded into the summary
// of its run (see Conversation.render): cached, but empty.
var noLines = []string{}

// isPresenceLine reports whether e is a room's line saying someone
// joined or left (a KindSystem line "HANDLE joined…" or "HANDLE left…"
// or "HANDLE parted…"), which runs of are summarised.
func isPresenceLine(e *entry) bool {
	_, _, ok := presenceOf(e)
	return ok
}

// presenceOf tells who joined (joined true) or left by a join or part
// line. The contract gives these lines no kind of their own: they are
// told by their wording, and anything else stays a line of its own.
func presenceOf(e *entry) (handle string, joined, ok bool) {
	if e.kind != entMessage || e.msg.Kind != chat.KindSystem || e.msg.FromHandle == "" {
		return "", false, false
	}
	rest, found := strings.CutPrefix(e.msg.Body, e.msg.FromHandle+" ")
	if !found {
		return "", false, false
	}
	for _, w := range []string{"joined", "left", "parted"} {
		if after, ok := strings.CutPrefix(rest, w); ok && (after == "" || after[0] == ' ' || after[0] == ':') {
			return e.msg.FromHandle, w == "joined", true
		}
	}
	return "", false, false
}

// render returns entry i's lines at width w, from the cache when it can.
// A run of two or more join and part lines in a row shows as the lobby's
// presence notes do, one summary ("alice, bob, carol and 4 others
// joined", then who left) drawn by the run's last line; the others draw
// nothing.
func (c *Conversation) render(i int, rc *renderCtx, w int) []string {
	e := &c.entries[i]
	if e.lines != nil && int(e.width) == w {
		return e.lines
	}
	if !isPresenceLine(e) {
		return e.render(rc, w)
	}
	switch {
	case i+1 < len(c.entries) && isPresenceLine(&c.entries[i+1]):
		e.lines = noLines
	case i > 0 && isPresenceLine(&c.entries[i-1]):
		var notes presenceNotes
		j := i
		for j > 0 && isPresenceLine(&c.entries[j-1]) {
			j--
		}
		for k := j; k <= i; k++ {
			x := &c.entries[k]
			h, joined, _ := presenceOf(x)
			notes.add(x.msg.From, h, joined)
		}
		var text []string
		if len(notes.joined) > 0 {
			text = append(text, summarise(notes.joined)+" joined")
		}
		if len(notes.left) > 0 {
			text = append(text, summarise(notes.left)+" left")
		}
		e.lines = noLines
		if len(text) > 0 {
			e.lines = nil
			for _, l := range wrapHanging(safeLine(strings.Join(text, "; ")), w) {
				e.lines = append(e.lines, rc.st.pSystem.s(l))
			}
		}
	default:
		return e.render(rc, w)
	}
	e.width = int32(w)
	return e.lines
}

// touchRun drops the rendered lines that entry i, new or newly first,
// changes: the join or part line before it (no longer a run's last) and
// the last line of the run it joins.
func (c *Conversation) touchRun(i int) {
	if i > 0 && isPresenceLine(&c.entries[i-1]) {
		c.entries[i-1].lines = nil
	}
	j := i
	for j+1 < len(c.entries) && isPresenceLine(&c.entries[j+1]) {
		j++
	}
	if j > i {
		c.entries[j].lines = nil
	}
}

// How an edited or deleted message reads, live and in history.
const (
	editedMark  = " (edited)"
	deletedText = "message deleted"
)

// stampWidth is the width of "HH:MM ".
const stampWidth = 6

// renderMessage draws one message at width w: "HH:MM alice: text" with the
// text wrapped under itself, "* alice waves" for actions, the user's own
// messages in their own style and other handles in their hashed colour.
func renderMessage(rc *renderCtx, m *chat.Message, w int) []string {
	st := rc.st
	handle := safeLine(m.FromHandle)
	body := safeLine(m.Body)
	hp, bp := st.handlePaint(handle), st.pBody
	if m.From == rc.me {
		hp, bp = st.pSelf, st.pSelfBody
	}
	switch {
	case m.Deleted:
		body, bp = deletedText, st.pSystem
	case !m.Edited.IsZero():
		body += editedMark
	}
	action := m.Kind == chat.KindAction
	plain := handle + ": " + body
	if action {
		plain = "* " + handle + " " + body
		bp = st.pAction
	}
	stamp, indent, bw := "", "", w
	if sw := rc.stampCells(); w >= sw+10 {
		stamp = st.pTime.s(rc.stamp(m.At)) + " "
		indent = strings.Repeat(" ", sw)
		bw = w - sw
	}
	mention := ""
	if m.From != rc.me && chat.Mentions(body, rc.meKey) {
		mention = rc.meKey
	}
	wrapped := wrapText(plain, bw)
	out := make([]string, len(wrapped))
	for i, l := range wrapped {
		if i == 0 {
			out[i] = stamp + styleFirstLine(l, handle, action, hp, bp, mention, rc.st.pMention)
		} else {
			out[i] = indent + paintMentions(l, mention, bp, rc.st.pMention)
		}
	}
	if rc.links {
		out = linkLines(body, wrapped, out)
	}
	return out
}

// styleFirstLine colours the handle at the start of a message's first line
// and the rest in the body style.
// The mention of the reader's handle (mention, if not "") is painted mp.
func styleFirstLine(l, handle string, action bool, hp, bp paint, mention string, mp paint) string {
	lead := ""
	if action && strings.HasPrefix(l, "* ") {
		lead, l = bp.s("* "), l[2:]
	}
	if !strings.HasPrefix(l, handle) {
		return lead + paintMentions(l, mention, bp, mp)
	}
	return lead + hp.s(handle) + paintMentions(l[len(handle):], mention, bp, mp)
}

// Window bounds. A conversation that follows its newest messages keeps
// keepScreens screens of entries (every entry is at least one line) and
// rendered lines for renderScreens screens of them; scrolled back it may
// hold up to maxWindow entries.
// Anything older is paged back from the broker, which answers recent pages
// from one cache shared by all sessions, so a session's memory does not
// grow with the conversation's history. Message bodies are the broker's
// strings, shared, never copied per session.
const (
	keepScreens   = 3
	renderScreens = 2
)

// window is how many entries c keeps: up to maxWindow while the user reads
// back in it, else a few screens (a conversation in the background follows
// its new messages whatever its scroll position).
func (a *App) window(c *Conversation) int {
	if c.info.ID == a.current && (c.offset > 0 || c.hasNewer) {
		return a.cfg.maxWindow
	}
	return min(a.cfg.maxWindow, keepScreens*max(1, a.convRows()))
}

// renderKeep is how many entries from the end keep their rendered lines
// while the conversation follows new messages (every entry is at least one
// line, so that covers the screen).
func (a *App) renderKeep() int { return renderScreens*max(1, a.convRows()) + 1 }

// Conversation is one conversation as the user sees it: a window of its
// messages (see window; older ones are fetched again from the broker when
// scrolled to), its scroll position and its unread count. Rendered lines
// are cached per entry and only the visible page is joined in View.
type Conversation struct {
	info     chat.Conversation
	entries  []entry
	loaded   bool // the newest page has been merged (or is being fetched)
	loading  bool // a History call is in flight
	hasOlder bool // older messages exist before the window
	hasNewer bool // the window was cut at the new end: live messages are not appended
	offset   int  // lines scrolled up from the bottom; 0 follows new messages
	newBelow int  // messages that arrived while scrolled up
	readUpTo chat.MessageID
	// unread are the messages counted unread while the conversation was
	// never opened: it keeps no messages then (opening it reads the newest
	// page), only these marks, so that a read marker from another session
	// lowers its counts exactly. At most maxUnreadMarks, newest last.
	unread    []unreadMark
	unreadCut bool // marks older than unread[0] were let go
}

// unreadMark is a message counted unread in a conversation never opened.
type unreadMark struct {
	id      chat.MessageID
	mention bool
}

// maxUnreadMarks bounds the marks of a conversation never opened.
const maxUnreadMarks = 16

// holds reports whether the conversation keeps the messages it receives:
// a room only once opened (or being opened) or when in front, so that a
// session in many busy rooms holds about what a lobby session holds; a
// direct conversation always (its messages are to the user).
func (c *Conversation) holds(current chat.ConvID) bool {
	return c.loaded || c.loading || c.info.ID == current || c.info.Kind == chat.KindDirect
}

// markUnread records an unread message of a conversation never opened.
func (c *Conversation) markUnread(id chat.MessageID, mention bool) {
	if len(c.unread) == maxUnreadMarks {
		c.unread = append(c.unread[:0], c.unread[1:]...)
		c.unreadCut = true
	}
	c.unread = append(c.unread, unreadMark{id, mention})
}

func newConversation(info chat.Conversation) *Conversation {
	return &Conversation{info: info, hasOlder: true}
}

// lastAnchor is the newest message ID at the end of the window.
func (c *Conversation) lastAnchor() int64 {
	if len(c.entries) == 0 {
		return 0
	}
	return c.entries[len(c.entries)-1].key / 2
}

// newestID returns the newest message ID in the window (0 if none).
func (c *Conversation) newestID() chat.MessageID {
	for i := len(c.entries) - 1; i >= 0; i-- {
		if c.entries[i].kind == entMessage {
			return c.entries[i].msg.ID
		}
	}
	return 0
}

// oldestID returns the oldest message ID in the window (0 if none).
func (c *Conversation) oldestID() chat.MessageID {
	for i := range c.entries {
		if c.entries[i].kind == entMessage {
			return c.entries[i].msg.ID
		}
	}
	return 0
}

// contains reports whether message id is in the window.
func (c *Conversation) contains(id chat.MessageID) bool {
	k := msgKey(id)
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].key >= k })
	return i < len(c.entries) && c.entries[i].key == k
}

// replaceMessage shows m (edited or deleted) in place of the message with
// its ID, if the window holds it; it reports whether it did.
func (c *Conversation) replaceMessage(m chat.Message) bool {
	k := msgKey(m.ID)
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].key >= k })
	if i == len(c.entries) || c.entries[i].key != k {
		return false
	}
	e := &c.entries[i]
	m.FromHandle = cmp.Or(e.msg.FromHandle, m.FromHandle)
	e.msg, e.lines = m, nil
	return true
}

// renameAuthor shows the messages of user id under their new handle: a
// message is shown under its author's current handle, since the old one
// may pass to someone else.
func (c *Conversation) renameAuthor(id chat.UserID, handle string) {
	for i := range c.entries {
		e := &c.entries[i]
		if e.kind == entMessage && e.msg.From == id && e.msg.FromHandle != handle {
			e.msg.FromHandle = handle
			e.lines = nil
		}
	}
}

// addSystem appends a system text (kind entSystem or entError).
func (c *Conversation) addSystem(text string, kind entryKind) *entry {
	c.entries = append(c.entries, entry{key: 2*c.lastAnchor() + 1, kind: kind, msg: chat.Message{Body: text}})
	return &c.entries[len(c.entries)-1]
}

// addMessage inserts m in ID order unless it is already there. It reports
// whether m was added.
func (c *Conversation) addMessage(m chat.Message) (*entry, bool) {
	k := msgKey(m.ID)
	n := len(c.entries)
	if n == 0 || k > c.entries[n-1].key {
		c.entries = append(c.entries, entry{key: k, msg: m})
		c.touchRun(n)
		return &c.entries[n], true
	}
	if c.contains(m.ID) {
		return nil, false
	}
	i := sort.Search(n, func(i int) bool { return c.entries[i].key > k })
	c.entries = slices.Insert(c.entries, i, entry{key: k, msg: m})
	c.touchRun(i)
	return &c.entries[i], true
}

// mergeHistory merges a page from History (oldest first) into the window,
// skipping messages already there. On the first page, system lines written
// before history arrived (the welcome) move after the history, so they
// stay the newest thing on screen. It returns how many messages were new.
func (c *Conversation) mergeHistory(page []chat.Message) int {
	fresh := make([]chat.Message, 0, len(page))
	for _, m := range page {
		if !c.contains(m.ID) {
			fresh = append(fresh, m)
		}
	}
	if len(fresh) == 0 {
		return 0
	}
	if !slices.IsSortedFunc(fresh, byID) {
		slices.SortFunc(fresh, byID)
		fresh = slices.CompactFunc(fresh, func(a, b chat.Message) bool { return a.ID == b.ID })
	}
	var leading []entry
	if !c.loaded {
		i := 0
		for i < len(c.entries) && c.entries[i].kind != entMessage {
			i++
		}
		leading = slices.Clone(c.entries[:i])
		c.entries = c.entries[i:]
	}
	merged := make([]entry, 0, len(c.entries)+len(fresh)+len(leading))
	j := 0
	for _, m := range fresh {
		k := msgKey(m.ID)
		for j < len(c.entries) && c.entries[j].key < k {
			merged = append(merged, c.entries[j])
			j++
		}
		merged = append(merged, entry{key: k, msg: m})
	}
	merged = append(merged, c.entries[j:]...)
	c.entries = merged
	if len(leading) > 0 {
		top := msgKey(fresh[len(fresh)-1].ID)
		at := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].key > top })
		for i := range leading {
			leading[i].key = top + 1
		}
		c.entries = slices.Insert(c.entries, at, leading...)
	}
	// Runs of join and part lines may have grown at either end.
	for i := range c.entries {
		if isPresenceLine(&c.entries[i]) {
			c.entries[i].lines = nil
		}
	}
	return len(fresh)
}

// trimOld drops the oldest entries when the window is over max (with some
// slack, so trimming is amortised rather than a copy per message).
func (c *Conversation) trimOld(limit int) {
	if len(c.entries) <= limit+limit/10 {
		return
	}
	drop := len(c.entries) - limit
	// Moved down in place, so that the array is reused rather than
	// regrown by the next appends.
	n := copy(c.entries, c.entries[drop:])
	clear(c.entries[n:])
	c.entries = c.entries[:n]
	if cap(c.entries) > 2*(limit+limit/10+1) {
		c.entries = slices.Clone(c.entries) // shrunk after reading back
	}
	c.hasOlder = true
	c.touchRun(0) // a run of join and part lines may have lost its start
}

// trimNew drops the newest entries when an older page pushed the window
// over max; the conversation is then detached from the live end until the
// user scrolls back down (and the newest page is fetched again).
func (c *Conversation) trimNew(limit int, rc *renderCtx, w int) {
	if len(c.entries) <= limit {
		return
	}
	removed := 0
	for i := limit; i < len(c.entries); i++ {
		removed += len(c.render(i, rc, w))
	}
	clear(c.entries[limit:])
	c.entries = c.entries[:limit]
	c.hasNewer = true
	c.offset = max(0, c.offset-removed)
}

// resetToLatest replaces the window with the newest page (after being
// detached).
func (c *Conversation) resetToLatest(page []chat.Message) {
	c.entries = nil
	c.hasNewer = false
	c.offset = 0
	c.newBelow = 0
	c.loaded = false
	c.mergeHistory(page)
	c.loaded = true
}

// startMarker is the line above a conversation's first message.
const startMarker = "— start of conversation —"

// atStart reports whether the window holds the conversation's first
// message, so the start marker goes above it.
func (c *Conversation) atStart() bool { return c.loaded && !c.hasOlder && !c.loading }

// totalLines is the number of rendered lines of the whole window (the
// start marker included).
func (c *Conversation) totalLines(rc *renderCtx, w int) int {
	n := 0
	if c.atStart() {
		n++
	}
	for i := range c.entries {
		n += len(c.render(i, rc, w))
	}
	return n
}

// fills reports whether the window has at least need lines at width w.
// Like visible, it renders only the entries from the bottom up to need.
func (c *Conversation) fills(rc *renderCtx, w, need int) bool {
	count := 0
	for i := len(c.entries) - 1; i >= 0 && count < need; i-- {
		count += len(c.render(i, rc, w))
	}
	return count >= need
}

// visible returns the lines on screen for a pane of rows lines at width w,
// bottom-aligned, at the current scroll offset. Only the entries that are
// on screen (or between the screen and the bottom) are rendered.
func (c *Conversation) visible(rc *renderCtx, w, rows int) []string {
	if rows <= 0 {
		return nil
	}
	need := c.offset + rows
	count, start := 0, len(c.entries)
	for start > 0 && count < need {
		start--
		count += len(c.render(start, rc, w))
	}
	marker := start == 0 && count < need && c.atStart()
	if marker {
		count++
	}
	offset := c.offset
	if count < need { // reached the top
		offset = max(0, min(offset, count-rows))
	}
	end := count - offset
	first := max(0, end-rows)
	out := make([]string, 0, rows)
	for range rows - (end - first) {
		out = append(out, "") // bottom-align short conversations
	}
	line := 0
	if marker {
		if first == 0 {
			out = append(out, paneMargin+rc.st.pSystem.s(fit(startMarker, w)))
		}
		line++
	}
	for i := start; i < len(c.entries) && line < end; i++ {
		for _, l := range c.entries[i].lines {
			if line >= first && line < end {
				out = append(out, l)
			}
			line++
		}
	}
	return out
}

func byID(a, b chat.Message) int { return cmp.Compare(a.ID, b.ID) }
