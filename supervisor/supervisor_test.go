package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ringrift/ringsup/config"
)

// harness runs a Supervisor over a fakeRuntime inside a synctest bubble,
// where time only moves when every goroutine is blocked, so backoffs of
// seconds and a stable hour take no real time.
type harness struct {
	t      *testing.T
	path   string
	sup    *Supervisor
	rt     *fakeRuntime
	prober *fakeProber
	events <-chan Event
	cancel context.CancelFunc
	runErr chan error
}

// start parses the TOML body (a [supervisor] table with log_dir is added)
// and runs it with profile. Call inside synctest.Test.
func start(t *testing.T, body, profile string, setup ...func(*fakeRuntime)) *harness {
	t.Helper()
	return startOpts(t, body, profile, nil, setup...)
}

// startOpts is start with opt changing the supervisor's Options.
func startOpts(t *testing.T, body, profile string, opt func(*Options), setup ...func(*fakeRuntime)) *harness {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "ringsup.toml")
	writeConfig(t, path, body)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	rt := newFakeRuntime()
	for _, f := range setup {
		f(rt)
	}
	prober := &fakeProber{err: make(map[string]error)}
	opts := Options{Config: cfg, Profile: profile, Runtime: rt, Prober: prober}
	if opt != nil {
		opt(&opts)
	}
	sup, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, path: path, sup: sup, rt: rt, prober: prober, cancel: cancel, runErr: make(chan error, 1)}
	go func() { h.runErr <- sup.Run(ctx) }()
	h.events, _ = sup.Subscribe()
	synctest.Wait()
	return h
}

// stop shuts the supervisor down and waits for Run to return. Tests defer
// it: shutdown may need fake time to pass (a stop_timeout), and the bubble's
// clock only moves while its main goroutine is still there to wait.
func (h *harness) stop() {
	h.cancel()
	<-h.sup.Done()
}

// writeConfig writes body, with a [supervisor] log_dir beside it, to path.
func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	src := fmt.Sprintf("[supervisor]\nlog_dir = \"logs\"\n%s", body)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// status returns the status of daemon name.
func (h *harness) status(name string) DaemonStatus {
	h.t.Helper()
	st, err := h.sup.Status(name)
	if err != nil {
		h.t.Fatalf("Status(%q): %v", name, err)
	}
	return st.Daemons[name]
}

func (h *harness) wantState(name string, want State) {
	h.t.Helper()
	if got := h.status(name).State; got != want {
		h.t.Fatalf("state of %q = %v, want %v", name, got, want)
	}
}

// drain returns the events published since the last call.
func (h *harness) drain() []Event {
	var out []Event
	for {
		select {
		case e := <-h.events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// eventTypes formats events as "TYPE daemon" lines.
func eventTypes(es []Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, strings.TrimSpace(string(e.Type)+" "+e.Daemon))
	}
	return out
}

// sleep advances fake time by d and lets the supervisor act.
func sleep(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

const chain = `
[daemons.a]
command = "a"
[daemons.b]
command = "b"
depends_on = ["a"]
[daemons.c]
command = "c"
depends_on = ["b"]
[daemons.solo]
command = "solo"
`

func TestStartsInDependencyOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, chain, "")
		defer h.stop()
		got := h.rt.takeLog()
		// No barrier between levels: b starts as soon as a runs, at once.
		// Daemons that are ready together start together (a and solo).
		want := []string{"spawn a", "spawn solo", "spawn b", "spawn c"}
		if !slices.Equal(got, want) {
			t.Fatalf("spawns = %q, want %q", got, want)
		}
		for _, n := range []string{"a", "b", "c", "solo"} {
			h.wantState(n, Running)
		}
	})
}

func TestProfilePullsInDependencies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, chain+"[profiles]\nsmall = [\"b\"]\n", "small")
		defer h.stop()
		if got, want := h.rt.liveNames(), []string{"a", "b"}; !slices.Equal(got, want) {
			t.Fatalf("running = %q, want %q", got, want)
		}
		h.wantState("c", Stopped)
		h.wantState("solo", Stopped)
	})
}

func TestBackoffDoublesThenFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, `
[daemons.flaky]
command = "flaky"
max_restarts = 3
backoff_min = "1s"
backoff_max = "3s"
`, "")
		defer h.stop()
		h.drain()
		for i, wantDelay := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
			h.rt.exit(t, "flaky", 1)
			synctest.Wait()
			h.wantState("flaky", Restarting)
			if got := h.status("flaky").RestartCount; got != i+1 {
				t.Fatalf("restart_count after crash %d = %d, want %d", i+1, got, i+1)
			}
			ev := h.drain()
			last := ev[len(ev)-1]
			if last.Type != DaemonRestarting || *last.RestartCount != i+1 || *last.DelayS != wantDelay.Seconds() {
				t.Fatalf("crash %d: last event = %+v, want DAEMON_RESTARTING count %d delay %v", i+1, last, i+1, wantDelay)
			}
			sleep(wantDelay - time.Millisecond)
			h.wantState("flaky", Restarting)
			sleep(time.Millisecond)
			h.wantState("flaky", Running)
		}
		h.rt.exit(t, "flaky", 1)
		synctest.Wait()
		st := h.status("flaky")
		if st.State != Failed || !strings.Contains(st.LastError, "max_restarts 3") {
			t.Fatalf("after max_restarts: state %v, last_error %q; want failed naming max_restarts", st.State, st.LastError)
		}
		if st.LastExit == nil || st.LastExit.Code != 1 {
			t.Fatalf("last_exit = %+v, want code 1", st.LastExit)
		}
		if got := eventTypes(h.drain()); !slices.Equal(got, []string{"DAEMON_STARTED flaky", "DAEMON_EXITED flaky", "DAEMON_FAILED flaky"}) {
			t.Fatalf("events = %q", got)
		}
		// Failed is final: no restart however long we wait.
		sleep(time.Hour)
		h.wantState("flaky", Failed)
		if err := h.sup.Restart(false, "flaky"); !errors.As(err, new(*RefusedError)) {
			t.Fatalf("Restart(no force) of failed = %v, want *RefusedError", err)
		}
		if err := h.sup.Restart(true, "flaky"); err != nil {
			t.Fatalf("Restart(force): %v", err)
		}
		synctest.Wait()
		st = h.status("flaky")
		if st.State != Running || st.RestartCount != 0 || st.LastError != "" {
			t.Fatalf("after restart --force: %+v, want running, count 0, no error", st)
		}
	})
}

func TestRestartCountResetsAfterStableAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, `
[daemons.x]
command = "x"
backoff_min = "1s"
stable_after = "1h"
`, "")
		defer h.stop()
		h.rt.exit(t, "x", 1)
		sleep(time.Second)
		h.rt.exit(t, "x", 1)
		sleep(2 * time.Second)
		h.wantState("x", Running)
		if got := h.status("x").RestartCount; got != 2 {
			t.Fatalf("restart_count = %d, want 2", got)
		}
		sleep(time.Hour - time.Second)
		if got := h.status("x").RestartCount; got != 2 {
			t.Fatalf("restart_count before the stable hour = %d, want 2", got)
		}
		sleep(time.Second)
		if got := h.status("x").RestartCount; got != 0 {
			t.Fatalf("restart_count after the stable hour = %d, want 0", got)
		}
		// The next crash backs off from backoff_min again.
		h.drain()
		h.rt.exit(t, "x", 1)
		synctest.Wait()
		ev := h.drain()
		if last := ev[len(ev)-1]; *last.DelayS != 1 {
			t.Fatalf("delay after reset = %v, want 1", *last.DelayS)
		}
	})
}

func TestCascadeRestartsDependentsWithoutCounting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, chain, "")
		defer h.stop()
		h.rt.takeLog()
		h.rt.exit(t, "a", 1)
		synctest.Wait()
		// Dependents stop, the deepest first; a waits for its backoff.
		if got, want := h.rt.takeLog(), []string{"SIGTERM c", "SIGTERM b"}; !slices.Equal(got, want) {
			t.Fatalf("after a crashed: %q, want %q", got, want)
		}
		h.wantState("a", Restarting)
		h.wantState("b", Starting)
		h.wantState("c", Starting)
		h.wantState("solo", Running)
		sleep(time.Second)
		if got, want := h.rt.takeLog(), []string{"spawn a", "spawn b", "spawn c"}; !slices.Equal(got, want) {
			t.Fatalf("after backoff: %q, want %q", got, want)
		}
		for _, n := range []string{"a", "b", "c"} {
			h.wantState(n, Running)
		}
		if got := h.status("b").RestartCount; got != 0 {
			t.Fatalf("b restart_count after cascade = %d, want 0", got)
		}
		if got := h.status("a").RestartCount; got != 1 {
			t.Fatalf("a restart_count = %d, want 1", got)
		}
	})
}

func TestFailedDependencyLeavesDependentsStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, strings.Replace(chain, "command = \"a\"", "command = \"a\"\nauto_restart = false", 1), "")
		defer h.stop()
		h.rt.exit(t, "a", 3)
		synctest.Wait()
		h.wantState("a", Failed)
		for _, n := range []string{"b", "c"} {
			st := h.status(n)
			if st.State != Stopped || !strings.Contains(st.LastError, "dependency") {
				t.Fatalf("%s: state %v, last_error %q; want stopped naming a dependency", n, st.State, st.LastError)
			}
		}
		if err := h.sup.Restart(true, "a"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.wantState("a", Running)
		// Dependents come back with ctl start.
		if err := h.sup.Start("c"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.wantState("b", Running)
		h.wantState("c", Running)
	})
}

func TestImportFailedIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, chain, "", func(f *fakeRuntime) { f.noExec["b"] = true })
		defer h.stop()
		st := h.status("b")
		if st.State != ImportFailed || !strings.Contains(st.LastError, "not found") {
			t.Fatalf("b = %+v, want import_failed, not found", st)
		}
		h.wantState("c", Stopped)
		h.rt.takeLog()
		sleep(time.Hour)
		if got := h.rt.takeLog(); len(got) != 0 {
			t.Fatalf("an hour after import_failed: %q, want nothing (no retry)", got)
		}
		h.wantState("b", ImportFailed)
		if err := h.sup.Start("b"); !errors.As(err, new(*RefusedError)) {
			t.Fatalf("Start(import_failed) = %v, want *RefusedError", err)
		}
	})
}

func TestSpawnErrorIsRetriedLikeACrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, "[daemons.x]\ncommand = \"x\"\n", "", func(f *fakeRuntime) {
			f.spawnErr["x"] = errors.New("too many open files")
		})
		defer h.stop()
		h.wantState("x", Restarting)
		h.rt.mu.Lock()
		delete(h.rt.spawnErr, "x")
		h.rt.mu.Unlock()
		sleep(time.Second)
		h.wantState("x", Running)
	})
}

func TestShutdownStopsDependentsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, chain, "", func(f *fakeRuntime) { f.ignore["c"] = true })
		defer h.stop()
		h.rt.takeLog()
		h.cancel()
		synctest.Wait()
		// c ignores SIGTERM: nothing else is signalled until it is killed
		// after its stop_timeout (default 10s); solo stops in parallel.
		if got, want := h.rt.takeLog(), []string{"SIGTERM solo", "SIGTERM c"}; !slices.Equal(got, want) {
			t.Fatalf("shutdown began with %q, want %q", got, want)
		}
		sleep(10*time.Second - time.Millisecond)
		if got := h.rt.takeLog(); len(got) != 0 {
			t.Fatalf("before stop_timeout: %q, want nothing", got)
		}
		sleep(time.Millisecond)
		if got, want := h.rt.takeLog(), []string{"SIGKILL c", "SIGTERM b", "SIGTERM a"}; !slices.Equal(got, want) {
			t.Fatalf("after stop_timeout: %q, want %q", got, want)
		}
		// Killing c makes the shutdown unclean, and Run says so.
		var unclean *UncleanShutdownError
		if err := <-h.runErr; !errors.As(err, &unclean) || !slices.Equal(unclean.Killed, []string{"c"}) || unclean.KilledAll || unclean.Left != 0 {
			t.Fatalf("Run = %v, want an UncleanShutdownError naming c", err)
		}
		if live := h.rt.liveNames(); len(live) != 0 {
			t.Fatalf("left running: %q", live)
		}
	})
}

// TestShuttingDownIsClosedAsTheShutdownBegins: ShuttingDown is closed when
// the shutdown begins, while a daemon is still stopping, and not before.
func TestShuttingDownIsClosedAsTheShutdownBegins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, chain, "", func(f *fakeRuntime) { f.ignore["c"] = true })
		defer h.stop()
		closed := func(c <-chan struct{}) bool {
			select {
			case <-c:
				return true
			default:
				return false
			}
		}
		if closed(h.sup.ShuttingDown()) {
			t.Fatal("ShuttingDown closed while every daemon runs")
		}
		h.cancel()
		synctest.Wait()
		if !closed(h.sup.ShuttingDown()) {
			t.Fatal("ShuttingDown not closed once the shutdown began")
		}
		if closed(h.sup.Done()) {
			t.Fatal("Done closed while c, deaf to SIGTERM, still runs")
		}
		h.wantState("c", Stopping)
		sleep(10 * time.Second) // c's stop_timeout: killed, then all stop
		<-h.runErr
		if !closed(h.sup.Done()) {
			t.Fatal("Done not closed after Run returned")
		}
	})
}

func TestStopKeepsDependentsDownUntilStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, chain, "")
		defer h.stop()
		h.rt.takeLog()
		if err := h.sup.Stop("b"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got, want := h.rt.takeLog(), []string{"SIGTERM c", "SIGTERM b"}; !slices.Equal(got, want) {
			t.Fatalf("stop b: %q, want %q", got, want)
		}
		sleep(time.Hour)
		h.wantState("b", Stopped)
		h.wantState("c", Stopped)
		h.wantState("a", Running)
		if err := h.sup.Start("c"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got, want := h.rt.takeLog(), []string{"spawn b", "spawn c"}; !slices.Equal(got, want) {
			t.Fatalf("start c: %q, want %q", got, want)
		}
	})
}

func TestRestartStopsDependentsFirstAndBringsThemBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, chain, "")
		defer h.stop()
		h.rt.takeLog()
		if err := h.sup.Restart(false, "a"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		want := []string{"SIGTERM c", "SIGTERM b", "SIGTERM a", "spawn a", "spawn b", "spawn c"}
		if got := h.rt.takeLog(); !slices.Equal(got, want) {
			t.Fatalf("restart a: %q, want %q", got, want)
		}
		if got := h.status("a").RestartCount; got != 0 {
			t.Fatalf("restart_count after ctl restart = %d, want 0", got)
		}
	})
}

func TestUnknownDaemon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, chain, "")
		defer h.stop()
		for name, err := range map[string]error{
			"Start":  h.sup.Start("nope"),
			"Stop":   h.sup.Stop("a", "nope"),
			"Status": func() error { _, err := h.sup.Status("nope"); return err }(),
		} {
			var u *UnknownDaemonError
			if !errors.As(err, &u) || u.Name != "nope" {
				t.Errorf("%s(nope) = %v, want unknown daemon \"nope\"", name, err)
			}
		}
		h.wantState("a", Running)
	})
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, "[daemons.x]\ncommand = \"x\"\nbackoff_min = \"0s\"\nmax_restarts = 10000\n", "")
		defer h.stop()
		slow, _ := h.sup.Subscribe()
		for range 700 {
			h.rt.exit(t, "x", 1)
			synctest.Wait()
		}
		n := 0
		for range slow {
			n++
		}
		if n != h.sup.opts.EventBuffer {
			t.Fatalf("slow subscriber got %d events before being dropped, want %d", n, h.sup.opts.EventBuffer)
		}
		h.wantState("x", Running)
	})
}
