package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// readBufSize is the size of each session's read buffer. Chat frames are a
// few hundred bytes; a larger buffer only costs memory at 2,000 sessions.
const readBufSize = 8 << 10

// tracker is the state shared by all sessions of a run: when each message
// was sent, and global counters. Send times are stored as nanoseconds since
// base (monotonic clock) plus one, so that zero means "not sent".
type tracker struct {
	base      time.Time
	run       int
	senders   int
	perSender int
	sent      []atomic.Int64
	delivered atomic.Int64
	// unknown counts well-formed tokens of this run that no sender had sent
	// (yet): a nonzero value means corrupted screens or a token collision.
	unknown atomic.Int64
	// foreign counts sightings of tokens of other runs (stored history).
	foreign atomic.Int64
	// split is set for a run with a login storm: latencies are also kept
	// apart by whether the message was sent before stormAt.
	split bool
	// stormAt is when the storm started, as an offset from base plus one
	// (zero: not yet).
	stormAt atomic.Int64

	// killNode is the node killed during the run (-1: none). Then a
	// message counts only if its sender's node survived, or its sender saw
	// it acknowledged (acked), or a session of a surviving node received it
	// (seenSurv); deliveredSurv counts the deliveries to the observers of
	// surviving nodes.
	killNode      int
	senderNode    []int // node of each sender, set before the senders start
	acked         []atomic.Bool
	seenSurv      []atomic.Bool
	deliveredSurv atomic.Int64
}

// ownSight is what a sender saw of one of its own messages: the row it
// first appeared on (the composer, while it was typed) and whether it then
// appeared on another row (the message list: the server acknowledged it).
type ownSight struct {
	seen     bool
	firstRow int
	other    bool
}

// counted reports whether slot i must reach every surviving session: it
// was sent and, in a run that kills a node, its sender's node survived, or
// its sender saw it acknowledged, or a surviving session received it.
func (t *tracker) counted(i int) bool {
	if _, sent := t.sentAt(i); !sent {
		return false
	}
	if t.killNode < 0 {
		return true
	}
	return t.senderNode[i/t.perSender] != t.killNode || t.acked[i].Load() || t.seenSurv[i].Load()
}

// startStorm records now as the start of the login storm.
func (t *tracker) startStorm() {
	t.stormAt.Store(int64(time.Since(t.base)) + 1)
}

// inStorm reports whether a message sent at offset at was sent during the
// login storm.
func (t *tracker) inStorm(at time.Duration) bool {
	v := t.stormAt.Load()
	return v != 0 && int64(at) >= v-1
}

// newTracker returns a tracker for run id run, senders senders and up to
// perSender messages each.
func newTracker(run, senders, perSender int) *tracker {
	return &tracker{
		base:      time.Now(),
		run:       run,
		senders:   senders,
		perSender: perSender,
		sent:      make([]atomic.Int64, senders*perSender),
		killNode:  -1,
		acked:     make([]atomic.Bool, senders*perSender),
		seenSurv:  make([]atomic.Bool, senders*perSender),
	}
}

// index maps a token of this run to its slot, reporting false if it is out
// of range.
func (t *tracker) index(id tokenID) (int, bool) {
	if id.Sender >= t.senders || id.Seq >= t.perSender {
		return 0, false
	}
	return id.Sender*t.perSender + id.Seq, true
}

// markSent records now as the send time of message (sender, seq).
func (t *tracker) markSent(sender, seq int) {
	t.sent[sender*t.perSender+seq].Store(int64(time.Since(t.base)) + 1)
}

// sentAt returns the send time of slot i as an offset from base.
func (t *tracker) sentAt(i int) (time.Duration, bool) {
	v := t.sent[i].Load()
	return time.Duration(v - 1), v != 0
}

// bitset is a growable set of small non-negative integers.
type bitset []uint64

// testAndSet sets bit i and reports whether it was already set.
func (b *bitset) testAndSet(i int) bool {
	w := i / 64
	if w >= len(*b) {
		*b = append(*b, make([]uint64, w-len(*b)+1)...)
	}
	m := uint64(1) << (i % 64)
	was := (*b)[w]&m != 0
	(*b)[w] |= m
	return was
}

// has reports whether bit i is set.
func (b bitset) has(i int) bool {
	w := i / 64
	return w < len(b) && b[w]&(uint64(1)<<(i%64)) != 0
}

// session is one SSH connection with a PTY and its emulated screen.
//
// Goroutines: the reader (readLoop) owns scr, seen and lat until done is
// closed; the reply goroutine forwards the emulator's answers to terminal
// queries to the server; a sender goroutine may type into stdin. Writes to
// stdin are serialised by inMu.
type session struct {
	idx  int
	user string
	node int // index into config.dialAddrs

	client *ssh.Client
	ss     *ssh.Session
	stdin  io.WriteCloser
	stdout io.Reader
	inMu   sync.Mutex

	// scr is the emulated screen; nil once a non-observer is ready.
	scr *screen
	tr  *tracker
	// observe is set before connect: the session keeps parsing its screen
	// after the ready pattern and counts deliveries. Other sessions drop
	// their emulator once ready and only count bytes.
	observe bool
	// keepScreen is set before connect for a likely sender of a run that
	// kills a node: it keeps its screen (without counting deliveries unless
	// it observes) to see which of its messages were acknowledged.
	keepScreen bool
	// storm is set before connect for a session of a login storm: it
	// counts nothing it sees (it joins while messages are on the screens).
	storm bool
	// sender is this session's sender index, or -1. Own tokens are ignored
	// (they also appear in the session's own input line while typing).
	sender atomic.Int32

	readyCh chan struct{}
	readyAt time.Time // set before readyCh is closed
	done    chan struct{}
	readErr error // set before done is closed
	bytes   atomic.Int64

	// Results, owned by the reader until done is closed.
	seen bitset
	lat  []time.Duration
	// order holds the messages of others in the order they first appeared
	// on this (observing) session's screen, as tracker slots.
	order []int32
	// own is what a sender saw of its own messages, by sequence number; set
	// before sender is stored.
	own []ownSight
	// quietLat and stormLat split lat by the send time, in a storm run.
	quietLat, stormLat []time.Duration
	now                time.Time // time the current chunk was read
	// started is set when the reader goroutine has been started (so done
	// will be closed).
	started bool
	// Set by the orchestrator after connect.
	connectTime time.Duration
	ready       bool
	failure     string
	// Set by the orchestrator around the measurement window.
	bytesStart int64
	// dropped is set by the orchestrator when the connection had ended
	// before the teardown; orderBad when this observer's order differed.
	dropped  bool
	orderBad bool
}

// newSession prepares (does not connect) session idx.
func newSession(idx int, user string, tr *tracker) *session {
	s := &session{idx: idx, user: user, tr: tr, readyCh: make(chan struct{}), done: make(chan struct{})}
	s.sender.Store(-1)
	return s
}

// deriveSigner returns the ed25519 key of user, derived from seed so that it
// is the same on every run (the server can keep the handle registered).
func deriveSigner(seed, user string) (ssh.Signer, error) {
	h := sha256.Sum256([]byte("sshchat-loadtest\x00" + seed + "\x00" + user))
	return ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(h[:]))
}

// connectError is a connection failure tagged with the stage it happened in.
type connectError struct {
	stage string
	err   error
}

func (e *connectError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// failureKey reduces an error to a short, run-independent reason used to
// count failures by kind.
func failureKey(err error) string {
	var ce *connectError
	stage := "error"
	if errors.As(err, &ce) {
		stage = ce.stage
		err = ce.err
	}
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		msg = "run deadline"
	case strings.Contains(msg, "connection refused"):
		msg = "connection refused"
	case strings.Contains(msg, "connection reset"):
		msg = "connection reset"
	case strings.Contains(msg, "too many open files"):
		msg = "too many open files"
	case strings.Contains(msg, "i/o timeout"):
		msg = "i/o timeout"
	case strings.Contains(msg, "unable to authenticate"):
		msg = "authentication failed"
	}
	if len(msg) > 80 {
		msg = msg[:80]
	}
	return stage + ": " + msg
}

// connect dials, authenticates, opens a PTY session with a shell and waits
// until the ready pattern is on screen. It returns the time from dial to
// ready. On error everything is closed.
func (s *session) connect(ctx context.Context, cfg *config, signer ssh.Signer) (d time.Duration, err error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	defer func() {
		if err != nil {
			s.close()
		}
	}()

	var dialer net.Dialer
	addr := cfg.dialAddrs[s.node]
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, &connectError{"dial", err}
	}
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User: s.user,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		// Only loopback addresses are ever dialled (see resolveLoopback).
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         cfg.timeout,
	})
	if err != nil {
		conn.Close()
		return 0, &connectError{"handshake", err}
	}
	s.client = ssh.NewClient(cc, chans, reqs)
	if s.ss, err = s.client.NewSession(); err != nil {
		return 0, &connectError{"session", err}
	}
	if s.stdin, err = s.ss.StdinPipe(); err != nil {
		return 0, &connectError{"session", err}
	}
	if s.stdout, err = s.ss.StdoutPipe(); err != nil {
		return 0, &connectError{"session", err}
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err = s.ss.RequestPty(cfg.term, cfg.height, cfg.width, modes); err != nil {
		return 0, &connectError{"pty", err}
	}
	if err = s.ss.Shell(); err != nil {
		return 0, &connectError{"shell", err}
	}
	_ = conn.SetDeadline(time.Time{})

	s.scr = newScreen(cfg.width, cfg.height, cfg.readyRe)
	s.started = true
	go s.replyLoop(s.scr.replies())
	go s.readLoop()

	select {
	case <-s.readyCh:
		return s.readyAt.Sub(start), nil
	case <-s.done:
		return 0, &connectError{"ready", fmt.Errorf("closed before ready: %v", s.readErr)}
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded && time.Since(start) >= cfg.timeout {
			return 0, &connectError{"ready", errors.New("timeout waiting for ready pattern")}
		}
		return 0, &connectError{"ready", ctx.Err()}
	}
}

// readLoop reads the session's output until the connection ends, feeding it
// to the emulator and recording tokens at first sight; a non-observer stops
// emulating once ready and from then on only counts the bytes.
func (s *session) readLoop() {
	defer close(s.done)
	defer func() {
		if s.scr != nil {
			s.scr.closeReplies()
		}
	}()
	buf := make([]byte, readBufSize)
	onToken := func(id tokenID) { s.onToken(id) }
	for {
		n, err := s.stdout.Read(buf)
		if n > 0 {
			s.bytes.Add(int64(n))
		}
		if n > 0 && s.scr != nil {
			s.now = time.Now()
			if s.scr.feed(buf[:n], onToken) {
				s.readyAt = s.now
				if !s.observe && !s.keepScreen {
					s.scr.closeReplies()
					s.scr = nil
				}
				close(s.readyCh)
			}
		}
		if err != nil {
			s.readErr = err
			return
		}
	}
}

// onToken records a token seen on screen at s.now.
func (s *session) onToken(id tokenID) {
	if s.storm {
		return
	}
	if id.Run != s.tr.run {
		s.tr.foreign.Add(1)
		return
	}
	if id.Sender == int(s.sender.Load()) {
		s.onOwnToken(id)
		return
	}
	if !s.observe && s.keepScreen {
		// Kept its screen only to see its own messages acknowledged.
		return
	}
	i, ok := s.tr.index(id)
	if !ok {
		s.tr.unknown.Add(1)
		return
	}
	at, ok := s.tr.sentAt(i)
	if !ok {
		// Well-formed and in range but not sent (yet): never count it.
		s.tr.unknown.Add(1)
		return
	}
	if s.seen.testAndSet(i) {
		return
	}
	s.order = append(s.order, int32(i))
	if s.tr.killNode >= 0 && s.node != s.tr.killNode {
		s.tr.seenSurv[i].Store(true)
		s.tr.deliveredSurv.Add(1)
	}
	d := s.now.Sub(s.tr.base) - at
	s.lat = append(s.lat, d)
	if s.tr.split {
		if s.tr.inStorm(at) {
			s.stormLat = append(s.stormLat, d)
		} else {
			s.quietLat = append(s.quietLat, d)
		}
	}
	s.tr.delivered.Add(1)
}

// onOwnToken records a sighting of one of this sender's own messages on
// the current row: the first one is normally the composer; a later one on
// another row means the message list shows it, i.e. the server
// acknowledged it.
func (s *session) onOwnToken(id tokenID) {
	if s.own == nil || id.Seq >= len(s.own) {
		return
	}
	o := &s.own[id.Seq]
	row := s.scr.curRow
	switch {
	case !o.seen:
		o.seen, o.firstRow = true, row
	case row != o.firstRow && !o.other:
		o.other = true
		if i, ok := s.tr.index(id); ok {
			s.tr.acked[i].Store(true)
		}
	}
}

// settleAcks marks as acknowledged the own messages that were first seen
// on a row other than the composer's (the row most own messages first
// appeared on): their typing was never drawn, only the acknowledged line.
// Only valid after done.
func (s *session) settleAcks() {
	own := int(s.sender.Load())
	if s.own == nil || own < 0 {
		return
	}
	rows := map[int]int{}
	composer, most := -1, 0
	for _, o := range s.own {
		if o.seen {
			rows[o.firstRow]++
			if rows[o.firstRow] > most {
				composer, most = o.firstRow, rows[o.firstRow]
			}
		}
	}
	for q, o := range s.own {
		if o.seen && o.firstRow != composer {
			s.tr.acked[own*s.tr.perSender+q].Store(true)
		}
	}
}

// missing counts the messages of this run that s never saw (its own
// excluded), split into skipped ones (a later message of the same sender was
// seen, so this one was overtaken or never drawn, e.g. scrolled away between
// two frames) and late ones (nothing later from that sender was seen either:
// possibly still in flight when the run ended). Only valid after done.
func (s *session) missing() (skipped, late int64) {
	own := int(s.sender.Load())
	for snd := 0; snd < s.tr.senders; snd++ {
		if snd == own {
			continue
		}
		base := snd * s.tr.perSender
		last := -1
		for q := s.tr.perSender - 1; q >= 0; q-- {
			if s.seen.has(base + q) {
				last = q
				break
			}
		}
		for q := 0; q < s.tr.perSender; q++ {
			if !s.tr.counted(base+q) || s.seen.has(base+q) {
				continue
			}
			if q < last {
				skipped++
			} else {
				late++
			}
		}
	}
	return skipped, late
}

// scannerMisses scans the whole final screen and counts tokens of this run
// that are on it but were never recorded: a self-check of the incremental
// scan (always 0 unless the touched-row tracking missed a change). Only
// valid after done.
func (s *session) scannerMisses() int64 {
	var n int64
	own := int(s.sender.Load())
	s.scr.scanAll = true
	s.scr.scan(func(id tokenID) {
		if id.Run != s.tr.run || id.Sender == own {
			return
		}
		if i, ok := s.tr.index(id); ok && !s.seen.has(i) {
			if _, sent := s.tr.sentAt(i); sent {
				n++
			}
		}
	})
	return n
}

// replyLoop forwards the emulator's answers to terminal queries to the
// server, as a real terminal would. It keeps draining after a write error so
// that the emulator never blocks.
func (s *session) replyLoop(r io.Reader) {
	buf := make([]byte, 256)
	failed := false
	for {
		n, err := r.Read(buf)
		if n > 0 && !failed {
			failed = s.write(buf[:n]) != nil
		}
		if err != nil {
			return
		}
	}
}

// write sends p to the server as keyboard input.
func (s *session) write(p []byte) error {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	_, err := s.stdin.Write(p)
	return err
}

// close tears the connection down; the reader then exits.
func (s *session) close() {
	if s.client != nil {
		_ = s.client.Close()
	}
}

// finished reports whether the reader has exited.
func (s *session) finished() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
