// Command soak runs a real ringsup on 200 daemons for a while, disturbs it
// (daemons killed, crashing on their own, restarted, stopped and started,
// health checks flapping, logs read, the config reloaded with daemons
// changed, removed and added back) and checks invariants every second:
//
//   - every daemon's state agrees with /proc: a daemon with a pid has a live
//     process that leads its own group and is a child of ringsup, one
//     without has none;
//   - no zombie stays under ringsup, and no process outside a live daemon's
//     group (a probe, a group member being killed) stays for long;
//   - ringsup's descriptors, threads and goroutines (from its metrics
//     endpoint) stay within bounds of what its daemons need;
//   - no event is lost: for each daemon, the DAEMON_RESTARTING events of
//     `ctl events` count its restart_count exactly.
//
// It stops at the first violation, says what it saw and exits 1. Otherwise
// it stops every daemon, compares ringsup's descriptors, goroutines,
// threads and memory with the same quiet state at the start, shuts ringsup
// down and prints the figures. scripts/soak.sh builds and runs it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/procexec"
	"github.com/ringrift/ringsup/supervisor"
)

func main() {
	ringsup := flag.String("ringsup", "", "the ringsup binary")
	duration := flag.Duration("duration", time.Minute, "how long to disturb ringsup")
	dir := flag.String("dir", "", "a new directory for the node (default: a temporary one)")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "random seed")
	flag.Parse()
	if *ringsup == "" {
		fmt.Fprintln(os.Stderr, "soak: -ringsup is required")
		os.Exit(2)
	}
	s := &soak{bin: *ringsup, dir: *dir, rng: rand.New(rand.NewPCG(*seed, 0))}
	fmt.Printf("soak: seed %d, %v\n", *seed, *duration)
	err := s.run(*duration)
	s.cleanup()
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		os.Exit(1)
	}
}

// Daemon kinds: how many of each, and what they do.
const (
	nSleepers = 80 // exec sleep; in chains of 4, each depending on the one before
	nCrashers = 60 // live 1 to 20 s, then exit non-zero or kill themselves
	nFlappers = 30 // an exec health check on a file the soak adds and removes
	nChatty   = 10 // a line every 50 ms, into small rotated logs
	nForkers  = 10 // a background process in their group
	nExtras   = 10 // sleepers that reloads remove and add back
	nDaemons  = nSleepers + nCrashers + nFlappers + nChatty + nForkers + nExtras
)

type soak struct {
	bin, dir string
	rng      *rand.Rand
	cfgPath  string
	metrics  string // host:port of ringsup's metrics endpoint
	client   *control.Client
	pid      int // ringsup's
	logFile  *os.File
	stopEv   context.CancelFunc
	evDone   chan error

	gen     int             // config generation, changed by reloads
	changed map[string]int  // daemon -> the generation its env was last changed in
	absent  map[string]bool // extras a reload removed

	unhealthy map[string]time.Time // flappers failing their check, until when

	ev events

	// What a check saw last time, to tell a moment's lag from a fault.
	suspects map[string]int // "kind pid" -> consecutive checks seen
	counts   map[string]int // actions done
	maxSeen  map[string]int
	checks   int
}

// events counts what `ctl events` printed. The loop's marker (a
// PROFILE_CHANGED the soak provokes) lets a check know that every event
// before it has been read.
type events struct {
	mu       sync.Mutex
	restarts map[string]int // DAEMON_RESTARTING per daemon, this incarnation
	types    map[string]int
	markers  int
	atMarker map[string]int // restarts as of the last marker
	err      error          // the first inconsistency within the stream
}

func (s *soak) run(duration time.Duration) error {
	if err := procexec.SetSubreaper(); err != nil {
		return err
	}
	if s.dir == "" {
		d, err := os.MkdirTemp("", "ringsup-soak")
		if err != nil {
			return err
		}
		s.dir = d
	} else if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	s.changed, s.absent, s.unhealthy = map[string]int{}, map[string]bool{}, map[string]time.Time{}
	s.suspects, s.counts, s.maxSeen = map[string]int{}, map[string]int{}, map[string]int{}
	s.ev = events{restarts: map[string]int{}, types: map[string]int{}, atMarker: map[string]int{}}
	for i := range nExtras {
		s.absent[fmt.Sprintf("extra%02d", i)] = i%2 == 1 // half of them to start with
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "ok"), 0o755); err != nil {
		return err
	}
	for i := range nFlappers {
		os.WriteFile(filepath.Join(s.dir, "ok", fmt.Sprintf("flap%02d", i)), nil, 0o644)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.metrics = ln.Addr().String()
	ln.Close()
	s.cfgPath = filepath.Join(s.dir, "ringsup.toml")
	if err := s.writeConfig(); err != nil {
		return err
	}
	if err := s.start(); err != nil {
		return err
	}
	ctx := context.Background()

	// Every daemon up once, then all stopped: the quiet state to compare
	// with at the end.
	if err := s.waitAllStarted(60 * time.Second); err != nil {
		return err
	}
	before, err := s.quiesce()
	if err != nil {
		return err
	}
	fmt.Printf("before: %v\n", before)
	if err := s.client.Start(ctx, s.present()...); err != nil {
		return err
	}

	deadline := time.Now().Add(duration)
	nextCheck, nextReload, nextStartAll := time.Now().Add(time.Second), time.Now().Add(15*time.Second), time.Now().Add(10*time.Second)
	lastReport := time.Now()
	for time.Now().Before(deadline) {
		if err := s.act(ctx); err != nil {
			return fmt.Errorf("action: %w", err)
		}
		now := time.Now()
		if now.After(nextStartAll) {
			// Bring back what `stop` actions left down.
			if err := s.client.Start(ctx, s.present()...); err != nil {
				return err
			}
			s.counts["start all"]++
			nextStartAll = now.Add(10 * time.Second)
		}
		if now.After(nextReload) {
			if err := s.reload(ctx); err != nil {
				return err
			}
			nextReload = now.Add(time.Duration(10+s.rng.IntN(10)) * time.Second)
		}
		if now.After(nextCheck) {
			if err := s.check(ctx); err != nil {
				return fmt.Errorf("violation after %v, check %d: %w", time.Since(deadline.Add(-duration)).Round(time.Second), s.checks, err)
			}
			nextCheck = time.Now().Add(time.Second)
		}
		if time.Since(lastReport) > time.Minute {
			lastReport = time.Now()
			u, _ := s.usage()
			fmt.Printf("%v: %d checks, %v\n", time.Since(deadline.Add(-duration)).Round(time.Second), s.checks, u)
		}
		time.Sleep(time.Duration(50+s.rng.IntN(100)) * time.Millisecond)
	}

	after, err := s.quiesce()
	if err != nil {
		return err
	}
	fmt.Printf("after:  %v\n", after)
	s.ev.mu.Lock()
	fmt.Printf("events: %v\n", s.ev.types)
	s.ev.mu.Unlock()
	fmt.Printf("actions: %v\nchecks: %d, max seen: %v\n", s.counts, s.checks, s.maxSeen)
	var problems []string
	if after.other > before.other || after.pipes > before.pipes || after.sockets > before.sockets {
		problems = append(problems, fmt.Sprintf("descriptors grew: %v -> %v", before.fdString(), after.fdString()))
	}
	if after.logs > nDaemons+2 {
		problems = append(problems, fmt.Sprintf("%d log files open for %d daemons", after.logs, nDaemons))
	}
	if after.goroutines > before.goroutines {
		problems = append(problems, fmt.Sprintf("goroutines grew: %d -> %d", before.goroutines, after.goroutines))
	}
	if after.threads > before.threads+8 {
		problems = append(problems, fmt.Sprintf("threads grew: %d -> %d", before.threads, after.threads))
	}
	if after.rssKB > 2*before.rssKB {
		problems = append(problems, fmt.Sprintf("RSS more than doubled: %d kB -> %d kB", before.rssKB, after.rssKB))
	}
	if err := s.shutdown(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Println("soak: no violation")
	return nil
}

// writeConfig writes the config of the current generation, atomically.
func (s *soak) writeConfig() error {
	var b strings.Builder
	fmt.Fprintf(&b, `[supervisor]
log_dir = "logs"
watch = false
metrics = %q
stop_timeout = "2s"
backoff_min = "200ms"
backoff_max = "3s"
stable_after = "1000h"
log_max_size = "256KB"
log_max_files = 2
default_profile = "all"

`, s.metrics)
	names := s.present()
	fmt.Fprintf(&b, "[profiles]\nall = [%s]\n\n", quoteAll(names))
	daemon := func(name, cmd string, extra ...string) {
		fmt.Fprintf(&b, "[daemons.%s]\ncommand = %q\nmax_restarts = 1000000\n", name, cmd)
		fmt.Fprintf(&b, "env = { SOAK_GEN = \"%d\" }\n", s.changed[name])
		for _, e := range extra {
			b.WriteString(e + "\n")
		}
		b.WriteString("\n")
	}
	for i := range nSleepers {
		var deps []string
		if i%4 != 0 {
			deps = append(deps, fmt.Sprintf("depends_on = [\"sleep%02d\"]", i-1))
		}
		daemon(fmt.Sprintf("sleep%02d", i), "exec sleep 100000", deps...)
	}
	for i := range nCrashers {
		end := []string{"exit 1", "exit 2", "exit 75", "kill -9 $$", "kill -TERM $$"}[i%5]
		daemon(fmt.Sprintf("crash%02d", i), fmt.Sprintf("echo up; sleep %d.%d; echo down; %s", 1+i%20, i%10, end))
	}
	for i := range nFlappers {
		name := fmt.Sprintf("flap%02d", i)
		on := []string{"restart", "ignore"}[i%2]
		daemon(name, "exec sleep 100000", fmt.Sprintf(`[daemons.%s.health]
exec = ["test", "-e", %q]
interval = "1s"
timeout = "1s"
retries = 2
on_unhealthy = %q`, name, filepath.Join(s.dir, "ok", name), on))
	}
	for i := range nChatty {
		daemon(fmt.Sprintf("chat%02d", i), "i=0; while :; do i=$((i+1)); echo line $i of a chatty daemon, long enough to fill its logs and rotate them every few minutes; sleep 0.05; done")
	}
	for i := range nForkers {
		daemon(fmt.Sprintf("fork%02d", i), "sleep 100000 & exec sleep 100000")
	}
	for i := range nExtras {
		if name := fmt.Sprintf("extra%02d", i); !s.absent[name] {
			daemon(name, "exec sleep 100000")
		}
	}
	tmp := s.cfgPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, s.cfgPath)
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// present lists the daemons of the current config.
func (s *soak) present() []string {
	var names []string
	add := func(prefix string, n int) {
		for i := range n {
			if name := fmt.Sprintf("%s%02d", prefix, i); !s.absent[name] {
				names = append(names, name)
			}
		}
	}
	add("sleep", nSleepers)
	add("crash", nCrashers)
	add("flap", nFlappers)
	add("chat", nChatty)
	add("fork", nForkers)
	add("extra", nExtras)
	return names
}

// start runs ringsup and follows its events.
func (s *soak) start() error {
	f, err := os.Create(filepath.Join(s.dir, "ringsup.out"))
	if err != nil {
		return err
	}
	s.logFile = f
	p, err := procexec.NewSpawner().Spawn(procexec.Spec{
		Argv:   []string{s.bin, "--config", s.cfgPath, "--log-level", "info"},
		Dir:    s.dir,
		Output: f,
	})
	if err != nil {
		return err
	}
	s.pid = p.PID
	s.client = &control.Client{Path: filepath.Join(s.dir, "ringsup.sock")}
	ctx := context.Background()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if _, err := s.client.Ping(ctx); err == nil {
			break
		}
		if time.Since(start) > 30*time.Second {
			return fmt.Errorf("ringsup does not answer:\n%s", s.tail())
		}
	}
	evCtx, cancel := context.WithCancel(ctx)
	s.stopEv, s.evDone = cancel, make(chan error, 1)
	subscribed := make(chan struct{})
	go func() {
		s.evDone <- s.client.Events(evCtx, func(raw json.RawMessage) error { return s.ev.add(raw) })
	}()
	// Events come only once subscribed: make one and wait for it.
	go func() {
		for s.ev.markerCount() == 0 {
			s.client.SetProfile(ctx, "all")
			time.Sleep(50 * time.Millisecond)
		}
		close(subscribed)
	}()
	select {
	case <-subscribed:
	case err := <-s.evDone:
		return fmt.Errorf("ctl events: %v", err)
	case <-time.After(30 * time.Second):
		return errors.New("ctl events shows nothing")
	}
	return nil
}

func (e *events) markerCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.markers
}

// add counts one event.
func (e *events) add(raw json.RawMessage) error {
	var ev supervisor.Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.types[string(ev.Type)]++
	switch ev.Type {
	case supervisor.DaemonRestarting:
		e.restarts[ev.Daemon]++
		if ev.RestartCount == nil || *ev.RestartCount != e.restarts[ev.Daemon] {
			if e.err == nil {
				e.err = fmt.Errorf("event %s: restart_count %v, but %d DAEMON_RESTARTING seen for %s: an event was lost", raw, ev.RestartCount, e.restarts[ev.Daemon], ev.Daemon)
			}
		}
	case supervisor.ConfigReloaded:
		// Added and removed daemons start a new record.
		for _, n := range append(slices.Clone(ev.Added), ev.Removed...) {
			delete(e.restarts, n)
		}
	case supervisor.ProfileChanged:
		e.markers++
		e.atMarker = make(map[string]int, len(e.restarts))
		for n, c := range e.restarts {
			e.atMarker[n] = c
		}
	}
	return nil
}

// waitAllStarted waits until every daemon has reached running once.
func (s *soak) waitAllStarted(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := s.client.Status(context.Background())
		if err != nil {
			return err
		}
		var waiting []string
		for name, d := range st.Daemons {
			if d.State == supervisor.Starting && d.LastExit == nil {
				waiting = append(waiting, name)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			sort.Strings(waiting)
			return fmt.Errorf("never started: %v", waiting)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// usage is what ringsup holds.
type usage struct {
	fds, pipes, sockets, logs, other int
	threads, goroutines              int
	rssKB                            int
	processes                        int // in ringsup's tree, itself excluded
}

func (u usage) fdString() string {
	return fmt.Sprintf("%d fds (%d pipes, %d sockets, %d log files, %d other)", u.fds, u.pipes, u.sockets, u.logs, u.other)
}

func (u usage) String() string {
	return fmt.Sprintf("%s, %d threads, %d goroutines, RSS %d kB, %d processes under it",
		u.fdString(), u.threads, u.goroutines, u.rssKB, u.processes)
}

func (s *soak) usage() (usage, error) {
	var u usage
	fdDir := fmt.Sprintf("/proc/%d/fd", s.pid)
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		return u, err
	}
	logs := filepath.Join(s.dir, "logs") + "/"
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil {
			continue
		}
		u.fds++
		switch {
		case strings.HasPrefix(target, "pipe:"):
			u.pipes++
		case strings.HasPrefix(target, "socket:"):
			u.sockets++
		case strings.HasPrefix(target, logs):
			u.logs++
		default:
			u.other++
		}
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return u, err
	}
	for line := range strings.Lines(string(status)) {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSuffix(strings.TrimSpace(v), " kB")
		switch k {
		case "Threads":
			u.threads, _ = strconv.Atoi(v)
		case "VmRSS":
			u.rssKB, _ = strconv.Atoi(v)
		}
	}
	u.goroutines, err = s.goroutines()
	u.processes = len(descendants(readProcs(), s.pid))
	return u, err
}

// goroutines reads go_goroutines from ringsup's metrics endpoint.
func (s *soak) goroutines() (int, error) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("no go_goroutines in the metrics")
}

// quiesce stops every daemon, waits until nothing runs under ringsup and
// its descriptors and goroutines have settled, and returns its usage.
func (s *soak) quiesce() (usage, error) {
	ctx := context.Background()
	if err := s.client.Stop(ctx, s.present()...); err != nil {
		return usage{}, err
	}
	deadline := time.Now().Add(30 * time.Second)
	var last usage
	stable := 0
	for stable < 5 {
		if time.Now().After(deadline) {
			return last, fmt.Errorf("ringsup does not settle after stopping everything: %v", last)
		}
		time.Sleep(200 * time.Millisecond)
		st, err := s.client.Status(ctx)
		if err != nil {
			return last, err
		}
		busy := false
		for _, d := range st.Daemons {
			busy = busy || d.PID != 0 || d.State != supervisor.Stopped
		}
		u, err := s.usage()
		if err != nil {
			return last, err
		}
		settled := u.fds == last.fds && u.goroutines == last.goroutines && u.threads == last.threads
		if busy || u.processes > 0 || !settled {
			stable = 0
		} else {
			stable++
		}
		last = u
	}
	return last, nil
}

// act does one random thing to ringsup or a daemon.
func (s *soak) act(ctx context.Context) error {
	for flap, until := range s.unhealthy {
		if time.Now().After(until) {
			os.WriteFile(filepath.Join(s.dir, "ok", flap), nil, 0o644)
			delete(s.unhealthy, flap)
		}
	}
	names := s.present()
	name := names[s.rng.IntN(len(names))]
	var err error
	switch r := s.rng.IntN(100); {
	case r < 30:
		// Kill a daemon's process, as the OOM killer or an operator would.
		st, err := s.client.Status(ctx, name)
		if err != nil {
			return err
		}
		if pid := st.Daemons[name].PID; pid != 0 {
			sig := []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGSEGV}[s.rng.IntN(3)]
			syscall.Kill(pid, sig)
			s.counts["kill"]++
		}
	case r < 45:
		err = s.client.Restart(ctx, false, name)
		s.counts["restart"]++
	case r < 55:
		err = s.client.Stop(ctx, name)
		s.counts["stop"]++
	case r < 65:
		err = s.client.Start(ctx, name)
		s.counts["start"]++
	case r < 85:
		// Fail a health check for a few seconds.
		flap := fmt.Sprintf("flap%02d", s.rng.IntN(nFlappers))
		if _, ok := s.unhealthy[flap]; !ok {
			os.Remove(filepath.Join(s.dir, "ok", flap))
			s.unhealthy[flap] = time.Now().Add(time.Duration(1000+s.rng.IntN(5000)) * time.Millisecond)
			s.counts["health flap"]++
		}
	case r < 95:
		err = s.client.Logs(ctx, name, 5, false, io.Discard)
		s.counts["logs"]++
	default:
		_, err = s.client.StatusJSON(ctx)
		s.counts["status"]++
	}
	var re *control.RemoteError
	if errors.As(err, &re) {
		// Refusals are answers too (a failed daemon needs --force).
		s.counts["refused"]++
		return nil
	}
	return err
}

// reload changes the env of a few daemons, removes or adds back an extra,
// and reloads, by ctl reload or SIGHUP.
func (s *soak) reload(ctx context.Context) error {
	s.gen++
	names := s.present()
	for range 3 {
		s.changed[names[s.rng.IntN(len(names))]] = s.gen
	}
	extra := fmt.Sprintf("extra%02d", s.rng.IntN(nExtras))
	s.absent[extra] = !s.absent[extra]
	if err := s.writeConfig(); err != nil {
		return err
	}
	start := time.Now()
	defer func() {
		s.maxSeen["reload ms"] = max(s.maxSeen["reload ms"], int(time.Since(start).Milliseconds()))
	}()
	if s.rng.IntN(2) == 0 {
		s.counts["ctl reload"]++
		if _, err := s.client.Reload(ctx); err != nil {
			return fmt.Errorf("ctl reload: %w", err)
		}
		return nil
	}
	s.counts["SIGHUP"]++
	s.ev.mu.Lock()
	n := s.ev.types[string(supervisor.ConfigReloaded)]
	s.ev.mu.Unlock()
	syscall.Kill(s.pid, syscall.SIGHUP)
	for ; ; time.Sleep(20 * time.Millisecond) {
		s.ev.mu.Lock()
		done := s.ev.types[string(supervisor.ConfigReloaded)] > n
		s.ev.mu.Unlock()
		if done {
			return nil
		}
		if time.Since(start) > 2*time.Minute {
			return errors.New("SIGHUP: no CONFIG_RELOADED within 2 minutes")
		}
	}
}

// proc is a line of /proc/PID/stat.
type proc struct {
	pid, ppid, pgid int
	state           byte
	comm            string
}

func readProcs() map[int]proc {
	entries, _ := os.ReadDir("/proc")
	out := make(map[int]proc, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[j+1:]))
		if i < 0 || len(f) < 3 {
			continue
		}
		p := proc{pid: pid, state: f[0][0], comm: string(b[i+1 : j])}
		p.ppid, _ = strconv.Atoi(f[1])
		p.pgid, _ = strconv.Atoi(f[2])
		out[pid] = p
	}
	return out
}

// descendants returns the processes under root.
func descendants(procs map[int]proc, root int) []proc {
	children := map[int][]int{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	var out []proc
	queue := slices.Clone(children[root])
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		out = append(out, procs[pid])
		queue = append(queue, children[pid]...)
	}
	return out
}

// check verifies the invariants. A condition that may be a moment's lag
// (a process that just exited and is not reaped yet) is a violation only
// when it lasts three checks in a row.
func (s *soak) check(ctx context.Context) error {
	s.checks++
	if err := s.ev.error(); err != nil {
		return err
	}
	select {
	case err := <-s.evDone:
		return fmt.Errorf("ctl events ended: %v", err)
	default:
	}
	st1, err := s.client.Status(ctx)
	if err != nil {
		return fmt.Errorf("ctl status: %w", err)
	}
	// The marker: every event before it is read once it is seen.
	markers := s.ev.markerCount()
	if err := s.client.SetProfile(ctx, "all"); err != nil {
		return fmt.Errorf("ctl profile: %w", err)
	}
	for start := time.Now(); s.ev.markerCount() == markers; time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			return errors.New("the event stream stalled: no marker in 10 s")
		}
	}
	s.ev.mu.Lock()
	seen := maps(s.ev.atMarker)
	s.ev.mu.Unlock()
	st2, err := s.client.Status(ctx)
	if err != nil {
		return fmt.Errorf("ctl status: %w", err)
	}
	procs := readProcs()
	u, err := s.usage()
	if err != nil {
		return fmt.Errorf("cannot read ringsup's usage: %w", err)
	}

	suspects := map[string]string{}
	suspect := func(key, what string) { suspects[key] = what }

	// restart_count against the events. A daemon a reload removed keeps
	// its record until it is down, but its count of events started again.
	for name, d1 := range st1.Daemons {
		d2, ok := st2.Daemons[name]
		if !ok || s.absent[name] {
			continue
		}
		if n := seen[name]; n < d1.RestartCount || n > d2.RestartCount {
			return fmt.Errorf("%s: restart_count %d then %d, but %d DAEMON_RESTARTING events between: an event was lost", name, d1.RestartCount, d2.RestartCount, n)
		}
	}

	// States against /proc.
	live := map[int]string{}
	for name, d := range st2.Daemons {
		hasProcess := d.State == supervisor.Running || d.State == supervisor.Stopping || (d.State == supervisor.Starting && d.PID != 0)
		switch {
		case hasProcess && d.PID == 0:
			return fmt.Errorf("%s is %s with no pid: %+v", name, d.State, d)
		case !hasProcess && d.PID != 0:
			return fmt.Errorf("%s is %s with pid %d: %+v", name, d.State, d.PID, d)
		case !hasProcess:
			continue
		}
		live[d.PID] = name
		p, ok := procs[d.PID]
		switch {
		case !ok:
			suspect(fmt.Sprintf("gone %d", d.PID), fmt.Sprintf("%s is %s with pid %d, which does not exist", name, d.State, d.PID))
		case p.state == 'Z':
			suspect(fmt.Sprintf("gone %d", d.PID), fmt.Sprintf("%s is %s with pid %d, a zombie", name, d.State, d.PID))
		case p.ppid != s.pid || p.pgid != d.PID:
			suspect(fmt.Sprintf("foreign %d", d.PID), fmt.Sprintf("%s's pid %d has parent %d and group %d, want ringsup %d and its own", name, d.PID, p.ppid, p.pgid, s.pid))
		}
	}
	// Every process under ringsup: no lasting zombie, and none outside a
	// live daemon's group for long (an exec probe lives a second at most).
	for _, p := range descendants(procs, s.pid) {
		switch {
		case p.state == 'Z' && p.ppid == s.pid:
			suspect(fmt.Sprintf("zombie %d", p.pid), fmt.Sprintf("zombie %d (%s) under ringsup", p.pid, p.comm))
		case live[p.pgid] == "":
			suspect(fmt.Sprintf("stray %d", p.pid), fmt.Sprintf("process %d (%s, state %c, parent %d, group %d) is in no live daemon's group", p.pid, p.comm, p.state, p.ppid, p.pgid))
		}
	}
	next := map[string]int{}
	for key, what := range suspects {
		next[key] = s.suspects[key] + 1
		limit := 3
		if strings.HasPrefix(key, "stray") {
			limit = 5
		}
		if next[key] >= limit {
			return fmt.Errorf("%s (for %d checks)\nprocesses under ringsup: %v", what, next[key], descendants(procs, s.pid))
		}
	}
	s.suspects = next

	// Resources: what the live processes need, and a margin.
	nLive := len(live)
	limits := []struct {
		what        string
		value, most int
	}{
		{"pipes", u.pipes, nLive + nFlappers + 16},
		{"sockets", u.sockets, 24},
		{"log files", u.logs, nDaemons + 2},
		{"other descriptors", u.other, 32},
		{"threads", u.threads, 64},
		{"goroutines", u.goroutines, 3*nLive + nDaemons + 64},
	}
	for _, l := range limits {
		s.maxSeen[l.what] = max(s.maxSeen[l.what], l.value)
		if l.value > l.most {
			return fmt.Errorf("%s: %d, more than %d with %d daemon processes: %v", l.what, l.value, l.most, nLive, u)
		}
	}
	s.maxSeen["RSS kB"] = max(s.maxSeen["RSS kB"], u.rssKB)
	return nil
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (e *events) error() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// shutdown stops ringsup with ctl shutdown and checks that it exits 0 and
// leaves nothing behind.
func (s *soak) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.client.Shutdown(ctx); err != nil {
		return fmt.Errorf("ctl shutdown: %w", err)
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		exits, _ := procexec.Reap()
		for _, x := range exits {
			if x.PID == s.pid {
				s.pid = 0
				if x.Code != 0 {
					return fmt.Errorf("ringsup exited with %v", x)
				}
			}
		}
		if s.pid == 0 {
			break
		}
		if time.Since(start) > time.Minute {
			return errors.New("ringsup did not exit after ctl shutdown")
		}
	}
	// Anything ringsup left would have come back to us, the subreaper.
	time.Sleep(100 * time.Millisecond)
	if left := descendants(readProcs(), os.Getpid()); len(left) > 0 {
		return fmt.Errorf("ringsup left processes behind: %v", left)
	}
	return nil
}

// cleanup kills whatever is left: ringsup after a violation, and every
// process under the soak; and prints the end of ringsup's log after one.
func (s *soak) cleanup() {
	if s.stopEv != nil {
		s.stopEv()
	}
	if s.pid != 0 {
		syscall.Kill(s.pid, syscall.SIGKILL)
	}
	for range 50 {
		left := descendants(readProcs(), os.Getpid())
		if len(left) == 0 {
			break
		}
		for _, p := range left {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
		procexec.Reap()
		time.Sleep(20 * time.Millisecond)
	}
	procexec.Reap()
	if s.logFile != nil {
		s.logFile.Close()
	}
}

// tail returns the end of ringsup's output.
func (s *soak) tail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "ringsup.out"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
