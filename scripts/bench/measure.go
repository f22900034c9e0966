package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// How long a contender may take to have n children up, and to stop them:
// at least 3 minutes and 1 minute, and 20 ms a child (the slowest peers
// start and stop 1000 in about 7 s; at 10,000 they take minutes).
func upTimeout(n int) time.Duration {
	return max(3*time.Minute, time.Duration(n)*20*time.Millisecond)
}

func stopTimeout(n int) time.Duration {
	return max(time.Minute, time.Duration(n)*20*time.Millisecond)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// session runs one contender with n children through every measurement
// that applies to it: B1 start, B4 memory, then at their N B3 idle CPU, B6
// status and B2 restarts, and last B5 stop.
func (h *harness) session(c *contender, n, rep int) (err error) {
	s, err := h.launch(c, n, nil)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	up, err := s.waitUp(n, upTimeout(n))
	if err != nil {
		return err
	}
	start := up.Sub(s.started)
	startCPU := cpuOf(s.own())
	h.res.add("start_ms", c.name, n, ms(start))
	h.res.add("start_cpu_ms", c.name, n, float64(startCPU.ns)/1e6)
	h.res.add("first_ms", c.name, n, ms(s.first.Sub(s.started)))
	line := fmt.Sprintf("rep %d n=%d %-12s start %7.1f ms (first %.1f, cpu %.1f)", rep+1, n, c.name, ms(start), ms(s.first.Sub(s.started)), float64(startCPU.ns)/1e6)
	defer func() { h.logf("%s", line) }()

	time.Sleep(h.opts.settle)
	pss, err := pssOf(s.own())
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	h.res.add("pss_mib", c.name, n, float64(pss)/(1<<20))
	line += fmt.Sprintf("  pss %6.1f MiB", float64(pss)/(1<<20))

	full := !strings.HasPrefix(c.name, "ringsup-dag")
	if full && n == h.opts.idleN && rep < h.opts.idleReps {
		pct, wakeups := s.cpu(h.opts.idleWindow)
		h.res.add("idle_cpu_pct", c.name, n, pct)
		h.res.add("idle_wakeups_per_s", c.name, n, wakeups)
		line += fmt.Sprintf("  idle %.3f%% %.1f wakeups/s", pct, wakeups)
	}
	if full && n == h.opts.statusN && c.status != nil {
		st, err := h.status(s)
		if err != nil {
			return err
		}
		line += fmt.Sprintf("  status %.1f ms", st)
	}
	if full && n == h.opts.restartN {
		// Children that die within a second of their start are restarted
		// only after a second by s6 and runit: kill old ones only.
		if wait := 2*time.Second - time.Since(up); wait > 0 {
			time.Sleep(wait)
		}
		kills := (h.opts.kills + h.opts.reps - 1) / h.opts.reps
		killed := map[uint64]bool{}
		var worst time.Duration
		own := s.own()
		cpu0 := cpuOf(own)
		for range kills {
			d, err := s.restart(killed, 10*time.Second)
			if err != nil {
				return err
			}
			worst = max(worst, d)
			h.res.add("restart_ms", c.name, n, ms(d))
			// A random pause, so that the kills fall at random phases of
			// any periodic timer.
			time.Sleep(20*time.Millisecond + rand.N(80*time.Millisecond))
		}
		// CPU per restart, from the processes that were there before the
		// kills (for s6 and runit, the supervise processes live on).
		perKill := float64(cpuOf(own).ns-cpu0.ns) / 1e6 / float64(kills)
		h.res.add("restart_cpu_ms", c.name, n, perKill)
		line += fmt.Sprintf("  %d restarts (max %.1f ms, cpu %.2f ms each)", kills, ms(worst), perKill)
	}
	children, supervisor, err := s.stop(stopTimeout(n))
	if err != nil {
		return err
	}
	h.res.add("stop_ms", c.name, n, ms(children))
	h.res.add("stop_exit_ms", c.name, n, ms(supervisor))
	line += fmt.Sprintf("  stop %.1f ms (exit %.1f ms)", ms(children), ms(supervisor))
	return nil
}

// status runs the contender's full status query statusRuns times, checking
// that the first one shows every child up.
func (h *harness) status(s *session) (float64, error) {
	argv := s.c.status(h.bins, s.dir, s.n)
	outPath := filepath.Join(s.dir, "status.out")
	var times []float64
	for i := range h.opts.statusRuns {
		out, err := os.Create(outPath)
		if err != nil {
			return 0, err
		}
		d, ws, err := h.procs.run(argv, os.Environ(), s.dir, out)
		out.Close()
		if err != nil {
			return 0, err
		}
		if i == 0 {
			data, _ := os.ReadFile(outPath)
			if up := s.c.up(data); up != s.n || ws.ExitStatus() != 0 {
				return 0, fmt.Errorf("%s: status shows %d of %d up (exit %v): %.200q", s.c.name, up, s.n, ws, data)
			}
		}
		h.res.add("status_ms", s.c.name, s.n, ms(d))
		times = append(times, ms(d))
	}
	return median(times), nil
}

// reload runs ringsup c (with b its binaries) with reloadN daemons and, reloadRuns times, renames
// into place a config in which one daemon's command changed, measuring
// until that daemon's new process reports. It checks that the others kept
// running.
func (h *harness) reload(c *contender, b *bins) (err error) {
	n := h.opts.reloadN
	var path string
	writeConfig := func(dir string, version int) error {
		path = ringsupConfigPath(dir)
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(ringsupConfig(b, dir, n, ringsupFlat, fmt.Sprintf("v%d", version), nil)), 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, path)
	}
	s, err := h.launch(c, n, func(dir string) ([]string, error) {
		if err := writeConfig(dir, 0); err != nil {
			return nil, err
		}
		return ringsupArgv(b, path), nil
	})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	up, err := s.waitUp(n, upTimeout(n))
	if err != nil {
		return err
	}
	time.Sleep(h.opts.settle)
	var times []float64
	for v := 1; v <= h.opts.reloadRuns; v++ {
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(ringsupConfig(b, s.dir, n, ringsupFlat, fmt.Sprintf("v%d", v), nil)), 0o644); err != nil {
			return err
		}
		t0 := time.Now()
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
		want, old := fmt.Sprintf("v%d", v), fmt.Sprintf("v%d", v-1)
		deadline := t0.Add(30 * time.Second)
		applied := false
		for !applied || hasTag(s.live, old) {
			e, err := s.next(deadline)
			if err != nil {
				return fmt.Errorf("reload %d: %w", v, err)
			}
			if !e.exit && e.tag == want {
				applied = true
				times = append(times, ms(e.at.Sub(t0)))
				h.res.add("reload_ms", c.name, n, ms(e.at.Sub(t0)))
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.drain()
	kept := 0
	for _, e := range s.live {
		if e.tag == "-" && !e.at.After(up) {
			kept++
		}
	}
	h.logf("reload n=%d: median %.1f ms over %d; %d of %d unchanged daemons kept their process", n, median(times), len(times), kept, n-1)
	if kept != n-1 {
		return fmt.Errorf("reload: %d of the %d unchanged daemons kept their process", kept, n-1)
	}
	_, _, err = s.stop(stopTimeout(n))
	return err
}

func hasTag(live map[uint64]event, tag string) bool {
	for _, e := range live {
		if e.tag == tag {
			return true
		}
	}
	return false
}

// probes runs ringsup c (with b its binaries) with probeN daemons, each with a tcp health check
// every second against a listener of the harness, and measures ringsup's
// CPU over probeWindow.
func (h *harness) probes(c *contender, b *bins) (err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close()
		}
	}()
	addr := ln.Addr().String()
	n := h.opts.probeN
	s, err := h.launch(c, n, func(dir string) ([]string, error) {
		path := ringsupConfigPath(dir)
		health := func(i int) string {
			return fmt.Sprintf("[daemons.%s.health]\ntcp = %q\ninterval = \"1s\"\n", serviceName(i), addr)
		}
		if err := os.WriteFile(path, []byte(ringsupConfig(b, dir, n, ringsupFlat, "", health)), 0o644); err != nil {
			return nil, err
		}
		return ringsupArgv(b, path), nil
	})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if _, err := s.waitUp(n, upTimeout(n)); err != nil {
		return err
	}
	time.Sleep(h.opts.settle + 2*time.Second)
	a, t0 := accepted.Load(), time.Now()
	pct, wakeups := s.cpu(h.opts.probeWindow)
	rate := float64(accepted.Load()-a) / time.Since(t0).Seconds()
	h.res.add("probe_cpu_pct", c.name, n, pct)
	h.res.add("probe_wakeups_per_s", c.name, n, wakeups)
	h.res.add("probes_per_s", c.name, n, rate)
	h.logf("probes n=%d: cpu %.2f%%, %.0f wakeups/s, %.0f probes/s", n, pct, wakeups, rate)
	if rate < float64(n)/2 {
		return errors.New("probes: fewer than half the expected probes arrived")
	}
	_, _, err = s.stop(stopTimeout(n))
	return err
}

func contenderNamed(name string) *contender {
	for _, c := range contenders() {
		if c.name == name {
			return c
		}
	}
	panic("no contender " + name)
}
