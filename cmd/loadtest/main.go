// Command loadtest is a load generator for sshchat (or any SSH chat server
// whose lobby shows posted lines): it opens many SSH sessions with PTYs, has
// some of them type messages carrying unique tokens, and measures how fast
// and how completely each message appears on every other session's
// emulated screen. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// realMain runs the tool and returns the exit status: 0 pass, 1 fail (lost
// deliveries, failed or dropped sessions, fatal error), 2 bad usage.
func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == serveFloorFlag {
		return serveFloorMain(args[1:], os.Stdin, stdout, stderr)
	}
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return 2
	}
	var logw io.Writer = stderr
	if cfg.quiet {
		logw = nil
	}
	// Each session needs a socket plus headroom; 2,000 sessions exceed the
	// common default of 1,024 descriptors.
	want := uint64(2*cfg.n + 256)
	if got, err := raiseNoFile(want); err != nil || got < want {
		fmt.Fprintf(stderr, "loadtest: warning: RLIMIT_NOFILE is %d, want %d (%v)\n", got, want, err)
	}

	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := runAll(ctx, cfg, logw)
	if !cfg.jsonOnly {
		rep.writeSummary(stdout)
	}
	if err := rep.writeJSON(stdout); err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return 1
	}
	if !rep.OK {
		return 1
	}
	return 0
}
