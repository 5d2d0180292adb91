package model

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestLinkCodeLinksOneKeyOnceBeforeItExpires(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		d, _ := openOn(t, dia)
		ctx := context.Background()
		alice, bob := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		now := time.Now()
		if err := d.CreateLinkCode(ctx, LinkCode{CodeHash: "h1", UserID: alice.ID, ExpiresAt: now.Add(10 * time.Minute), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		// The code is alice's: it links nothing to bob.
		if err := d.LinkKey(ctx, bob.ID, "h1", &Key{Fingerprint: "SHA256:new", PublicKey: "x"}, now); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another account's code: %v", err)
		}
		k := Key{Fingerprint: "SHA256:new", PublicKey: "x"}
		if err := d.LinkKey(ctx, alice.ID, "h1", &k, now); err != nil {
			t.Fatalf("link: %v", err)
		}
		if u, err := d.UserByFingerprint(ctx, "SHA256:new"); err != nil || u.ID != alice.ID {
			t.Fatalf("linked key logs into %v (%v), want alice", u.ID, err)
		}
		// Used: refused.
		if err := d.LinkKey(ctx, alice.ID, "h1", &Key{Fingerprint: "SHA256:third", PublicKey: "x"}, now); !errors.Is(err, ErrNotFound) {
			t.Fatalf("used code: %v", err)
		}
		// Expired: refused. A new code replaces the earlier one.
		if err := d.CreateLinkCode(ctx, LinkCode{CodeHash: "h2", UserID: alice.ID, ExpiresAt: now.Add(time.Minute), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := d.LinkKey(ctx, alice.ID, "h2", &Key{Fingerprint: "SHA256:third", PublicKey: "x"}, now.Add(time.Minute)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired code: %v", err)
		}
		if err := d.CreateLinkCode(ctx, LinkCode{CodeHash: "h3", UserID: alice.ID, ExpiresAt: now.Add(time.Minute), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		// A key that already has an account is not moved, and the code is
		// not spent on it.
		if err := d.LinkKey(ctx, alice.ID, "h3", &Key{Fingerprint: "SHA256:bob", PublicKey: "x"}, now); !errors.Is(err, ErrConflict) {
			t.Fatalf("linking bob's key: %v, want ErrConflict", err)
		}
		if u, _ := d.UserByFingerprint(ctx, "SHA256:bob"); u.ID != bob.ID {
			t.Fatal("bob's key moved to alice")
		}
		if err := d.LinkKey(ctx, alice.ID, "h3", &Key{Fingerprint: "SHA256:third", PublicKey: "x"}, now); err != nil {
			t.Fatalf("code spent by a failed link: %v", err)
		}
	})
}

func TestRemoveKeyRefusesTheLastKey(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		d, _ := openOn(t, dia)
		ctx := context.Background()
		alice := mustUser(t, d, "alice")
		keys, _ := d.KeysOf(ctx, alice.ID)
		if err := d.RemoveKey(ctx, alice.ID, keys[0].Fingerprint); !errors.Is(err, ErrLastKey) {
			t.Fatalf("removing the only key: %v", err)
		}
		now := time.Now()
		if err := d.CreateLinkCode(ctx, LinkCode{CodeHash: "h", UserID: alice.ID, ExpiresAt: now.Add(time.Minute), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := d.LinkKey(ctx, alice.ID, "h", &Key{Fingerprint: "SHA256:second", PublicKey: "x"}, now); err != nil {
			t.Fatal(err)
		}
		if err := d.RemoveKey(ctx, alice.ID, "SHA256:nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("removing a key not on the account: %v", err)
		}
		if err := d.RemoveKey(ctx, alice.ID, keys[0].Fingerprint); err != nil {
			t.Fatalf("removing one of two keys: %v", err)
		}
		if left, _ := d.KeysOf(ctx, alice.ID); len(left) != 1 || left[0].Fingerprint != "SHA256:second" {
			t.Fatalf("keys left: %+v", left)
		}
	})
}

// TestRemovingBothKeysAtOnceKeepsOne removes an account's two keys at the
// same moment (from two sessions, maybe on two nodes): one removal wins,
// the other is refused with ErrLastKey, and the account keeps a key.
func TestRemovingBothKeysAtOnceKeepsOne(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		for round := range 8 {
			u := mustUser(t, d, fmt.Sprint("user", round))
			if err := d.CreateLinkCode(ctx, LinkCode{CodeHash: u.Handle, UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour), CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if err := d.LinkKey(ctx, u.ID, u.Handle, &Key{Fingerprint: "SHA256:second-" + u.Handle, PublicKey: "x"}, time.Now()); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, fp := range []string{"SHA256:" + u.Handle, "SHA256:second-" + u.Handle} {
				wg.Go(func() { errs[i] = d.RemoveKey(ctx, u.ID, fp) })
			}
			wg.Wait()
			keys, err := d.KeysOf(ctx, u.ID)
			if err != nil || len(keys) != 1 {
				t.Fatalf("round %d: keys left %+v, %v (removals: %v)", round, keys, err, errs)
			}
			if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), ErrLastKey) {
				t.Fatalf("round %d: removals %v: want one to succeed, one ErrLastKey", round, errs)
			}
		}
	})
}
