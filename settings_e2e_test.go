package main

import (
	"strings"
	"testing"
	"time"
)

// TestThemeAndTimeZoneSurviveAReconnect: /theme and /tz set over SSH are
// stored: the next login lists them in /set and shows times in the zone.
func TestThemeAndTimeZoneSurviveAReconnect(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	key := newKey(t)
	alice := dial(t, ts.addr, "alice", key, 100, 30)
	alice.WaitFor("#lobby")
	alice.Line("/theme light")
	alice.WaitFor("theme is now light")
	alice.Line("/tz Asia/Kolkata")
	alice.WaitFor("tz is now Asia/Kolkata")
	alice.Close()

	again := dial(t, ts.addr, "alice", key, 100, 30)
	again.WaitFor("#lobby")
	again.Line("/set")
	again.WaitFor("theme    light", "tz       Asia/Kolkata")
	again.Line("what time is it")
	// Kolkata is UTC+5:30, so its minutes differ from the server's (UTC or
	// a whole-hour zone) unless the server runs there too.
	ist, _ := time.LoadLocation("Asia/Kolkata")
	deadline := time.Now().Add(10 * time.Second)
	for {
		now := time.Now().In(ist)
		s := again.Screen()
		if strings.Contains(s, now.Format("15:04")+" alice: what time is it") ||
			strings.Contains(s, now.Add(-time.Minute).Format("15:04")+" alice: what time is it") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Kolkata time before the message:\n%s", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLinksReachTheTerminalAsOSC8: with /links on, a URL in a message
// reaches the client wrapped in an OSC 8 hyperlink, and the screen shows
// the URL as text in its place.
func TestLinksReachTheTerminalAsOSC8(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	alice := dial(t, ts.addr, "alice", newKey(t), 100, 30)
	alice.WaitFor("#lobby")
	alice.Line("/links on")
	alice.WaitFor("links is now on")
	alice.Line("docs at https://example.com/docs, enjoy")
	alice.WaitFor("alice: docs at https://example.com/docs, enjoy")
	alice.WaitRaw("\x1b]8;;https://example.com/docs\x1b\\")
}
