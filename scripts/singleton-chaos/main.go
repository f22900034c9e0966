// Command singleton-chaos is the long chaos run of singleton daemons
// (issue 16, test 9); it is not run in CI. It starts 3 etcd members and 3
// ringsup nodes on loopback, all running the singleton "trainer" (this
// program with -tick), which appends "node fence pid unix-ns" to one
// shared tick file every 20 ms; TTL 4s, stop_timeout 1s. For -duration it
// starts a random fault every 2 to 6 s, on a node or member no other
// fault holds (so faults on different targets overlap):
//
//   - node-kill, node-term: SIGKILL or SIGTERM of a node's ringsup (it is
//     started again a second after it ends, and until its old lease has
//     expired it refuses to start);
//   - node-stop: SIGSTOP of a node's ringsup for 1-12 s;
//   - node-partition: a node's traffic to every etcd member frozen for
//     1-15 s (every node reaches each member through a pausable TCP
//     proxy of its own);
//   - node-partition-some: the same, to one or two of the members;
//   - member-kill: SIGKILL of an etcd member, started again 1-10 s later;
//   - member-stop: SIGSTOP of a member for 1-10 s;
//   - member-partition: a member's peer traffic with both others frozen
//     for 1-15 s; member-partition-one: the traffic between two members.
//     Members advertise peer URLs of fronts that find which member dialed
//     (from /proc) and relay through a pausable proxy per pair of members.
//
// Then it heals everything, waits for the singleton to settle, shuts the
// nodes down and reads the tick file: the faults by kind, the copies (one
// per process), the failovers (a copy on another node than the copy
// before), the gaps with no copy ticking (apart, those during which etcd
// kept a quorum), and the overlaps of two copies' tick ranges, which must
// be none, as must fences that do not increase across holders and
// processes left behind by the nodes: it exits 1 otherwise. The report
// is also in report.txt, every fault in faults.log.
//
//	go run ./scripts/singleton-chaos -duration 20m
//
// An interrupt (^C) or SIGTERM ends the chaos early, with the same end.
// Needs etcd (Debian's etcd-server) in PATH. The work directory (node
// logs, etcd logs, the tick file) is kept when the run fails or with
// -keep.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

func main() {
	tickFile := flag.String("tick", "", "be the singleton: append ticks to `FILE` (used by the run itself)")
	analyzeFile := flag.String("analyze", "", "only read the tick `FILE` of an earlier run and print what it shows")
	duration := flag.Duration("duration", 20*time.Minute, "how long to inject faults")
	settle := flag.Duration("settle", 15*time.Second, "how long to wait after the last fault healed before shutting down")
	ringsup := flag.String("ringsup", "", "the ringsup binary (default: go build ./cmd/ringsup)")
	dir := flag.String("dir", "", "a new directory for the run (default: a temporary one)")
	keep := flag.Bool("keep", false, "keep the work directory even when the run passes")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "random seed of the faults (their kinds, targets and times; not what they hit, which depends on timing)")
	flag.Parse()
	switch {
	case *tickFile != "":
		if err := tick(*tickFile); err != nil {
			fmt.Fprintln(os.Stderr, "tick:", err)
			os.Exit(1)
		}
		return
	case *analyzeFile != "":
		f, err := os.Open(*analyzeFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		copies, bad, err := readCopies(f)
		f.Close()
		if err != nil || len(copies) == 0 {
			fmt.Fprintln(os.Stderr, "cannot read ticks:", err)
			os.Exit(2)
		}
		s := analyze(copies, copies[0].First, copies[len(copies)-1].Last)
		var faults []fault
		if f, err := os.Open(filepath.Join(filepath.Dir(*analyzeFile), "faults.log")); err == nil {
			faults, _ = readFaults(f, copies[0].First)
			f.Close()
		}
		ok := report(os.Stdout, s, bad, faults)
		if !ok {
			os.Exit(1)
		}
		return
	}
	r := &run{seed: *seed, keep: *keep}
	ok, err := r.main(*dir, *ringsup, *duration, *settle)
	if err != nil {
		fmt.Fprintln(os.Stderr, "singleton-chaos:", err)
	}
	if r.dir != "" {
		if ok && err == nil && !r.keep {
			os.RemoveAll(r.dir)
		} else {
			fmt.Fprintln(os.Stderr, "singleton-chaos: the run's files are in", r.dir)
		}
	}
	if err != nil {
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// run is one chaos run.
type run struct {
	seed  uint64
	keep  bool
	dir   string
	procs *procs
	etcd  *etcdCluster
	nodes []*node
	start time.Time

	logMu sync.Mutex
	log   *os.File // the lines of logf, also in the work directory
}

// logf prints a line with the time and the time since the run began.
func (r *run) logf(format string, args ...any) {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	now := time.Now()
	line := fmt.Sprintf("%s %7.1fs %s\n", stamp(now), now.Sub(r.start).Seconds(), fmt.Sprintf(format, args...))
	os.Stdout.WriteString(line)
	if r.log != nil {
		r.log.WriteString(line)
	}
}

func (r *run) main(dir, ringsup string, duration, settle time.Duration) (ok bool, err error) {
	r.start = time.Now()
	if dir == "" {
		if dir, err = os.MkdirTemp("", "singleton-chaos."); err != nil {
			return false, err
		}
	} else if err := os.Mkdir(dir, 0o755); err != nil {
		return false, err
	}
	if r.dir, err = filepath.Abs(dir); err != nil {
		return false, err
	}
	if r.log, err = os.Create(filepath.Join(r.dir, "faults.log")); err != nil {
		return false, err
	}
	defer r.log.Close()
	ps, stopReaping, err := newProcs()
	if err != nil {
		return false, err
	}
	r.procs = ps
	defer stopReaping()
	r.logf("seed %d, duration %v, in %s", r.seed, duration, r.dir)
	if ringsup == "" {
		ringsup = filepath.Join(r.dir, "ringsup")
		if err := r.build(ringsup); err != nil {
			return false, err
		}
	}
	defer r.cleanup()
	if r.etcd, err = startEtcd(ps, r.dir, 3); err != nil {
		return false, err
	}
	ticks := filepath.Join(r.dir, "ticks")
	for i := range 3 {
		n, err := startNode(ps, ringsup, r.dir, fmt.Sprintf("n%d", i), r.etcd.members, ticks)
		if err != nil {
			return false, err
		}
		r.nodes = append(r.nodes, n)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if fi, err := os.Stat(ticks); err == nil && fi.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			return false, errors.New("no copy of the singleton ticks after 60s (see the nodes' out.log)")
		}
	}
	r.logf("the singleton runs; chaos for %v", duration)

	load := &loadSampler{}
	stopLoad := make(chan struct{})
	go load.loop(stopLoad)
	c := &chaos{r: r, rng: rand.New(rand.NewPCG(r.seed, 0)), busy: make(map[string]bool)}
	from := time.Now()
	stop := make(chan struct{})
	chaosDone := make(chan struct{})
	go func() {
		c.loop(stop)
		close(chaosDone)
	}()
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt, syscall.SIGTERM)
	select {
	case <-time.After(duration):
	case sig := <-interrupt:
		r.logf("%v: ending the chaos early", sig)
		duration = time.Since(from).Round(time.Second)
	}
	signal.Stop(interrupt)
	close(stop)
	<-chaosDone
	r.logf("every fault healed; settling for %v", settle)
	for i, m := range r.etcd.members {
		if p := m.current(); !p.Signal(0) {
			r.logf("etcd member %s had exited by itself; starting it again", m.name)
			if err := r.etcd.start(i); err != nil {
				r.logf("%v", err)
			}
		}
	}
	time.Sleep(settle)
	to := time.Now()
	close(stopLoad)
	r.logf("shutting the nodes down")
	r.stopNodes()
	leftover := r.leftovers()

	f, err := os.Open(ticks)
	if err != nil {
		return false, err
	}
	copies, bad, err := readCopies(f)
	f.Close()
	if err != nil {
		return false, err
	}
	s := analyze(copies, from, to)
	faults := c.list()
	byKind, total := counts(faults), len(faults)
	// The report goes to the work directory too, beside the files it
	// is about.
	var w io.Writer = os.Stdout
	if out, err := os.Create(filepath.Join(r.dir, "report.txt")); err == nil {
		defer out.Close()
		w = io.MultiWriter(os.Stdout, out)
	}
	fmt.Fprintf(w, "\nseed %d, chaos %v from %s to %s UTC, then %v to settle\n", r.seed, duration, from.UTC().Format("2006-01-02 15:04:05"), to.UTC().Format("15:04:05"), settle)
	fmt.Fprintf(w, "faults %d:", total)
	for _, k := range kinds {
		fmt.Fprintf(w, " %s %d", k.name, byKind[k.name])
	}
	fmt.Fprintln(w)
	var starts []string
	for _, n := range r.nodes {
		starts = append(starts, fmt.Sprintf("%s %d", n.name, n.starts.Load()))
	}
	fmt.Fprintf(w, "ringsup processes started: %s; peer connections of unknown dialer closed: %d\n", strings.Join(starts, ", "), r.etcd.strays.Load())
	fmt.Fprintf(w, "load average (1 min, sampled every 10 s, %d cores): %s\n", runtime.NumCPU(), load)
	ok = report(w, s, bad, faults)
	if len(leftover) > 0 {
		fmt.Fprintf(w, "LEFTOVER processes after the nodes shut down: %v\n", leftover)
		ok = false
	}
	fmt.Fprintf(w, "duration %v, faults %d, copies %d, failovers %d, longest gap with no holder %.2fs, overlaps %d\n",
		duration, total, s.Copies, s.Failovers, longestGap(s).Seconds(), len(s.Overlaps))
	return ok, nil
}

// build builds ringsup into path.
func (r *run) build(path string) error {
	out, err := os.Create(path + ".build.log")
	if err != nil {
		return err
	}
	defer out.Close()
	p, err := r.procs.start(procexec.Spec{Argv: []string{"go", "build", "-o", path, "./cmd/ringsup"}, Output: out})
	if err != nil {
		return fmt.Errorf("cannot build ringsup: %w", err)
	}
	if e := <-p.Exited(); !e.Success() {
		b, _ := os.ReadFile(out.Name())
		return fmt.Errorf("cannot build ringsup (run from the module's root): %v\n%s", e, b)
	}
	return nil
}

// stopNodes shuts every node down at once (SIGTERM), and SIGKILLs those
// still there after 30 s.
func (r *run) stopNodes() {
	for _, n := range r.nodes {
		n.stop()
	}
	deadline := time.After(30 * time.Second)
	for _, n := range r.nodes {
		select {
		case <-n.done:
		case <-deadline:
			r.logf("%s: ringsup still there 30s after SIGTERM; SIGKILL", n.name)
		}
	}
}

// leftovers returns the processes under the run, etcd members aside, a
// few seconds after the nodes ended: a copy or guard that outlived its
// ringsup would be re-parented here.
func (r *run) leftovers() []string {
	members := make(map[int]bool)
	for _, m := range r.etcd.members {
		members[m.current().PID] = true
	}
	var left []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		left = left[:0]
		for _, pid := range children(os.Getpid()) {
			if !members[pid] {
				b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				left = append(left, fmt.Sprintf("%d %q", pid, strings.ReplaceAll(string(b), "\x00", " ")))
			}
		}
		if len(left) == 0 {
			return nil
		}
	}
	return left
}

// children returns the PIDs whose parent is pid.
func children(pid int) []int {
	var kids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		k, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", k))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, k)
		}
	}
	return kids
}

// cleanup ends whatever is left: nodes, members, proxies.
func (r *run) cleanup() {
	for _, n := range r.nodes {
		n.stop()
		n.close()
	}
	if r.etcd != nil {
		r.etcd.stop()
	}
	for _, pid := range children(os.Getpid()) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func longestGap(s summary) time.Duration {
	if g := s.longest(1); len(g) > 0 {
		return g[0].Len()
	}
	return 0
}

// report prints the copies' figures and, when the faults are known, the
// gaps during which etcd kept a quorum and the faults around the longest
// gaps; it reports false on an overlap or a fence regression.
func report(w io.Writer, s summary, bad int, faults []fault) bool {
	var all, failovers, kept []time.Duration
	var keptGaps []gap
	for _, g := range s.Gaps {
		all = append(all, g.Len())
		if g.After.Node != "" && g.After.Node != g.Before.Node {
			failovers = append(failovers, g.Len())
		}
		if faults != nil && !quorumLost(faults, g.From.Add(-quorumMargin), g.To) {
			kept = append(kept, g.Len())
			keptGaps = append(keptGaps, g)
		}
	}
	fmt.Fprintf(w, "copies %d, failovers %d, unreadable tick lines %d, longest time between two ticks of a copy %.3fs\n",
		s.Copies, s.Failovers, bad, s.LongestStep.Seconds())
	fmt.Fprintf(w, "gaps with no holder: %s\n", spread(all))
	fmt.Fprintf(w, "  of them before a copy on another node: %s\n", spread(failovers))
	if faults != nil {
		fmt.Fprintf(w, "  of them with etcd's quorum kept from %v before to the end (by the faults' schedule): %s\n", quorumMargin, spread(kept))
	}
	show := func(title string, gaps []gap) {
		fmt.Fprintln(w, title)
		for _, g := range gaps {
			after := "none yet at the end"
			if g.After.Node != "" {
				after = g.After.String()
			}
			fmt.Fprintf(w, "  gap %.2fs from %s to %s: last %s, next %s\n", g.Len().Seconds(), stamp(g.From), stamp(g.To), g.Before, after)
			for _, f := range during(faults, g.From.Add(-quorumMargin), g.To) {
				end := "-"
				if !f.end.IsZero() {
					end = stamp(f.end)
				}
				fmt.Fprintf(w, "      fault %s..%s %s %s: %s\n", stamp(f.start), end, f.kind, f.target, f.what)
			}
		}
	}
	show("the longest gaps:", s.longest(5))
	if faults != nil {
		show("the longest gaps with etcd's quorum kept:", summary{Gaps: keptGaps}.longest(3))
	}
	for _, o := range s.Overlaps {
		fmt.Fprintf(w, "OVERLAP: %s, and %s from %s (%.3fs before the other's last tick)\n", o.Earlier, o.Later, stamp(o.Later.First), o.Earlier.Last.Sub(o.Later.First).Seconds())
	}
	for _, o := range s.FenceRegressions {
		fmt.Fprintf(w, "FENCE NOT INCREASING: %s, then %s\n", o.Earlier, o.Later)
	}
	fmt.Fprintf(w, "overlaps %d, fence regressions %d\n", len(s.Overlaps), len(s.FenceRegressions))
	return len(s.Overlaps) == 0 && len(s.FenceRegressions) == 0
}

// quorumMargin is how long before a gap a loss of quorum may have caused
// it: the holder stops its copy when its lease has gone unrenewed for
// TTL − stop_timeout − 0.25 s (2.75 s), after etcd took up to its
// election timeout (2 s) to notice; doubled for a loaded machine.
const quorumMargin = 10 * time.Second

// spread describes durations: how many, their median, 90th percentile
// and longest.
func spread(d []time.Duration) string {
	if len(d) == 0 {
		return "none"
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return fmt.Sprintf("%d, median %.2fs, 90th percentile %.2fs, longest %.2fs",
		len(d), d[len(d)/2].Seconds(), d[len(d)*9/10].Seconds(), d[len(d)-1].Seconds())
}

// loadSampler records the 1-minute load average every 10 s.
type loadSampler struct {
	mu      sync.Mutex
	samples []float64
}

func (l *loadSampler) loop(stop <-chan struct{}) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		l.sample()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func (l *loadSampler) sample() {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return
	}
	l.mu.Lock()
	l.samples = append(l.samples, v)
	l.mu.Unlock()
}

func (l *loadSampler) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) == 0 {
		return "not sampled"
	}
	s := slices.Clone(l.samples)
	sort.Float64s(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	return fmt.Sprintf("min %.2f, median %.2f, mean %.2f, max %.2f over %d samples", s[0], s[len(s)/2], sum/float64(len(s)), s[len(s)-1], len(s))
}
