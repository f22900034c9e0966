package supervisor

// A reload that makes a singleton local (placement changed from
// "singleton") is a stop of the singleton's copy and a start of the local
// daemon. The copy must stop as the singleton it is: its guard released
// once it is gone, its fence and candidacy kept until then, the cluster's
// verdicts still applied to it. So the daemon keeps its singleton policy
// until its copy is gone; then its node withdraws (SINGLETON_LOST,
// stopped, if it held the singleton) and the daemon takes its new policy.

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
	var a action
	d.rec, a = withdraw(d.rec, LostStopped)
	d.pol, d.local = *d.local, nil
	s.withdraw(d, a)
}
