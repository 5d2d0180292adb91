package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
)

// report is the result of a run. It is printed as a human summary and as one
// JSON line. Durations are in milliseconds (_ms) or seconds (_s), sizes in
// KiB or bytes as named.
type report struct {
	Addr     string `json:"addr"`
	Mode     string `json:"mode"` // "send", "idle" or "connect"
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Sessions int    `json:"sessions"`

	Connected    int            `json:"connected"`
	Failed       int            `json:"failed"`
	Dropped      int            `json:"dropped"`
	Failures     map[string]int `json:"failures,omitempty"`
	ConnectWallS float64        `json:"connect_wall_s"`
	ConnectP50Ms float64        `json:"connect_p50_ms"`
	ConnectP99Ms float64        `json:"connect_p99_ms"`
	ConnectMaxMs float64        `json:"connect_max_ms"`

	Senders   int     `json:"senders"`
	Rate      float64 `json:"rate"`
	DurationS float64 `json:"duration_s"`
	IdleS     float64 `json:"idle_s,omitempty"`
	WindowS   float64 `json:"window_s"`
	Receivers int     `json:"receivers"`
	// Observers are the ready sessions that parsed their screens; expected
	// deliveries, the ratio and latencies are over them only.
	Observers int   `json:"observers"`
	Sent      int64 `json:"messages_sent"`
	Expected  int64 `json:"expected_deliveries"`
	Delivered int64 `json:"deliveries"`
	// ExpectedAll counts the deliveries the server owes all ready sessions
	// (observers or not); DeliveredAll estimates how many it made, from the
	// observers' ratio (exact when every session observes). Server CPU per
	// delivery divides by DeliveredAll.
	ExpectedAll   int64   `json:"expected_deliveries_all"`
	DeliveredAll  int64   `json:"deliveries_all_est"`
	DeliveryRatio float64 `json:"delivery_ratio"`
	// Missing deliveries, split: skipped = a later message of the same
	// sender was seen on that session; late = nothing later was seen.
	MissingSkipped int64 `json:"missing_skipped"`
	MissingLate    int64 `json:"missing_late"`
	// ScannerMisses counts tokens found on the final screens by a full scan
	// that the incremental scan had not recorded (a tool bug if nonzero).
	ScannerMisses int64   `json:"scanner_misses"`
	Unknown       int64   `json:"unknown_tokens"`
	Foreign       int64   `json:"foreign_tokens"`
	RunID         int     `json:"run_id"`
	LatencyP50Ms  float64 `json:"latency_p50_ms"`
	LatencyP90Ms  float64 `json:"latency_p90_ms"`
	LatencyP99Ms  float64 `json:"latency_p99_ms"`
	LatencyMaxMs  float64 `json:"latency_max_ms"`

	// Order: the observers' first-sight sequences compared (the longest is
	// the reference); mismatches count observers that saw the shared
	// messages in another order.
	OrderChecked    int    `json:"order_checked"`
	OrderMismatches int    `json:"order_mismatches"`
	OrderExample    string `json:"order_example,omitempty"`

	// Several nodes (-addr a,b,c): one report per node, in -addr order.
	Nodes []nodeReport `json:"nodes,omitempty"`

	// A node killed during the run (-kill-pid): expected and delivered
	// above are then over the surviving nodes' observers, and count a
	// message of the killed node's senders only if it was acknowledged on
	// its sender's screen or reached a surviving session.
	KillPID           int     `json:"kill_pid,omitempty"`
	KillNode          int     `json:"kill_node,omitempty"` // 1-based position in -addr
	KilledAtS         float64 `json:"killed_at_s,omitempty"`
	KilledDropped     int     `json:"killed_node_dropped,omitempty"`
	KilledNotDropped  int     `json:"killed_node_not_dropped,omitempty"`
	KilledDelivered   int64   `json:"killed_node_deliveries,omitempty"`
	KilledNodeSent    int64   `json:"killed_node_sent,omitempty"`
	KilledNodeCounted int64   `json:"killed_node_counted,omitempty"`
	Acked             int64   `json:"acked,omitempty"`

	// A login storm (-storm): the storm sessions, and the latency of the
	// messages sent before it (quiet) and during it (storm).
	Storm             int     `json:"storm,omitempty"`
	StormConnected    int     `json:"storm_connected,omitempty"`
	StormFailed       int     `json:"storm_failed,omitempty"`
	StormWallS        float64 `json:"storm_wall_s,omitempty"`
	StormConnectP99Ms float64 `json:"storm_connect_p99_ms,omitempty"`
	QuietDeliveries   int64   `json:"quiet_deliveries,omitempty"`
	StormDeliveries   int64   `json:"storm_deliveries,omitempty"`
	QuietP50Ms        float64 `json:"quiet_latency_p50_ms,omitempty"`
	QuietP99Ms        float64 `json:"quiet_latency_p99_ms,omitempty"`
	StormP50Ms        float64 `json:"storm_latency_p50_ms,omitempty"`
	StormP99Ms        float64 `json:"storm_latency_p99_ms,omitempty"`
	StormP99Ratio     float64 `json:"storm_p99_ratio,omitempty"`

	BytesReceived              int64   `json:"bytes_received"`
	BytesPerSessionPerDelivery float64 `json:"bytes_per_session_per_delivery"`
	BytesPerSessionPerS        float64 `json:"bytes_per_session_per_s"`

	ServerPID                   int     `json:"server_pid,omitempty"`
	ServerPIDs                  []int   `json:"server_pids,omitempty"` // one per node (-pid a,b,c); the server figures are their sums
	ServerRSSBeforeKiB          int64   `json:"server_rss_before_kib,omitempty"`
	ServerRSSConnectedKiB       int64   `json:"server_rss_connected_kib,omitempty"`
	ServerRSSAfterKiB           int64   `json:"server_rss_after_kib,omitempty"`
	ServerRSSPerSessionKiB      float64 `json:"server_rss_per_session_kib,omitempty"`
	ServerRSSPerSessionAfterKiB float64 `json:"server_rss_per_session_after_kib,omitempty"`
	ServerCPUConnectS           float64 `json:"server_cpu_connect_s,omitempty"`
	ServerCPURunS               float64 `json:"server_cpu_run_s,omitempty"`
	ServerCorePct               float64 `json:"server_core_pct,omitempty"`
	ServerCPUPerDeliveryMs      float64 `json:"server_cpu_per_delivery_ms,omitempty"`

	ToolCPURunS          float64 `json:"tool_cpu_run_s"`
	ToolCorePct          float64 `json:"tool_core_pct"`
	ToolCPUPerDeliveryUs float64 `json:"tool_cpu_per_delivery_us"`
	ToolRSSKiB           int64   `json:"tool_rss_kib"`
	ToolEmulatorTuned    bool    `json:"tool_emulator_tuned"`
	// Floor is the same workload against the tool's line-broadcast server,
	// run first in the same invocation (-floor); VsFloor divides this run's
	// figures by the floor's.
	Floor   *report      `json:"floor,omitempty"`
	VsFloor *floorRatios `json:"vs_floor,omitempty"`

	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// newReport returns an empty report for cfg.
func newReport(cfg *config) *report {
	mode := "connect"
	switch {
	case cfg.idle > 0:
		mode = "idle"
	case cfg.senders > 0:
		mode = "send"
	}
	r := &report{
		Addr:      cfg.dialAddr,
		Mode:      mode,
		Width:     cfg.width,
		Height:    cfg.height,
		Sessions:  cfg.n,
		Rate:      cfg.rate,
		DurationS: cfg.duration.Seconds(),
		IdleS:     cfg.idle.Seconds(),
		ServerPID: cfg.pid,
		RunID:     cfg.runID,
		Storm:     cfg.storm,
		KillPID:   cfg.killPID,
		Failures:  map[string]int{},
	}
	if cfg.killing() {
		r.KillNode = cfg.killNode + 1
	}
	if len(cfg.pids) > 1 {
		r.ServerPIDs = cfg.pids
	}
	return r
}

// finish computes derived figures and decides whether the run passed.
func (r *report) finish(cfg *config) {
	if r.Mode != "send" {
		r.Rate, r.DurationS = 0, 0
	}
	if r.Expected > 0 {
		// Rounded down, so that a ratio below 1 never prints as 1.
		r.DeliveryRatio = math.Floor(float64(r.Delivered)/float64(r.Expected)*1e6) / 1e6
	}
	if r.Connected > 0 && r.ServerPID != 0 {
		if r.ServerRSSConnectedKiB > 0 {
			r.ServerRSSPerSessionKiB = round3(float64(r.ServerRSSConnectedKiB-r.ServerRSSBeforeKiB) / float64(r.Connected))
		}
		if r.ServerRSSAfterKiB > 0 {
			r.ServerRSSPerSessionAfterKiB = round3(float64(r.ServerRSSAfterKiB-r.ServerRSSBeforeKiB) / float64(r.Connected))
		}
	}
	if r.Expected > 0 {
		r.DeliveredAll = int64(math.Round(float64(r.ExpectedAll) * float64(r.Delivered) / float64(r.Expected)))
	}
	if r.Delivered > 0 {
		if r.ServerPID != 0 && r.DeliveredAll > 0 {
			r.ServerCPUPerDeliveryMs = round3(r.ServerCPURunS * 1000 / float64(r.DeliveredAll))
		}
		r.ToolCPUPerDeliveryUs = round3(r.ToolCPURunS * 1e6 / float64(r.Delivered))
	}
	if len(r.Failures) == 0 {
		r.Failures = nil
	}
	if r.Failed > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d of %d sessions failed to connect", r.Failed, r.Sessions))
	}
	if r.ScannerMisses > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("self-check: %d tokens on the final screens were missed by the incremental scan", r.ScannerMisses))
	}
	if r.Dropped > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d sessions dropped during the run", r.Dropped))
	}
	if r.Mode == "send" {
		switch {
		case r.Sent == 0:
			r.Problems = append(r.Problems, "no message was sent")
		case r.Receivers < 2:
			r.Problems = append(r.Problems, "fewer than 2 sessions connected: nobody to deliver to")
		case r.Expected == 0:
			r.Problems = append(r.Problems, "no observer receives messages (every observer is the only sender)")
		case r.Delivered < r.Expected:
			r.Problems = append(r.Problems, fmt.Sprintf("delivery ratio %.6g < 1 (%d of %d)", r.DeliveryRatio, r.Delivered, r.Expected))
		}
	}
	r.OK = r.Error == "" && (len(r.Problems) == 0 || cfg.allowLoss)
}

// nodeReport is one node's share of a run over several nodes.
type nodeReport struct {
	Addr            string  `json:"addr"`
	Killed          bool    `json:"killed,omitempty"`
	Sessions        int     `json:"sessions"`
	Connected       int     `json:"connected"`
	Failed          int     `json:"failed"`
	Dropped         int     `json:"dropped"`
	Senders         int     `json:"senders"`
	Observers       int     `json:"observers"`
	Expected        int64   `json:"expected_deliveries"`
	Delivered       int64   `json:"deliveries"`
	DeliveryRatio   float64 `json:"delivery_ratio"`
	LatencyP50Ms    float64 `json:"latency_p50_ms"`
	LatencyP99Ms    float64 `json:"latency_p99_ms"`
	OrderMismatches int     `json:"order_mismatches"`
	ServerCPURunS   float64 `json:"server_cpu_run_s,omitempty"`
}

// floorRatios are a run's figures divided by its floor's (0 when either is
// missing).
type floorRatios struct {
	P50                float64 `json:"latency_p50"`
	P99                float64 `json:"latency_p99"`
	CPUPerDelivery     float64 `json:"server_cpu_per_delivery"`
	BytesPerDelivery   float64 `json:"bytes_per_session_per_delivery"`
	RSSPerSession      float64 `json:"server_rss_per_session"`
	RSSPerSessionAfter float64 `json:"server_rss_per_session_after"`
}

// ratio returns a/b rounded, or 0 if either is not positive.
func ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return round3(a / b)
}

// attachFloor records the floor run fl and the ratios to it. A floor run
// that failed makes this one fail: its comparisons would mean nothing.
func (r *report) attachFloor(fl *report) {
	r.Floor = fl
	r.VsFloor = &floorRatios{
		P50:                ratio(r.LatencyP50Ms, fl.LatencyP50Ms),
		P99:                ratio(r.LatencyP99Ms, fl.LatencyP99Ms),
		CPUPerDelivery:     ratio(r.ServerCPUPerDeliveryMs, fl.ServerCPUPerDeliveryMs),
		BytesPerDelivery:   ratio(r.BytesPerSessionPerDelivery, fl.BytesPerSessionPerDelivery),
		RSSPerSession:      ratio(r.ServerRSSPerSessionKiB, fl.ServerRSSPerSessionKiB),
		RSSPerSessionAfter: ratio(r.ServerRSSPerSessionAfterKiB, fl.ServerRSSPerSessionAfterKiB),
	}
	if !fl.OK {
		why := fl.Error
		if why == "" {
			why = strings.Join(fl.Problems, "; ")
		}
		r.Problems = append(r.Problems, "floor run failed: "+why)
		r.OK = false
	}
}

// writeSummary prints the human-readable summary.
func (r *report) writeSummary(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	if r.Floor != nil {
		p("floor (minimal line broadcast over x/crypto/ssh, pid %d, run first):", r.Floor.ServerPID)
		r.Floor.writeSummary(w)
		p("")
	}
	p("sshchat load test: %s, %d sessions, PTY %dx%d, mode %s", r.Addr, r.Sessions, r.Width, r.Height, r.Mode)
	p("  sessions    connected %d, failed %d, dropped %d (connect wall %.1fs)", r.Connected, r.Failed, r.Dropped, r.ConnectWallS)
	for _, k := range slices.Sorted(maps.Keys(r.Failures)) {
		p("              %5d × %s", r.Failures[k], k)
	}
	p("  connect     p50 %.1f ms, p99 %.1f ms, max %.1f ms (dial + handshake + first ready screen)", r.ConnectP50Ms, r.ConnectP99Ms, r.ConnectMaxMs)
	if r.Mode == "send" {
		p("  messages    %d senders × %g msg/s × %gs: sent %d", r.Senders, r.Rate, r.DurationS, r.Sent)
		p("  deliveries  %d of %d expected (ratio %.6g over %d observers of %d sessions, sender's own session excluded)", r.Delivered, r.Expected, r.DeliveryRatio, r.Observers, r.Receivers)
		if r.MissingSkipped+r.MissingLate > 0 {
			p("  missing     %d skipped (a later message of the same sender was on screen), %d late (nothing later seen)", r.MissingSkipped, r.MissingLate)
		}
		p("  latency     p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms", r.LatencyP50Ms, r.LatencyP90Ms, r.LatencyP99Ms, r.LatencyMaxMs)
		p("  order       %d of %d observers saw the messages in another order (first sight on screen, compared on shared messages)", r.OrderMismatches, r.OrderChecked)
		if r.KillPID != 0 {
			p("  kill        pid %d (node %d) SIGKILLed %.1fs into the send window: %d of its sessions dropped, %d did not; they saw %d deliveries before",
				r.KillPID, r.KillNode, r.KilledAtS, r.KilledDropped, r.KilledNotDropped, r.KilledDelivered)
			p("              its senders sent %d messages, %d count (acknowledged on the sender's screen or received by a survivor); %d acknowledged in all; deliveries above are over the survivors",
				r.KilledNodeSent, r.KilledNodeCounted, r.Acked)
		}
		for i, n := range r.Nodes {
			state := ""
			if n.Killed {
				state = " KILLED"
			}
			line := fmt.Sprintf("  node %d      %s%s: %d/%d connected, %d dropped, %d senders; %d of %d (ratio %.6g) over %d observers; p50 %.1f ms, p99 %.1f ms; %d order mismatches",
				i+1, n.Addr, state, n.Connected, n.Sessions, n.Dropped, n.Senders, n.Delivered, n.Expected, n.DeliveryRatio, n.Observers, n.LatencyP50Ms, n.LatencyP99Ms, n.OrderMismatches)
			if n.ServerCPURunS > 0 {
				line += fmt.Sprintf("; server CPU %.2fs", n.ServerCPURunS)
			}
			p("%s", line)
		}
		p("  bandwidth   %.1f bytes per session per delivered message", r.BytesPerSessionPerDelivery)
		if r.Storm > 0 {
			p("  storm       %d logged in and out (%d failed) in %.1fs from halfway, connect p99 %.1f ms", r.StormConnected, r.StormFailed, r.StormWallS, r.StormConnectP99Ms)
			p("  quiet/storm p50 %.1f / %.1f ms, p99 %.1f / %.1f ms (×%.2f) over %d / %d deliveries sent before / during the storm",
				r.QuietP50Ms, r.StormP50Ms, r.QuietP99Ms, r.StormP99Ms, r.StormP99Ratio, r.QuietDeliveries, r.StormDeliveries)
		}
	}
	if r.Mode == "idle" {
		p("  idle        %gs held; %.1f bytes per session per s received", r.IdleS, r.BytesPerSessionPerS)
	}
	if r.Unknown > 0 {
		p("  warning     %d well-formed tokens that were never sent", r.Unknown)
	}
	if r.ServerPID != 0 {
		p("  server RSS  before %d KiB, connected %d KiB, after %d KiB: %.1f KiB/session connected, %.1f KiB/session after",
			r.ServerRSSBeforeKiB, r.ServerRSSConnectedKiB, r.ServerRSSAfterKiB, r.ServerRSSPerSessionKiB, r.ServerRSSPerSessionAfterKiB)
		line := fmt.Sprintf("  server CPU  connect %.2fs; window %.2fs: %.2fs = %.1f%% of one core", r.ServerCPUConnectS, r.WindowS, r.ServerCPURunS, r.ServerCorePct)
		if r.ServerCPUPerDeliveryMs > 0 {
			line += fmt.Sprintf(", %.3f ms per delivery (of ≈ %d to all sessions)", r.ServerCPUPerDeliveryMs, r.DeliveredAll)
		}
		p("%s", line)
	}
	// The tool shares the machine with the server: its share of the CPU in
	// the same window is printed in the same form, right below.
	tool := fmt.Sprintf("  tool CPU    (this process) window %.2fs: %.2fs = %.1f%% of one core", r.WindowS, r.ToolCPURunS, r.ToolCorePct)
	if r.Delivered > 0 {
		tool += fmt.Sprintf(", %.1f µs per observed delivery", r.ToolCPUPerDeliveryUs)
	}
	p("%s; RSS %d MiB", tool, r.ToolRSSKiB>>10)
	if r.ServerPID != 0 {
		p("  CPU share   server %.1f%% + tool %.1f%% of one core during the window", r.ServerCorePct, r.ToolCorePct)
	}
	if v := r.VsFloor; v != nil {
		p("  vs floor    p50 ×%.2f, p99 ×%.2f, server CPU per delivery ×%.2f, bytes per delivery ×%.2f, RSS per session ×%.2f (×0: not measured)",
			v.P50, v.P99, v.CPUPerDelivery, v.BytesPerDelivery, v.RSSPerSession)
	}
	for _, pr := range r.Problems {
		p("  PROBLEM     %s", pr)
	}
	if r.Error != "" {
		p("  ERROR       %s", r.Error)
	}
	verdict := "PASS"
	if !r.OK {
		verdict = "FAIL"
	}
	p("  result      %s", verdict)
}

// writeJSON prints the report as one JSON line.
func (r *report) writeJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", strings.TrimSpace(string(b)))
	return err
}
