package ui

import (
	"strings"

	"sshchat/chat"
)

// editLastKey, in an empty composer, puts "/edit " and the text of your
// last message in the conversation in front into the composer: change it
// and press Enter.
//
// Up in an empty composer does the same (as in Slack) when that message
// is the last line you entered there, the usual moment to fix a typo;
// Up again goes on into the lines you entered, so sending a line again
// is one key further. After a command Up recalls the command as before.
const editLastKey = "shift+up"

// lastOwn returns the user's newest editable message in the window of the
// conversation in front.
func (a *App) lastOwn() (chat.Message, bool) {
	c := a.convs[a.current]
	if c == nil {
		return chat.Message{}, false
	}
	for i := len(c.entries) - 1; i >= 0; i-- {
		e := &c.entries[i]
		m := e.msg
		if e.kind == entMessage && m.From == a.me.ID && !m.Deleted &&
			(m.Kind == chat.KindText || m.Kind == chat.KindAction) {
			return m, true
		}
	}
	return chat.Message{}, false
}

// recallForEdit fills the empty composer with "/edit TEXT" for the user's
// newest message in the window of the conversation in front, or says
// there is none.
func (a *App) recallForEdit() {
	if m, ok := a.lastOwn(); ok {
		a.composer.SetValue("/edit " + m.Body)
		return
	}
	a.status.SetError("no message of yours here to edit")
}

// offerEditOnUp is Up in an empty composer: it offers "/edit TEXT" when
// the user's last message here is the last line they entered here, and
// reports whether it did.
func (a *App) offerEditOnUp() bool {
	if a.composer.Len() != 0 {
		return false
	}
	lines := a.mem.sentLines[a.current]
	if len(lines) == 0 {
		return false
	}
	text, ok := sentText(lines[len(lines)-1])
	if !ok {
		return false
	}
	m, ok := a.lastOwn()
	if !ok || m.Kind != chat.KindText || strings.TrimSpace(m.Body) != strings.TrimSpace(text) {
		return false
	}
	a.composer.SetValue("/edit " + m.Body)
	a.mem.editOffered, a.mem.editRev = true, a.composer.Rev()
	return true
}

// editOfferShown reports whether the composer still shows, unchanged, the
// edit that Up offered (Up and Down then leave it for the input history).
func (a *App) editOfferShown() bool {
	return a.mem.editOffered && a.composer.Rev() == a.mem.editRev
}

// sentText is the message text an entered line posts, if it posts one
// ("//x" posts "/x"; other lines starting with "/" are commands).
func sentText(line string) (string, bool) {
	switch {
	case strings.HasPrefix(line, "//"):
		return line[1:], true
	case strings.HasPrefix(line, "/"):
		return "", false
	}
	return line, true
}
