package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// fakeChat is a tiny SSH chat server for the end-to-end tests. Every session
// gets a full-screen UI on the alternate screen: a header with "#lobby" and
// wide characters, the last messages (newest at the bottom, so every new
// message shifts all rows up) and an input line echoing what is typed.
//
// It repaints like a diffing full-screen renderer, but adversarially: only
// the cells that changed since the previous frame are written, each run of
// changed cells is written right half first, then left half, each half in
// its own SSH write. So tokens reach the client split by cursor movements
// and never appear whole in the byte stream; the server checks this.
type fakeChat struct {
	t        *testing.T
	ln       net.Listener
	cfg      *ssh.ServerConfig
	noReady  bool                            // never draw the ready pattern
	hide     func(user string, msg int) bool // hide message msg (0-based) from user
	lose     func(user, line string) bool    // hide the message line (sender, then text) from user
	late     func(user string, msg int) bool // show message msg to user only after the next one
	lns      []net.Listener                  // more listeners: the other nodes of one "cluster"
	tokenRe  *regexp.Regexp                  // tokens, to check they never appear whole
	mu       sync.Mutex                      // guards clients and history
	clients  map[*fakeClient]bool
	history  []string
	wg       sync.WaitGroup
	conns    sync.Map     // net.Conn -> the address it was accepted on
	whole    atomic.Int64 // frames in which some token appeared whole
	split    atomic.Int64 // tokens drawn split
	replies  atomic.Int64 // DA1 replies received from clients
	messages atomic.Int64
}

// fakeClient is one session of fakeChat.
type fakeClient struct {
	user  string
	ch    ssh.Channel
	w, h  int
	prev  [][]string // previous frame, one string per cell ("" = wide continuation)
	input []byte
}

func startFakeChat(t *testing.T, opts func(*fakeChat)) *fakeChat {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeChat{
		t:       t,
		clients: map[*fakeClient]bool{},
		tokenRe: regexp.MustCompile(`Z[0-9a-z]{9}`),
	}
	if opts != nil {
		opts(f)
	}
	f.cfg = &ssh.ServerConfig{
		PublicKeyCallback: func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) { return nil, nil },
	}
	f.cfg.AddHostKey(hostKey)
	f.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.stop)
	return f
}

func (f *fakeChat) addr() string { return f.ln.Addr().String() }

// addNode listens on one more loopback address serving the same chat (a
// node of a cluster that shares everything) and returns its address.
func (f *fakeChat) addNode() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	f.lns = append(f.lns, ln)
	f.mu.Unlock()
	f.wg.Add(1)
	go f.acceptOn(ln)
	return ln.Addr().String()
}

// killNode ends the node listening on addr as a killed process would: no
// more connections, and the connections it served drop.
func (f *fakeChat) killNode(addr string) {
	f.conns.Range(func(k, v any) bool {
		if v.(string) == addr {
			k.(net.Conn).Close()
		}
		return true
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ln := range f.lns {
		if ln.Addr().String() == addr {
			ln.Close()
		}
	}
}

// nodeConns returns how many connections each node (by address) accepted.
func (f *fakeChat) nodeConns() map[string]int {
	n := map[string]int{}
	f.conns.Range(func(_, v any) bool { n[v.(string)]++; return true })
	return n
}

func (f *fakeChat) stop() {
	f.ln.Close()
	f.mu.Lock()
	for _, ln := range f.lns {
		ln.Close()
	}
	f.mu.Unlock()
	f.conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	f.wg.Wait()
}

func (f *fakeChat) accept() { f.acceptOn(f.ln) }

func (f *fakeChat) acceptOn(ln net.Listener) {
	defer f.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		f.conns.Store(c, ln.Addr().String())
		f.wg.Add(1)
		go f.serveConn(c)
	}
}

func (f *fakeChat) serveConn(c net.Conn) {
	defer f.wg.Done()
	defer c.Close()
	sc, chans, reqs, err := ssh.NewServerConn(c, f.cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go f.serveSession(sc.User(), ch, creqs)
	}
}

func (f *fakeChat) serveSession(user string, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer f.wg.Done()
	defer ch.Close()
	cl := &fakeClient{user: user, ch: ch}
	for req := range reqs {
		switch req.Type {
		case "pty-req":
			var p struct {
				Term                 string
				Cols, Rows, PxW, PxH uint32
				Modes                string
			}
			if ssh.Unmarshal(req.Payload, &p) != nil {
				_ = req.Reply(false, nil)
				continue
			}
			cl.w, cl.h = int(p.Cols), int(p.Rows)
			_ = req.Reply(true, nil)
		case "shell":
			_ = req.Reply(cl.w > 0, nil)
			if cl.w == 0 {
				continue
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.runClient(cl)
			}()
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// runClient draws the first frame and handles the client's input.
func (f *fakeChat) runClient(cl *fakeClient) {
	cl.prev = make([][]string, cl.h)
	for y := range cl.prev {
		cl.prev[y] = blankRow(cl.w)
	}
	// Queries a real UI might send; the tool must answer without blocking.
	_, _ = io.WriteString(cl.ch, "\x1b[?1049h\x1b[2J"+strings.Repeat("\x1b[c", 50)+"\x1b]11;?\x07")
	f.mu.Lock()
	f.clients[cl] = true
	f.redraw(cl)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.clients, cl)
		f.mu.Unlock()
	}()

	buf := make([]byte, 1024)
	var esc []byte // pending escape sequence (a reply from the terminal)
	for {
		n, err := cl.ch.Read(buf)
		f.mu.Lock()
		for _, b := range buf[:n] {
			switch {
			case esc != nil:
				esc = append(esc, b)
				if escapeDone(esc) {
					if bytes.HasPrefix(esc, []byte("\x1b[?62;")) && b == 'c' {
						f.replies.Add(1)
					}
					esc = nil
				}
			case b == 0x1b:
				esc = []byte{b}
			case b == '\r':
				if line := strings.TrimSpace(string(cl.input)); line != "" {
					f.history = append(f.history, cl.user+" 你: "+line)
					f.messages.Add(1)
				}
				cl.input = cl.input[:0]
				for c := range f.clients {
					f.redraw(c)
				}
			case b >= 0x20 && b < 0x7f:
				cl.input = append(cl.input, b)
				f.redraw(cl)
			}
		}
		f.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// escapeDone reports whether esc (starting with ESC) is a complete CSI,
// OSC or two-byte escape sequence.
func escapeDone(esc []byte) bool {
	if len(esc) < 2 {
		return false
	}
	last := esc[len(esc)-1]
	switch esc[1] {
	case '[':
		return len(esc) > 2 && last >= 0x40 && last <= 0x7e
	case ']':
		return last == 0x07 || bytes.HasSuffix(esc, []byte("\x1b\\"))
	default:
		return true
	}
}

func blankRow(w int) []string {
	r := make([]string, w)
	for i := range r {
		r[i] = " "
	}
	return r
}

// cells lays s out in w cells; wide runes take two cells, the second "".
func cells(s string, w int) []string {
	r := blankRow(w)
	x := 0
	for _, c := range s {
		cw := 1
		if c >= 0x1100 {
			cw = 2
		}
		if x+cw > w {
			break
		}
		r[x] = string(c)
		if cw == 2 {
			r[x+1] = ""
		}
		x += cw
	}
	return r
}

// frame returns the rows cl should see now. Must hold f.mu.
func (f *fakeChat) frame(cl *fakeClient) [][]string {
	rows := make([][]string, cl.h)
	header := "#lobby — 你好 fake chat"
	if f.noReady {
		header = "connecting…"
	}
	rows[0] = cells(header, cl.w)
	var visible []string
	for i := 0; i < len(f.history); i++ {
		m := f.history[i]
		switch {
		case f.hide != nil && f.hide(cl.user, i), f.lose != nil && f.lose(cl.user, m):
		case f.late != nil && f.late(cl.user, i):
			if i+1 < len(f.history) {
				visible = append(visible, f.history[i+1], m)
				i++
			}
		default:
			visible = append(visible, m)
		}
	}
	n := cl.h - 2
	if len(visible) > n {
		visible = visible[len(visible)-n:]
	}
	for y := 1; y <= n; y++ {
		i := len(visible) - n + y - 1
		if i >= 0 {
			rows[y] = cells(visible[i], cl.w)
		} else {
			rows[y] = blankRow(cl.w)
		}
	}
	rows[cl.h-1] = cells("> "+string(cl.input), cl.w)
	return rows
}

// redraw sends the changed cells of cl's screen. Must hold f.mu.
func (f *fakeChat) redraw(cl *fakeClient) {
	next := f.frame(cl)
	var stream bytes.Buffer
	write := func(p string) {
		stream.WriteString(p)
		_, _ = io.WriteString(cl.ch, p)
	}
	for y := range next {
		for x := 0; x < cl.w; {
			if next[y][x] == cl.prev[y][x] {
				x++
				continue
			}
			start := x
			for x < cl.w && next[y][x] != cl.prev[y][x] {
				x++
			}
			// Do not start or end a run inside a wide character.
			if next[y][start] == "" || cl.prev[y][start] == "" {
				start--
			}
			for x < cl.w && (next[y][x] == "" || cl.prev[y][x] == "") {
				x++
			}
			mid := (start + x) / 2
			for mid > start && next[y][mid] == "" {
				mid--
			}
			if mid > start {
				write(cursorTo(y, mid) + strings.Join(next[y][mid:x], ""))
				write(cursorTo(y, start) + strings.Join(next[y][start:mid], ""))
			} else {
				write(cursorTo(y, start) + strings.Join(next[y][start:x], ""))
			}
		}
	}
	write(cursorTo(cl.h-1, 2+len(cl.input)))
	// Count tokens on screen that were drawn in this frame and check that
	// none appeared whole in the bytes.
	for y := range next {
		now := strings.Join(next[y], "")
		before := strings.Join(cl.prev[y], "")
		for _, tok := range f.tokenRe.FindAllString(now, -1) {
			if !strings.Contains(before, tok) {
				f.split.Add(1)
			}
		}
	}
	if f.tokenRe.Match(stream.Bytes()) {
		f.whole.Add(1)
	}
	cl.prev = next
}

func cursorTo(y, x int) string { return fmt.Sprintf("\x1b[%d;%dH", y+1, x+1) }

// testConfig parses flags for a run against addr.
func testConfig(t *testing.T, addr string, args ...string) *config {
	t.Helper()
	cfg, err := parseConfig(append([]string{"-addr", addr, "-q"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestEndToEndSplitTokens runs the whole tool against fakeChat: every token
// reaches the receivers only split by cursor movements, and all of them must
// be found, including each sender's last one (after which the server writes
// nothing more: a token must count as soon as it is complete).
func TestEndToEndSplitTokens(t *testing.T) {
	f := startFakeChat(t, nil)
	cfg := testConfig(t, f.addr(), "-n", "6", "-senders", "2", "-rate", "10", "-duration", "1s",
		"-settle", "100ms", "-drain", "10s", "-timeout", "15s")
	rep := run(context.Background(), cfg, nil)
	var out bytes.Buffer
	rep.writeSummary(&out)
	t.Log("\n" + out.String())

	if !rep.OK || rep.Error != "" {
		t.Fatalf("run failed: %+v", rep)
	}
	if rep.Connected != 6 || rep.Failed != 0 || rep.Dropped != 0 {
		t.Fatalf("connected %d failed %d dropped %d", rep.Connected, rep.Failed, rep.Dropped)
	}
	if rep.Sent != 20 || f.messages.Load() != 20 {
		t.Fatalf("sent %d, server got %d, want 20", rep.Sent, f.messages.Load())
	}
	if rep.Expected != 20*5 || rep.Delivered != rep.Expected || rep.DeliveryRatio != 1 {
		t.Fatalf("expected %d delivered %d ratio %v", rep.Expected, rep.Delivered, rep.DeliveryRatio)
	}
	if rep.Unknown != 0 || rep.MissingSkipped != 0 || rep.MissingLate != 0 || rep.ScannerMisses != 0 {
		t.Fatalf("unknown %d, missing %d+%d, scanner misses %d", rep.Unknown, rep.MissingSkipped, rep.MissingLate, rep.ScannerMisses)
	}
	if f.whole.Load() != 0 {
		t.Fatalf("%d frames carried a whole token: the test does not test splitting", f.whole.Load())
	}
	if f.split.Load() < rep.Delivered {
		t.Fatalf("only %d tokens drawn split", f.split.Load())
	}
	if f.replies.Load() < 6*50 {
		t.Fatalf("server got %d DA1 replies, want %d", f.replies.Load(), 6*50)
	}
	if rep.LatencyMaxMs <= 0 || rep.BytesPerSessionPerDelivery <= 0 || rep.ConnectP99Ms <= 0 {
		t.Fatalf("missing figures: %+v", rep)
	}
	if rep.ToolEmulatorTuned != true {
		t.Fatal("emulator not tuned")
	}
}

// TestEndToEndLossDetected: a server that never shows messages to one
// session, and one message to another, must yield a delivery ratio below 1,
// the right split of missing deliveries and a failing report, unless
// -allow-loss.
func TestEndToEndLossDetected(t *testing.T) {
	f := startFakeChat(t, func(f *fakeChat) {
		f.hide = func(user string, msg int) bool { return user == "load0004" || user == "load0003" && msg == 1 }
	})
	cfg := testConfig(t, f.addr(), "-n", "4", "-senders", "1", "-rate", "10", "-duration", "500ms",
		"-settle", "50ms", "-drain", "1s", "-timeout", "15s")
	rep := run(context.Background(), cfg, nil)
	if rep.OK || rep.Error != "" {
		t.Fatalf("lossy run passed: %+v", rep)
	}
	if rep.Sent < 3 || rep.Expected != rep.Sent*3 || rep.Delivered > rep.Sent*2-1 || rep.DeliveryRatio >= 1 {
		t.Fatalf("sent %d delivered %d expected %d", rep.Sent, rep.Delivered, rep.Expected)
	}
	// load0003 saw messages 0 and 2 but not 1: one skipped. load0004 saw
	// nothing: all late.
	if rep.MissingSkipped != 1 || rep.MissingLate < rep.Sent || rep.Delivered+rep.MissingSkipped+rep.MissingLate != rep.Expected {
		t.Fatalf("missing: skipped %d late %d (sent %d delivered %d)", rep.MissingSkipped, rep.MissingLate, rep.Sent, rep.Delivered)
	}
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "delivery ratio") {
		t.Fatalf("problems: %q", rep.Problems)
	}
	cfg.allowLoss = true
	if rep2 := run(context.Background(), cfg, nil); !rep2.OK {
		t.Fatalf("-allow-loss run failed: %+v", rep2)
	}
}

// TestEndToEndReadyTimeout: sessions that never show the ready pattern are
// counted as failed, with the reason.
func TestEndToEndReadyTimeout(t *testing.T) {
	f := startFakeChat(t, func(f *fakeChat) { f.noReady = true })
	cfg := testConfig(t, f.addr(), "-n", "3", "-timeout", "300ms", "-settle", "0s")
	rep := run(context.Background(), cfg, nil)
	if rep.OK || rep.Connected != 0 || rep.Failed != 3 {
		t.Fatalf("report: %+v", rep)
	}
	if rep.Failures["ready: timeout waiting for ready pattern"] != 3 {
		t.Fatalf("failures: %v", rep.Failures)
	}
}

// TestEndToEndIdle: idle mode connects and holds without sending.
func TestEndToEndIdle(t *testing.T) {
	f := startFakeChat(t, nil)
	cfg := testConfig(t, f.addr(), "-n", "3", "-idle", "300ms", "-settle", "0s", "-timeout", "15s")
	rep := run(context.Background(), cfg, nil)
	if !rep.OK || rep.Mode != "idle" || rep.Connected != 3 || rep.Sent != 0 || f.messages.Load() != 0 {
		t.Fatalf("report: %+v", rep)
	}
}

// TestConnectionRefused: nothing listening; failures are counted, exit 1.
func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out, errb bytes.Buffer
	code := realMain([]string{"-addr", addr, "-n", "2", "-q", "-json"}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `"dial: connection refused":2`) {
		t.Fatalf("output: %s", out.String())
	}
}

// TestEndToEndDeadline: the run stops by itself at -deadline, reports what
// it measured and fails.
func TestEndToEndDeadline(t *testing.T) {
	f := startFakeChat(t, nil)
	cfg := testConfig(t, f.addr(), "-n", "3", "-senders", "1", "-rate", "5", "-duration", "1m",
		"-settle", "0s", "-timeout", "15s", "-deadline", "1500ms")
	start := time.Now()
	rep := run(context.Background(), cfg, nil)
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("run took %v with a 1.5 s deadline", took)
	}
	if rep.OK || !strings.Contains(rep.Error, "deadline") {
		t.Fatalf("report: %+v", rep)
	}
}

// TestEndToEndObserversSample: with -observers 3 of 8 sessions only the
// sampled sessions (0, 2 and 5 in join order) parse their screens; the
// expected deliveries and the ratio are over them, and bytes per delivery
// still come from observers that do not send.
func TestEndToEndObserversSample(t *testing.T) {
	f := startFakeChat(t, nil)
	cfg := testConfig(t, f.addr(), "-n", "8", "-observers", "3", "-senders", "2", "-rate", "10", "-duration", "500ms",
		"-settle", "50ms", "-drain", "10s", "-timeout", "15s")
	r := &runner{cfg: cfg, tr: newTracker(cfg.runID, cfg.senders, cfg.perSender()), rep: newReport(cfg)}
	r.exec(context.Background())
	r.rep.finish(cfg)
	rep := r.rep
	if !rep.OK || rep.Observers != 3 || rep.Receivers != 8 {
		t.Fatalf("report: %+v", rep)
	}
	var obs []int
	for _, s := range r.sessions {
		if s.observe {
			obs = append(obs, s.idx)
		} else if s.scr != nil {
			t.Errorf("non-observer %s still emulates its screen", s.user)
		}
	}
	if fmt.Sprint(obs) != "[0 2 5]" {
		t.Fatalf("observers %v", obs)
	}
	// Sender 0 observes (and does not count its own messages), sender 1
	// does not observe.
	perSender := rep.Sent / 2
	if rep.Sent != 10 || rep.Expected != 3*rep.Sent-perSender || rep.Delivered != rep.Expected || rep.DeliveryRatio != 1 {
		t.Fatalf("sent %d expected %d delivered %d ratio %v", rep.Sent, rep.Expected, rep.Delivered, rep.DeliveryRatio)
	}
	// The server owes every ready session (observing or not) every message
	// but its own: that is what server CPU per delivery divides by.
	if rep.ExpectedAll != 8*rep.Sent-rep.Sent || rep.DeliveredAll != rep.ExpectedAll {
		t.Fatalf("expected all %d, delivered all %d", rep.ExpectedAll, rep.DeliveredAll)
	}
	if rep.BytesPerSessionPerDelivery <= 0 {
		t.Fatalf("bytes per delivery %v", rep.BytesPerSessionPerDelivery)
	}
}

// TestEndToEndLoginStorm: with -storm the extra sessions log in and out
// halfway through the send window, and every delivery is counted once,
// either before the storm or during it.
func TestEndToEndLoginStorm(t *testing.T) {
	f := startFakeChat(t, nil)
	cfg := testConfig(t, f.addr(), "-n", "3", "-senders", "1", "-rate", "10", "-duration", "3s", "-storm", "4",
		"-settle", "0s", "-drain", "10s", "-timeout", "15s")
	rep := run(context.Background(), cfg, nil)
	if !rep.OK || rep.Storm != 4 || rep.StormConnected != 4 || rep.StormFailed != 0 {
		t.Fatalf("report: %+v", rep)
	}
	if rep.Connected != 3 || rep.Delivered != rep.Expected {
		t.Fatalf("storm sessions counted as receivers: %+v", rep)
	}
	if rep.QuietDeliveries == 0 || rep.StormDeliveries == 0 || rep.QuietDeliveries+rep.StormDeliveries != rep.Delivered {
		t.Fatalf("quiet %d + storm %d deliveries, %d delivered", rep.QuietDeliveries, rep.StormDeliveries, rep.Delivered)
	}
	if rep.QuietP99Ms <= 0 || rep.StormP99Ms <= 0 || rep.StormP99Ratio <= 0 {
		t.Fatalf("quiet/storm latency: %+v", rep)
	}
}
