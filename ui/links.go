package ui

import (
	"strings"
)

// OSC 8 hyperlinks. URLs are found by the UI in message text that the
// broker already sanitised (no escape or control characters can be in
// it); only what findURLs accepts, printable ASCII, goes between the
// escape sequences, so message text can never open or close a link.

// hyperlinkTerminal reports whether the client's environment names a
// terminal known to show OSC 8 hyperlinks. It is conservative: terminals
// not listed get plain URLs (the user can say /links on).
func hyperlinkTerminal(env []string) bool {
	var term, prog string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "TERM":
			term = v
		case "TERM_PROGRAM":
			prog = v
		}
	}
	switch prog {
	case "iTerm.app", "WezTerm", "vscode", "ghostty", "Hyper", "tabby", "rio":
		return true
	}
	switch term {
	case "xterm-kitty", "xterm-ghostty", "wezterm", "foot", "foot-extra", "alacritty", "contour", "rio":
		return true
	}
	return false
}

// urlRange is a URL found in a line: text[start:end].
type urlRange struct{ start, end int }

// findURLs returns the http and https URLs of text: a scheme, then
// printable ASCII up to a blank, without trailing punctuation that usually
// ends a sentence (and a closing bracket with no opening one in the URL).
func findURLs(text string) []urlRange {
	var out []urlRange
	low := asciiLower(text)
	if !strings.Contains(low, "http") {
		return nil
	}
	for i := 0; i < len(text); {
		j := indexScheme(low[i:])
		if j < 0 {
			break
		}
		start := i + j
		if start > 0 && isURLByte(text[start-1]) && text[start-1] != '(' && text[start-1] != '<' && text[start-1] != '"' && text[start-1] != '\'' {
			i = start + 4 // "xhttp://" is not a URL start
			continue
		}
		end := start
		for end < len(text) && isURLByte(text[end]) {
			end++
		}
		end = trimURLEnd(text[start:end]) + start
		scheme := 7
		if strings.HasPrefix(low[start:], "https") {
			scheme = 8
		}
		if end-start > scheme {
			out = append(out, urlRange{start, end})
		}
		i = max(end, start+scheme)
	}
	return out
}

// indexScheme finds the first "http://" or "https://" in low (lower case).
func indexScheme(low string) int {
	a, b := strings.Index(low, "http://"), strings.Index(low, "https://")
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

// isURLByte is a byte a URL may contain here: printable ASCII but blanks,
// quotes and angle brackets.
func isURLByte(c byte) bool {
	return c > 0x20 && c < 0x7f && c != '"' && c != '<' && c != '>' && c != '`' && c != '\\'
}

// trimURLEnd is the length of u without trailing sentence punctuation.
func trimURLEnd(u string) int {
	for len(u) > 0 {
		switch u[len(u)-1] {
		case '.', ',', ';', ':', '!', '?', '\'', '*':
			u = u[:len(u)-1]
			continue
		case ')':
			if strings.Count(u, "(") < strings.Count(u, ")") {
				u = u[:len(u)-1]
				continue
			}
		case ']':
			if strings.Count(u, "[") < strings.Count(u, "]") {
				u = u[:len(u)-1]
				continue
			}
		}
		break
	}
	return len(u)
}

// osc8 wraps text in a hyperlink to url (which findURLs accepted).
func osc8(url, text string) string {
	return "\x1b]8;;" + url + "\x1b\\" + text + "\x1b]8;;\x1b\\"
}

// linkLines wraps the URLs of body, as shown in its wrapped lines, in
// OSC 8 hyperlinks: lines are the painted lines, plain the same lines
// unpainted. A URL broken across lines is linked on each line to the
// whole URL. A piece of URL that is not contiguous in a painted line (a
// mention painted inside it) is left unlinked.
func linkLines(body string, plain, painted []string) []string {
	urls := findURLs(body)
	if len(urls) == 0 {
		return painted
	}
	out := painted
	rest, cur := "", "" // the part of URL cur still to find at the next line's start
	for i, l := range plain {
		var pieces []struct{ text, url string }
		pos := 0
		if rest != "" {
			n := 0
			for n < len(l) && n < len(rest) && l[n] == rest[n] {
				n++
			}
			if n > 0 {
				pieces = append(pieces, struct{ text, url string }{l[:n], cur})
				pos = n
			}
			rest = rest[n:]
			if n < len(l) || n == 0 {
				rest = ""
			}
		}
		for _, r := range findURLs(l[pos:]) {
			piece := l[pos+r.start : pos+r.end]
			full := piece
			if pos+r.end == len(l) && i+1 < len(plain) {
				for _, u := range urls {
					if whole := body[u.start:u.end]; len(whole) > len(piece) && strings.HasPrefix(whole, piece) {
						full, rest = whole, whole[len(piece):]
						break
					}
				}
			}
			cur = full
			pieces = append(pieces, struct{ text, url string }{piece, full})
		}
		if len(pieces) == 0 {
			continue
		}
		if &out[0] == &painted[0] {
			out = append([]string(nil), painted...)
		}
		line, from := out[i], 0
		var b strings.Builder
		for _, p := range pieces {
			k := indexVisible(line[from:], p.text)
			if k < 0 {
				continue
			}
			b.WriteString(line[from : from+k])
			b.WriteString(osc8(p.url, p.text))
			from += k + len(p.text)
		}
		b.WriteString(line[from:])
		out[i] = b.String()
	}
	return out
}

// indexVisible is strings.Index of text in line that only matches outside
// escape sequences (a short piece of URL like "m" must not match inside
// "\x1b[0m").
func indexVisible(line, text string) int {
	for i := 0; i < len(line); {
		if line[i] == 0x1b {
			i += escapeLen(line[i:])
			continue
		}
		if strings.HasPrefix(line[i:], text) {
			return i
		}
		i++
	}
	return -1
}

// escapeLen is the length of the escape sequence at the start of s: CSI
// up to its final byte, OSC up to ST or BEL, else ESC and one byte.
func escapeLen(s string) int {
	if len(s) < 2 {
		return len(s)
	}
	switch s[1] {
	case '[':
		for i := 2; i < len(s); i++ {
			if s[i] >= 0x40 && s[i] <= 0x7e {
				return i + 1
			}
		}
		return len(s)
	case ']':
		for i := 2; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return len(s)
	}
	return 2
}

// asciiLower lowers ASCII letters only, so byte offsets stay those of s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
