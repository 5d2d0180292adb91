package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// testScreen returns an 80×24 screen whose query replies are collected by a
// goroutine (as the session's reply loop does), and a function returning
// the replies read so far after closing the pipe.
func testScreen(t *testing.T) (*screen, func() string) {
	t.Helper()
	s := newScreen(80, 24, regexp.MustCompile(`#lobby`))
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&buf, s.replies())
	}()
	var once bool
	stop := func() string {
		if !once {
			once = true
			s.closeReplies()
			<-done
		}
		return buf.String()
	}
	t.Cleanup(func() { stop() })
	return s, stop
}

// feedCollect feeds p and returns the tokens found.
func feedCollect(s *screen, p string) (ids []tokenID, ready bool) {
	ready = s.feed([]byte(p), func(id tokenID) { ids = append(ids, id) })
	return ids, ready
}

func cup(row, col int) string { return fmt.Sprintf("\x1b[%d;%dH", row, col) }

func TestScreenReadyPattern(t *testing.T) {
	s, _ := testScreen(t)
	if _, ready := feedCollect(s, "\x1b[?1049h\x1b[2J"+cup(1, 1)+"welcome"); ready {
		t.Fatal("ready too early")
	}
	// The pattern arrives split by a cursor movement.
	if _, ready := feedCollect(s, cup(2, 3)+"obby"); ready {
		t.Fatal("ready on half a pattern")
	}
	if _, ready := feedCollect(s, cup(2, 1)+"#l"); !ready {
		t.Fatalf("not ready; screen:\n%s", s)
	}
	if _, ready := feedCollect(s, cup(3, 1)+"#lobby"); ready {
		t.Fatal("ready reported twice")
	}
}

// A token drawn right half first, then left half, is found on the chunk that
// completes it, with no further byte needed.
func TestScreenSplitTokenFoundWhenComplete(t *testing.T) {
	s, _ := testScreen(t)
	tok := makeToken(tokenID{7, 2, 77})
	feedCollect(s, "\x1b[?1049h\x1b[2J"+cup(1, 1)+"#lobby")
	if ids, _ := feedCollect(s, cup(5, 14)+tok[3:]); len(ids) != 0 {
		t.Fatalf("found %v in half a token", ids)
	}
	if ids, _ := feedCollect(s, cup(10, 1)+"unrelated row"); len(ids) != 0 {
		t.Fatalf("found %v", ids)
	}
	ids, _ := feedCollect(s, cup(5, 1)+"load0003: "+tok[:3])
	if !slices.Equal(ids, []tokenID{{7, 2, 77}}) {
		t.Fatalf("got %v, want the token; screen:\n%s", ids, s)
	}
	// The row is not touched again: not reported again.
	if ids, _ := feedCollect(s, cup(6, 1)+"x"); len(ids) != 0 {
		t.Fatalf("token reported again: %v", ids)
	}
}

// A token typed one byte per chunk counts on the chunk of its last byte.
func TestScreenTokenByteByByte(t *testing.T) {
	s, _ := testScreen(t)
	tok := makeToken(tokenID{7, 0, 5})
	feedCollect(s, cup(3, 1)+"alice: ")
	for i := 0; i < len(tok); i++ {
		ids, _ := feedCollect(s, tok[i:i+1])
		if want := i == len(tok)-1; (len(ids) == 1) != want {
			t.Fatalf("after byte %d: %v", i, ids)
		}
	}
}

// A diffing renderer that replaces one token by another on the same cells
// rewrites only the differing cells; the new token never appears in the byte
// stream but is found.
func TestScreenDiffOverwrite(t *testing.T) {
	s, _ := testScreen(t)
	old, nw := makeToken(tokenID{7, 1, 36}), makeToken(tokenID{7, 1, 40})
	feedCollect(s, cup(7, 1)+"bob: "+old)
	var ids []tokenID
	for i := len(nw) - 1; i >= 0; i-- { // right to left, changed cells only
		if nw[i] != old[i] {
			got, _ := feedCollect(s, cup(7, 6+i)+nw[i:i+1])
			ids = append(ids, got...)
		}
	}
	if !slices.Contains(ids, tokenID{7, 1, 40}) {
		t.Fatalf("new token not found: %v; screen:\n%s", ids, s)
	}
}

// Wide characters occupy two cells; a token after them is still found.
func TestScreenWideCharacters(t *testing.T) {
	s, _ := testScreen(t)
	tok := makeToken(tokenID{7, 4, 9})
	ids, _ := feedCollect(s, cup(4, 1)+"用户 😀 你好: "+tok+" ")
	if !slices.Equal(ids, []tokenID{{7, 4, 9}}) {
		t.Fatalf("got %v; screen:\n%s", ids, s)
	}
	// Overwrite the second half of the token alone, after the wide chars:
	// columns are cells, not bytes or runes.
	// The prefix is 14 cells wide, so the token starts in column 15 and
	// its fifth character is in column 19.
	tok2 := makeToken(tokenID{7, 4, 10})
	ids, _ = feedCollect(s, cup(4, 1)+"用户 😀 你好: "+tok2[:4]+cup(4, 19)+tok2[4:])
	if !slices.Equal(ids, []tokenID{{7, 4, 10}}) {
		t.Fatalf("got %v; screen:\n%s", ids, s)
	}
}

// Scrolling moves rows; moved rows are touched and rescanned.
func TestScreenScrollRegion(t *testing.T) {
	s, _ := testScreen(t)
	feedCollect(s, "\x1b[?1049h\x1b[2J")
	// Scroll region rows 2..23, fill and scroll with DL and SU.
	feedCollect(s, "\x1b[2;23r")
	var all []tokenID
	for i := range 60 {
		ids, _ := feedCollect(s, cup(2, 1)+"\x1b[M"+cup(23, 1)+"u: "+makeToken(tokenID{7, 0, i}))
		all = append(all, ids...)
	}
	for i := range 60 {
		if !slices.Contains(all, tokenID{7, 0, i}) {
			t.Fatalf("token %d never seen", i)
		}
	}
	if s.emu.ScrollbackLen() != 0 {
		t.Fatalf("scrollback kept %d lines", s.emu.ScrollbackLen())
	}
}

// Terminal queries are answered through the reply pipe and never block
// feed, as long as the pipe is drained.
func TestScreenQueriesDoNotBlock(t *testing.T) {
	s, stop := testScreen(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			feedCollect(s, "\x1b[c\x1b[6n\x1b[?2026$p\x1b]11;?\x07")
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("feed blocked on terminal queries")
	}
	replies := stop()
	if n := strings.Count(replies, "\x1b[?62;"); n != 200 {
		t.Fatalf("got %d DA1 replies, want 200", n)
	}
}

func TestTuneEmulator(t *testing.T) {
	s, _ := testScreen(t)
	if !s.tuned {
		t.Fatal("tuneEmulator could not reach vt internals (vt version changed?)")
	}
}

// The end-of-run self-check finds tokens the incremental scan did not
// record, and only those.
func TestScannerMissesSelfCheck(t *testing.T) {
	tr := newTracker(7, 2, 10)
	s := newSession(0, "load0001", tr)
	s.scr, _ = testScreen(t)
	for q := range 4 {
		tr.markSent(1, q)
	}
	s.now = time.Now()
	// Seen normally: tokens 0 and 1.
	s.scr.feed([]byte(cup(2, 1)+"a: "+makeToken(tokenID{7, 1, 0})+" "+makeToken(tokenID{7, 1, 1})), s.onToken)
	if len(s.lat) != 2 {
		t.Fatalf("recorded %d", len(s.lat))
	}
	// Drawn behind the scanner's back: token 2 (sent) and 3 of another run.
	_, _ = s.scr.emu.Write([]byte(cup(3, 1) + "b: " + makeToken(tokenID{7, 1, 2}) + " " + makeToken(tokenID{8, 1, 3})))
	if got := s.scannerMisses(); got != 1 {
		t.Fatalf("scannerMisses = %d, want 1", got)
	}
}
