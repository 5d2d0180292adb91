package ui

import (
	"strings"

	"sshchat/chat"
)

// completion is the state of @handle completion (Tab in the input): the
// candidates offered for the word being completed and the one shown, so
// that Tab again, with nothing typed since, shows the next.
type completion struct {
	conv  chat.ConvID
	start int      // cluster index of the '@' in the input
	cands []string // handles, in the order offered
	i     int      // the one in the input
	rev   int      // the input's revision after it was put there
}

// maxCandidates bounds the handles one completion cycles through.
const maxCandidates = 50

// completeMention completes the "@word" before the cursor with a handle:
// people online, then contacts, then recent authors in the conversation in
// front, whose handle starts with word (letter case ignored); Tab again
// cycles through them. It reports false, leaving Tab its usual meaning,
// when the word before the cursor does not start with '@'.
func (a *App) completeMention() bool {
	cp := &a.compl
	if cp.cands != nil && cp.conv == a.current && cp.rev == a.composer.Rev() {
		cp.i = (cp.i + 1) % len(cp.cands)
		a.composer.ReplaceBeforeCursor(cp.start, "@"+cp.cands[cp.i])
		cp.rev = a.composer.Rev()
		return true
	}
	*cp = completion{}
	word, start := a.composer.WordBeforeCursor()
	if !strings.HasPrefix(word, "@") {
		return false
	}
	cands := a.mentionCandidates(strings.ToLower(word[1:]))
	if len(cands) == 0 {
		a.status.SetError("no handle to complete for " + safeLine(word))
		return true
	}
	if !a.composer.ReplaceBeforeCursor(start, "@"+cands[0]) {
		return true
	}
	*cp = completion{conv: a.current, start: start, cands: cands, rev: a.composer.Rev()}
	return true
}

// mentionCandidates lists the handles starting with prefix (lower-case),
// each once, never the user's own: people online (by handle), contacts,
// then the authors of the conversation in front, newest first.
func (a *App) mentionCandidates(prefix string) []string {
	seen := map[string]bool{strings.ToLower(a.me.Handle): true}
	var out []string
	add := func(handle string) {
		k := strings.ToLower(handle)
		if len(out) < maxCandidates && !seen[k] && strings.HasPrefix(k, prefix) {
			seen[k] = true
			out = append(out, handle)
		}
	}
	for i := range a.online.Len() {
		add(a.online.At(i).Handle)
	}
	for _, c := range a.contacts {
		add(c.Handle)
	}
	if c := a.convs[a.current]; c != nil {
		for i := len(c.entries) - 1; i >= 0; i-- {
			if e := &c.entries[i]; e.kind == entMessage && e.msg.Kind != chat.KindSystem && e.msg.FromHandle != "" {
				add(e.msg.FromHandle)
			}
		}
	}
	return out
}
