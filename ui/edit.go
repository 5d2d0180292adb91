package ui

import "sshchat/chat"

// editLastKey, in an empty composer, puts "/edit " and the text of your
// last message in the conversation in front into the composer: change it
// and press Enter. Up alone keeps recalling the lines you entered, as
// before (it is the key people use to send a line again).
const editLastKey = "shift+up"

// recallForEdit fills the empty composer with "/edit TEXT" for the user's
// newest message in the window of the conversation in front, or says
// there is none.
func (a *App) recallForEdit() {
	c := a.convs[a.current]
	if c != nil {
		for i := len(c.entries) - 1; i >= 0; i-- {
			e := &c.entries[i]
			m := e.msg
			if e.kind == entMessage && m.From == a.me.ID && !m.Deleted &&
				(m.Kind == chat.KindText || m.Kind == chat.KindAction) {
				a.composer.SetValue("/edit " + m.Body)
				return
			}
		}
	}
	a.status.SetError("no message of yours here to edit")
}
