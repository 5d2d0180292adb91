package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets the test binary serve as the floor server child that -floor
// re-executes (os.Executable is the test binary here).
func TestMain(m *testing.M) {
	if os.Getenv(floorChildEnv) == "1" {
		os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestEndToEndFloor runs the tool with -floor against fakeChat: the floor
// server (a child process) gets the same workload first, every message is
// delivered on both, the floor's figures come from its own /proc entry, the
// ratios are filled and the child is gone afterwards.
func TestEndToEndFloor(t *testing.T) {
	f := startFakeChat(t, nil)
	var out, errb bytes.Buffer
	code := realMain([]string{"-addr", f.addr(), "-q", "-floor", "-n", "5", "-senders", "2", "-rate", "10", "-duration", "500ms",
		"-settle", "50ms", "-drain", "10s", "-timeout", "15s"}, &out, &errb)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	t.Log("\n" + out.String() + errb.String())
	var rep report
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatal(err)
	}
	if code != 0 || !rep.OK {
		t.Fatalf("exit %d: %+v", code, rep)
	}
	fl := rep.Floor
	if fl == nil || rep.VsFloor == nil {
		t.Fatal("no floor in the report")
	}
	if fl.Connected != 5 || fl.Sent != 10 || fl.Expected != 10*4 || fl.DeliveryRatio != 1 || rep.DeliveryRatio != 1 {
		t.Fatalf("floor: connected %d sent %d expected %d ratio %v; target ratio %v", fl.Connected, fl.Sent, fl.Expected, fl.DeliveryRatio, rep.DeliveryRatio)
	}
	if fl.ServerPID == 0 || fl.ServerPID == os.Getpid() || fl.ServerRSSAfterKiB <= 0 || fl.Addr == rep.Addr {
		t.Fatalf("floor process figures: pid %d rss %d addr %s", fl.ServerPID, fl.ServerRSSAfterKiB, fl.Addr)
	}
	if rep.VsFloor.P99 <= 0 || rep.VsFloor.BytesPerDelivery <= 0 {
		t.Fatalf("ratios: %+v", rep.VsFloor)
	}
	if err := syscall.Kill(fl.ServerPID, 0); err == nil {
		t.Fatalf("floor server %d still running", fl.ServerPID)
	}
	if !strings.Contains(out.String(), "floor (minimal line broadcast") || !strings.Contains(out.String(), "vs floor") {
		t.Fatalf("summary lacks the floor: %s", out.String())
	}
}

// TestServeFloorRefusesNonLoopback: the hidden child mode only listens on
// loopback, and says so in one line.
func TestServeFloorRefusesNonLoopback(t *testing.T) {
	var out, errb bytes.Buffer
	if code := serveFloorMain([]string{"0.0.0.0:0"}, strings.NewReader(""), &out, &errb); code != 2 || strings.Count(errb.String(), "\n") != 1 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if code := serveFloorMain(nil, strings.NewReader(""), &out, &errb); code != 2 {
		t.Fatalf("no address: exit %d", code)
	}
}
