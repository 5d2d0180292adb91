package main

import (
	"bufio"
	"bytes"
	"os"
	"sync"
	"syscall"
	"time"

	"charm.land/log/v2"
	gossh "golang.org/x/crypto/ssh"
)

// allowlist is an OpenSSH authorized_keys file, re-read when it changes.
// A configured file that is missing, unreadable or has no valid key lets
// nobody in: the allowlist fails closed, never open.
type allowlist struct {
	path string
	log  *log.Logger

	mu    sync.Mutex
	keys  map[string]bool // marshaled wire form of each allowed key
	stamp fileStamp       // of the version loaded
	known bool            // a load was attempted
}

// fileStamp identifies a version of a file cheaply.
type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

func newAllowlist(path string, logger *log.Logger) *allowlist {
	return &allowlist{path: path, log: logger}
}

// allowed reports whether key is listed, re-reading the file first if it
// changed since the last look.
func (a *allowlist) allowed(key gossh.PublicKey) bool {
	a.refresh()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.keys[string(key.Marshal())]
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
	a.keys = parseAuthorizedKeys(data, a.log)
	a.known, a.stamp = true, st
	if len(a.keys) == 0 {
		a.log.Error("authorized-keys file has no valid keys: nobody can log in", "path", a.path)
		return
	}
	a.log.Info("authorized keys loaded", "path", a.path, "keys", len(a.keys))
}

// parseAuthorizedKeys parses authorized_keys text line by line; a malformed
// line is logged and skipped, so the keys after it still work. Options
// (from=, no-pty, ...) are accepted but not enforced.
func parseAuthorizedKeys(data []byte, logger *log.Logger) map[string]bool {
	keys := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, _, _, _, err := gossh.ParseAuthorizedKey(line)
		if err != nil {
			logger.Warn("skipping malformed authorized-keys line", "line", n, "err", err)
			continue
		}
		keys[string(key.Marshal())] = true
	}
	if err := sc.Err(); err != nil {
		logger.Warn("authorized-keys file read stopped early", "err", err)
	}
	return keys
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
