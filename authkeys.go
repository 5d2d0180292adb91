package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"charm.land/log/v2"
	gossh "golang.org/x/crypto/ssh"
)

// allowlist is an OpenSSH authorized_keys file, re-read when it changes.
// A configured file that is missing, unreadable or has no usable key lets
// nobody in: the allowlist fails closed, never open.
type allowlist struct {
	path string
	log  *log.Logger

	mu    sync.Mutex
	keys  *keySet   // the version loaded; nil before the first load or when unusable
	stamp fileStamp // of the version loaded
	known bool      // a load was attempted
}

// fileStamp identifies a version of a file cheaply.
type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

// Reasons the allowlist gives for a refusal. They go to the log; only
// reasonExpired is also told to the client. None quotes the file.
const (
	reasonNotListed   = "key not listed"
	reasonExpired     = "key expired"
	reasonFrom        = "address not permitted by from="
	reasonUnusable    = "authorized-keys file unusable"
	reasonUnsupported = "the key's line uses an option this server does not implement"
)

func newAllowlist(path string, logger *log.Logger) *allowlist {
	return &allowlist{path: path, log: logger}
}

// allowed reports whether key may log in from ip at now, re-reading the
// file first if it changed since the last look; reason says why not.
func (a *allowlist) allowed(key gossh.PublicKey, ip netip.Addr, now time.Time) (ok bool, reason string) {
	a.refresh()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keys == nil {
		return false, reasonUnusable
	}
	return a.keys.decide(key, ip, now)
}

// refresh reloads the file when its stamp changed.
func (a *allowlist) refresh() {
	st, statErr := stampOf(a.path)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.known && statErr == nil && st == a.stamp {
		return
	}
	if statErr != nil {
		if !a.known || a.keys != nil {
			a.log.Error("authorized-keys file unusable: nobody can log in", "path", a.path, "err", statErr)
		}
		a.known, a.keys, a.stamp = true, nil, fileStamp{}
		return
	}
	data, err := os.ReadFile(a.path)
	if err != nil {
		a.log.Error("authorized-keys file unreadable: nobody can log in", "path", a.path, "err", err)
		a.known, a.keys, a.stamp = true, nil, st
		return
	}
	a.keys = parseAuthorizedKeys(data, a.log, time.Local)
	a.known, a.stamp = true, st
	if a.keys.usable == 0 {
		a.log.Error("authorized-keys file has no usable keys: nobody can log in", "path", a.path)
		return
	}
	a.log.Info("authorized keys loaded", "path", a.path, "keys", a.keys.usable)
}

// keySet is one parsed version of the file.
type keySet struct {
	lines  map[string][]keyLine // by the key's wire form, in file order
	usable int                  // lines that can admit someone
}

// keyLine is what one line says about its key.
type keyLine struct {
	n           int       // line number, for the log
	from        string    // from= pattern list; "" when hasFrom is false
	hasFrom     bool      //
	expiry      time.Time // expiry-time=; zero for none
	unsupported string    // an option this server does not implement: the line admits nobody
}

// decide applies sshd's rule: the first line for key whose expiry-time=
// and from= admit the connection is the one used, and it is used with all
// its options. If that line carries an option this server does not
// implement, the key is refused rather than falling through to a later,
// possibly less restricted line.
func (k *keySet) decide(key gossh.PublicKey, ip netip.Addr, now time.Time) (ok bool, reason string) {
	reason = reasonNotListed
	for _, l := range k.lines[string(key.Marshal())] {
		if !l.expiry.IsZero() && l.expiry.Unix() < now.Unix() {
			reason = reasonExpired
			continue
		}
		if l.hasFrom && !matchFrom(ip, l.from) {
			reason = reasonFrom
			continue
		}
		if l.unsupported != "" {
			return false, fmt.Sprintf("%s (line %d: %s)", reasonUnsupported, l.n, l.unsupported)
		}
		return true, ""
	}
	return false, reason
}

// parseAuthorizedKeys parses authorized_keys text line by line. Every
// line with a key is either used or logged with its number and why not:
// a malformed line or one with bad options is skipped (as sshd does), a
// line with an option the server does not implement is kept but admits
// nobody (see decide), a cert-authority line never matches a plain key.
// Expiry times without a zone are in loc.
func parseAuthorizedKeys(data []byte, logger *log.Logger, loc *time.Location) *keySet {
	set := &keySet{lines: map[string][]keyLine{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, _, options, _, err := gossh.ParseAuthorizedKey(line)
		if err != nil {
			logger.Warn("skipping malformed authorized-keys line", "line", n, "err", err)
			continue
		}
		opts, err := parseKeyOptions(options, loc)
		if err != nil {
			logger.Warn("skipping authorized-keys line with bad options", "line", n, "err", err)
			continue
		}
		if opts.certAuthority {
			logger.Warn("refusing authorized-keys line: cert-authority is not supported (certificates are not accepted, and the CA key itself is not a user key)", "line", n)
			continue
		}
		for _, p := range opts.hostPatterns {
			logger.Warn("authorized-keys from= has a host-name pattern; names are not resolved, so it is matched against the client's address text only and never matches a name", "line", n, "pattern", p)
		}
		kl := keyLine{n: n, from: opts.from, hasFrom: opts.hasFrom, expiry: opts.expiry}
		if opts.unsupported != "" {
			kl.unsupported = opts.unsupported
			logger.Warn("refusing authorized-keys line: option not implemented by this server; the key cannot log in with this line", "line", n, "option", opts.unsupported)
		} else {
			set.usable++
		}
		k := string(key.Marshal())
		set.lines[k] = append(set.lines[k], kl)
	}
	if err := sc.Err(); err != nil {
		logger.Warn("authorized-keys file read stopped early", "err", err)
	}
	return set
}

// keyOptions is the parsed options field of one line.
type keyOptions struct {
	from          string
	hasFrom       bool
	hostPatterns  []string // from= entries that are host names, for a warning
	expiry        time.Time
	certAuthority bool
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
	"pty":               optSatisfied,
	"no-touch-required": optSatisfied,
	// restrict is accepted only together with pty (it implies no-pty).
	"restrict": optSatisfied,
	// Not implemented: the line admits nobody.
	"no-pty":          optUnsupported, // the chat needs a terminal
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
	restrict, pty := false, false
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
		case "restrict":
			restrict = true
		case "pty":
			pty = true
		}
		if rule == optUnsupported && o.unsupported == "" {
			o.unsupported = name
		}
	}
	if restrict && !pty && o.unsupported == "" {
		o.unsupported = "restrict (implies no-pty; add pty)"
	}
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
// starting with ! excludes; an address or CIDR network (host bits zero)
// matches by address; anything else is a * and ? wildcard pattern matched
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
	if err != nil || addr.Zone() != "" {
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

// addrIP is the IP of a connection's remote address; invalid if it has
// none (a from= line then admits nobody).
func addrIP(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(t.IP); ok {
			return ip.Unmap()
		}
	}
	if a != nil {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			return ap.Addr().Unmap()
		}
	}
	return netip.Addr{}
}

// stampOf stats path.
func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	st := fileStamp{mod: fi.ModTime(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st, nil
}
