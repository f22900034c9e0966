package supervisor

type profileRequest struct {
	name  string
	reply chan error
}

func (r *profileRequest) handle(s *Supervisor) { r.reply <- s.setProfile(r.name) }

// SetProfile makes name the active profile: the daemons that leave it stop
// (dependents first), those that join it start (dependencies first), and
// the others are left alone. An unknown profile gives a
// *config.UnknownProfileError and changes nothing. The profile stays active
// across reloads.
func (s *Supervisor) SetProfile(name string) error {
	r := &profileRequest{name: name, reply: make(chan error, 1)}
	if err := s.call(r); err != nil {
		return err
	}
	return <-r.reply
}

func (s *Supervisor) setProfile(name string) error {
	if s.life.shuttingDown {
		return ErrShuttingDown
	}
	sel, err := selectProfile(s.cfg, name)
	if err != nil {
		return err
	}
	wasActive := s.sel.active
	s.sel = sel
	s.applyMembership(wasActive)
	s.log.Info("profile changed", "profile", sel.name)
	s.publishNow(Event{Type: ProfileChanged, Profile: sel.name})
	return nil
}
