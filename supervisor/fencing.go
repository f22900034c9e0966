package supervisor

import (
	"errors"
	"os"
	"syscall"
	"time"

	"github.com/ringrift/ringsup/guard"
	"github.com/ringrift/ringsup/internal/boottime"
	"github.com/ringrift/ringsup/procexec"
)

// The Supervisor's side of a singleton's placement (fence.go): it asks
// for fences and withdraws candidacies, applies the verdicts, shows the
// holder, and runs the guard of a running copy.

// Placement returns the link the cluster takes the singletons' fence
// requests from and sends its verdicts to.
func (s *Supervisor) Placement() *PlacementLink { return s.place }

// withdraw carries out actWithdraw.
func (s *Supervisor) withdraw(d *daemon, a action) {
	s.place.ask(FenceRequest{Daemon: d.name})
	if a.event.Type != "" {
		if s.life.shuttingDown {
			a.event.Reason = LostShutdown
		}
		s.publishFor(d, a.event)
	}
}

// singletonStatus returns the status of d's placement, nil for a daemon
// that is not a singleton.
func singletonStatus(d *daemon) *SingletonStatus {
	if !d.pol.Singleton {
		return nil
	}
	st := d.owner
	return &st
}

// shownState is the state status shows for d: a singleton waiting for a
// fence, with no process, is stopped on this node.
func shownState(d *daemon) State {
	if d.pol.Singleton && d.rec.State == Starting && d.rec.PID == 0 && !d.rec.Granted {
		return Stopped
	}
	return d.rec.State
}

// heldElsewhere reports whether d is a singleton another node holds, as
// etcd last said, while this node has no copy and waits for a fence: it
// is stopped here, and up as far as a caller waiting for it here is
// concerned (start-up's readiness, `ctl start`).
func (s *Supervisor) heldElsewhere(d *daemon) bool {
	return shownState(d) == Stopped && d.rec.State != Stopped &&
		d.owner.Owner != "" && s.cfg.Cluster != nil && d.owner.Owner != s.cfg.Cluster.Node
}

// dropLateGrants returns queue, the daemons about to spawn, without the
// singletons whose grant came too late to start a copy: past their
// lease's D − stop_timeout − FenceMargin, the next holder's fence may
// pass before this copy could stop. Each loses its fence (SINGLETON_LOST,
// lease) and asks for a fresh one in the next pass of schedule.
func (s *Supervisor) dropLateGrants(queue []*daemon) []*daemon {
	var now time.Duration // read at the first singleton: a system call on every spawn otherwise
	kept := queue[:0]
	for _, d := range queue {
		if d.pol.Singleton && now == 0 {
			now = boottime.Now()
		}
		if d.pol.Singleton && now >= d.leaseDeadline-d.cfg.StopTimeout-FenceMargin {
			s.log.Warn("a singleton's fence came too late to start its copy before the lease's deadline; asking again", "daemon", d.name)
			s.apply(d, input{kind: inFenceLost, why: LostLease})
			continue
		}
		kept = append(kept, d)
	}
	return kept
}

// withNode fills in the node of SINGLETON_ACQUIRED.
func (s *Supervisor) withNode(e Event) Event {
	if e.Type == SingletonAcquired && s.cfg.Cluster != nil {
		e.Node = s.cfg.Cluster.Node
	}
	return e
}

// startGuard carries out actGuardStart: it starts the guard of a
// singleton's copy, just spawned as process group pid, and gives it D: past D, the guard SIGKILLs the
// group even if the supervisor is frozen. Without a guard (it could not
// start) the copy still runs: the loop's own stop keeps the guarantee
// while the supervisor is not frozen.
func (s *Supervisor) startGuard(d *daemon, pid int) {
	r, w, err := os.Pipe()
	if err != nil {
		s.log.Error("cannot start the singleton's guard", "daemon", d.name, "error", err)
		return
	}
	defer r.Close()
	if _, err := s.rt.Spawn(procexec.Spec{Argv: guard.Argv(pid), Stdin: r}); err != nil {
		w.Close()
		s.log.Error("cannot start the singleton's guard", "daemon", d.name, "error", err)
		return
	}
	d.guard = w
	s.feedGuard(d, guard.Line(d.leaseDeadline))
}

// feedGuard writes line to d's guard, if it has one. The pipe never
// fills: the guard reads every line as it comes.
func (s *Supervisor) feedGuard(d *daemon, line string) {
	if d.guard == nil {
		return
	}
	if _, err := d.guard.WriteString(line); err != nil {
		s.log.Warn("cannot reach the singleton's guard", "daemon", d.name, "error", err)
	}
}

// releaseGuard carries out actGuardRelease: it lets d's guard go, its
// copy being gone.
func (s *Supervisor) releaseGuard(d *daemon) {
	if d.guard == nil {
		return
	}
	// A guard that killed the copy at D has exited: its pipe is broken,
	// and there is nothing left to release.
	if _, err := d.guard.WriteString(guard.Release); err != nil && !errors.Is(err, syscall.EPIPE) {
		s.log.Warn("cannot release the singleton's guard", "daemon", d.name, "error", err)
	}
	d.guard.Close()
	d.guard = nil
}
