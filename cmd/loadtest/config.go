package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// config is the parsed and validated command line.
type config struct {
	addr        string   // as given
	dialAddr    string   // resolved loopback ip:port of every node, comma separated (for the report)
	dialAddrs   []string // resolved loopback ip:port per node; session i connects to node i mod len
	n           int
	senders     int
	observers   int // sessions that parse their screens; capped at n
	rate        float64
	duration    time.Duration
	width       int
	height      int
	term        string
	ready       string
	readyRe     *regexp.Regexp
	settle      time.Duration
	drain       time.Duration
	seed        string
	userPrefix  string
	pid         int   // first of pids (0: none)
	pids        []int // server processes, one per node when several (-pid a,b,c)
	pidFlag     string
	concurrency int
	timeout     time.Duration
	idle        time.Duration
	deadline    time.Duration
	allowLoss   bool
	jsonOnly    bool
	quiet       bool
	dumpScreen  bool
	runID       int
	cpuProfile  string
	floor       bool // run the workload against a floor server first
	storm       int  // sessions that log in and out during the second half of the send window
	// killPID is SIGKILLed killAfter into the send window; it serves node
	// killNode (0-based index into dialAddrs), whose sessions are then
	// expected to drop while nobody else may lose a message.
	killPID   int
	killNode  int
	killAfter time.Duration
}

// killing reports whether the run kills a node.
func (c *config) killing() bool { return c.killPID > 0 }

// nodeOf returns the node (index into dialAddrs) session i connects to:
// sessions, and so senders, are spread round-robin over the nodes.
func (c *config) nodeOf(i int) int {
	if len(c.dialAddrs) == 0 {
		return 0
	}
	return i % len(c.dialAddrs)
}

// defaultObservers is the default of -observers: every session observes in
// small runs; large runs sample, since emulating every terminal would cost
// the tool as much CPU as the server it measures on a small machine.
const defaultObservers = 100

// observerSet returns which of n sessions (in join order) observe: k of
// them, spread evenly, the first one included.
func observerSet(n, k int) []bool {
	obs := make([]bool, n)
	for j := range min(k, n) {
		obs[j*n/min(k, n)] = true
	}
	return obs
}

// nodeObserverSet returns which of n sessions observe when they are spread
// round-robin over nodes (session i on node i mod nodes): k observers in all,
// shared as evenly as possible between the nodes and spread evenly over each
// node's sessions. With one node it is observerSet.
func nodeObserverSet(n, k, nodes int) []bool {
	if nodes <= 1 {
		return observerSet(n, k)
	}
	obs := make([]bool, n)
	k = min(k, n)
	before := 0 // sessions of the nodes before a
	for a := range nodes {
		members := (n - a + nodes - 1) / nodes // sessions a, a+nodes, ...
		// Shared in proportion to the node's sessions, k in all.
		share := k*(before+members)/n - k*before/n
		before += members
		for j, on := range observerSet(members, share) {
			if on {
				obs[a+j*nodes] = true
			}
		}
	}
	return obs
}

// perSender is the number of token slots each sender needs.
func (c *config) perSender() int {
	if c.senders == 0 {
		return 1
	}
	return int(math.Ceil(c.rate*c.duration.Seconds())) + 1
}

// userName returns the SSH user of session i (0-based): load0001, ...
func (c *config) userName(i int) string {
	return fmt.Sprintf("%s%04d", c.userPrefix, i+1)
}

// parseConfig parses args (without the program name). Errors are one line.
func parseConfig(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: loadtest [flags]\n\nOpens -n SSH sessions with PTYs to a chat server on a loopback address, waits\nuntil each shows -ready, then has -senders sessions type messages at -rate\nmessages/s each for -duration and measures delivery to every other session.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.addr, "addr", "127.0.0.1:2222", "server address (loopback only); several nodes of one cluster as a,b,c: sessions and senders are spread round-robin over them")
	fs.IntVar(&c.n, "n", 20, "number of sessions")
	fs.IntVar(&c.senders, "senders", 5, "number of sessions that send messages (the first ones connected; at most -n)")
	fs.IntVar(&c.observers, "observers", defaultObservers, "sessions that parse their screens and count deliveries, spread evenly over the join order (at most -n); the others read and discard")
	fs.Float64Var(&c.rate, "rate", 2, "messages per second per sender")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "how long the senders send")
	fs.IntVar(&c.width, "width", 80, "PTY width")
	fs.IntVar(&c.height, "height", 24, "PTY height")
	fs.StringVar(&c.term, "term", "xterm-256color", "TERM sent with the PTY request")
	fs.StringVar(&c.ready, "ready", "#lobby", "regexp that, once on a screen row, means the session is in the lobby")
	fs.DurationVar(&c.settle, "settle", time.Second, "wait after all sessions are ready, before measuring")
	fs.DurationVar(&c.drain, "drain", 5*time.Second, "max wait after the last send for outstanding deliveries")
	fs.StringVar(&c.seed, "seed", "sshchat", "seed for the per-user ed25519 keys (same seed, same keys)")
	fs.StringVar(&c.userPrefix, "user-prefix", "load", "SSH user name prefix (users are <prefix>0001, ...)")
	fs.StringVar(&c.pidFlag, "pid", "", "server process id, to report its RSS and CPU from /proc; with several -addr, one per node (a,b,c), summed in the totals and reported per node")
	fs.IntVar(&c.killPID, "kill-pid", 0, "SIGKILL this process -kill-after into the send window (it serves -kill-node); its sessions are expected to drop, nobody else may lose a message")
	fs.IntVar(&c.killNode, "kill-node", 0, "which -addr (1-based) the -kill-pid process serves (needed with several -addr)")
	fs.DurationVar(&c.killAfter, "kill-after", 0, "when to send -kill-pid SIGKILL, counted from the start of the send window (must be within -duration)")
	fs.IntVar(&c.concurrency, "connect-concurrency", 50, "sessions connecting at the same time")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "per-session connect timeout (dial, handshake, first ready screen)")
	fs.DurationVar(&c.idle, "idle", 0, "connect, then hold idle this long without sending; report RSS and CPU")
	fs.DurationVar(&c.deadline, "deadline", 0, "hard limit for the whole run (0: derived from the other durations)")
	fs.BoolVar(&c.allowLoss, "allow-loss", false, "exit 0 even if deliveries are missing or sessions failed")
	fs.BoolVar(&c.jsonOnly, "json", false, "print only the JSON line (the summary is printed otherwise, JSON last)")
	fs.BoolVar(&c.quiet, "q", false, "no progress messages on stderr")
	fs.IntVar(&c.runID, "run-id", 0, "run id embedded in every token (0: random), so tokens of earlier runs in the history never count")
	fs.BoolVar(&c.dumpScreen, "dump-screen", false, "print the last session's final screen to stderr (diagnostics)")
	fs.BoolVar(&c.floor, "floor", false, "first run the same workload against a minimal line-broadcast SSH server started by the tool (the floor), then against -addr; the report carries both and their ratios")
	fs.IntVar(&c.storm, "storm", 0, "a login storm: this many more sessions (users after the -n) connect, -connect-concurrency at a time, and leave once ready, starting halfway through the send window; the report gives the latency of messages sent before the storm and during it")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write the tool's own CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("bad flags: %v", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := c.parseLists(); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	for _, a := range c.addrs() {
		dial, err := resolveLoopback(a)
		if err != nil {
			return nil, err
		}
		c.dialAddrs = append(c.dialAddrs, dial)
	}
	c.dialAddr = strings.Join(c.dialAddrs, ",")
	return c, nil
}

// pidList returns the server processes to sample.
func (c *config) pidList() []int {
	if len(c.pids) > 0 {
		return c.pids
	}
	if c.pid != 0 {
		return []int{c.pid}
	}
	return nil
}

// addrs returns the nodes' addresses as given to -addr.
func (c *config) addrs() []string { return strings.Split(c.addr, ",") }

// parseLists parses -pid and turns -kill-node into an index.
func (c *config) parseLists() error {
	if c.pidFlag != "" {
		for _, f := range strings.Split(c.pidFlag, ",") {
			p, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || p < 0 {
				return fmt.Errorf("bad -pid %q: want process ids separated by commas", c.pidFlag)
			}
			c.pids = append(c.pids, p)
		}
		c.pid = c.pids[0]
	}
	nodes := len(c.addrs())
	if len(c.pids) > 1 && len(c.pids) != nodes {
		return fmt.Errorf("-pid has %d process ids for %d -addr nodes: give one per node", len(c.pids), nodes)
	}
	switch {
	case c.killPID < 0:
		return errors.New("-kill-pid must not be negative")
	case c.killPID == 0 && (c.killNode != 0 || c.killAfter != 0):
		return errors.New("-kill-node and -kill-after need -kill-pid")
	case c.killPID == 0:
		return nil
	case nodes < 2:
		return errors.New("-kill-pid needs at least two -addr nodes: the sessions of the others must survive")
	case c.killNode < 1 || c.killNode > nodes:
		return fmt.Errorf("-kill-node must name the killed process's node: 1 to %d (its position in -addr)", nodes)
	case c.killPID == os.Getpid():
		return errors.New("-kill-pid is this process")
	}
	c.killNode--
	return nil
}

// validate checks ranges and fills derived fields.
func (c *config) validate() error {
	if c.idle > 0 {
		c.senders = 0
	}
	switch {
	case c.n < 1:
		return errors.New("-n must be at least 1")
	case c.senders < 0:
		return errors.New("-senders must not be negative")
	case c.observers < 0:
		return errors.New("-observers must not be negative")
	case c.senders > 0 && c.idle == 0 && c.observers < 1:
		return errors.New("-observers must be at least 1 when sending")
	case c.senders > maxSenders:
		return fmt.Errorf("-senders must be at most %d", maxSenders)
	case c.senders > 0 && c.idle == 0 && !(c.rate > 0 && c.rate <= 1000):
		return errors.New("-rate must be in (0, 1000]")
	case c.duration < 0 || c.idle < 0 || c.settle < 0 || c.drain < 0 || c.deadline < 0:
		return errors.New("durations must not be negative")
	case c.width < 20 || c.width > 1000 || c.height < 5 || c.height > 1000:
		return errors.New("-width must be in [20, 1000] and -height in [5, 1000]")
	case c.concurrency < 1:
		return errors.New("-connect-concurrency must be at least 1")
	case c.timeout <= 0:
		return errors.New("-timeout must be positive")
	case c.pid < 0:
		return errors.New("-pid must not be negative")
	case c.storm < 0:
		return errors.New("-storm must not be negative")
	case c.storm > 0 && (c.senders == 0 || c.idle > 0):
		return errors.New("-storm needs senders (it measures their latency before and during the storm)")
	case c.killPID > 0 && (c.senders == 0 || c.idle > 0 || c.storm > 0):
		return errors.New("-kill-pid needs senders and no -idle or -storm (it checks who lost messages)")
	case c.killPID > 0 && !(c.killAfter > 0 && c.killAfter < c.duration):
		return errors.New("-kill-after must be within the send window (0 < -kill-after < -duration)")
	}
	c.senders = min(c.senders, c.n)
	c.observers = min(c.observers, c.n)
	if c.senders > 0 && c.perSender() > maxSeq {
		return fmt.Errorf("-rate × -duration must be below %d messages per sender", maxSeq-1)
	}
	if c.runID < 0 || c.runID >= maxRuns {
		return fmt.Errorf("-run-id must be in [0, %d]", maxRuns-1)
	}
	if c.runID == 0 {
		c.runID = 1 + rand.IntN(maxRuns-1)
	}
	re, err := regexp.Compile(c.ready)
	if err != nil {
		return fmt.Errorf("bad -ready regexp: %v", err)
	}
	c.readyRe = re
	if c.deadline == 0 {
		c.deadline = c.autoDeadline()
	}
	return nil
}

// autoDeadline is the default hard limit: the connect phase (bounded by the
// per-session timeout in waves of -connect-concurrency, capped at 5 min),
// plus every other phase, plus a margin.
func (c *config) autoDeadline() time.Duration {
	waves := (c.n + c.concurrency - 1) / c.concurrency
	connect := min(time.Duration(waves)*c.timeout, 5*time.Minute)
	storm := min(time.Duration((c.storm+c.concurrency-1)/c.concurrency)*c.timeout, 5*time.Minute)
	return connect + c.settle + c.duration + storm + c.drain + c.idle + 30*time.Second
}

// resolveLoopback checks that addr (host:port) names a loopback address and
// returns the ip:port to dial. Host names are resolved and every address
// they resolve to must be loopback.
func resolveLoopback(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("bad -addr %q: %v", addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("bad -addr %q: invalid port", addr)
	}
	refuse := fmt.Errorf("refusing to connect to %q: only loopback addresses (127.0.0.0/8, ::1) are allowed", addr)
	if host == "" {
		return "", refuse
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return "", refuse
		}
		return net.JoinHostPort(ip.String(), port), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(ips) == 0 {
		return "", refuse
	}
	chosen := ""
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return "", refuse
		}
		if chosen == "" || ip.IP.To4() != nil && net.ParseIP(chosen).To4() == nil {
			chosen = ip.IP.String()
		}
	}
	return net.JoinHostPort(chosen, port), nil
}
