package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestResolveLoopback(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:2222": "127.0.0.1:2222",
		"127.1.2.3:22":   "127.1.2.3:22",
		"[::1]:2222":     "[::1]:2222",
	} {
		got, err := resolveLoopback(addr)
		if err != nil || got != want {
			t.Errorf("resolveLoopback(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	if got, err := resolveLoopback("localhost:2222"); err != nil || !strings.HasSuffix(got, ":2222") {
		t.Errorf("resolveLoopback(localhost) = %q, %v", got, err)
	}
	for _, addr := range []string{"10.0.0.1:22", "8.8.8.8:2222", "[2001:db8::1]:22", ":2222", "0.0.0.0:2222", "example.com:22", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:x"} {
		if got, err := resolveLoopback(addr); err == nil {
			t.Errorf("resolveLoopback(%q) = %q, want an error", addr, got)
		}
	}
}

// A non-loopback address is refused with one line and exit status 2,
// before anything is dialled.
func TestRefuseNonLoopback(t *testing.T) {
	var out, errb bytes.Buffer
	code := realMain([]string{"-addr", "192.0.2.1:22"}, &out, &errb)
	if code != 2 || out.Len() != 0 {
		t.Fatalf("exit %d, stdout %q", code, out.String())
	}
	msg := errb.String()
	if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "refusing") || !strings.Contains(msg, "loopback") {
		t.Fatalf("stderr %q", msg)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := [][]string{
		{"-n", "0"},
		{"-senders", "-1"},
		{"-rate", "0"},
		{"-width", "5"},
		{"-ready", "("},
		{"-connect-concurrency", "0"},
		{"-rate", "1000", "-duration", "1h"},
		{"extra"},
		{"-observers", "-1"},
		{"-observers", "0"},
		{"-storm", "-1"},
		{"-storm", "5", "-idle", "1s"},
		{"-storm", "5", "-senders", "0"},
	}
	for _, args := range bad {
		if _, err := parseConfig(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseConfig(%q) accepted", args)
		}
	}
	c, err := parseConfig([]string{"-n", "3", "-senders", "5"}, &bytes.Buffer{})
	if err != nil || c.senders != 3 {
		t.Fatalf("senders not capped at -n: %v %v", c, err)
	}
	c, err = parseConfig([]string{"-n", "20"}, &bytes.Buffer{})
	if err != nil || c.observers != 20 {
		t.Fatalf("observers not capped at -n: %+v %v", c, err)
	}
	c, err = parseConfig([]string{"-n", "1000", "-observers", "50"}, &bytes.Buffer{})
	if err != nil || c.observers != 50 {
		t.Fatalf("-observers 50: %+v %v", c, err)
	}
	if c, err = parseConfig([]string{"-idle", "1s", "-observers", "0"}, &bytes.Buffer{}); err != nil || c.observers != 0 {
		t.Fatalf("-observers 0 when idle: %+v %v", c, err)
	}
	c, err = parseConfig([]string{"-idle", "10s"}, &bytes.Buffer{})
	if err != nil || c.senders != 0 || c.deadline < 10*time.Second {
		t.Fatalf("idle config: %+v %v", c, err)
	}
	if c.runID < 1 || c.runID >= maxRuns {
		t.Fatalf("run id %d", c.runID)
	}
}
