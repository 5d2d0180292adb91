package chat

import (
	"strings"

	"sshchat/model"
)

// roomRule is the one-line rule shown when a room name is refused.
const roomRule = "room names are '#' and 1-24 ASCII letters, digits, underscores (_), hyphens (-) and dots (.), starting with a letter or digit"

// NormalizeRoomName validates a room name, with or without its leading
// '#', and returns the form to display (with '#') and the key that must be
// unique among rooms (lower-cased, without '#'). The rules are the
// handles' (see NormalizeHandle) but for the reserved keys: "lobby" names
// the lobby, and no other room may look like it (see reservedRoom).
// Errors wrap ErrRoomNameInvalid with a one-line reason.
func NormalizeRoomName(s string) (display string, key string, err error) {
	t := strings.TrimPrefix(strings.Trim(s, " "), "#")
	d, k, err := normalizeName(t, roomNames)
	if err != nil {
		return "", "", err
	}
	return "#" + d, k, nil
}

// reservedRoom reports whether no room may be created with key: the lobby's
// and every name that looks like it.
func reservedRoom(key string) bool {
	return model.Skeleton(key) == model.Skeleton(lobbyKey)
}

// lobbyKey is the lobby's name key.
const lobbyKey = "lobby"

// roomKey returns the name key of a room other than the lobby, or false
// when conv is not one (the lobby, a direct conversation, garbage).
func roomKey(conv ConvID) (string, bool) {
	k, ok := strings.CutPrefix(string(conv), "#")
	if !ok || conv == Lobby || k == "" {
		return "", false
	}
	return k, true
}
