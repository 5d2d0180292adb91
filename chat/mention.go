package chat

import "strings"

// Mentioned returns the handle keys a message body mentions, each once, in
// order of first appearance. A mention is '@' followed by a handle, where
// the '@' starts the text or follows a character that cannot be part of a
// handle (so "bob@example.com" mentions nobody) and the handle runs to the
// first character outside the handle alphabet. Trailing '.' and '-' are
// punctuation, not part of the handle ("thanks @alice." mentions alice),
// as NormalizeHandle never allows a handle to end with them. Keys are
// lower-cased; whether a user by that key exists is the caller's question.
func Mentioned(body string) []string {
	var keys []string
	for i := 0; i < len(body); i++ {
		if body[i] != '@' || (i > 0 && handleRune(rune(body[i-1]))) {
			continue
		}
		j := i + 1
		for j < len(body) && handleRune(rune(body[j])) {
			j++
		}
		h := strings.TrimRight(body[i+1:j], ".-")
		i = j - 1
		if h == "" || len(h) > MaxHandleLen || !alnum(h[0]) {
			continue
		}
		k := strings.ToLower(h)
		dup := false
		for _, x := range keys {
			if x == k {
				dup = true
				break
			}
		}
		if !dup {
			keys = append(keys, k)
		}
	}
	return keys
}

// Mentions reports whether body mentions the user whose handle key is key
// (the one rule the hub, the unread counts and the UI's highlight share).
func Mentions(body, key string) bool {
	if key == "" || !strings.Contains(body, "@") {
		return false
	}
	for _, k := range Mentioned(body) {
		if k == key {
			return true
		}
	}
	return false
}
