package model

import (
	"context"
	"testing"
)

// TestUserSettingsReplaceAndStayPerUser: a setting written twice keeps the
// last value, and one user's settings are not another's.
func TestUserSettingsReplaceAndStayPerUser(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a := User{Handle: "alice", HandleKey: "alice"}
		b := User{Handle: "bob", HandleKey: "bob"}
		if err := d.CreateUser(ctx, &a, &Key{Fingerprint: "SHA256:a", PublicKey: "a"}); err != nil {
			t.Fatal(err)
		}
		if err := d.CreateUser(ctx, &b, &Key{Fingerprint: "SHA256:b", PublicKey: "b"}); err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"dark", "light"} {
			if err := d.SetUserSetting(ctx, a.ID, "theme", v); err != nil {
				t.Fatalf("set theme %s: %v", v, err)
			}
		}
		if err := d.SetUserSetting(ctx, a.ID, "tz", "Europe/Paris"); err != nil {
			t.Fatal(err)
		}
		got, err := d.UserSettings(ctx, a.ID)
		if err != nil || len(got) != 2 || got["theme"] != "light" || got["tz"] != "Europe/Paris" {
			t.Fatalf("alice's settings %v, %v", got, err)
		}
		if got, err := d.UserSettings(ctx, b.ID); err != nil || len(got) != 0 {
			t.Fatalf("bob's settings %v, %v; want none", got, err)
		}
	})
}
