package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"charm.land/log/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"
)

// allowlist is an OpenSSH authorized_keys file, re-read when it changes.
// A configured file that is missing, unreadable, not a regular file or
// has no usable key lets nobody in: the allowlist fails closed, never open.
//
// All file I/O runs in a check goroutine shared by whoever asks while it
// runs (logins and the watcher); callers wait for it at most timeout and
// hold no lock meanwhile, so a slow or stuck file system delays a login by
// at most timeout and never blocks shutdown.
type allowlist struct {
	path    string
	log     *log.Logger
	timeout time.Duration                     // longest a caller waits for a check of the file
	settle  time.Duration                     // how long a changed file must stay unchanged before sessions are revoked against it
	stat    func(string) (os.FileInfo, error) // os.Stat; a test makes it slow

	cur atomic.Pointer[keySet] // the latest version read; nil before the first

	mu       sync.Mutex // guards checking; never held during I/O
	checking *fileCheck // the check in flight, if any

	// Owned by the check in flight (one at a time): what was already
	// warned about, so that a reload of the same text or mode is quiet.
	warnedText  [sha256.Size]byte      // hash of the last text whose per-line warnings were logged
	warnedAny   bool                   // warnedText is set
	warnedModes map[string]os.FileMode // last mode seen of the file and each directory above it
}

// fileCheck is one look at the file: stat, and a read if it changed.
type fileCheck struct {
	done chan struct{}
	slow sync.Once // logs, once per check, that it overran the timeout
}

// fileStamp identifies a version of a file cheaply.
type fileStamp struct {
	mod, change time.Time
	size        int64
	dev, ino    uint64
	mode        os.FileMode
}

// Allowlist limits; see README (Authorization).
const (
	maxAuthorizedKeysSize = 1 << 20
	allowlistTimeout      = 2 * time.Second
	allowlistSettle       = time.Second
)

// Sentinel errors of the allowlist.
var (
	errNotRegular    = errors.New("not a regular file")
	errTooLarge      = fmt.Errorf("larger than %d bytes", maxAuthorizedKeysSize)
	errAllowlistSlow = errors.New("authorized-keys file not read in time")
	errStopped       = errors.New("stopped")
)

// Reasons the allowlist gives for a refusal. They go to the log; only
// reasonExpired is also told to the client. None quotes the file.
const (
	reasonNotListed   = "key not listed"
	reasonExpired     = "key expired"
	reasonFrom        = "client address not allowed by the key's from= option"
	reasonUnusable    = "authorized-keys file unusable"
	reasonUnsupported = "the key's line uses an option this server does not implement"
)

func newAllowlist(path string, logger *log.Logger) *allowlist {
	return &allowlist{path: path, log: logger, timeout: allowlistTimeout, settle: allowlistSettle, stat: os.Stat}
}

// allowed reports whether key may log in from ip at now, against the file
// as it is now; reason says why not.
func (a *allowlist) allowed(key gossh.PublicKey, ip netip.Addr, now time.Time) (ok bool, reason string) {
	return a.allowedUntil(nil, key, ip, now)
}

// allowedUntil is allowed, giving up with errStopped's reason when stop
// is closed.
func (a *allowlist) allowedUntil(stop <-chan struct{}, key gossh.PublicKey, ip netip.Addr, now time.Time) (ok bool, reason string) {
	set, err := a.check(stop)
	if err != nil {
		return false, err.Error()
	}
	if set.err != nil {
		return false, reasonUnusable
	}
	return set.decide(key, ip, now)
}

// refresh brings the allowlist up to date with the file, waiting at most
// the timeout.
func (a *allowlist) refresh() { _, _ = a.check(nil) }

// check returns the version of the file current after a look at it,
// joining the look in flight if there is one. It waits at most the
// timeout, or until stop is closed.
func (a *allowlist) check(stop <-chan struct{}) (*keySet, error) {
	a.mu.Lock()
	c := a.checking
	if c == nil {
		c = &fileCheck{done: make(chan struct{})}
		a.checking = c
		go a.runCheck(c)
	}
	a.mu.Unlock()
	t := time.NewTimer(a.timeout)
	defer t.Stop()
	select {
	case <-c.done:
		return a.cur.Load(), nil
	case <-t.C:
		c.slow.Do(func() {
			a.log.Error("authorized-keys file not read in time: refusing logins until it is", "path", a.path, "timeout", a.timeout)
		})
		return nil, errAllowlistSlow
	case <-stop:
		return nil, errStopped
	}
}

// runCheck stats the file and reads it if its stamp changed. It is the
// only code that touches the file; it ends when the system calls return.
func (a *allowlist) runCheck(c *fileCheck) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("authorized-keys check panic: nobody can log in", "panic", r)
			a.cur.Store(&keySet{err: fmt.Errorf("check panic: %v", r), readAt: time.Now()})
		}
		a.mu.Lock()
		a.checking = nil
		a.mu.Unlock()
		close(c.done)
	}()
	prev := a.cur.Load()
	fi, statErr := a.stat(a.path)
	if prev != nil && !prev.retry && prev.sameVersion(fi, statErr) {
		return
	}
	next := a.read(fi, statErr)
	if prev != nil && prev.retry && next.retry && prev.stamp == next.stamp && prev.err.Error() == next.err.Error() {
		// The same failure again: keep the version first seen (its
		// readAt times the settle) and log it once.
		return
	}
	a.cur.Store(next)
	switch {
	case next.err != nil:
		a.log.Error("authorized-keys file unusable: nobody can log in", "path", a.path, "err", next.err)
	case next.usable == 0:
		// Often a file caught mid-rewrite; the watcher logs an error
		// if it stays so (see watchAllowlist).
		a.log.Warn("authorized-keys file has no usable keys: nobody can log in; waiting for the file to settle", "path", a.path)
	default:
		a.log.Info("authorized keys loaded", "path", a.path, "keys", next.usable)
	}
}

// read loads the file: only a regular file (opened without blocking, so
// a FIFO or device is refused, not waited on) of at most
// maxAuthorizedKeysSize bytes.
func (a *allowlist) read(fi os.FileInfo, statErr error) *keySet {
	set := &keySet{readAt: time.Now()}
	if statErr != nil {
		set.err, set.statErr = statErr, statErr.Error()
		return set
	}
	set.stamp = stampOf(fi)
	f, err := os.OpenFile(a.path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		set.err, set.retry = fmt.Errorf("open: %w", err), true
		return set
	}
	defer f.Close()
	fi, err = f.Stat()
	if err != nil {
		set.err, set.retry = fmt.Errorf("stat: %w", err), true
		return set
	}
	set.stamp = stampOf(fi)
	if !fi.Mode().IsRegular() {
		set.err = fmt.Errorf("%w (%s)", errNotRegular, fi.Mode().Type())
		return set
	}
	if fi.Size() > maxAuthorizedKeysSize {
		set.err = errTooLarge
		return set
	}
	data, err := io.ReadAll(io.LimitReader(f, maxAuthorizedKeysSize+1))
	if err != nil {
		set.err, set.retry = fmt.Errorf("read: %w", err), true
		return set
	}
	if len(data) > maxAuthorizedKeysSize {
		set.err = errTooLarge
		return set
	}
	a.warnWritable(fi)
	// Per-line warnings are logged once per text, not at every reload.
	lineLog := a.log
	if sum := sha256.Sum256(data); a.warnedAny && sum == a.warnedText {
		lineLog = log.New(io.Discard)
	} else {
		a.warnedText, a.warnedAny = sum, true
	}
	parsed := parseAuthorizedKeys(data, lineLog, time.Local)
	set.lines, set.usable = parsed.lines, parsed.usable
	return set
}

// warnWritable warns, as sshd's StrictModes would refuse, when the file
// or a directory above it (of the path as configured or of its target)
// can be written by group or others, who could then let anyone in. A
// sticky directory (like /tmp) is not reported: others cannot replace a
// file in it that they do not own. It warns rather than refuses so that
// a mode mistake does not lock everyone out; see README. Each is logged
// once per change of mode, not at every reload.
func (a *allowlist) warnWritable(fi os.FileInfo) {
	if a.warnedModes == nil {
		a.warnedModes = map[string]os.FileMode{}
	}
	changed := func(path string, mode os.FileMode) bool {
		old, seen := a.warnedModes[path]
		a.warnedModes[path] = mode
		return !seen || old != mode
	}
	if changed(a.path, fi.Mode()) && fi.Mode().Perm()&0o022 != 0 {
		a.log.Warn("authorized-keys file is writable by group or others: they can let anyone in", "path", a.path, "mode", fi.Mode().String())
	}
	dirs := map[string]bool{}
	starts := []string{filepath.Dir(a.path)}
	if real, err := filepath.EvalSymlinks(a.path); err == nil {
		starts = append(starts, filepath.Dir(real))
	}
	for _, start := range starts {
		abs, err := filepath.Abs(start)
		if err != nil {
			continue
		}
		for dir := abs; !dirs[dir]; dir = filepath.Dir(dir) {
			dirs[dir] = true
			di, err := os.Stat(dir)
			if err == nil && changed(dir, di.Mode()) && di.Mode().Perm()&0o022 != 0 && di.Mode()&os.ModeSticky == 0 {
				a.log.Warn("directory of the authorized-keys file is writable by group or others: they can replace the file", "path", a.path, "dir", dir, "mode", di.Mode().String())
			}
		}
	}
}

// keySet is one version of the file as read; immutable once published.
type keySet struct {
	lines   map[string][]keyLine // by the key's wire form, in file order
	usable  int                  // lines that can admit someone
	err     error                // why this version admits nobody: unreadable, not a regular file, too large
	statErr string               // the stat error, to notice it is unchanged
	retry   bool                 // err may pass while the file stays the same (open or read failed: out of descriptors, I/O error): look again
	stamp   fileStamp            // of the file read
	readAt  time.Time
}

// sameVersion reports whether a stat of the file shows the version k was
// read from (or the same stat error).
func (k *keySet) sameVersion(fi os.FileInfo, statErr error) bool {
	if statErr != nil {
		return k.statErr == statErr.Error()
	}
	return k.statErr == "" && k.stamp == stampOf(fi)
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
// nobody (see decide), a cert-authority line never matches a plain key,
// and a line that lists a certificate admits nobody, as in sshd.
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
		if _, isCert := key.(*gossh.Certificate); isCert {
			logger.Warn("refusing authorized-keys line: it lists a certificate, which is not a user key (list the key it certifies)", "line", n)
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
	// The default: user verification is not required (sshd accepts a
	// no- form of every flag but restrict and cert-authority).
	"no-verify-required": optSatisfied,
	// restrict is accepted only with a pty after it (it implies no-pty).
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
			// As in sshd, restrict withdraws a pty named before it.
			restrict, pty = true, false
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

// watchAllowlist re-checks the authorized-keys file every interval and
// ends the sessions it no longer admits (key removed, expired, from= no
// longer matching). It revokes only against a version of the file that
// has stayed unchanged for the settle time, re-checking after that delay,
// so a file caught empty or half-written mid-rewrite ends no session; a
// file that stays empty does end them all. The server lock is held only
// to copy the session list, never during file I/O, and every wait ends at
// shutdown.
//
// Each revocation runs in its own goroutine, at most Config.maxRevoking
// at once, so that the watcher keeps watching while they run and clients
// that stopped reading delay each other by one revokeWait, not one each.
// Each looks at the file again just before it ends its session and skips
// a key the file admits again: a file restored while thousands of
// sessions are being ended stops the rest. The watcher owns these
// goroutines: it waits for them before it reports itself done.
func (s *server) watchAllowlist(interval time.Duration) {
	defer close(s.watchDone)
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("allowlist watcher panic", "panic", r)
		}
	}()
	var revoking sync.WaitGroup
	defer revoking.Wait()
	limit := s.cfg.maxRevoking
	if limit <= 0 {
		limit = maxRevoking
	}
	slots := make(chan struct{}, limit)
	t := time.NewTicker(interval)
	defer t.Stop()
	var (
		recheck <-chan time.Time
		checked *keySet // the last version sessions were checked against
		toldMu  sync.Mutex
		told    = map[ssh.Session]bool{} // being revoked or revoked, still closing; guarded by toldMu
	)
	for {
		select {
		case <-s.stopWatch:
			return
		case <-t.C:
		case <-recheck:
		}
		recheck = nil
		set, err := s.authz.check(s.stopWatch)
		if err != nil {
			continue
		}
		if wait := s.authz.settle - time.Since(set.readAt); wait > 0 {
			recheck = time.After(wait)
			continue
		}
		if set != checked {
			s.log.Debug("authorized-keys file settled; checking open sessions against it")
			if set.err == nil && set.usable == 0 {
				s.log.Error("authorized-keys file has no usable keys: nobody can log in; ending every session", "path", s.authz.path)
			}
			checked = set
		}
		s.mu.Lock()
		sessions := make([]ssh.Session, 0, len(s.sessions))
		for sess := range s.sessions {
			sessions = append(sessions, sess)
		}
		s.mu.Unlock()
		open := make(map[ssh.Session]bool, len(sessions))
		now := time.Now()
		toldMu.Lock()
		for _, sess := range sessions {
			open[sess] = true
			k := sess.PublicKey()
			if k == nil || told[sess] {
				continue
			}
			if set.err == nil {
				if admitted, _ := set.decide(k, addrIP(sess.RemoteAddr()), now); admitted {
					continue
				}
			}
			told[sess] = true
			revoking.Add(1)
			go func() {
				defer revoking.Done()
				defer func() {
					if r := recover(); r != nil {
						s.log.Error("revocation panic", "panic", r)
					}
				}()
				select {
				case slots <- struct{}{}:
				case <-s.stopWatch:
					return // shutdown tells every session
				}
				defer func() { <-slots }()
				if !s.revokeIfRefused(sess) {
					toldMu.Lock()
					delete(told, sess)
					toldMu.Unlock()
				}
			}()
		}
		for sess := range told {
			if !open[sess] {
				delete(told, sess)
			}
		}
		toldMu.Unlock()
	}
}

// revokeIfRefused ends sess if the allowlist, as the file is now, refuses
// its key, and reports whether it did. The watcher decided against a
// settled version of the file, but revocations can wait their turn for a
// while: asking again at the last moment means a file fixed meanwhile
// ends nobody else.
func (s *server) revokeIfRefused(sess ssh.Session) bool {
	s.mu.Lock()
	_, open := s.sessions[sess]
	s.mu.Unlock()
	if !open {
		return true // ended meanwhile
	}
	k := sess.PublicKey()
	fp := gossh.FingerprintSHA256(k)
	ok, reason := s.authz.allowedUntil(s.stopWatch, k, addrIP(sess.RemoteAddr()), time.Now())
	if reason == errStopped.Error() {
		return true // shutdown tells every session
	}
	if ok {
		s.log.Debug("key admitted again; not ending its session", "fingerprint", fp)
		return false
	}
	s.log.Info("key no longer authorized; ending session", "fingerprint", fp, "reason", reason)
	s.revoke(sess, revokedLine(reason))
	return true
}

// revokedLine tells a user whose key the allowlist no longer admits why,
// in words that do not quote the file. When the file itself cannot be
// used the key is not at fault, and the line says so.
func revokedLine(reason string) string {
	switch {
	case reason == reasonExpired:
		return "your key has expired on this server"
	case fileUnusable(reason):
		return unusableLine
	}
	return "your key is no longer authorized on this server"
}

// unusableLine tells a user that the allowlist, not their key, is why
// they cannot be admitted.
const unusableLine = "the server cannot read its list of authorized keys; try again later"

// fileUnusable reports whether a refusal reason means the file could not
// be used (unreadable, not a regular file, too large, not read in time).
func fileUnusable(reason string) bool {
	return reason == reasonUnusable || reason == errAllowlistSlow.Error()
}

// keyStillAdmitted refuses a session whose key the allowlist no longer
// admits. A connection is authenticated once, so without this a key
// revoked while connected could open new sessions on its connection,
// each living until the watcher's next pass. After the one-line reason
// the whole connection is closed: nothing else on it is admitted any
// more, and a client asking again and again must not keep it open.
func (s *server) keyStillAdmitted(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if k := sess.PublicKey(); s.authz != nil && k != nil {
			if ok, reason := s.authz.allowed(k, addrIP(sess.RemoteAddr()), time.Now()); !ok {
				s.logLimited(log.InfoLevel, sourceOf(sess.RemoteAddr()), "key no longer authorized; refusing session and closing its connection",
					"fingerprint", gossh.FingerprintSHA256(k), "reason", reason)
				wish.Fatalln(sess, "sshchat: "+revokedLine(reason))
				if c, ok := sess.Context().Value(ssh.ContextKeyConn).(io.Closer); ok {
					_ = c.Close()
				}
				return
			}
		}
		next(sess)
	}
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

// stampOf is the stamp of a file's metadata: any write, rename over,
// chmod or replacement changes it.
func stampOf(fi os.FileInfo) fileStamp {
	st := fileStamp{mod: fi.ModTime(), size: fi.Size(), mode: fi.Mode()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.ino = uint64(sys.Dev), sys.Ino
		st.change = time.Unix(sys.Ctim.Unix())
	}
	return st
}
