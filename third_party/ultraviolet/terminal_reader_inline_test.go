//go:build !windows

package uv

import (
	"context"
	"io"
	"runtime"
	"testing"
	"time"
)

// sshchat fork: StreamEvents reads on the caller's goroutine, handles the
// escape timeout with a timer, and keeps sequences split across reads
// whole.
func TestStreamEventsReadsOnTheCallersGoroutine(t *testing.T) {
	pr, pw := io.Pipe()
	drv := NewTerminalReader(pr, "xterm-256color")
	eventc := make(chan Event)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := runtime.NumGoroutine()
	done := make(chan error, 1)
	go func() { done <- drv.StreamEvents(ctx, eventc) }()

	next := func() Event {
		t.Helper()
		select {
		case ev := <-eventc:
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
			return nil
		}
	}
	// A sequence split across two reads is one key.
	if _, err := pw.Write([]byte("\x1b[")); err != nil {
		t.Fatal(err)
	}
	if n := runtime.NumGoroutine() - before; n != 1 {
		t.Errorf("%d goroutines while reading, want 1", n)
	}
	if _, err := pw.Write([]byte("A")); err != nil {
		t.Fatal(err)
	}
	if ev, ok := next().(KeyPressEvent); !ok || ev.Code != KeyUp {
		t.Fatalf("split sequence: %#v", ev)
	}
	// A lone ESC is a key once the timeout has passed.
	start := time.Now()
	if _, err := pw.Write([]byte("\x1b")); err != nil {
		t.Fatal(err)
	}
	if ev, ok := next().(KeyPressEvent); !ok || ev.Code != KeyEscape {
		t.Fatalf("lone ESC: %#v", ev)
	}
	if d := time.Since(start); d < drv.EscTimeout {
		t.Errorf("lone ESC after %v, before the timeout", d)
	}
	// Typed text, then the end of the input.
	if _, err := pw.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	for _, want := range "hi" {
		if ev, ok := next().(KeyPressEvent); !ok || ev.Code != want {
			t.Fatalf("typed %q: %#v", want, ev)
		}
	}
	_ = pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
