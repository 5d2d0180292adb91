package chat

// keys.go is a user's own key management: /keys lists the keys of the
// account, /keys link gives a one-time code with which a new key joins
// the account at its first login (Hub.LinkKey), /keys remove removes one.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sshchat/model"
)

// LinkCodeTTL is how long a link code is valid.
const LinkCodeTTL = 10 * time.Minute

// linkAlphabet is Crockford's base32: no I, L, O or U, so a code read
// aloud or retyped is not misread (normalizeCode maps the look-alikes).
const linkAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// linkCodeLen is the length of a code: 10 symbols of 5 bits, 50 bits.
const linkCodeLen = 10

// newLinkCode returns a random code, grouped for reading ("ABCDE-FGHJK").
func newLinkCode() (string, error) {
	var b [linkCodeLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("link code: %w", err)
	}
	out := make([]byte, 0, linkCodeLen+1)
	for i, v := range b {
		if i == linkCodeLen/2 {
			out = append(out, '-')
		}
		out = append(out, linkAlphabet[v&31])
	}
	return string(out), nil
}

// normalizeCode reads a code as typed: case, dashes and blanks do not
// matter, and O, I and L read as 0, 1 and 1.
func normalizeCode(code string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == '-' || r == ' ':
		case r == 'O':
			b.WriteByte('0')
		case r == 'I' || r == 'L':
			b.WriteByte('1')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// linkCodeHash is what is stored of a code of account user.
func linkCodeHash(user UserID, code string) string {
	sum := sha256.Sum256([]byte(strconv.FormatUint(uint64(user), 10) + ":" + normalizeCode(code)))
	return hex.EncodeToString(sum[:])
}

// LinkKey adds key, which has no account, to the account with the given
// handle if code is that account's current link code; the code is spent.
func (h *Hub) LinkKey(ctx context.Context, key Key, handle, code string) (Account, error) {
	hk := HandleKey(strings.TrimPrefix(strings.TrimSpace(handle), "@"))
	if hk == "" || len(normalizeCode(code)) != linkCodeLen {
		return Account{}, fmt.Errorf("%w: type the handle and the code shown by /keys link, e.g. alice ABCDE-FGHJK", ErrLinkCode)
	}
	u, err := h.store.UserByHandle(ctx, hk)
	if errors.Is(err, model.ErrNotFound) {
		return Account{}, fmt.Errorf("%w: ask for a new one with /keys link", ErrLinkCode)
	}
	if err != nil {
		return Account{}, fmt.Errorf("link key: %w", err)
	}
	k := model.Key{Fingerprint: key.Fingerprint, PublicKey: key.Authorized}
	err = h.store.LinkKey(ctx, u.ID, linkCodeHash(UserID(u.ID), code), &k, h.opts.Now())
	switch {
	case errors.Is(err, model.ErrNotFound):
		return Account{}, fmt.Errorf("%w: ask for a new one with /keys link", ErrLinkCode)
	case errors.Is(err, model.ErrConflict):
		return Account{}, fmt.Errorf("%w: this key already belongs to an account", ErrNotAllowed)
	case err != nil:
		return Account{}, h.wrote(err, "link key", "the key was not linked; try again later")
	}
	h.health.ok()
	h.log.Info("key linked", "user", u.ID, "handle", u.Handle, "fingerprint", key.Fingerprint)
	return Account{ID: UserID(u.ID), Handle: u.Handle, Fingerprint: key.Fingerprint}, nil
}

// cmdKeys is /keys, /keys link and /keys remove FINGERPRINT.
func cmdKeys(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
	sub, rest, _ := strings.Cut(arg, " ")
	switch strings.ToLower(sub) {
	case "":
		return s.listKeys(ctx)
	case "link":
		if rest != "" {
			return Reply{}, usage("keys")
		}
		return s.linkCode(ctx)
	case "remove", "rm":
		fp := strings.TrimSpace(rest)
		if fp == "" || strings.Contains(fp, " ") {
			return Reply{}, usage("keys")
		}
		return s.removeKey(ctx, fp)
	}
	return Reply{}, usage("keys")
}

// listKeys lists the account's keys, marking the one of this session.
func (s *session) listKeys(ctx context.Context) (Reply, error) {
	keys, err := s.hub.store.KeysOf(ctx, uint64(s.user))
	if err != nil {
		return Reply{}, fmt.Errorf("keys: %w", err)
	}
	lines := []string{fmt.Sprintf("Your keys (%d):", len(keys))}
	for _, k := range keys {
		typ, rest, _ := strings.Cut(k.PublicKey, " ")
		line := "  " + k.Fingerprint + "  " + SanitizeText(clipRunes(typ, 32))
		if _, comment, ok := strings.Cut(strings.TrimSpace(rest), " "); ok && strings.TrimSpace(comment) != "" {
			line += "  " + SanitizeText(clipRunes(strings.TrimSpace(comment), 40))
		}
		if !k.CreatedAt.IsZero() {
			line += "  added " + k.CreatedAt.UTC().Format("2006-01-02")
		}
		if k.Fingerprint == s.fp {
			line += "  (this session)"
		}
		lines = append(lines, line)
	}
	lines = append(lines, "/keys link gives a code to add another key; /keys remove FINGERPRINT removes one.")
	return Reply{Lines: lines}, nil
}

// linkCode makes a new link code for the account (the earlier one stops
// working) and shows it to this session only.
func (s *session) linkCode(ctx context.Context) (Reply, error) {
	code, err := newLinkCode()
	if err != nil {
		return Reply{}, err
	}
	now := s.hub.opts.Now()
	err = s.hub.store.CreateLinkCode(ctx, model.LinkCode{CodeHash: linkCodeHash(s.user, code), UserID: uint64(s.user),
		ExpiresAt: now.Add(LinkCodeTTL), CreatedAt: now})
	if err != nil {
		return Reply{}, s.hub.wrote(err, "link code", "no code was made; try again later")
	}
	handle := s.hub.handleOf(ctx, s.user)
	return Reply{Lines: []string{
		fmt.Sprintf("Link code: %s (valid %d minutes, for one key; it is not shown again)", code, int(LinkCodeTTL.Minutes())),
		"On the new device, log in as the user link (ssh -t link@<this server>) and type: " + handle + " " + code,
	}}, nil
}

// removeKey removes one of the account's keys (not the last, not the one
// of this session) and has the server end that key's sessions.
func (s *session) removeKey(ctx context.Context, fp string) (Reply, error) {
	if fp == s.fp {
		if keys, err := s.hub.store.KeysOf(ctx, uint64(s.user)); err == nil && len(keys) == 1 {
			return Reply{}, fmt.Errorf("%w: that is your only key; link another first (/keys link)", ErrNotAllowed)
		}
		return Reply{}, fmt.Errorf("%w: this session uses that key; remove it from a session of another key", ErrNotAllowed)
	}
	err := s.hub.store.RemoveKey(ctx, uint64(s.user), fp)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return Reply{}, fmt.Errorf("%w: no key %s on your account; /keys lists them", ErrNotListed, SanitizeText(clipRunes(fp, 64)))
	case errors.Is(err, model.ErrLastKey):
		return Reply{}, fmt.Errorf("%w: that is your only key; link another first (/keys link)", ErrNotAllowed)
	case err != nil:
		return Reply{}, s.hub.wrote(err, "remove key", "the key was not removed; try again later")
	}
	s.hub.log.Info("key removed", "user", s.user, "fingerprint", fp)
	if f := s.hub.opts.KeyRemoved; f != nil {
		f(fp)
	}
	s.hub.publish(evKeyRemoved, keyRef{Fingerprint: fp}) // every node ends its sessions (cluster_sync.go)
	return Reply{Lines: []string{"Removed key " + fp + "; its open sessions are ended."}}, nil
}
