package model

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestModerationBansMutesAndAuditSurviveReopen(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, path := openOn(t, dia)
		alice, bob := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		if err := d.BanKeys(ctx, []Ban{{Fingerprint: "SHA256:bob", UserID: bob.ID, ByID: alice.ID, Reason: "spam", ExpiresAt: &until}},
			&AuditEntry{ActorID: alice.ID, Actor: "alice", Action: "ban", Target: "bob", TargetID: bob.ID, Reason: "spam", ExpiresAt: &until}); err != nil {
			t.Fatal(err)
		}
		if err := d.MuteUser(ctx, Mute{UserID: bob.ID, ByID: alice.ID}, &AuditEntry{ActorID: alice.ID, Actor: "alice", Action: "mute", Target: "bob"}); err != nil {
			t.Fatal(err)
		}
		if err := d.RecordAudit(ctx, &AuditEntry{ActorID: alice.ID, Actor: "alice", Action: "announce", Reason: "hello"}); err != nil {
			t.Fatal(err)
		}
		d.Close()
		d, err := OpenURL(path)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		bans, err := d.Bans(ctx)
		if err != nil || len(bans) != 1 || bans[0].Fingerprint != "SHA256:bob" || bans[0].ExpiresAt == nil || !bans[0].ExpiresAt.Equal(until) {
			t.Fatalf("bans after reopen: %+v, %v", bans, err)
		}
		mutes, err := d.Mutes(ctx)
		if err != nil || len(mutes) != 1 || mutes[0].UserID != bob.ID || mutes[0].ExpiresAt != nil {
			t.Fatalf("mutes after reopen: %+v, %v", mutes, err)
		}
		audit, err := d.Audit(ctx, 10)
		if err != nil || len(audit) != 3 || audit[0].Action != "announce" || audit[2].Action != "ban" || audit[2].Target != "bob" || audit[2].ExpiresAt == nil {
			t.Fatalf("audit: %+v, %v", audit, err)
		}
		if err := d.Unban(ctx, []string{"SHA256:nobody"}, &AuditEntry{Action: "unban"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unban of an unbanned key: %v, want ErrNotFound", err)
		}
		if a, _ := d.Audit(ctx, 10); len(a) != 3 {
			t.Fatalf("a refused unban wrote an audit row: %d rows", len(a))
		}
		if err := d.Unban(ctx, []string{"SHA256:bob"}, &AuditEntry{Action: "unban"}); err != nil {
			t.Fatal(err)
		}
		if err := d.UnmuteUser(ctx, bob.ID, &AuditEntry{Action: "unmute"}); err != nil {
			t.Fatal(err)
		}
		if b, _ := d.Bans(ctx); len(b) != 0 {
			t.Fatalf("bans after unban: %+v", b)
		}
	})
}
