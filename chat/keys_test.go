package chat

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sshchat/model"
)

var codeRE = regexp.MustCompile(`Link code: (\S+) `)

func TestExpiredLinkCodeIsRefused(t *testing.T) {
	ctx := context.Background()
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).UnixNano())
	h, _ := newTestHub(t, Options{Now: func() time.Time { return time.Unix(0, now.Load()) }})
	alice := connect(t, h, account(t, h, "alice"))
	r, err := alice.Exec(ctx, Lobby, "/keys link")
	if err != nil {
		t.Fatal(err)
	}
	m := codeRE.FindStringSubmatch(strings.Join(r.Lines, "\n"))
	if m == nil {
		t.Fatalf("no code in %q", r.Lines)
	}
	now.Add(int64(LinkCodeTTL))
	_, err = h.LinkKey(ctx, Key{Fingerprint: "SHA256:late", Authorized: "x"}, "alice", m[1])
	if !errors.Is(err, ErrLinkCode) {
		t.Fatalf("code used at its expiry: %v, want ErrLinkCode", err)
	}
	if _, err := h.Authenticate(ctx, Key{Fingerprint: "SHA256:late"}); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("expired code linked the key: %v", err)
	}
}

func TestLinkCodeHasAtLeast40RandomBitsAndIsStoredHashed(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c, err := newLinkCode()
		if err != nil {
			t.Fatal(err)
		}
		n := normalizeCode(c)
		if len(n)*5 < 40 || seen[n] {
			t.Fatalf("code %q: too short or repeated", c)
		}
		seen[n] = true
	}
	db, err := model.Open(filepath.Join(t.TempDir(), "chat.db"))
	if err != nil {
		t.Fatal(err)
	}
	st := &codeStore{Store: db}
	h, err := NewHub(st, nopLogger{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close(context.Background())
		db.Close()
	})
	alice := connect(t, h, account(t, h, "alice"))
	r, err := alice.Exec(context.Background(), Lobby, "/keys link")
	if err != nil {
		t.Fatal(err)
	}
	code := codeRE.FindStringSubmatch(strings.Join(r.Lines, "\n"))[1]
	if len(st.stored) != 1 || strings.Contains(st.stored[0], normalizeCode(code)) || strings.Contains(st.stored[0], code) {
		t.Fatalf("stored %q for code %s", st.stored, code)
	}
}

// codeStore records the link codes written to the real store.
type codeStore struct {
	model.Store
	stored []string
}

func (s *codeStore) CreateLinkCode(ctx context.Context, c model.LinkCode) error {
	s.stored = append(s.stored, c.CodeHash)
	return s.Store.CreateLinkCode(ctx, c)
}
