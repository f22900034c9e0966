package supervisor

// During the shutdown, the SIGKILL that follows each leader's exit to what
// is left of its process group is spared when nothing can be left in it:
// at a stop of 1000 daemons it is 1000 kill(2) calls that all find the
// group empty, after the last daemon died (docs/performance.md, B5).
//
// Whether something can be left is known from one read of the supervisor's
// children. A process that outlives its group's leader has a live ancestor
// (or is itself one) that was the leader's child; when the leader exits,
// the kernel hands that child to the supervisor, the subreaper, before the
// leader can be reaped. So once a batch of leaders is reaped, no orphan
// among the supervisor's children means no descendant of any of them is
// alive, and their groups are empty of them. A process that joined a
// group from another daemon's tree (setpgid) is the exception; it is an
// orphan too once every daemon is down, so the spared groups are killed
// then if any orphan is there (killSpared).

// checkOrphans decides, for the exits of one reap about to be applied,
// whether their groups' SIGKILL may be spared: only during the shutdown,
// and only when the supervisor has no orphan. endBatch ends it.
func (g *groupTracker) checkOrphans(shuttingDown bool) {
	if !shuttingDown {
		g.spare = false
		return
	}
	children, err := g.rt.Children()
	g.spare = err == nil && len(children) == 0
}

// endBatch ends what checkOrphans decided: groups are killed again.
func (g *groupTracker) endBatch() { g.spare = false }

// sparedGroup is a group whose SIGKILL was spared, and its daemon.
type sparedGroup struct {
	daemon string
	pgid   int
}

// spared reports whether the SIGKILL of group pgid, of daemon name, is
// spared, and notes it for killSpared.
func (g *groupTracker) spared(name string, pgid int) bool {
	if g.spare {
		g.sparedGroups = append(g.sparedGroups, sparedGroup{name, pgid})
	}
	return g.spare
}

// killSpared sends the SIGKILL spared during the shutdown, if the last
// scan found any orphan (one that may belong to a spared group), and
// follows those groups until they are empty; the shutdown calls it once
// every daemon is down, after scan.
func (g *groupTracker) killSpared() {
	if g.orphans != 0 {
		for _, sg := range g.sparedGroups {
			g.killGroup(sg.daemon, sg.pgid)
		}
	}
	g.sparedGroups = nil
}
