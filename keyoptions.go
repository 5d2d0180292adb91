package main

// keyoptions.go holds the authorized_keys options sshchat understands and
// how sshd reads them: the option table, from= address patterns and
// expiry-time.

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// keyOptions is the parsed options field of one line.
type keyOptions struct {
	from          string
	hasFrom       bool
	hostPatterns  []string // from= entries that are host names, for a warning
	expiry        time.Time
	certAuthority bool
	noPTY         bool   // no-pty, or restrict without a pty after it: the key may run commands, not the chat
	unsupported   string // first option this server does not implement
}

// errBadOption is a malformed or unknown authorized_keys option.
var errBadOption = errors.New("bad authorized-keys option")

// keyOptionTable says what the server does with each authorized_keys
// option sshd knows (names are case-insensitive, as in sshd). An option
// sshd does not know makes the line malformed.
var keyOptionTable = map[string]optionRule{
	// Enforced.
	"from":        optEnforced,
	"expiry-time": optEnforced,
	// Restrictions the server always satisfies: it never forwards ports,
	// agents or X11 and runs no rc file.
	"no-port-forwarding":  optSatisfied,
	"no-agent-forwarding": optSatisfied,
	"no-x11-forwarding":   optSatisfied,
	"no-user-rc":          optSatisfied,
	"touch-required":      optSatisfied, // x/crypto checks user presence by default
	// Permissions that grant nothing here: the server still offers no
	// forwarding and still requires touch on security keys.
	"port-forwarding":   optSatisfied,
	"agent-forwarding":  optSatisfied,
	"x11-forwarding":    optSatisfied,
	"user-rc":           optSatisfied,
	"pty":               optEnforced, // undoes a no-pty or restrict before it
	"no-touch-required": optSatisfied,
	// The default: user verification is not required (sshd accepts a
	// no- form of every flag but restrict and cert-authority).
	"no-verify-required": optSatisfied,
	// Enforced: the chat needs a terminal, so a key without a pty may
	// run commands (ssh host COMMAND) but not open the chat. restrict
	// implies no-pty unless a pty follows it.
	"restrict": optEnforced,
	"no-pty":   optEnforced,
	// Not implemented: the line admits nobody.
	"command":         optUnsupported,
	"environment":     optUnsupported,
	"permitopen":      optUnsupported,
	"permitlisten":    optUnsupported,
	"principals":      optUnsupported,
	"tunnel":          optUnsupported,
	"verify-required": optUnsupported,
	"cert-authority":  optUnsupported,
}

// optionRule is the server's answer to one option.
type optionRule int

const (
	optEnforced    optionRule = iota + 1 // checked at every login and by the watcher
	optSatisfied                         // accepted: already true of this server
	optUnsupported                       // the line is refused
)

// valueOptions take a quoted value; all others are flags.
var valueOptions = map[string]bool{"from": true, "expiry-time": true, "command": true, "environment": true,
	"permitopen": true, "permitlisten": true, "principals": true, "tunnel": true}

// parseKeyOptions interprets the options x/crypto split off a line.
func parseKeyOptions(raw []string, loc *time.Location) (keyOptions, error) {
	var o keyOptions
	pty := true
	for _, opt := range raw {
		name, value, hasValue := strings.Cut(opt, "=")
		name = strings.ToLower(name)
		rule, known := keyOptionTable[name]
		if !known || hasValue != valueOptions[name] {
			return o, fmt.Errorf("%w: unknown option %q", errBadOption, name)
		}
		if hasValue {
			v, err := dequote(value)
			if err != nil {
				return o, fmt.Errorf("%w: %s: %w", errBadOption, name, err)
			}
			value = v
		}
		switch name {
		case "from":
			if o.hasFrom {
				return o, fmt.Errorf("%w: multiple from= clauses", errBadOption)
			}
			o.from, o.hasFrom = value, true
			o.hostPatterns = hostPatterns(value)
		case "expiry-time":
			t, err := parseExpiry(value, loc)
			if err != nil {
				return o, fmt.Errorf("%w: expiry-time: %w", errBadOption, err)
			}
			if o.expiry.IsZero() || t.Before(o.expiry) {
				o.expiry = t
			}
		case "cert-authority":
			o.certAuthority = true
		case "restrict", "no-pty":
			// As in sshd, restrict withdraws a pty named before it.
			pty = false
		case "pty":
			pty = true
		}
		if rule == optUnsupported && o.unsupported == "" {
			o.unsupported = name
		}
	}
	o.noPTY = !pty
	return o, nil
}

// dequote reads a double-quoted option value in which \" stands for ",
// as sshd does; nothing may follow the closing quote.
func dequote(s string) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", errors.New("missing start quote")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '"':
			b.WriteByte('"')
			i++
		case s[i] == '"':
			if i != len(s)-1 {
				return "", errors.New("text after the closing quote")
			}
			return b.String(), nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", errors.New("missing end quote")
}

// parseExpiry reads an expiry-time= value as sshd's parse_absolute_time
// does: YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, in loc unless suffixed
// with Z or UTC.
func parseExpiry(s string, loc *time.Location) (time.Time, error) {
	switch {
	case len(s) > 1 && (s[len(s)-1] == 'Z' || s[len(s)-1] == 'z'):
		s, loc = s[:len(s)-1], time.UTC
	case len(s) > 3 && strings.EqualFold(s[len(s)-3:], "UTC"):
		s, loc = s[:len(s)-3], time.UTC
	}
	if len(s) != 8 && len(s) != 12 && len(s) != 14 {
		return time.Time{}, errors.New("want YYYYMMDD[HHMM[SS]][Z]")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, errors.New("want digits")
		}
	}
	num := func(i, n int) int { v, _ := strconv.Atoi(s[i : i+n]); return v }
	var f [6]int
	f[0], f[1], f[2] = num(0, 4), num(4, 2), num(6, 2)
	if len(s) >= 12 {
		f[3], f[4] = num(8, 2), num(10, 2)
	}
	if len(s) == 14 {
		f[5] = num(12, 2)
	}
	if f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 60 {
		return time.Time{}, errors.New("field out of range")
	}
	t := time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], 0, loc)
	if t.Unix() <= 0 {
		return time.Time{}, errors.New("before 1970")
	}
	return t, nil
}

// matchFrom reports whether ip satisfies a from= pattern list the way
// sshd's match_host_and_ip does with UseDNS off (its default), where the
// host name is the address text: entries are comma-separated; an entry
// starting with ! excludes; an address (IPv4 in inet_aton's forms too, as
// sshd's getaddrinfo reads it) or CIDR network (host bits zero) matches by
// address; anything else is a * and ? wildcard pattern matched
// case-insensitively against the address text. An excluding match, an
// empty entry or an invalid CIDR refuses; otherwise one match admits.
// Host names are never resolved, so a host-name pattern matches nothing.
func matchFrom(ip netip.Addr, list string) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap().WithZone("")
	text := strings.ToLower(ip.String())
	matched := false
	for _, entry := range strings.Split(list, ",") {
		neg := strings.HasPrefix(entry, "!")
		if neg {
			entry = entry[1:]
		}
		if entry == "" {
			return false
		}
		var hit bool
		switch prefix, kind := parseCIDR(entry); kind {
		case cidrInvalid:
			return false
		case cidrOK:
			hit = prefix.Contains(ip)
		default:
			hit = wildcard(strings.ToLower(entry), text)
		}
		if hit && neg {
			return false
		}
		matched = matched || hit
	}
	return matched
}

// cidrKind classifies a from= entry as sshd's addr_pton_cidr does.
type cidrKind int

const (
	cidrNot     cidrKind = iota // not an address: a wildcard pattern
	cidrOK                      // an address or network
	cidrInvalid                 // an address with a bad mask or host bits set
)

// parseCIDR reads "addr" or "addr/bits".
func parseCIDR(s string) (netip.Prefix, cidrKind) {
	addrText, maskText, hasMask := strings.Cut(s, "/")
	bits := -1
	if hasMask {
		n, err := strconv.Atoi(maskText)
		if err != nil || maskText == "" || maskText[0] < '0' || maskText[0] > '9' || n > 128 {
			return netip.Prefix{}, cidrNot
		}
		bits = n
	}
	addr, err := netip.ParseAddr(addrText)
	if err != nil && !strings.Contains(addrText, ":") {
		addr, err = parseInetAton(addrText)
	}
	if err != nil || addr.Zone() != "" || len(s) >= 64 {
		return netip.Prefix{}, cidrNot
	}
	if bits < 0 {
		bits = addr.BitLen()
	}
	if bits > addr.BitLen() {
		return netip.Prefix{}, cidrInvalid
	}
	p := netip.PrefixFrom(addr, bits)
	if p.Masked().Addr() != addr {
		return netip.Prefix{}, cidrInvalid
	}
	return p, cidrOK
}

// parseInetAton reads IPv4 text as inet_aton does, which is how sshd's
// getaddrinfo reads from= addresses: one to four dot-separated parts,
// each decimal, octal with a leading 0 or hex with 0x, the last filling
// the bytes left (127.1 is 127.0.0.1).
func parseInetAton(s string) (netip.Addr, error) {
	bad := fmt.Errorf("%q is not an IPv4 address", s)
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, bad
	}
	var word uint32
	for i, p := range parts {
		base, digits := uint64(10), p
		switch {
		case len(p) > 1 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
			base, digits = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		if digits == "" {
			return netip.Addr{}, bad
		}
		var v uint64
		for _, c := range []byte(digits) {
			d := uint64(0xff)
			switch {
			case c >= '0' && c <= '9':
				d = uint64(c - '0')
			case c >= 'a' && c <= 'f':
				d = uint64(c-'a') + 10
			case c >= 'A' && c <= 'F':
				d = uint64(c-'A') + 10
			}
			if d >= base {
				return netip.Addr{}, bad
			}
			if v = v*base + d; v > 0xffffffff {
				return netip.Addr{}, bad
			}
		}
		last := i == len(parts)-1
		if !last {
			if v > 0xff {
				return netip.Addr{}, bad
			}
			word |= uint32(v) << (24 - 8*i)
			continue
		}
		if v > 0xffffffff>>(8*i) {
			return netip.Addr{}, bad
		}
		word |= uint32(v)
	}
	return netip.AddrFrom4([4]byte{byte(word >> 24), byte(word >> 16), byte(word >> 8), byte(word)}), nil
}

// hostPatterns returns the entries of a from= list that can only be host
// names (not addresses, networks or address wildcards).
func hostPatterns(list string) []string {
	var out []string
	for _, entry := range strings.Split(list, ",") {
		e := strings.TrimPrefix(entry, "!")
		if _, kind := parseCIDR(e); kind != cidrNot {
			continue
		}
		if strings.Trim(strings.ToLower(e), "0123456789abcdef.:*?") != "" {
			out = append(out, entry)
		}
	}
	return out
}

// wildcard matches s against a pattern where * is any run of bytes and ?
// any one byte, as sshd's match_pattern.
func wildcard(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
