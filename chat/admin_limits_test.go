package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// /admin limits shows the server's lines (Options.Limits) and the message
// rate limit with the users who spent most of their bucket, fewest tokens
// first; a user who sent nothing is not named, and a non-administrator is
// refused.
func TestAdminLimitsNamesUsersNearestTheMessageRate(t *testing.T) {
	h, _ := newTestHub(t, Options{RateBurst: 10, RatePerSecond: 0.001,
		IsAdmin: func(fp string) bool { return fp == "SHA256:boss" },
		Limits:  func(context.Context) []string { return []string{"server line: 7"} }})
	ctx := context.Background()
	boss := connect(t, h, account(t, h, "boss"))
	bob, carol := connect(t, h, account(t, h, "bob")), connect(t, h, account(t, h, "carol"))
	connect(t, h, account(t, h, "dave"))
	for i := range 6 {
		if _, err := bob.Send(ctx, Lobby, fmt.Sprint("b", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := carol.Send(ctx, Lobby, "c"); err != nil {
		t.Fatal(err)
	}
	rep, err := boss.Exec(ctx, Lobby, "/admin limits")
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Join(rep.Lines, "\n")
	if !strings.Contains(out, "server line: 7") {
		t.Fatalf("no server line:\n%s", out)
	}
	rate := rep.Lines[len(rep.Lines)-1]
	if !strings.Contains(rate, "0.001 per second per user, bursts of 10") ||
		!strings.Contains(rate, "fewest tokens left: bob 4.0, carol 9.0") || strings.Contains(rate, "dave") {
		t.Fatalf("rate line: %q", rate)
	}
	if _, err := bob.Exec(ctx, Lobby, "/admin limits"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("non-admin: %v", err)
	}
	if _, err := boss.Exec(ctx, Lobby, "/admin limits now"); !errors.Is(err, ErrUsage) {
		t.Fatalf("extra words: %v", err)
	}
}
