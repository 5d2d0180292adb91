package main

// authkeys_edit.go changes the --authorized-keys file from inside the
// server (/admin authorize and /admin revoke): it adds or removes key
// lines and keeps every other byte of the file as it was. The allowlist
// (authkeys.go) picks the new version up like any edit, and revoke.go
// ends the sessions of a key it no longer admits.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Sentinel errors of key-file editing. Each error returned by KeysFile
// wraps one and reads as one line.
var (
	errOpenServer        = errors.New("this server has no --authorized-keys file: every key may already log in, there is nothing to authorize or revoke")
	errBadPublicKey      = errors.New("not a usable public key")
	errAlreadyAuthorized = errors.New("already authorized")
	errKeyNotListed      = errors.New("no line of the authorized-keys file has that key")
	errFileBusy          = errors.New("the authorized-keys file kept changing while being edited; try again")
)

// keysEditAttempts bounds how often one edit starts over because the file
// changed under it.
const keysEditAttempts = 5

// KeysFile edits an authorized_keys file atomically. Each edit reads the
// file, changes only the lines of one key, writes the result to a temporary
// file in the same directory, fsyncs it and renames it over the file, then
// fsyncs the directory: a reader (the allowlist, sshd) sees the old or the
// new version, never a partial one, and a crash leaves one of the two.
//
// Edits by this process are serialised by mu, and edits by other processes
// that use KeysFile by an advisory lock (flock) on the file's directory.
// A hand edit takes no lock; so that it is not lost, the file is read
// again just before the rename and the edit starts over from the new text
// when it changed. Only an edit saved in the instant between that check
// and the rename can still be overwritten.
type KeysFile struct {
	path string
	mu   sync.Mutex
	// written, when set, runs after the new version is written and before
	// the file is checked for a concurrent edit (a test edits it there).
	written func()
}

// NewKeysFile returns the editor of the allowlist at path; an empty path
// (an open server) is refused with errOpenServer.
func NewKeysFile(path string) (*KeysFile, error) {
	if path == "" {
		return nil, errOpenServer
	}
	return &KeysFile{path: path}, nil
}

// Authorize adds a line for pubkey (an authorized_keys line: optional
// options, type, base64 key, optional comment) with comment, when given,
// in place of the key's own. It refuses a certificate, options this
// server does not implement (the line would admit nobody) and a key
// already listed (errAlreadyAuthorized, whatever its options). It returns
// the key's SHA256 fingerprint.
func (f *KeysFile) Authorize(pubkey, comment string) (fingerprint string, err error) {
	line, fp, err := authorizedKeyLine(pubkey, comment)
	if err != nil {
		return "", fmt.Errorf("authorize: %w", err)
	}
	err = f.edit(func(old []byte) ([]byte, error) {
		if n := lineOfKey(old, fp); n > 0 {
			return nil, fmt.Errorf("%w: %s (line %d)", errAlreadyAuthorized, fp, n)
		}
		out := bytes.Clone(old)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		return append(out, line...), nil
	})
	if err != nil {
		return "", fmt.Errorf("authorize %s: %w", fp, err)
	}
	return fp, nil
}

// Revoke removes every line listing the key with SHA256 fingerprint fp
// ("SHA256:..."), whatever its options, and reports how many; none is
// errKeyNotListed. Open sessions of the key end when the allowlist
// watcher sees the new file (revoke.go).
func (f *KeysFile) Revoke(fp string) (removed int, err error) {
	fp = strings.TrimSpace(fp)
	if !strings.HasPrefix(fp, "SHA256:") {
		return 0, fmt.Errorf("revoke: %w: want a fingerprint like SHA256:...", errBadPublicKey)
	}
	err = f.edit(func(old []byte) ([]byte, error) {
		removed = 0
		var out []byte
		for _, l := range bytes.SplitAfter(old, []byte("\n")) {
			if k := keyOfLine(l); k != nil && gossh.FingerprintSHA256(k) == fp {
				removed++
				continue
			}
			out = append(out, l...)
		}
		if removed == 0 {
			return nil, fmt.Errorf("%w: %s", errKeyNotListed, fp)
		}
		return out, nil
	})
	if err != nil {
		return 0, fmt.Errorf("revoke: %w", err)
	}
	return removed, nil
}

// authorizedKeyLine validates pubkey and returns the line to append (with
// its newline) and the key's fingerprint.
func authorizedKeyLine(pubkey, comment string) (line []byte, fp string, err error) {
	if strings.ContainsAny(pubkey, "\r\n") || strings.ContainsAny(comment, "\r\n") {
		return nil, "", fmt.Errorf("%w: one line only", errBadPublicKey)
	}
	key, keyComment, options, rest, err := gossh.ParseAuthorizedKey([]byte(pubkey))
	if err != nil || len(bytes.TrimSpace(rest)) > 0 {
		return nil, "", fmt.Errorf("%w: want a line like ssh-ed25519 AAAA... [comment]", errBadPublicKey)
	}
	if _, isCert := key.(*gossh.Certificate); isCert {
		return nil, "", fmt.Errorf("%w: a certificate is not a user key (give the key it certifies)", errBadPublicKey)
	}
	opts, err := parseKeyOptions(options, time.Local)
	switch {
	case err != nil:
		return nil, "", fmt.Errorf("%w: %w", errBadPublicKey, err)
	case opts.certAuthority:
		return nil, "", fmt.Errorf("%w: cert-authority is not supported", errBadPublicKey)
	case opts.unsupported != "":
		return nil, "", fmt.Errorf("%w: option %s is not implemented by this server, the line would admit nobody", errBadPublicKey, opts.unsupported)
	}
	if comment == "" {
		comment = keyComment
	}
	for _, r := range comment {
		if r < ' ' || r == 0x7f {
			return nil, "", fmt.Errorf("%w: the comment has a control character", errBadPublicKey)
		}
	}
	var b bytes.Buffer
	if len(options) > 0 {
		b.WriteString(strings.Join(options, ","))
		b.WriteByte(' ')
	}
	b.Write(bytes.TrimSpace(gossh.MarshalAuthorizedKey(key)))
	if comment = strings.TrimSpace(comment); comment != "" {
		b.WriteByte(' ')
		b.WriteString(comment)
	}
	b.WriteByte('\n')
	return b.Bytes(), gossh.FingerprintSHA256(key), nil
}

// keyOfLine is the key a line of the file lists, or nil for a comment, a
// blank or malformed line.
func keyOfLine(l []byte) gossh.PublicKey {
	l = bytes.TrimSpace(l)
	if len(l) == 0 || l[0] == '#' {
		return nil
	}
	k, _, _, _, err := gossh.ParseAuthorizedKey(l)
	if err != nil {
		return nil
	}
	return k
}

// lineOfKey is the number of the first line listing the key with
// fingerprint fp, or 0.
func lineOfKey(data []byte, fp string) int {
	for i, l := range bytes.SplitAfter(data, []byte("\n")) {
		if k := keyOfLine(l); k != nil && gossh.FingerprintSHA256(k) == fp {
			return i + 1
		}
	}
	return 0
}

// edit applies change to the file's text and replaces the file with the
// result (see KeysFile). It starts over, at most keysEditAttempts times,
// when the file changed while the new version was being written.
func (f *KeysFile) edit(change func(old []byte) ([]byte, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	// Write to the file a symlink points to, keeping the link.
	target, err := filepath.EvalSymlinks(f.path)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", f.path, err)
	}
	dir := filepath.Dir(target)
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	for range keysEditAttempts {
		old, fi, err := readKeysFile(target)
		if err != nil {
			return err
		}
		next, err := change(old)
		if err != nil {
			return err
		}
		tmp, err := writeTemp(dir, filepath.Base(target), next, fi)
		if err != nil {
			return err
		}
		if f.written != nil {
			f.written()
		}
		now, nowFi, err := readKeysFile(target)
		if err != nil {
			os.Remove(tmp)
			return err
		}
		if !bytes.Equal(now, old) || stampOf(nowFi) != stampOf(fi) {
			os.Remove(tmp) // edited meanwhile: start over from its text
			continue
		}
		if err := os.Rename(tmp, target); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("replace %s: %w", target, err)
		}
		return syncDir(dir)
	}
	return errFileBusy
}

// readKeysFile reads the file, which must be a regular file of at most
// maxAuthorizedKeysSize bytes.
func readKeysFile(path string) ([]byte, os.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read authorized-keys file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("read authorized-keys file: %w", errNotRegular)
	}
	if fi.Size() > maxAuthorizedKeysSize {
		return nil, nil, fmt.Errorf("read authorized-keys file: %w", errTooLarge)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read authorized-keys file: %w", err)
	}
	return data, fi, nil
}

// writeTemp writes data to a new file beside the target with the
// target's mode (and owner, when allowed), fsynced, and returns its path.
func writeTemp(dir, base string, data []byte, like os.FileInfo) (string, error) {
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write authorized-keys file: %w", err)
	}
	name := tmp.Name()
	fail := func(err error) (string, error) {
		tmp.Close()
		os.Remove(name)
		return "", fmt.Errorf("write authorized-keys file: %w", err)
	}
	if err := tmp.Chmod(like.Mode().Perm()); err != nil {
		return fail(err)
	}
	if st, ok := like.Sys().(*syscall.Stat_t); ok {
		_ = tmp.Chown(int(st.Uid), int(st.Gid)) // only root may give a file away; the mode is what matters
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("write authorized-keys file: %w", err)
	}
	return name, nil
}

// keysLockWait bounds how long an edit waits for another editor's lock.
const keysLockWait = 5 * time.Second

// lockDir takes an exclusive advisory lock on dir, shared by every
// KeysFile editing a file in it (in this process or another), and
// returns its release. It gives up after keysLockWait.
func lockDir(dir string) (unlock func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	deadline := time.Now().Add(keysLockWait)
	for {
		err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			d.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return func() {
		_ = syscall.Flock(int(d.Fd()), syscall.LOCK_UN)
		d.Close()
	}, nil
}

// syncDir fsyncs a directory, making a rename in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
