package ui

import (
	"slices"

	"sshchat/chat"
)

// inputMemory is what the input keeps per conversation, beside the
// composer that edits the line in front.
type inputMemory struct {
	// drafts holds the unsent input of the conversations not in front:
	// switching saves the draft of the one left and restores the other's.
	drafts map[chat.ConvID]string
	// sentLines are the lines entered in each conversation, oldest first
	// (at most maxRecall each), for Up/Down in the input: per conversation,
	// so Up never offers a direct message's text in a shared room. recall
	// is the one shown of the conversation in front (the list's length
	// when none) and recallRev the composer's revision when it was shown.
	sentLines map[chat.ConvID][]string
	recall    int
	recallRev int
	// editOffered is set when Up offered "/edit" for the last message
	// (edit.go), at composer revision editRev.
	editOffered bool
	editRev     int
}

// setDraft makes text the draft of conversation id.
func (m *inputMemory) setDraft(id chat.ConvID, text string) {
	if m.drafts == nil {
		m.drafts = make(map[chat.ConvID]string)
	}
	m.drafts[id] = text
}

// maxRecall bounds the lines Up/Down can recall.
const maxRecall = 100

// recallLine steps through the lines entered before (Up older, Down
// newer; past the newest the input is empty again). It works from an empty
// input or from a recalled line not edited since, so it never replaces a
// draft being written.
func (m *inputMemory) recallLine(c *Composer, conv chat.ConvID, delta int) {
	lines := m.sentLines[conv]
	browsing := m.recall < len(lines) && c.Rev() == m.recallRev
	if !browsing {
		if c.Len() != 0 {
			return
		}
		m.recall = len(lines)
	}
	i := clampInt(m.recall+delta, 0, len(lines))
	if i == m.recall {
		return
	}
	m.recall = i
	if i == len(lines) {
		c.Reset()
	} else {
		c.SetValue(lines[i])
	}
	m.recallRev = c.Rev()
}

// remember adds a line entered in conversation conv to its recall list.
func (m *inputMemory) remember(conv chat.ConvID, line string) {
	lines := m.sentLines[conv]
	if n := len(lines); n > 0 && lines[n-1] == line {
		m.recall = n
		return
	}
	if len(lines) >= maxRecall {
		lines = slices.Delete(lines, 0, 1)
	}
	if m.sentLines == nil {
		m.sentLines = make(map[chat.ConvID][]string)
	}
	m.sentLines[conv] = append(lines, line)
	m.recall = len(m.sentLines[conv])
}

// swap keeps the input c of conversation from as its draft and puts the
// draft of conversation id (or nothing) in the input, so a line typed for
// one conversation is never sent to another.
func (m *inputMemory) swap(c *Composer, from, id chat.ConvID) {
	if m.drafts == nil {
		m.drafts = make(map[chat.ConvID]string)
	}
	if v := c.Value(); v != "" {
		m.drafts[from] = v
	} else {
		delete(m.drafts, from)
	}
	if d, ok := m.drafts[id]; ok {
		c.SetValue(d)
		delete(m.drafts, id)
	} else {
		c.Reset()
	}
	m.recall = len(m.sentLines[id])
}
