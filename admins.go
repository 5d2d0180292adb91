package main

// admins.go says which keys are the server's administrators': those of the
// --admins file (an authorized_keys file, re-read like the allowlist and
// failing closed like it) and those listed by --admin-fingerprints.

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// admins decides whether a key is an administrator's. It is asked by the
// chat at each use of an administrator's power (chat.Options.IsAdmin), so
// a key removed from the file loses them within the watcher's interval.
type admins struct {
	fps   map[string]bool // from --admin-fingerprints
	file  *allowlist      // the --admins file; nil without one
	cache atomic.Pointer[adminFile]
}

// adminFile is one version of the admins file by fingerprint.
type adminFile struct {
	set   *keySet
	lines map[string][]keyLine // by fingerprint, in file order
}

// isAdmin reports whether the key with fingerprint fp is an
// administrator's now. A line of the file counts as sshd would use it,
// except that from= cannot be checked here (the chat asks by key, not by
// connection): such a line, like one with an unsupported option, grants
// nothing. A file that is missing or unusable grants nothing.
func (a *admins) isAdmin(fp string) bool {
	if a.fps[fp] {
		return true
	}
	if a.file == nil {
		return false
	}
	f := a.current()
	if f == nil {
		return false
	}
	now := time.Now().Unix()
	for _, l := range f.lines[fp] {
		if !l.expiry.IsZero() && l.expiry.Unix() < now {
			continue
		}
		return !l.hasFrom && l.unsupported == ""
	}
	return false
}

// current is the latest usable version of the file by fingerprint, or nil.
// The watcher builds it after each look at the file, so that the chat,
// which asks under its hub's lock, seldom does.
func (a *admins) current() *adminFile {
	set := a.file.cur.Load()
	if set == nil || set.err != nil {
		return nil
	}
	f := a.cache.Load()
	if f == nil || f.set != set {
		f = &adminFile{set: set, lines: make(map[string][]keyLine, len(set.lines))}
		for wire, lines := range set.lines {
			k, err := gossh.ParsePublicKey([]byte(wire))
			if err != nil {
				continue
			}
			f.lines[gossh.FingerprintSHA256(k)] = lines
			for _, l := range lines {
				if l.hasFrom {
					a.file.log.Warn("admins file line has from=, which cannot apply to an administrator's powers: it grants none", "line", l.n)
				}
			}
		}
		a.cache.Store(f)
	}
	return f
}

// watchAdmins re-reads the admins file every interval until shutdown.
func (s *server) watchAdmins(interval time.Duration) {
	defer close(s.adminsDone)
	seen := s.admins.current() // the version the hub's marks were computed with
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stopWatch:
			return
		case <-t.C:
			if _, err := s.admins.file.check(s.stopWatch); err != nil {
				continue
			}
			if f := s.admins.current(); f != seen {
				seen = f
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				if err := s.hub.AdminsChanged(ctx); err != nil {
					s.log.Debug("administrators changed; marks not refreshed", "err", err)
				}
				cancel()
			}
		}
	}
}

// parseFingerprints parses a comma-separated list of SHA256 key
// fingerprints ("SHA256:" and 43 characters of unpadded base64).
func parseFingerprints(list string) ([]string, error) {
	var out []string
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		rest, ok := strings.CutPrefix(f, "SHA256:")
		b, err := base64.RawStdEncoding.DecodeString(rest)
		if !ok || err != nil || len(b) != 32 {
			return nil, fmt.Errorf("invalid admin fingerprint %q: want SHA256:... as ssh-keygen -lf prints it", clip(f, 60))
		}
		out = append(out, f)
	}
	return out, nil
}
