package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// The floor is the cheapest chat an SSH server can be: every line a client
// submits is written as "user: line\r\n" to every session, nothing else is
// drawn. Running the same workload against it in the same invocation gives
// each report a baseline measured under the same machine load.

// floorReady is what the floor server prints on connect; a floor run waits
// for it instead of -ready.
const floorReady = "#lobby"

// floorChildEnv is set in the environment of the re-executed floor server,
// so that a test binary (which has its own flags) can recognise the child.
const floorChildEnv = "SSHCHAT_LOADTEST_FLOOR_CHILD"

// serveFloorFlag is the hidden first argument that runs the floor server.
const serveFloorFlag = "-serve-floor"

// floorServer is the line-broadcast server. mu guards outs.
type floorServer struct {
	cfg  *ssh.ServerConfig
	mu   sync.Mutex
	outs map[*floorOut]struct{}
}

// floorOut is one session's unbounded output queue, drained by its writer
// goroutine so that a slow client never blocks the others.
type floorOut struct {
	ch   ssh.Channel
	mu   sync.Mutex
	buf  []byte
	wake chan struct{}
}

// push queues p for the session.
func (o *floorOut) push(p []byte) {
	o.mu.Lock()
	o.buf = append(o.buf, p...)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes queued output until done is closed or a write fails.
func (o *floorOut) writeLoop(done <-chan struct{}) {
	var spare []byte
	for {
		select {
		case <-o.wake:
		case <-done:
			return
		}
		o.mu.Lock()
		b := o.buf
		o.buf = spare[:0]
		o.mu.Unlock()
		if len(b) == 0 {
			continue
		}
		if _, err := o.ch.Write(b); err != nil {
			return
		}
		spare = b
	}
}

// newFloorServer returns a floor server with a fresh host key that accepts
// any public key.
func newFloorServer() (*floorServer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("floor host key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("floor host key: %w", err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) { return nil, nil },
	}
	cfg.AddHostKey(signer)
	return &floorServer{cfg: cfg, outs: map[*floorOut]struct{}{}}, nil
}

// serve accepts connections on ln until it is closed.
func (f *floorServer) serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go f.serveConn(c)
	}
}

// serveConn runs one SSH connection: session channels only.
func (f *floorServer) serveConn(c net.Conn) {
	defer c.Close()
	sc, chans, reqs, err := ssh.NewServerConn(c, f.cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "session channels only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go f.serveSession(sc.User(), ch, creqs)
	}
}

// serveSession answers the channel's requests and, once a shell is
// requested, joins the broadcast.
func (f *floorServer) serveSession(user string, ch ssh.Channel, reqs <-chan *ssh.Request) {
	started := false
	for req := range reqs {
		switch req.Type {
		case "pty-req", "env", "window-change":
			_ = req.Reply(true, nil)
		case "shell":
			_ = req.Reply(!started, nil)
			if !started {
				started = true
				go f.chat(user, ch)
			}
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// chat prints the ready marker, then broadcasts every line the session
// submits (ended by \r or \n) until the channel closes.
func (f *floorServer) chat(user string, ch ssh.Channel) {
	defer ch.Close()
	o := &floorOut{ch: ch, wake: make(chan struct{}, 1)}
	done := make(chan struct{})
	defer close(done)
	go o.writeLoop(done)
	o.push([]byte(floorReady + "\r\n"))
	f.mu.Lock()
	f.outs[o] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.outs, o)
		f.mu.Unlock()
	}()

	buf := make([]byte, 1024)
	var line []byte
	for {
		n, err := ch.Read(buf)
		for _, b := range buf[:n] {
			switch {
			case b == '\r' || b == '\n':
				if len(line) > 0 {
					f.broadcast([]byte(user + ": " + string(line) + "\r\n"))
					line = line[:0]
				}
			case b >= 0x20 && b < 0x7f && len(line) < 4096:
				line = append(line, b)
			}
		}
		if err != nil {
			return
		}
	}
}

// broadcast queues msg for every session.
func (f *floorServer) broadcast(msg []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for o := range f.outs {
		o.push(msg)
	}
}

// serveFloorMain is the re-executed child: it listens on addr (loopback
// only), prints "listening ADDR" on stdout and serves until its stdin is
// closed (the parent ended) or it is killed.
func serveFloorMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintf(stderr, "loadtest: usage: %s ADDR\n", serveFloorFlag)
		return 2
	}
	addr := args[0]
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(stderr, "loadtest: %s wants a loopback ip:port, got %q\n", serveFloorFlag, addr)
		return 2
	}
	if _, err := raiseNoFile(16 << 10); err != nil {
		fmt.Fprintf(stderr, "loadtest: floor: warning: RLIMIT_NOFILE: %v\n", err)
	}
	f, err := newFloorServer()
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: floor: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "listening %s\n", ln.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		ln.Close()
	}()
	if err := f.serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintf(stderr, "loadtest: floor: %v\n", err)
		return 1
	}
	return 0
}

// floorProc is a running floor server child process.
type floorProc struct {
	cmd   *exec.Cmd
	stdin io.Closer
	addr  string
	pid   int
}

// startFloor re-executes this program as a floor server on a loopback port
// chosen by the kernel. A separate process lets /proc report the floor's CPU
// and RSS apart from the tool's. Its stderr goes to log (may be nil).
func startFloor(log io.Writer) (*floorProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("starting floor server: %w", err)
	}
	cmd := exec.Command(exe, serveFloorFlag, "127.0.0.1:0")
	cmd.Env = append(os.Environ(), floorChildEnv+"=1")
	cmd.Stderr = log
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("starting floor server: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("starting floor server: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting floor server: %w", err)
	}
	p := &floorProc{cmd: cmd, stdin: stdin, pid: cmd.Process.Pid}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		a, ok := strings.CutPrefix(strings.TrimSpace(l), "listening ")
		if !ok {
			p.stop()
			return nil, fmt.Errorf("starting floor server: unexpected output %q", l)
		}
		p.addr = a
	case <-time.After(10 * time.Second):
		p.stop()
		return nil, errors.New("starting floor server: no address within 10s")
	}
	return p, nil
}

// stop ends the child (closing its stdin, then SIGTERM, then SIGKILL) and
// reaps it.
func (p *floorProc) stop() {
	_ = p.stdin.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
