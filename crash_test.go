package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"sshchat/model"
	"sshchat/model/modeltest"
)

// childEnv marks a test binary re-executed as a server subprocess, so that
// it can be killed with SIGKILL like a real process.
const childEnv = "SSHCHAT_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		ctx, stop := signalContext()
		defer stop()
		if err := run(ctx, strings.Split(args, "\x1f"), func(string) string { return "" }, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "sshchat:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if !modeltest.Available() {
		// Said where it is seen without -v: the cluster tests need it.
		fmt.Fprintln(os.Stderr, "sshchat: cluster end-to-end tests SKIPPED: "+modeltest.SkipMessage)
	}
	os.Exit(m.Run())
}

// child is the server running in a subprocess.
type child struct {
	cmd  *exec.Cmd
	addr string
	log  *syncBuffer
}

var listenRe = regexp.MustCompile(`listening.*addr=(\S+)`)

// startChild runs the server in a subprocess with cfg's paths.
func startChild(t *testing.T, cfg Config) *child {
	t.Helper()
	return startChildArgs(t, []string{"--addr", "127.0.0.1:0", "--data-dir", cfg.DataDir, "--host-key", cfg.HostKey, "--name", cfg.Name, "--msg-rate", "1000", "--msg-burst", "1000"})
}

// startChildArgs runs the server in a subprocess with the command line
// args; it must listen on a loopback address and log it.
func startChildArgs(t *testing.T, args []string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, log: &syncBuffer{}}
	addr := make(chan string, 1)
	exited := make(chan struct{}) // stderr closed: the child is gone
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			c.log.Write([]byte(line + "\n"))
			if m := listenRe.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case c.addr = <-addr:
	case <-exited:
		cmd.Wait()
		t.Fatalf("child server exited before listening:\n%s", c.log.String())
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("child server did not start:\n%s", c.log.String())
	}
	t.Cleanup(func() { c.kill() })
	return c
}

// kill sends SIGKILL and reaps the process.
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

// TestAcknowledgedMessagesSurviveKill9: every message a sender saw as sent
// is in the database after SIGKILL and a restart, exactly once.
func TestAcknowledgedMessagesSurviveKill9(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	key := newKey(t)
	for round := 0; round < 3; round++ {
		srv := startChild(t, cfg)
		alice := dial(t, srv.addr, "alice", key, 100, 40)
		alice.WaitFor("#lobby")
		acked := 0
		for i := 0; i < 12; i++ {
			body := fmt.Sprintf("r%d-msg-%02d", round, i)
			alice.Line(body)
			alice.WaitFor(body) // shown as sent: acknowledged
			acked++
		}
		srv.kill()
		alice.Close()

		db, err := model.Open(cfg.DBPath)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := db.History(context.Background(), "#lobby", 0, 1000, nil)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, m := range msgs {
			count[m.Body]++
		}
		for i := 0; i < acked; i++ {
			body := fmt.Sprintf("r%d-msg-%02d", round, i)
			if count[body] != 1 {
				t.Fatalf("round %d: %q stored %d times after kill -9", round, body, count[body])
			}
		}
	}
}
