package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlotFixture draws the fixture (runs at 250 to 2,000 sessions, two at
// 1,000, with floors, a summary line and an idle run mixed in) and checks
// both SVGs name every series.
func TestPlotFixture(t *testing.T) {
	dir := t.TempDir()
	var errb bytes.Buffer
	if code := realMain([]string{"-out", dir, "-name", "sshchat", "testdata/runs.jsonl"}, strings.NewReader(""), &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for file, names := range map[string][]string{
		"latency.svg": {"sshchat p50", "sshchat p99", "floor p50", "floor p99", "sessions"},
		"cpu.svg":     {"sshchat", "floor", "sessions"},
	} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(bytes.TrimSpace(b), []byte("<?xml")) || !bytes.Contains(b, []byte("<svg")) {
			t.Fatalf("%s is not an SVG: %.100s", file, b)
		}
		for _, n := range names {
			if !bytes.Contains(b, []byte(">"+n+"<")) {
				t.Errorf("%s lacks %q", file, n)
			}
		}
	}
}

// TestSeriesMedianPerSessions: runs at the same size are drawn as their
// median; unmeasured values (0) are left out.
func TestSeriesMedianPerSessions(t *testing.T) {
	runs, err := readRuns([]string{"testdata/runs.jsonl"}, nil)
	if err != nil || len(runs) != 5 {
		t.Fatalf("runs %d, %v", len(runs), err)
	}
	xys := series(runs, func(r run) float64 { return r.P99 })
	if len(xys) != 4 || xys[2].X != 1000 || xys[2].Y != 300 {
		t.Fatalf("p99 series %v", xys)
	}
	if got := series(runs, func(run) float64 { return 0 }); len(got) != 0 {
		t.Fatalf("unmeasured series %v", got)
	}
	if fl := floors(runs); len(fl) != 5 || fl[0].Sessions != 250 {
		t.Fatalf("floors %v", fl)
	}
}

// TestPlotNoRuns: input without a send run is refused with one line.
func TestPlotNoRuns(t *testing.T) {
	var errb bytes.Buffer
	code := realMain([]string{"-out", t.TempDir()}, strings.NewReader("hello\n{\"mode\":\"idle\",\"sessions\":3}\n"), &errb)
	if code != 1 || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "no loadtest JSON line") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
