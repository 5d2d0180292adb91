// Command loadplot draws the JSON lines written by cmd/loadtest (one run per
// line) as SVG charts against the number of sessions: latency p50/p99 and
// server CPU per delivered message, for the target and, when the runs were
// made with -floor, for the floor measured in the same invocation. Several
// runs with the same number of sessions are drawn as their median.
//
//	loadplot -out docs/perf -name sshchat runs.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdin, os.Stderr))
}

// run is the part of a loadtest report that is drawn.
type run struct {
	Mode          string  `json:"mode"`
	Sessions      int     `json:"sessions"`
	P50           float64 `json:"latency_p50_ms"`
	P99           float64 `json:"latency_p99_ms"`
	CPUPerDelivMs float64 `json:"server_cpu_per_delivery_ms"`
	Floor         *run    `json:"floor"`
}

// realMain parses flags, reads the runs and writes the charts. Errors are
// one line; exit status 2 for bad usage, 1 for bad input or output.
func realMain(args []string, stdin io.Reader, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadplot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", ".", "directory for latency.svg and cpu.svg")
	name := fs.String("name", "sshchat", "name of the measured server in the legends")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	runs, err := readRuns(fs.Args(), stdin)
	if err == nil {
		err = drawCharts(runs, *name, *out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadplot: %v\n", err)
		return 1
	}
	return 0
}

// readRuns reads loadtest output from the files (or stdin if none): every
// line that is a JSON object of a send run; other lines (the human summary)
// are skipped.
func readRuns(files []string, stdin io.Reader) ([]run, error) {
	var runs []run
	read := func(name string, r io.Reader) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var rn run
			if err := json.Unmarshal([]byte(line), &rn); err != nil {
				return fmt.Errorf("%s:%d: %v", name, n, err)
			}
			if rn.Mode == "send" && rn.Sessions > 0 {
				runs = append(runs, rn)
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		return nil
	}
	if len(files) == 0 {
		if err := read("stdin", stdin); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		err = read(f, fh)
		fh.Close()
		if err != nil {
			return nil, err
		}
	}
	if len(runs) == 0 {
		return nil, errors.New("no loadtest JSON line of a send run in the input")
	}
	return runs, nil
}

// series returns, for each number of sessions, the median of pick over the
// runs (values ≤ 0, i.e. not measured, are left out), sorted by sessions.
func series(runs []run, pick func(run) float64) plotter.XYs {
	by := map[int][]float64{}
	for _, r := range runs {
		if v := pick(r); v > 0 {
			by[r.Sessions] = append(by[r.Sessions], v)
		}
	}
	var xys plotter.XYs
	for _, n := range slices.Sorted(maps.Keys(by)) {
		v := by[n]
		slices.Sort(v)
		med := v[len(v)/2]
		if len(v)%2 == 0 {
			med = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		xys = append(xys, plotter.XY{X: float64(n), Y: med})
	}
	return xys
}

// floors returns the floor runs attached to runs.
func floors(runs []run) []run {
	var out []run
	for _, r := range runs {
		if r.Floor != nil {
			fl := *r.Floor
			fl.Sessions = r.Sessions
			out = append(out, fl)
		}
	}
	return out
}

// line is one drawn series.
type line struct {
	name   string
	xys    plotter.XYs
	color  color.Color
	dashed bool
}

var (
	targetColor = color.RGBA{R: 0xc0, G: 0x30, B: 0x30, A: 0xff}
	floorColor  = color.RGBA{R: 0x30, G: 0x50, B: 0xb0, A: 0xff}
)

// drawCharts writes latency.svg and cpu.svg into dir.
func drawCharts(runs []run, name, dir string) error {
	fl := floors(runs)
	lat := []line{
		{name + " p99", series(runs, func(r run) float64 { return r.P99 }), targetColor, false},
		{name + " p50", series(runs, func(r run) float64 { return r.P50 }), targetColor, true},
		{"floor p99", series(fl, func(r run) float64 { return r.P99 }), floorColor, false},
		{"floor p50", series(fl, func(r run) float64 { return r.P50 }), floorColor, true},
	}
	cpu := []line{
		{name, series(runs, func(r run) float64 { return r.CPUPerDelivMs }), targetColor, false},
		{"floor", series(fl, func(r run) float64 { return r.CPUPerDelivMs }), floorColor, false},
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := chart("Delivery latency", "ms", lat, filepath.Join(dir, "latency.svg")); err != nil {
		return err
	}
	return chart("Server CPU per delivered message", "ms", cpu, filepath.Join(dir, "cpu.svg"))
}

// chart draws lines (empty ones are left out) against sessions into file.
func chart(title, unit string, lines []line, file string) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "sessions"
	p.Y.Label.Text = unit
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	drawn, top := 0, 0.0
	for _, l := range lines {
		if len(l.xys) == 0 {
			continue
		}
		ln, pts, err := plotter.NewLinePoints(l.xys)
		if err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
		ln.Color, pts.Color = l.color, l.color
		pts.Shape = draw.CircleGlyph{}
		if l.dashed {
			ln.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(ln, pts)
		p.Legend.Add(l.name, ln, pts)
		drawn++
		for _, xy := range l.xys {
			top = max(top, xy.Y)
		}
	}
	if drawn == 0 {
		return fmt.Errorf("%s: nothing measured to draw", file)
	}
	// Headroom above the highest point keeps the legend off the lines.
	p.Y.Max = top * 1.4
	if err := p.Save(16*vg.Centimeter, 10*vg.Centimeter, file); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return nil
}
