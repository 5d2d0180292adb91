package chat

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestSettingsReachEverySessionAndTheNextLogin: a setting changed in one
// session is pushed to every session of the user at once (SettingsEvent)
// and is in the snapshot of the next login; other users are not told.
func TestSettingsReachEverySessionAndTheNextLogin(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	ctx := context.Background()
	a := account(t, h, "alice")
	s1, s2 := connect(t, h, a), connect(t, h, a)
	bob := connect(t, h, account(t, h, "bob"))
	if got := s1.Snapshot().Settings; got != DefaultSettings() {
		t.Fatalf("first login settings %+v, want the defaults", got)
	}
	for _, line := range []string{"/theme light", "/tz Europe/Paris", "/clock 12", "/bell off", "/notices off", "/links on"} {
		if _, err := s1.Exec(ctx, Lobby, line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	want := Settings{Theme: ThemeLight, TZ: "Europe/Paris", Clock12: true, Bell: false, Notices: false, Links: LinksOn}
	var got Settings
	for got != want {
		got = next[SettingsEvent](t, s2).Settings
	}
	for _, ev := range drain(bob) {
		if _, ok := ev.(SettingsEvent); ok {
			t.Fatal("another user was told alice's settings")
		}
	}
	s3 := connect(t, h, a)
	if got := s3.Snapshot().Settings; got != want {
		t.Fatalf("next login settings %+v, want %+v", got, want)
	}
	rep, err := s3.Exec(ctx, Lobby, "/set")
	if err != nil || !strings.Contains(strings.Join(rep.Lines, "\n"), "Europe/Paris") {
		t.Fatalf("/set = %q, %v; want the time zone listed", rep.Lines, err)
	}
}

// TestSettingsRefuseBadValuesWithAReason: a bad value is one line saying
// what is accepted, and nothing is stored.
func TestSettingsRefuseBadValuesWithAReason(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	ctx := context.Background()
	a := account(t, h, "alice")
	s := connect(t, h, a)
	for _, line := range []string{"/theme purple", "/tz Mars/Olympus", "/tz ../../etc/passwd", "/clock 13", "/bell maybe", "/links sometimes"} {
		_, err := s.Exec(ctx, Lobby, line)
		if !errors.Is(err, ErrSetting) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%s: %v, want a one-line ErrSetting", line, err)
		}
	}
	if got := connect(t, h, a).Snapshot().Settings; got != DefaultSettings() {
		t.Fatalf("settings after refusals %+v, want the defaults", got)
	}
}

// TestHelpCommandExplainsOneWithAnExample: /help tz gives the usage and an
// example; every command in the table has an example.
func TestHelpCommandExplainsOneWithAnExample(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	s := connect(t, h, account(t, h, "alice"))
	rep, err := s.Exec(context.Background(), Lobby, "/help /tz")
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Join(rep.Lines, "\n")
	if !strings.Contains(out, "/tz ZONE") || !strings.Contains(out, "example: /tz Europe/Paris") {
		t.Fatalf("/help tz = %q", out)
	}
	if _, err := s.Exec(context.Background(), Lobby, "/help nosuch"); !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("/help nosuch: %v, want ErrUnknownCommand", err)
	}
	for _, c := range commands() {
		if c.example == "" {
			t.Errorf("/%s has no example", c.name)
		}
	}
}
