package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// runner holds the state of one run.
type runner struct {
	cfg      *config
	log      io.Writer
	tr       *tracker
	sessions []*session
	rep      *report
	// per is the last /proc sample of each of cfg.pids (of cfg.pid when
	// there is one), kept so that a killed node's last figures still count.
	per []procSample
	// nodeCPU is each node's server CPU seconds during the measurement
	// window, when there is one pid per node.
	nodeCPU []float64
	// killedAt is when the -kill-pid process was killed, as an offset from
	// the start of the send window (0: not killed). Set by the kill
	// goroutine before send returns.
	killedAt time.Duration
}

// logf prints a progress line to the log writer (stderr), if any.
func (r *runner) logf(format string, args ...any) {
	if r.log != nil {
		fmt.Fprintf(r.log, "loadtest: "+format+"\n", args...)
	}
}

// sample reads the servers' /proc figures, if pids were given, and returns
// their sum (several nodes count as one server). The process killed by
// -kill-pid counts with its last figures once it is gone.
func (r *runner) sample() (procSample, bool) {
	pids := r.cfg.pidList()
	if len(pids) == 0 {
		return procSample{}, false
	}
	if r.per == nil {
		r.per = make([]procSample, len(pids))
	}
	var sum procSample
	for i, pid := range pids {
		s, err := sampleProc(pid)
		switch {
		case err == nil:
			r.per[i] = s
		case pid == r.cfg.killPID && r.killedAt > 0:
			s = r.per[i]
		default:
			r.rep.Problems = append(r.rep.Problems, fmt.Sprintf("reading /proc/%d: %v", pid, err))
			return procSample{}, false
		}
		sum.at = s.at
		sum.cpu += s.cpu
		sum.rssKiB += s.rssKiB
	}
	return sum, true
}

// perCopy returns a copy of the last per-process samples.
func (r *runner) perCopy() []procSample { return append([]procSample(nil), r.per...) }

// runAll runs the workload against the floor first if cfg.floor is set,
// then against the target, and returns the target's report with the
// floor's attached.
func runAll(ctx context.Context, cfg *config, log io.Writer) *report {
	if !cfg.floor {
		return run(ctx, cfg, log)
	}
	fl, err := startFloor(log)
	if err != nil {
		rep := newReport(cfg)
		rep.Error = err.Error()
		rep.finish(cfg)
		return rep
	}
	fcfg := *cfg
	fcfg.addr, fcfg.dialAddr, fcfg.pid = fl.addr, fl.addr, fl.pid
	fcfg.dialAddrs, fcfg.pids, fcfg.killPID = []string{fl.addr}, nil, 0
	fcfg.ready, fcfg.readyRe = floorReady, regexp.MustCompile(regexp.QuoteMeta(floorReady))
	fcfg.floor = false
	if log != nil {
		fmt.Fprintf(log, "loadtest: floor: line-broadcast server pid %d on %s\n", fl.pid, fl.addr)
	}
	frep := run(ctx, &fcfg, log)
	fl.stop()
	if ctx.Err() != nil {
		rep := newReport(cfg)
		rep.Error = stopReason(ctx, "measuring the floor")
		rep.finish(cfg)
		rep.attachFloor(frep)
		return rep
	}
	if log != nil {
		fmt.Fprintf(log, "loadtest: floor done (p99 %.1f ms); now the target %s\n", frep.LatencyP99Ms, cfg.dialAddr)
	}
	rep := run(ctx, cfg, log)
	rep.attachFloor(frep)
	return rep
}

// run performs a whole load test and returns its report. Progress goes to
// log (may be nil). It always returns within cfg.deadline (plus a few
// seconds to tear down).
func run(ctx context.Context, cfg *config, log io.Writer) *report {
	ctx, cancel := context.WithTimeout(ctx, cfg.deadline)
	defer cancel()
	r := &runner{
		cfg: cfg,
		log: log,
		tr:  newTracker(cfg.runID, max(cfg.senders, 1), cfg.perSender()),
		rep: newReport(cfg),
	}
	if cfg.killing() {
		r.tr.killNode = cfg.killNode
	}
	r.tr.split = cfg.storm > 0
	r.exec(ctx)
	r.rep.finish(cfg)
	return r.rep
}

// exec runs the phases; on a fatal problem it sets rep.Error and returns,
// and the deferred teardown still collects what was measured.
func (r *runner) exec(ctx context.Context) {
	cfg, rep := r.cfg, r.rep
	before, havePID := r.sample()
	if cfg.pid != 0 && !havePID {
		rep.Error = fmt.Sprintf("cannot read server process %d", cfg.pid)
		return
	}
	rep.ServerRSSBeforeKiB = before.rssKiB
	defer r.teardown()

	if !r.connectAll(ctx) {
		return
	}
	// The connect phase leaves garbage behind (vt allocates a 4 MiB parser
	// buffer per emulator before tuneEmulator shrinks it): return it to the
	// OS now, then collect less often during the measurement, where the
	// live heap is dominated by long-lived screen buffers.
	debug.FreeOSMemory()
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	if !sleepCtx(ctx, cfg.settle) {
		rep.Error = stopReason(ctx, "settling")
		return
	}

	connected, _ := r.sample()
	connPer := r.perCopy()
	rep.ServerRSSConnectedKiB = connected.rssKiB
	rep.ServerCPUConnectS = round3((connected.cpu - before.cpu).Seconds())
	ready := r.readySessions()
	for _, s := range ready {
		if s.observe {
			rep.ToolEmulatorTuned = s.scr.tuned
			rep.Observers++
		}
	}
	for _, s := range ready {
		s.bytesStart = s.bytes.Load()
	}
	toolStart := selfCPU()
	winStart := time.Now()

	switch {
	case cfg.idle > 0:
		r.logf("holding %d sessions idle for %v", len(ready), cfg.idle)
		if !sleepCtx(ctx, cfg.idle) {
			rep.Error = stopReason(ctx, "idle")
		}
	case cfg.senders > 0:
		r.send(ctx, ready)
	}

	winEnd := time.Now()
	after, _ := r.sample()
	if havePID && len(cfg.dialAddrs) > 1 && len(r.per) == len(cfg.dialAddrs) {
		r.nodeCPU = make([]float64, len(r.per))
		for i := range r.per {
			r.nodeCPU[i] = round3((r.per[i].cpu - connPer[i].cpu).Seconds())
		}
	}
	rep.ServerRSSAfterKiB = after.rssKiB
	rep.WindowS = round3(winEnd.Sub(winStart).Seconds())
	if havePID {
		cpu := after.cpu - connected.cpu
		rep.ServerCPURunS = round3(cpu.Seconds())
		rep.ServerCorePct = round3(100 * cpu.Seconds() / winEnd.Sub(winStart).Seconds())
	}
	tool := selfCPU() - toolStart
	if self, err := sampleProc(os.Getpid()); err == nil {
		rep.ToolRSSKiB = self.rssKiB
	}
	rep.ToolCPURunS = round3(tool.Seconds())
	rep.ToolCorePct = round3(100 * tool.Seconds() / winEnd.Sub(winStart).Seconds())
	for _, s := range ready {
		s.dropped = s.finished()
		switch {
		case cfg.killing() && s.node == cfg.killNode:
			// The killed node's sessions must drop: counted apart.
			if s.finished() {
				rep.KilledDropped++
			} else {
				rep.KilledNotDropped++
			}
		case s.finished():
			rep.Dropped++
			rep.Failures[failureKey(&connectError{"dropped", errOrEOF(s.readErr)})]++
		}
	}
}

// errOrEOF returns err, or io.EOF if err is nil.
func errOrEOF(err error) error {
	if err == nil {
		return io.EOF
	}
	return err
}

// connectAll opens every session, at most cfg.concurrency at a time. It
// reports false if the run cannot continue.
func (r *runner) connectAll(ctx context.Context) bool {
	cfg, rep := r.cfg, r.rep
	r.sessions = make([]*session, cfg.n)
	signers := make([]ssh.Signer, cfg.n)
	observe := nodeObserverSet(cfg.n, cfg.observers, len(cfg.dialAddrs))
	for i := range r.sessions {
		r.sessions[i] = newSession(i, cfg.userName(i), r.tr)
		r.sessions[i].observe = observe[i]
		r.sessions[i].node = cfg.nodeOf(i)
		// A run that kills a node needs to know which messages the senders
		// saw acknowledged, so the first sessions (the senders, unless
		// some fail to connect) keep their screens.
		r.sessions[i].keepScreen = cfg.killing() && i < cfg.senders
		sg, err := deriveSigner(cfg.seed, r.sessions[i].user)
		if err != nil {
			rep.Error = "deriving keys: " + err.Error()
			return false
		}
		signers[i] = sg
	}

	r.logf("connecting %d sessions to %s (%d at a time)", cfg.n, cfg.dialAddr, cfg.concurrency)
	start := time.Now()
	var nReady, nFailed atomic.Int64
	sem := make(chan struct{}, cfg.concurrency)
	var wg sync.WaitGroup
	for i, s := range r.sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				s.failure = failureKey(&connectError{"dial", ctx.Err()})
				nFailed.Add(1)
				return
			}
			d, err := s.connect(ctx, cfg, signers[i])
			<-sem
			if err != nil {
				s.failure = failureKey(err)
				nFailed.Add(1)
				return
			}
			s.ready, s.connectTime = true, d
			nReady.Add(1)
		}()
	}
	stop := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.logf("connect: %d ready, %d failed of %d (%.1fs)", nReady.Load(), nFailed.Load(), cfg.n, time.Since(start).Seconds())
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-progressDone
	rep.ConnectWallS = round3(time.Since(start).Seconds())

	var times []time.Duration
	for _, s := range r.sessions {
		if s.ready {
			times = append(times, s.connectTime)
		} else {
			rep.Failures[s.failure]++
		}
	}
	rep.Connected = len(times)
	rep.Failed = cfg.n - len(times)
	d := summarize(times)
	rep.ConnectP50Ms, rep.ConnectP99Ms, rep.ConnectMaxMs = ms(d.P50), ms(d.P99), ms(d.Max)
	r.logf("connect: %d ready, %d failed of %d in %.1fs", rep.Connected, rep.Failed, cfg.n, rep.ConnectWallS)
	switch {
	case ctx.Err() != nil:
		rep.Error = stopReason(ctx, "connecting")
		return false
	case rep.Connected == 0:
		rep.Error = "no session connected"
		return false
	}
	return true
}

// readySessions returns the sessions that reached the ready screen.
func (r *runner) readySessions() []*session {
	var out []*session
	for _, s := range r.sessions {
		if s.ready {
			out = append(out, s)
		}
	}
	return out
}

// send runs the senders for cfg.duration, then waits up to cfg.drain for the
// outstanding deliveries.
func (r *runner) send(ctx context.Context, ready []*session) {
	cfg, rep, tr := r.cfg, r.rep, r.tr
	senders := ready[:min(cfg.senders, len(ready))]
	tr.senderNode = make([]int, tr.senders)
	for i, s := range senders {
		tr.senderNode[i] = s.node
		if s.scr != nil {
			s.own = make([]ownSight, tr.perSender)
		}
		s.sender.Store(int32(i))
	}
	rep.Senders = len(senders)
	rep.Receivers = len(ready)
	interval := time.Duration(float64(time.Second) / cfg.rate)
	r.logf("sending: %d senders × %g msg/s for %v to %d sessions", len(senders), cfg.rate, cfg.duration, len(ready))

	sentBy := make([]int64, len(senders))
	var wg sync.WaitGroup
	start := time.Now()
	for i, s := range senders {
		// Stagger the senders evenly over one interval.
		offset := interval * time.Duration(i) / time.Duration(len(senders))
		wg.Go(func() { sentBy[i] = sendLoop(ctx, s, i, tr, start, offset, interval, cfg.duration) })
	}
	killDone := make(chan struct{})
	if cfg.killing() {
		go func() {
			defer close(killDone)
			if !sleepCtx(ctx, time.Until(start.Add(cfg.killAfter))) {
				return
			}
			if err := syscall.Kill(cfg.killPID, syscall.SIGKILL); err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("-kill-pid %d: %v", cfg.killPID, err))
				return
			}
			r.killedAt = time.Since(start)
			r.logf("killed pid %d (node %d, %s) %.1fs into the send window", cfg.killPID, cfg.killNode+1, cfg.dialAddrs[cfg.killNode], r.killedAt.Seconds())
		}()
	} else {
		close(killDone)
	}
	var storm stormResult
	stormDone := make(chan struct{})
	if cfg.storm > 0 {
		go func() {
			defer close(stormDone)
			if !sleepCtx(ctx, cfg.duration/2) {
				return
			}
			r.logf("storm: %d sessions log in and out (%d at a time)", cfg.storm, cfg.concurrency)
			tr.startStorm()
			storm = r.storm(ctx)
		}()
	} else {
		close(stormDone)
	}
	wg.Wait()
	<-stormDone
	<-killDone
	rep.KilledAtS = round3(r.killedAt.Seconds())
	if cfg.storm > 0 {
		rep.StormConnected, rep.StormFailed = storm.connected, storm.failed
		rep.StormWallS = round3(storm.wall.Seconds())
		d := summarize(storm.connectTimes)
		rep.StormConnectP99Ms = ms(d.P99)
		if storm.wall > cfg.duration-cfg.duration/2 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("the storm took %.1fs, longer than the second half of the send window: messages sent after it count as storm", storm.wall.Seconds()))
		}
	}
	var observers, all []int32
	for _, s := range ready {
		all = append(all, s.sender.Load())
		if s.observe {
			observers = append(observers, s.sender.Load())
		}
	}
	rep.Sent, rep.Expected = expectedDeliveries(sentBy, observers)
	_, rep.ExpectedAll = expectedDeliveries(sentBy, all)
	if ctx.Err() != nil {
		rep.Error = stopReason(ctx, "sending")
		return
	}

	drainEnd := time.Now().Add(cfg.drain)
	for r.outstanding(ready) && time.Now().Before(drainEnd) {
		if !sleepCtx(ctx, 5*time.Millisecond) {
			rep.Error = stopReason(ctx, "draining")
			break
		}
	}
}

// outstanding reports whether deliveries are still expected: all of them,
// or in a run that kills a node, those owed to the surviving observers.
func (r *runner) outstanding(ready []*session) bool {
	tr := r.tr
	if tr.killNode < 0 {
		return tr.delivered.Load() < r.rep.Expected
	}
	var want int64
	for _, s := range ready {
		if s.observe && s.node != tr.killNode {
			want += r.owed(s)
		}
	}
	return tr.deliveredSurv.Load() < want
}

// owed returns the number of messages session s must receive: the counted
// ones (tracker.counted) but its own.
func (r *runner) owed(s *session) int64 {
	tr := r.tr
	own := int(s.sender.Load())
	var n int64
	for i := range tr.sent {
		if i/tr.perSender != own && tr.counted(i) {
			n++
		}
	}
	return n
}

// expectedDeliveries returns the messages sent (sentBy[i] by sender i) and
// the deliveries expected on the observers, given each observer's sender
// index (-1 for none): every message on every observer but its sender's.
func expectedDeliveries(sentBy []int64, observers []int32) (sent, expected int64) {
	for _, n := range sentBy {
		sent += n
	}
	for _, own := range observers {
		expected += sent
		if own >= 0 && int(own) < len(sentBy) {
			expected -= sentBy[own]
		}
	}
	return sent, expected
}

// sendLoop types messages into s at the given interval, starting at
// start+offset and stopping at start+dur. It returns the number of messages
// sent (typed and submitted with Enter). The send time recorded for a
// message is the moment just before its Enter key is written.
func sendLoop(ctx context.Context, s *session, sender int, tr *tracker, start time.Time, offset, interval, dur time.Duration) int64 {
	var n int64
	buf := make([]byte, 0, tokenLen+2)
	enter := []byte{'\r'}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for seq := 0; seq < tr.perSender; seq++ {
		at := offset + time.Duration(seq)*interval
		if at >= dur {
			break
		}
		if wait := time.Until(start.Add(at)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return n
			}
		}
		buf = append(buf[:0], ' ')
		buf = appendToken(buf, tokenID{Run: tr.run, Sender: sender, Seq: seq})
		buf = append(buf, ' ')
		if s.write(buf) != nil {
			return n
		}
		tr.markSent(sender, seq)
		if s.write(enter) != nil {
			return n
		}
		n++
	}
	return n
}

// teardown closes every session, waits (bounded) for the readers and
// collects latencies and byte counts.
func (r *runner) teardown() {
	rep := r.rep
	for _, s := range r.sessions {
		if s != nil {
			s.close()
		}
	}
	wait := time.NewTimer(5 * time.Second)
	defer wait.Stop()
	var lat, quietLat, stormLat []time.Duration
	var rxBytes, rxDeliveries int64
	var allBytes, allDeliveries int64
	stuck := 0
	for _, s := range r.sessions {
		if s == nil || !s.started {
			continue
		}
		select {
		case <-s.done:
			s.settleAcks()
		case <-wait.C:
			wait.Reset(0)
		}
	}
	killed := func(s *session) bool { return r.cfg.killing() && s.node == r.cfg.killNode }
	for _, s := range r.sessions {
		if s == nil || !s.started {
			continue
		}
		if !s.finished() {
			stuck++
			continue
		}
		lat = append(lat, s.lat...)
		quietLat = append(quietLat, s.quietLat...)
		stormLat = append(stormLat, s.stormLat...)
		if !s.ready {
			continue
		}
		if rep.Mode == "send" && s.observe && !killed(s) {
			sk, lt := s.missing()
			rep.MissingSkipped += sk
			rep.MissingLate += lt
			rep.ScannerMisses += s.scannerMisses()
		}
		b := s.bytes.Load() - s.bytesStart
		allBytes += b
		allDeliveries += int64(len(s.lat))
		if s.observe && s.sender.Load() < 0 {
			rxBytes += b
			rxDeliveries += int64(len(s.lat))
		}
	}
	if r.cfg.dumpScreen && r.log != nil {
		for i := len(r.sessions) - 1; i >= 0; i-- {
			if s := r.sessions[i]; s != nil && s.ready && s.observe && s.finished() {
				fmt.Fprintf(r.log, "loadtest: final screen of %s:\n%s\n", s.user, s.scr)
				break
			}
		}
	}
	if stuck > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d session readers did not stop", stuck))
	}
	rep.Delivered = int64(len(lat))
	if rep.Mode == "send" {
		r.checkOrder()
		if r.cfg.killing() {
			r.countSurvivors()
		}
		if len(r.cfg.dialAddrs) > 1 {
			r.nodeReports()
		}
	}
	rep.Unknown = r.tr.unknown.Load()
	rep.Foreign = r.tr.foreign.Load()
	d := summarize(lat)
	rep.LatencyP50Ms, rep.LatencyP90Ms, rep.LatencyP99Ms, rep.LatencyMaxMs = ms(d.P50), ms(d.P90), ms(d.P99), ms(d.Max)
	if r.tr.split {
		q, st := summarize(quietLat), summarize(stormLat)
		rep.QuietDeliveries, rep.StormDeliveries = int64(len(quietLat)), int64(len(stormLat))
		rep.QuietP50Ms, rep.QuietP99Ms = ms(q.P50), ms(q.P99)
		rep.StormP50Ms, rep.StormP99Ms = ms(st.P50), ms(st.P99)
		rep.StormP99Ratio = ratio(rep.StormP99Ms, rep.QuietP99Ms)
	}
	rep.BytesReceived = allBytes
	// Bytes per delivered message are measured on observers that do not
	// type, so that the echo of typing does not count.
	if rxDeliveries == 0 {
		rxBytes, rxDeliveries = allBytes, allDeliveries
	}
	if rxDeliveries > 0 {
		rep.BytesPerSessionPerDelivery = round3(float64(rxBytes) / float64(rxDeliveries))
	}
	if n := int64(rep.Connected); n > 0 && rep.WindowS > 0 {
		rep.BytesPerSessionPerS = round3(float64(allBytes) / float64(n) / rep.WindowS)
	}
}

// stopReason describes why ctx ended during phase.
func stopReason(ctx context.Context, phase string) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "run deadline (-deadline) exceeded while " + phase
	}
	return "interrupted while " + phase
}

// sleepCtx sleeps for d, reporting false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// observed returns the sessions whose observations count: ready observers
// whose readers have stopped.
func (r *runner) observed() []*session {
	var out []*session
	for _, s := range r.sessions {
		if s != nil && s.ready && s.observe && s.finished() {
			out = append(out, s)
		}
	}
	return out
}
