package supervisor

import (
	"maps"

	"github.com/ringrift/ringsup/config"
)

// A reload that makes a singleton local (placement changed from
// "singleton") is a stop of the singleton's copy and a start of the local
// daemon. The copy must stop as the singleton it is: its guard released
// once it is gone, its fence and candidacy kept until then, the cluster's
// verdicts still applied to it. So the daemon keeps its singleton policy
// until its copy is gone; then its node withdraws (SINGLETON_LOST,
// stopped, if it held the singleton) and the daemon takes its new policy.
//
// A reload that changes placement_labels restarts a singleton's copy as
// any runtime change does, and the fence it asks for again checks the new
// labels; one without a copy asks afresh (replace).

// setPolicy gives d the policy p a config gave it; a singleton with a copy
// or a candidacy that p makes local keeps its policy until unplace.
func (d *daemon) setPolicy(p policy) {
	d.local = nil
	if d.pol.Singleton && !p.Singleton && (d.rec.PID != 0 || d.rec.Candidate || d.rec.Fence != 0) {
		d.local = &p
		return
	}
	d.pol = p
}

// unplace makes d local, as a reload asked (d.local), once its singleton
// copy is gone: its node withdraws, and loses the singleton if it held it.
func (s *Supervisor) unplace(d *daemon) {
	if d.local == nil || d.rec.PID != 0 {
		return
	}
	placed := d.rec.Candidate || d.rec.Fence != 0
	var a action
	d.rec, a = withdraw(d.rec, LostStopped)
	d.pol, d.local = *d.local, nil
	if placed { // else it withdrew already (it came to rest stopped)
		s.withdraw(d, a)
	}
	s.touch(d)
}

// replace is for a singleton waiting for a fence whose placement_labels
// a reload changed (old is its config before): it asks again in the next
// pass, and askFence checks the node's labels against the new ones: an
// eligible node campaigns (its candidate key, if it has one, kept), one
// no longer eligible withdraws, and a grant for the earlier ask is stale.
// (One in its restart delay asks when the delay ends.)
func (s *Supervisor) replace(d *daemon, old *config.Daemon) {
	if !d.pol.Singleton || !old.Singleton() || maps.Equal(old.PlacementLabels, d.cfg.PlacementLabels) ||
		d.rec.State != Starting || d.rec.PID != 0 {
		return
	}
	d.rec.Fencing, d.rec.Granted = false, false
	s.touch(d)
}
