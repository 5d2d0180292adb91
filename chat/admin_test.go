package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// adminHub is a pausing hub whose administrator is the key "SHA256:boss"
// (set before any session exists), recording what EndKeys is asked.
func adminHub(t *testing.T) (*Hub, *pausingStore, func() []string) {
	t.Helper()
	h, ps := newPausingHub(t)
	var mu sync.Mutex
	var ended []string
	h.opts.IsAdmin = func(fp string) bool { return fp == "SHA256:boss" }
	h.opts.EndKeys = func(fps []string, line string) {
		mu.Lock()
		defer mu.Unlock()
		for _, fp := range fps {
			ended = append(ended, fp+" "+line)
		}
	}
	return h, ps, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ended...)
	}
}

// A mute takes its place in the one order: a lobby post of the muted user
// sequenced after it is refused at commit, in one line, while a direct
// message sequenced after it goes through.
func TestPostSequencedAfterMuteIsRefusedAndDirectMessagesPass(t *testing.T) {
	h, ps, _ := adminHub(t)
	ctx := context.Background()
	b, u := account(t, h, "boss"), account(t, h, "bob")
	boss, bob := connect(t, h, b), connect(t, h, u)

	ps.arm("append")
	held := make(chan struct{})
	go func() {
		defer close(held)
		boss.Send(ctx, Lobby, "hold")
	}()
	<-ps.paused // the sequencer is busy with boss's message
	muted := make(chan error, 1)
	go func() {
		_, err := boss.Exec(ctx, Lobby, "/admin mute bob 1h")
		muted <- err
	}()
	eventually(t, func() bool { return h.queued() == 1 })
	lobby, direct := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := bob.Send(ctx, Lobby, "LATE-lobby")
		lobby <- err
	}()
	eventually(t, func() bool { return h.queued() == 2 })
	go func() {
		_, err := bob.Send(ctx, DirectConv(b.ID, u.ID), "dm-ok")
		direct <- err
	}()
	eventually(t, func() bool { return h.queued() == 3 })
	ps.release()
	<-held
	if err := <-muted; err != nil {
		t.Fatal(err)
	}
	err := <-lobby
	if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "you are muted until") ||
		!strings.Contains(err.Error(), "direct messages still work") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("lobby post after the mute: %v", err)
	}
	if err := <-direct; err != nil {
		t.Fatalf("direct message after the mute: %v", err)
	}
	hist, err := boss.History(ctx, Lobby, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range hist {
		if strings.Contains(m.Body, "LATE-") {
			t.Fatalf("a muted post was stored: %+v", m)
		}
	}
	exec(t, boss, Lobby, "/admin unmute bob")
	if _, err := bob.Send(ctx, Lobby, "after-unmute"); err != nil {
		t.Fatalf("post after unmute: %v", err)
	}
}

// A ban takes its place in the one order: nothing committed after it
// reaches the banned user's sessions, their sends are refused, the key
// cannot log in again, and the server is asked to end its SSH sessions.
func TestBanEndsSessionsAtItsPlaceInTheOrder(t *testing.T) {
	h, ps, ended := adminHub(t)
	ctx := context.Background()
	b, u := account(t, h, "boss"), account(t, h, "bob")
	boss, bob := connect(t, h, b), connect(t, h, u)
	quiet, err := h.Attach(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	if err := h.Follow(ctx, quiet, Lobby); err != nil {
		t.Fatal(err)
	}

	ps.arm("append")
	held := make(chan struct{})
	go func() {
		defer close(held)
		boss.Send(ctx, Lobby, "hold")
	}()
	<-ps.paused
	banned := make(chan error, 1)
	go func() {
		_, err := boss.Exec(ctx, Lobby, "/admin ban bob 1d spam")
		banned <- err
	}()
	eventually(t, func() bool { return h.queued() == 1 })
	after := make(chan error, 1)
	go func() {
		_, err := boss.Send(ctx, Lobby, "SECRET-after")
		after <- err
	}()
	eventually(t, func() bool { return h.queued() == 2 })
	ps.release()
	<-held
	if err := <-banned; err != nil {
		t.Fatal(err)
	}
	if err := <-after; err != nil {
		t.Fatal(err)
	}
	for _, s := range []Session{bob, quiet} {
		<-s.Done()
		if !errors.Is(s.Err(), ErrRemoved) || !strings.Contains(s.Err().Error(), "banned from this server until") {
			t.Fatalf("the banned session ended with %v", s.Err())
		}
		for _, ev := range drain(s) {
			if strings.Contains(fmt.Sprint(ev), "SECRET-") {
				t.Fatalf("delivered after the ban: %+v", ev)
			}
		}
	}
	if _, err := bob.Send(ctx, DirectConv(b.ID, u.ID), "still here?"); !errors.Is(err, ErrRemoved) {
		t.Fatalf("a send of the banned session: %v", err)
	}
	if _, err := bob.Exec(ctx, Lobby, "/join #after-ban"); !errors.Is(err, ErrRemoved) {
		t.Fatalf("a command of the banned session: %v", err)
	}
	if _, err := h.Authenticate(ctx, Key{Fingerprint: "SHA256:bob"}); !errors.Is(err, ErrRemoved) {
		t.Fatalf("the banned key authenticated: %v", err)
	}
	if _, err := h.Connect(ctx, u); !errors.Is(err, ErrRemoved) {
		t.Fatalf("the banned key connected: %v", err)
	}
	if e := ended(); len(e) != 1 || !strings.HasPrefix(e[0], "SHA256:bob this key is banned from this server until") || !strings.HasSuffix(e[0], ": spam") {
		t.Fatalf("EndKeys was asked %q", e)
	}
	// The administrator cannot ban themselves, nor act without being one.
	if _, err := boss.Exec(ctx, Lobby, "/admin ban boss"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("self-ban: %v", err)
	}
	c := connect(t, h, account(t, h, "carol"))
	if _, err := c.Exec(ctx, Lobby, "/admin unban bob"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("/admin by a non-admin: %v", err)
	}
}

func TestParseDurationTakesMinutesToWeeks(t *testing.T) {
	for in, ok := range map[string]bool{"30m": true, "12h": true, "7d": true, "2w": true, "1h30m": true,
		"30s": false, "0d": false, "-1d": false, "d": false, "spam": false, "": false, "999999w": false} {
		if _, got := ParseDuration(in); got != ok {
			t.Errorf("ParseDuration(%q) ok = %v, want %v", in, got, ok)
		}
	}
}
