package supervisor

import (
	"errors"
	"slices"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/procexec"
)

// A process that leaves its daemon's process group (setsid, setpgid) is out
// of reach of the group signals that stop the daemon. When its parent dies
// it is re-parented to the supervisor, the child subreaper, so it can still
// be found: leftovers are the supervisor's children that are neither a
// daemon, a probe nor a hook. Each is attributed to a daemon by the
// RINGSUP_DAEMON variable it inherited, shown in `ctl status`
// (`leftovers`), and killed with SIGKILL when its daemon is stopped for good
// and at shutdown. A process that also clears its environment, or whose
// parent is still alive, is not found.

// groupTracker keeps track of what may be left of daemons' processes once
// their leader is gone: the process groups sent SIGKILL after their leader
// exited, until they are empty, and the leftovers, until they are gone.
// Every system call it makes goes through the Runtime. Only the loop calls
// its methods.
type groupTracker struct {
	rt  Runtime
	log hclog.Logger
	// lingering holds the process groups whose leader has exited and
	// whose other members were sent SIGKILL, until they are empty.
	lingering map[int]struct{}
	// dying holds leftover processes sent SIGKILL, until they are gone.
	dying map[int]struct{}
	// leftovers holds, by daemon, the leftovers the last scan found.
	leftovers map[string][]int
	// scanDue says that processes exited since the last scan.
	scanDue bool
}

func newGroupTracker(rt Runtime, log hclog.Logger) *groupTracker {
	return &groupTracker{
		rt: rt, log: log,
		lingering: make(map[int]struct{}),
		dying:     make(map[int]struct{}),
		leftovers: make(map[string][]int),
	}
}

// killGroup sends SIGKILL to what is left of process group pgid, whose
// leader (of daemon name) has exited, and follows it until it is empty.
func (g *groupTracker) killGroup(name string, pgid int) {
	if err := g.rt.Signal(pgid, syscall.SIGKILL); failed(g.lingering, pgid, err) {
		g.log.Error("cannot kill process group", "daemon", name, "pgid", pgid, "error", err)
	}
}

// failed adds id to set, to be followed until it is gone, when err (of
// the SIGKILL sent to it) is nil; it reports whether err says more than
// that id is gone already. (The log line's arguments are made only then:
// a group kill follows every exit.)
func failed(set map[int]struct{}, id int, err error) bool {
	if err == nil {
		set[id] = struct{}{}
	}
	return err != nil && !errors.Is(err, procexec.ErrNoProcess)
}

// lingers reports whether pgid is a killed group not yet known to be
// empty.
func (g *groupTracker) lingers(pgid int) bool {
	_, ok := g.lingering[pgid]
	return ok
}

// prune forgets the killed groups that are now empty, and the killed
// leftovers that are gone. The loop calls it after each reap.
func (g *groupTracker) prune() {
	for pgid := range g.lingering {
		if errors.Is(g.rt.Signal(pgid, 0), procexec.ErrNoProcess) {
			delete(g.lingering, pgid)
		}
	}
	for pid := range g.dying {
		if errors.Is(g.rt.Kill(pid, 0), procexec.ErrNoProcess) {
			delete(g.dying, pid)
		}
	}
}

// settled reports whether every killed group and leftover is gone.
func (g *groupTracker) settled() bool { return len(g.lingering) == 0 && len(g.dying) == 0 }

// scan refreshes every daemon's leftovers from the supervisor's children:
// those that known does not claim and whose RINGSUP_DAEMON names a daemon
// (isDaemon).
func (g *groupTracker) scan(known func(pid int) bool, isDaemon func(name string) bool) {
	g.scanDue = false
	found := make(map[string][]int, len(g.leftovers))
	for _, pid := range g.rt.Children() {
		if known(pid) {
			continue
		}
		if name := g.rt.DaemonOf(pid); name != "" && isDaemon(name) {
			found[name] = append(found[name], pid)
		}
	}
	for name, pids := range found {
		slices.Sort(pids)
		if _, ok := g.leftovers[name]; !ok {
			g.log.Warn("processes escaped their daemon's process group", "daemon", name, "pids", pids)
		}
	}
	g.leftovers = found
}

// owners returns the daemons that have leftovers.
func (g *groupTracker) owners() []string {
	var names []string
	for name := range g.leftovers {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// leftoversOf returns the leftovers of daemon name, sorted.
func (g *groupTracker) leftoversOf(name string) []int { return g.leftovers[name] }

// killLeftovers kills the leftovers of daemon name; they are followed
// until they are gone.
func (g *groupTracker) killLeftovers(name string) {
	for _, pid := range g.leftovers[name] {
		if err := g.rt.Kill(pid, syscall.SIGKILL); failed(g.dying, pid, err) {
			g.log.Error("cannot kill leftover process", "daemon", name, "pid", pid, "error", err)
		}
	}
	delete(g.leftovers, name)
}
