package supervisor

// This file holds what the loop needs to know of the dependency graph
// between daemons: who waits for whom, and who goes down with whom.

// blockingDependency returns a dependency of d that is not ready for it,
// giving one that is down for good before one that is on its way; nil when
// every dependency is ready: running, or for a oneshot, done.
func blockingDependency(d *daemon) *daemon {
	var waiting *daemon
	for _, dep := range d.deps {
		switch {
		case dep.satisfies():
		case dep.downForGood():
			return dep
		default:
			if waiting == nil {
				waiting = dep
			}
		}
	}
	return waiting
}

// satisfies reports whether d is what its dependents wait for: running, or
// for a oneshot, done.
func (d *daemon) satisfies() bool {
	if d.pol.Oneshot {
		return d.rec.State == Stopped && d.rec.Done
	}
	return d.rec.State == Running
}

// downForGood reports whether d, a dependency that does not satisfy its
// dependents, will not come up by itself: stopped, failed or
// import_failed.
func (d *daemon) downForGood() bool {
	return !d.satisfies() && (d.rec.State == Stopped || d.rec.State == Failed || d.rec.State == ImportFailed)
}

func hasLiveDependent(d *daemon) bool {
	for _, dep := range d.dependents {
		if dep.rec.PID != 0 {
			return true
		}
	}
	return false
}

// dependentsOf returns every daemon that depends on d, directly or not.
func (s *Supervisor) dependentsOf(d *daemon) []*daemon {
	return reachable(d, func(x *daemon) []*daemon { return x.dependents })
}

// dependenciesOf returns every daemon d depends on, directly or not.
func (s *Supervisor) dependenciesOf(d *daemon) []*daemon {
	return reachable(d, func(x *daemon) []*daemon { return x.deps })
}

// reachable returns the daemons reachable from d through next, d excluded,
// each once, the farthest first.
func reachable(d *daemon, next func(*daemon) []*daemon) []*daemon {
	seen := map[*daemon]bool{d: true}
	var out []*daemon
	var walk func(*daemon)
	walk = func(x *daemon) {
		for _, y := range next(x) {
			if !seen[y] {
				seen[y] = true
				walk(y)
				out = append(out, y)
			}
		}
	}
	walk(d)
	return out
}
