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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"charm.land/log/v2"
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
	words   allowlistWords                    // what the log calls the file and its failure
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

// allowlistWords are what the log says of an allowlist's file: its name,
// what happens when it admits nobody, and what one who can write it can do.
type allowlistWords struct {
	file, nobody, refusing, anyone string
}

// Words of the log for --authorized-keys and for --admins (admins.go).
var (
	authorizedKeysWords = allowlistWords{file: "authorized-keys file", nobody: "nobody can log in",
		refusing: "refusing logins until it is", anyone: "they can let anyone in"}
	adminsWords = allowlistWords{file: "admins file", nobody: "nobody is an administrator",
		refusing: "nobody is an administrator until it is", anyone: "they can make anyone an administrator"}
)

func newAllowlist(path string, logger *log.Logger) *allowlist {
	return &allowlist{path: path, log: logger, words: authorizedKeysWords, timeout: allowlistTimeout, settle: allowlistSettle, stat: os.Stat}
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

// commandsOnly reports whether the line that admits key from ip at now
// forbids a PTY (no-pty, restrict): the key may run commands, not the chat.
func (a *allowlist) commandsOnly(key gossh.PublicKey, ip netip.Addr, now time.Time) bool {
	set, err := a.check(nil)
	if err != nil || set.err != nil {
		return false
	}
	l, ok, _ := set.decideLine(key, ip, now)
	return ok && l.noPTY
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
			a.log.Error(a.words.file+" not read in time: "+a.words.refusing, "path", a.path, "timeout", a.timeout)
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
			a.log.Error(a.words.file+" check panic: "+a.words.nobody, "panic", r)
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
		a.log.Error(a.words.file+" unusable: "+a.words.nobody, "path", a.path, "err", next.err)
	case next.usable == 0:
		// Often a file caught mid-rewrite; the watcher logs an error
		// if it stays so (see watchAllowlist).
		a.log.Warn(a.words.file+" has no usable keys: "+a.words.nobody+"; waiting for the file to settle", "path", a.path)
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
		a.log.Warn(a.words.file+" is writable by group or others: "+a.words.anyone, "path", a.path, "mode", fi.Mode().String())
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
				a.log.Warn("directory of the "+a.words.file+" is writable by group or others: they can replace the file", "path", a.path, "dir", dir, "mode", di.Mode().String())
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
	noPTY       bool      // no-pty or restrict: commands only, no chat
	unsupported string    // an option this server does not implement: the line admits nobody
}

// decide applies sshd's rule: the first line for key whose expiry-time=
// and from= admit the connection is the one used, and it is used with all
// its options. If that line carries an option this server does not
// implement, the key is refused rather than falling through to a later,
// possibly less restricted line.
func (k *keySet) decide(key gossh.PublicKey, ip netip.Addr, now time.Time) (ok bool, reason string) {
	_, ok, reason = k.decideLine(key, ip, now)
	return ok, reason
}

// decideLine is decide, also returning the line used when ok.
func (k *keySet) decideLine(key gossh.PublicKey, ip netip.Addr, now time.Time) (line keyLine, ok bool, reason string) {
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
			return keyLine{}, false, fmt.Sprintf("%s (line %d: %s)", reasonUnsupported, l.n, l.unsupported)
		}
		return l, true, ""
	}
	return keyLine{}, false, reason
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
		kl := keyLine{n: n, from: opts.from, hasFrom: opts.hasFrom, expiry: opts.expiry, noPTY: opts.noPTY}
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
