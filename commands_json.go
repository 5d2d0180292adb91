package main

// How the command tree writes what it prints: text lines, or one JSON
// object per line with the stable fields README's "Scripting" lists.

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"sshchat/chat"
)

// jsonMessage is a message as history and tail --json write it. The field
// names and meanings are stable (README, "Scripting").
type jsonMessage struct {
	ID   int64  `json:"id"`   // grows in commit order; --before takes it
	Conv string `json:"conv"` // "#room" or "@peer", as send takes it
	From string `json:"from"` // the author's current handle
	Body string `json:"body"`
	At   string `json:"at"`   // RFC 3339, UTC
	Kind string `json:"kind"` // text, action, rename or system
}

type jsonPresence struct {
	Handle string `json:"handle"`
	Status string `json:"status"` // online or away
	Reason string `json:"reason,omitempty"`
	Admin  bool   `json:"admin,omitempty"` // online with an administrator's key
}

type jsonRoom struct {
	Conv    string `json:"conv"`
	Topic   string `json:"topic"`
	Members int    `json:"members"`
	Online  int    `json:"online"`
	Joined  bool   `json:"joined"`
}

type jsonUnread struct {
	Conv     string `json:"conv"`
	Unread   int    `json:"unread"`
	Mentions int    `json:"mentions"`
}

// kindName names a message kind in JSON.
func kindName(k chat.MsgKind) string {
	switch k {
	case chat.KindAction:
		return "action"
	case chat.KindRename:
		return "rename"
	case chat.KindSystem:
		return "system"
	default:
		return "text"
	}
}

// writeMessage writes one message: a JSON object, or a tab-separated line
// "ID TIME TEXT" where TEXT is as the chat shows it.
func (e *cmdEnv) writeMessage(conv string, m chat.Message, asJSON bool) error {
	at := m.At.UTC().Format(time.RFC3339)
	if asJSON {
		return e.writeJSON(jsonMessage{ID: int64(m.ID), Conv: conv, From: m.FromHandle, Body: m.Body, At: at, Kind: kindName(m.Kind)})
	}
	text := m.FromHandle + ": " + m.Body
	switch m.Kind {
	case chat.KindAction:
		text = "* " + m.FromHandle + " " + m.Body
	case chat.KindRename, chat.KindSystem:
		text = m.Body
	}
	return e.writeLine(strconv.FormatInt(int64(m.ID), 10) + "\t" + at + "\t" + text)
}

// jsonAnnouncement is an administrator's announcement as tail --json
// writes it: it has no id and belongs to no conversation.
type jsonAnnouncement struct {
	Kind string `json:"kind"` // "announcement"
	From string `json:"from"`
	Body string `json:"body"`
	At   string `json:"at"`
}

// writeAnnouncement writes an announcement: a JSON object, or a line
// "-\tTIME\tannouncement from ADMIN: TEXT".
func (e *cmdEnv) writeAnnouncement(ev chat.AnnouncementEvent, asJSON bool) error {
	at := ev.At.UTC().Format(time.RFC3339)
	if asJSON {
		return e.writeJSON(jsonAnnouncement{Kind: "announcement", From: ev.From, Body: ev.Text, At: at})
	}
	return e.writeLine("-\t" + at + "\tannouncement from " + ev.From + ": " + ev.Text)
}

// writeJSON writes v as one line of JSON.
func (e *cmdEnv) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fail(fmt.Errorf("encode output: %w", err))
	}
	return e.writeLine(string(b))
}

// writeLine writes s and a newline to stdout.
func (e *cmdEnv) writeLine(s string) error {
	if _, err := io.WriteString(e.out, s+"\n"); err != nil {
		return fail(fmt.Errorf("%w: %v", errOutput, err))
	}
	return nil
}
