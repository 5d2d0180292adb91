package chat

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"

	"sshchat/model"
)

// KeyEditor edits the server's authorized-keys file for /admin authorize
// and /admin revoke; the server implements it (package main, KeysFile).
// Its errors are one line, safe to show to the administrator.
type KeyEditor interface {
	// Authorize appends the key (an authorized_keys line without options)
	// with comment, and returns its SHA256 fingerprint.
	Authorize(pubkey, comment string) (fingerprint string, err error)
	// Revoke removes every line of the key with this fingerprint; the
	// server's watcher then ends its sessions.
	Revoke(fingerprint string) (removed int, err error)
}

// adminAuthorize runs /admin authorize PUBKEY [COMMENT]. The file is edited
// on the caller's goroutine, not the sequencer's: its lock may be held by
// another editor for a while, and nothing ordered depends on it (the
// allowlist watcher applies the change). The audit entry follows the edit.
func adminAuthorize(ctx context.Context, s *session, rest string) (Reply, error) {
	ed := s.hub.opts.Keys
	if ed == nil {
		return Reply{}, fmt.Errorf("%w: this server has no --authorized-keys file: every key may already log in", ErrNotAllowed)
	}
	f := strings.Fields(rest)
	if len(f) < 2 {
		return Reply{}, adminUsageErr("authorize")
	}
	line, comment := f[0]+" "+f[1], strings.Join(f[2:], " ")
	if pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err == nil {
		if b, banned := s.hub.Banned(ssh.FingerprintSHA256(pk)); banned {
			return Reply{}, fmt.Errorf("%w: key %s is banned (%s); /admin unban it first", ErrNotAllowed, b.Fingerprint, SanitizeText(clipRunes(b.Reason, 64)))
		}
	}
	fp, err := ed.Authorize(line, comment)
	if err != nil {
		return Reply{}, fmt.Errorf("%w: %s", ErrNotAllowed, SanitizeText(err.Error()))
	}
	s.hub.allowlistChanged()
	if err := s.keyAudit(ctx, "authorize", fp, comment); err != nil {
		return Reply{Lines: []string{"authorized " + fp}}, err
	}
	return Reply{Lines: []string{"authorized " + fp + "; it can log in now"}}, nil
}

// adminRevoke runs /admin revoke SHA256:FINGERPRINT (see adminAuthorize).
func adminRevoke(ctx context.Context, s *session, rest string) (Reply, error) {
	ed := s.hub.opts.Keys
	if ed == nil {
		return Reply{}, fmt.Errorf("%w: this server has no --authorized-keys file: use /admin ban to keep a key out", ErrNotAllowed)
	}
	fp := strings.TrimSpace(rest)
	if fp == "" || strings.ContainsAny(fp, " \t") {
		return Reply{}, adminUsageErr("revoke")
	}
	n, err := ed.Revoke(fp)
	if err != nil {
		return Reply{}, fmt.Errorf("%w: %s", ErrNotAllowed, SanitizeText(err.Error()))
	}
	s.hub.allowlistChanged()
	if err := s.keyAudit(ctx, "revoke", fp, ""); err != nil {
		return Reply{Lines: []string{fmt.Sprintf("revoked %s", fp)}}, err
	}
	return Reply{Lines: []string{fmt.Sprintf("revoked %s (%d %s removed); its sessions end", fp, n, plural(n, "line", "lines"))}}, nil
}

// keyAudit records a key-file change in the audit log.
func (s *session) keyAudit(ctx context.Context, action, fp, reason string) error {
	h := s.hub
	by := s.adminName(ctx)
	err := h.store.RecordAudit(ctx, &model.AuditEntry{ActorID: uint64(s.user), Actor: by, Action: action, Target: fp, Reason: reason, At: h.opts.Now()})
	if err := h.wrote(err, "audit "+action, "the file was changed but the audit log was not written"); err != nil {
		return err
	}
	h.log.Info("administrator changed the authorized-keys file", "by", s.user, "action", action, "fingerprint", fp)
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
