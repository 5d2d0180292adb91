package main

// revoke.go ends sessions the allowlist no longer admits: the watcher,
// the per-session re-check and the wording users are shown.

import (
	"io"
	"slices"
	"sync"
	"time"

	"charm.land/log/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"

	"sshchat/ui"
)

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
		case <-s.recheck:
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

// defaultAllowlistEvery is between the watcher's looks at the
// authorized-keys file when nothing asks for one sooner.
const defaultAllowlistEvery = 2 * time.Second

// allowlistChanged asks the watcher to look at the authorized-keys file
// now (chat.Options.AllowlistChanged: an administrator edited it, on this
// node or another that shares the file). It does not block.
func (s *server) allowlistChanged() {
	select {
	case s.recheck <- struct{}{}:
	default: // a look is already asked for
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
		if k := sess.PublicKey(); k != nil {
			fp := gossh.FingerprintSHA256(k)
			if ban, banned := s.hub.Banned(fp); banned {
				s.logLimited(log.InfoLevel, sourceOf(sess.RemoteAddr()), "key banned; refusing session and closing its connection", "fingerprint", fp)
				wish.Fatalln(sess, "sshchat: this key is "+ban.Line())
				if c, ok := sess.Context().Value(ssh.ContextKeyConn).(io.Closer); ok {
					_ = c.Close()
				}
				return
			}
		}
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
			if _, _, pty := sess.Pty(); pty && s.authz.commandsOnly(k, addrIP(sess.RemoteAddr()), time.Now()) {
				wish.Fatalln(sess, "sshchat: "+noPTYLine)
				return
			}
		}
		next(sess)
	}
}

// noPTYLine refuses the chat to a key whose line forbids a terminal.
const noPTYLine = "this key may only run commands (its authorized-keys line has no-pty or restrict); ssh -T HOST help lists them"

// endKeys ends, with line, every open SSH session of the keys fps (an
// administrator's kick or ban; chat.Options.EndKeys): the chat UI or the
// command ends as a revocation does, and a client that stopped reading
// is cut off after revokeWait. It does not block.
func (s *server) endKeys(fps []string, line string) {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return // shutdown tells every session
	}
	var ending []ssh.Session
	for sess := range s.sessions {
		if k := sess.PublicKey(); k != nil && slices.Contains(fps, gossh.FingerprintSHA256(k)) {
			ending = append(ending, sess)
		}
	}
	s.ending.Add(len(ending))
	s.mu.Unlock()
	for _, sess := range ending {
		go func() {
			defer s.ending.Done()
			s.revoke(sess, line)
		}()
	}
}

// revokeWait bounds how long revoking a session waits for the client to
// take its one-line reason.
const revokeWait = 2 * time.Second

// maxRevoking bounds the revocations that run at once (each waits up to
// revokeWait for its session to end): high enough that a whole server's
// worth of sessions is ended in a few rounds of revokeWait, not one after
// another.
const maxRevoking = 1024

// revoke ends a session whose key the allowlist no longer admits: the UI
// restores the client's terminal, then tells the user why in one line. A
// client that stopped reading (its SSH window is full) never takes the
// line; if the session has not ended after revokeWait, or at shutdown, its
// connection is closed, which ends the writes, so that the watcher and
// shutdown never wait on a client.
func (s *server) revoke(sess ssh.Session, reason string) {
	s.mu.Lock()
	ended, ok := s.sessions[sess]
	s.mu.Unlock()
	if !ok {
		return // already over
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ui.End(sess, reason)
	}()
	t := time.NewTimer(revokeWait)
	defer t.Stop()
	select {
	case <-ended:
		<-done
		return
	case <-t.C:
	case <-s.stopWatch:
	}
	s.log.Warn("revoked session is not reading; closing its connection", "fingerprint", gossh.FingerprintSHA256(sess.PublicKey()))
	if c, ok := sess.Context().Value(ssh.ContextKeyConn).(io.Closer); ok {
		_ = c.Close()
	}
	<-done
}
