// Command bench measures ringsup side by side with supervisord, s6, runit
// and a minimal C spawner (the floor), in the same run, interleaved:
// start, restart, idle CPU, memory, stop and status with N identical
// children, and, for ringsup alone, reload and health-probe CPU. It writes
// a markdown table and the raw samples as JSON. See README.md beside it.
//
// It installs the peers from Debian when they are missing, so it wants
// root; scripts/bench/run builds ringsup and runs it.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	quick       bool
	scale       bool
	reps        int
	ns          []int
	restartN    int
	kills       int
	idleN       int
	idleWindow  time.Duration
	idleReps    int
	statusN     int
	statusRuns  int
	reloadN     int
	reloadRuns  int
	probeN      int
	probeWindow time.Duration
	settle      time.Duration
	only        []string
	out         string
	ringsup     string
	baseline    string
	install     bool
	keep        bool
	table       string
	extras      bool
	quiet       time.Duration
}

// harness is one run of the benchmark.
type harness struct {
	opts     *options
	bins     *bins
	procs    *procs
	work     string // session directories
	seq      int
	stopping bool
	res      *results
	log      io.Writer
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := &options{}
	fs.BoolVar(&o.quick, "quick", false, "a few minutes: 1 repetition, 20 kills, 5 s CPU windows")
	fs.BoolVar(&o.scale, "scale", false, "one run at N=10,000: start, memory, stop and status of floor, floor-2t and ringsup (other flags still apply)")
	fs.IntVar(&o.reps, "reps", 0, "repetitions of every session (default 5; --quick 1)")
	nList := fs.String("n", "100,500,1000", "numbers of children for start, memory and stop")
	fs.IntVar(&o.restartN, "restart-n", 500, "children during the restart measurement")
	fs.IntVar(&o.kills, "kills", 0, "SIGKILLs per contender for restart, over all repetitions (default 60; --quick 20)")
	fs.IntVar(&o.idleN, "idle-n", 500, "children during the idle CPU measurement")
	fs.DurationVar(&o.idleWindow, "idle", 0, "idle CPU window (default 30s; --quick 5s)")
	fs.IntVar(&o.idleReps, "idle-reps", 0, "repetitions of the idle CPU window (default 3; --quick 1)")
	fs.IntVar(&o.statusN, "status-n", 500, "children during the status measurement")
	fs.IntVar(&o.statusRuns, "status-runs", 0, "status queries per session (default 10; --quick 5)")
	fs.IntVar(&o.reloadN, "reload-n", 1000, "ringsup daemons during the reload measurement")
	fs.IntVar(&o.reloadRuns, "reload-runs", 0, "reloads (default 20; --quick 5)")
	fs.IntVar(&o.probeN, "probe-n", 1000, "ringsup daemons with a tcp probe every second")
	fs.DurationVar(&o.probeWindow, "probe-window", 0, "CPU window with probes (default 30s; --quick 5s)")
	fs.DurationVar(&o.settle, "settle", time.Second, "pause after start-up before memory and CPU are read")
	only := fs.String("only", "", "comma-separated contenders (default: floor,floor-2t,ringsup,ringsup-dag,supervisord,s6,runit)")
	fs.StringVar(&o.out, "out", "/tmp/ringsup-bench", "`DIR` for results.md, results.json and the built programs")
	fs.StringVar(&o.ringsup, "ringsup", "", "ringsup binary (default: scripts/build.sh, the release build)")
	fs.StringVar(&o.baseline, "baseline", "", "a second ringsup `BINARY` to compare with (say the release build of the commit before): contenders ringsup-base and ringsup-dag-base run interleaved with the others, and the table adds their column and ringsup's ratio to them")
	noInstall := fs.Bool("no-install", false, "do not apt-get install missing peers")
	fs.BoolVar(&o.keep, "keep", false, "keep every session's directory (configs, supervisor output)")
	fs.StringVar(&o.table, "table", "", "print the table of an earlier run's results.json `FILE` and exit")
	fs.BoolVar(&o.extras, "extras", true, "also run ringsup's reload and probe measurements")
	fs.DurationVar(&o.quiet, "quiet", 5*time.Second, "before each session, wait up to this long for the machine to be mostly idle")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.install = !*noInstall
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.scale {
		// What issue 19 measures at scale: one run, no restart, idle CPU
		// or extras, the floors and ringsup unless --only says otherwise.
		scaleDefaults := map[string]func(){
			"n":         func() { *nList = "10000" },
			"reps":      func() { o.reps = 1 },
			"status-n":  func() { o.statusN = 10000 },
			"restart-n": func() { o.restartN = 0 },
			"idle-n":    func() { o.idleN = 0 },
			"extras":    func() { o.extras = false },
			"only":      func() { *only = "floor,floor-2t,ringsup" },
		}
		for name, apply := range scaleDefaults {
			if !set[name] {
				apply()
			}
		}
	}
	for f := range strings.SplitSeq(*nList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 10 {
			return nil, fmt.Errorf("bad -n %q", *nList)
		}
		o.ns = append(o.ns, n)
	}
	if *only != "" {
		o.only = strings.Split(*only, ",")
	}
	for _, name := range o.only {
		if strings.HasSuffix(name, baseSuffix) && o.baseline == "" {
			return nil, fmt.Errorf("--only %s needs --baseline", name)
		}
	}
	def := func(v *int, full, quick int) {
		if *v == 0 {
			*v = full
			if o.quick {
				*v = quick
			}
		}
	}
	defd := func(v *time.Duration, full, quick time.Duration) {
		if *v == 0 {
			*v = full
			if o.quick {
				*v = quick
			}
		}
	}
	def(&o.reps, 5, 1)
	def(&o.kills, 60, 20)
	def(&o.idleReps, 3, 1)
	def(&o.statusRuns, 10, 5)
	def(&o.reloadRuns, 20, 5)
	defd(&o.idleWindow, 30*time.Second, 5*time.Second)
	defd(&o.probeWindow, 30*time.Second, 5*time.Second)
	return o, nil
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	if o.table != "" {
		return printTable(o.table, os.Stdout)
	}
	if err := ensureTools(o.install); err != nil {
		return err
	}
	binDir := filepath.Join(o.out, "bin")
	b := &bins{ringsup: o.ringsup}
	if b.child, b.floor, err = buildC(binDir); err != nil {
		return err
	}
	if b.ringsup == "" {
		if b.ringsup, err = buildRingsup(binDir); err != nil {
			return err
		}
	}
	if b.ringsup, err = filepath.Abs(b.ringsup); err != nil {
		return err
	}
	if o.baseline != "" {
		if b.base, err = filepath.Abs(o.baseline); err != nil {
			return err
		}
		if _, err := os.Stat(b.base); err != nil {
			return fmt.Errorf("cannot use --baseline: %w", err)
		}
	}
	// Every supervisor inherits this: 1000 children with pipes need more
	// than the usual 1024 descriptors, 10,000 more than the usual hard limit.
	raiseLimits(slices.Max(o.ns), os.Stderr)
	work, err := os.MkdirTemp("", "rsb.")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "bench: keeping the sessions' directories in", work)
	} else {
		defer os.RemoveAll(work)
	}

	h := &harness{opts: o, bins: b, work: work, log: os.Stderr, res: newResults()}
	h.res.Machine = describeMachine(b)
	h.res.Options = o.describe()
	// Machine description first: its commands are reaped by runCommand,
	// which must not race the harness's reaper.

	if h.procs, err = newProcs(); err != nil {
		return err
	}
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-interrupted
		fmt.Fprintln(os.Stderr, "bench: interrupted; killing every process it started")
		killAll(10 * time.Second)
		os.RemoveAll(work)
		os.Exit(130)
	}()

	start := time.Now()
	h.runAll()
	h.res.Machine["load_after"] = loadavg()
	h.res.Machine["duration"] = time.Since(start).Round(time.Second).String()
	return h.res.write(o.out, h.log)
}

func (o *options) describe() map[string]string {
	return map[string]string{
		"quick":        strconv.FormatBool(o.quick),
		"reps":         strconv.Itoa(o.reps),
		"n":            fmt.Sprint(o.ns),
		"restart_n":    strconv.Itoa(o.restartN),
		"kills":        strconv.Itoa(o.kills),
		"idle_n":       strconv.Itoa(o.idleN),
		"idle_window":  o.idleWindow.String(),
		"idle_reps":    strconv.Itoa(o.idleReps),
		"status_n":     strconv.Itoa(o.statusN),
		"status_runs":  strconv.Itoa(o.statusRuns),
		"reload_n":     strconv.Itoa(o.reloadN),
		"reload_runs":  strconv.Itoa(o.reloadRuns),
		"probe_n":      strconv.Itoa(o.probeN),
		"probe_window": o.probeWindow.String(),
		"settle":       o.settle.String(),
		"baseline":     o.baseline,
	}
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// note records a failure in the results and the log; the run goes on.
func (h *harness) note(err error) {
	h.logf("ERROR %v", err)
	h.res.Notes = append(h.res.Notes, err.Error())
}

// selected lists the contenders of --only (default: all); a baseline
// contender runs when there is a baseline, and with --only when it or its
// ringsup contender is listed.
func (h *harness) selected() []*contender {
	var out []*contender
	for _, c := range contenders() {
		if c.baseline && h.bins.base == "" {
			continue
		}
		if len(h.opts.only) == 0 || containsString(h.opts.only, c.name) ||
			c.baseline && containsString(h.opts.only, strings.TrimSuffix(c.name, baseSuffix)) {
			out = append(out, c)
		}
	}
	return out
}

// runAll runs every session: for each repetition and each N, every
// contender once, in an order rotated from one round to the next; then the
// ringsup-only measurements.
func (h *harness) runAll() {
	list := h.selected()
	round := 0
	for rep := range h.opts.reps {
		for _, n := range h.opts.ns {
			k := round % len(list)
			order := append(append([]*contender{}, list[k:]...), list[:k]...)
			round++
			for _, c := range order {
				waitQuiet(h.opts.quiet)
				if err := h.session(c, n, rep); err != nil {
					h.note(err)
				}
			}
		}
	}
	if h.opts.extras && (len(h.opts.only) == 0 || containsString(h.opts.only, "ringsup")) {
		// With a baseline, both, in turns: ringsup first for the reload,
		// the baseline first for the probes.
		runs := []struct {
			c *contender
			b *bins
		}{{contenderNamed("ringsup"), h.bins}}
		if h.bins.base != "" {
			runs = append(runs, struct {
				c *contender
				b *bins
			}{contenderNamed("ringsup" + baseSuffix), h.bins.asBase()})
		}
		for _, r := range runs {
			waitQuiet(h.opts.quiet)
			if err := h.reload(r.c, r.b); err != nil {
				h.note(err)
			}
		}
		slices.Reverse(runs)
		for _, r := range runs {
			waitQuiet(h.opts.quiet)
			if err := h.probes(r.c, r.b); err != nil {
				h.note(err)
			}
		}
	}
}

func loadavg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// waitQuiet waits, up to limit, for a quarter second in which the machine's
// CPUs were at least 75% idle: what the last session left (exiting
// processes, reaping) and what else runs on a shared machine.
func waitQuiet(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		idle0, total0 := cpuTimes()
		time.Sleep(250 * time.Millisecond)
		idle1, total1 := cpuTimes()
		if total1 > total0 && float64(idle1-idle0)/float64(total1-total0) >= 0.75 {
			return
		}
	}
}

// cpuTimes returns the idle and total jiffies of all CPUs from /proc/stat.
func cpuTimes() (idle, total int64) {
	line, _, _ := strings.Cut(readFile("/proc/stat"), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return idle, total
}
