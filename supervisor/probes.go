package supervisor

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/procexec"
)

// Prober runs the network health probes. The health package's Prober
// implements it.
type Prober interface {
	// HTTP GETs url; nil means a 2xx answer within timeout.
	HTTP(ctx context.Context, url string, timeout time.Duration) error
	// StartTCP connects to addr; nil means connected within timeout. When
	// the outcome is not known at once, finish waits for it.
	StartTCP(ctx context.Context, addr string, timeout time.Duration) (finish func() error, err error)
}

// probeRunner runs the health probes that healthStep asks for. An exec
// probe is a child process, reaped by the loop like any other and handed
// to exited; network probes due in one pass of the loop are started
// together by flush, off the loop, and their outcomes come back on
// Results in batches. Only the loop calls its methods.
type probeRunner struct {
	rt     Runtime
	prober Prober
	log    hclog.Logger
	done   <-chan struct{} // closed when the loop is gone
	// exec holds the running exec probes by pid, byIncarnation the same
	// by the incarnation of the process they probe.
	exec          map[int]*execProbe
	byIncarnation map[uint64]int
	due           []networkProbe
	results       chan []probeResult
}

// execProbe is a running exec probe.
type execProbe struct {
	name        string
	incarnation uint64
	dropped     bool // its outcome no longer counts
}

// networkProbe is a network probe to run.
type networkProbe struct {
	result    probeResult
	url, addr string
	timeout   time.Duration
}

// probeResult is a probe's outcome for the process incarnation of daemon
// name.
type probeResult struct {
	name        string
	incarnation uint64
	err         error
}

func newProbeRunner(rt Runtime, prober Prober, log hclog.Logger, done <-chan struct{}) *probeRunner {
	return &probeRunner{
		rt: rt, prober: prober, log: log, done: done,
		exec:          make(map[int]*execProbe),
		byIncarnation: make(map[uint64]int),
		results:       make(chan []probeResult),
	}
}

// start starts a probe of daemon d's process incarnation: an exec probe at
// once, a network probe at the next flush. An error means the exec probe
// could not start; it counts as a failed probe.
func (pr *probeRunner) start(name string, incarnation uint64, d *config.Daemon) error {
	hc := d.Health
	if len(hc.Exec) == 0 {
		pr.due = append(pr.due, networkProbe{
			result: probeResult{name: name, incarnation: incarnation},
			url:    hc.HTTP, addr: hc.TCP, timeout: hc.Timeout,
		})
		return nil
	}
	pid, err := pr.rt.Spawn(procexec.Spec{
		Name: name,
		Argv: hc.Exec,
		Dir:  d.WorkingDir,
		Env:  d.Env,
		User: d.User,
	})
	if err != nil {
		return fmt.Errorf("cannot run probe: %w", err)
	}
	pr.exec[pid] = &execProbe{name: name, incarnation: incarnation}
	pr.byIncarnation[incarnation] = pid
	return nil
}

// drop kills the running exec probe of incarnation, if any: its exit is
// still reaped, and its outcome does not count.
func (pr *probeRunner) drop(incarnation uint64) {
	pid, ok := pr.byIncarnation[incarnation]
	if !ok {
		return
	}
	delete(pr.byIncarnation, incarnation)
	p := pr.exec[pid]
	p.dropped = true
	if err := pr.rt.Signal(pid, syscall.SIGKILL); err != nil && !errors.Is(err, procexec.ErrNoProcess) {
		pr.log.Error("cannot kill probe", "daemon", p.name, "pid", pid, "error", err)
	}
}

// idle reports whether no exec probe is left to reap.
func (pr *probeRunner) idle() bool { return len(pr.exec) == 0 }

// owns reports whether pid is a running exec probe.
func (pr *probeRunner) owns(pid int) bool {
	_, ok := pr.exec[pid]
	return ok
}

// exited takes the exit x of a process; it reports whether x was an exec
// probe's, and whether its outcome counts (r).
func (pr *probeRunner) exited(x procexec.Exit) (r probeResult, counts, ok bool) {
	p, ok := pr.exec[x.PID]
	if !ok {
		return probeResult{}, false, false
	}
	delete(pr.exec, x.PID)
	// What is left of the probe's group goes with it.
	_ = pr.rt.Signal(x.PID, syscall.SIGKILL)
	if p.dropped {
		return probeResult{}, false, true
	}
	delete(pr.byIncarnation, p.incarnation)
	r = probeResult{name: p.name, incarnation: p.incarnation}
	if !x.Success() {
		r.err = fmt.Errorf("probe %s", x)
	}
	return r, true, true
}

// Results receives the outcomes of network probes, in batches.
func (pr *probeRunner) Results() <-chan []probeResult { return pr.results }

// flush runs the network probes that fell due, off the loop, on one
// goroutine: the tcp probes whose outcome is known at once (the usual case
// over loopback) come back together in one message, so that a thousand
// probes a second wake the loop once per batch rather than once per probe.
// Each http probe, and each tcp probe still connecting, finishes on a
// goroutine of its own and reports alone.
func (pr *probeRunner) flush() {
	if len(pr.due) == 0 {
		return
	}
	due, prober, results, done := pr.due, pr.prober, pr.results, pr.done
	pr.due = nil
	report := func(rs []probeResult) {
		select {
		case results <- rs:
		case <-done:
		}
	}
	go func() {
		var now []probeResult
		for _, p := range due {
			result := p.result
			if p.url != "" {
				go func() {
					result.err = prober.HTTP(context.Background(), p.url, p.timeout)
					report([]probeResult{result})
				}()
				continue
			}
			finish, err := prober.StartTCP(context.Background(), p.addr, p.timeout)
			if finish == nil {
				result.err = err
				now = append(now, result)
				continue
			}
			go func() {
				result.err = finish()
				report([]probeResult{result})
			}()
		}
		if len(now) > 0 {
			report(now)
		}
	}()
}
