package supervisor

import (
	"fmt"
	"slices"
	"time"

	"github.com/ringrift/ringsup/config"
)

// The Supervisor's side of the events daemons publish themselves
// (emit.go): the requests that carry them to the loop, their checks
// against the config, the drops reports, and the built-in actions of the
// hooks they fire.

type emitRequest struct {
	ms    []Emission
	errs  []error // set by the caller for what it refused already
	reply chan []error
}

func (r *emitRequest) handle(s *Supervisor) {
	r.run(s)
	// The emits waiting behind this one are handled in the same pass of
	// the loop: they change no daemon, and with many daemons the rest of a
	// pass costs more than they do. A request of another kind ends it.
	for range maxEmitsPerPass {
		select {
		case next := <-s.requests:
			e, ok := next.(*emitRequest)
			if !ok {
				next.handle(s)
				return
			}
			e.run(s)
		default:
			return
		}
	}
}

// maxEmitsPerPass bounds how many emit requests one pass handles.
const maxEmitsPerPass = 64

func (r *emitRequest) run(s *Supervisor) {
	now := time.Now()
	for i, m := range r.ms {
		if r.errs[i] == nil {
			r.errs[i] = s.emit(m, now)
		}
	}
	r.reply <- r.errs
}

// Emit publishes m on the event stream, to hooks and subscribers, as
// {"type", "timestamp", "daemon_type", "data"}. It fails, and publishes
// nothing, when the type is ringsup's own or not declared (an
// *config.UnknownEventTypeError), when Data is not a JSON object or is
// larger than MaxEventData, when a daemon's process tries to publish as
// another daemon (*ImpersonationError), and when the publisher is over its
// rate limit (ErrRateLimited; the drop is counted in EVENTS_DROPPED).
func (s *Supervisor) Emit(m Emission) error {
	return s.EmitAll([]Emission{m})[0]
}

// EmitAll is Emit for each of ms, in order, in one pass of the loop: a
// publisher of many events spares a round trip to the loop for each. It
// returns the error of each.
func (s *Supervisor) EmitAll(ms []Emission) []error {
	errs := make([]error, len(ms))
	ms = slices.Clone(ms)
	for i := range ms {
		ms[i].Data, errs[i] = checkEventData(ms[i].Data)
	}
	r := &emitRequest{ms: ms, errs: errs, reply: make(chan []error, 1)}
	if err := s.call(r); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	return <-r.reply
}

// emit checks and publishes m; it runs on the loop.
func (s *Supervisor) emit(m Emission, now time.Time) error {
	t := string(m.Type)
	if config.IsOwnEventType(t) {
		return fmt.Errorf("cannot publish %s: it is one of ringsup's own event types", t)
	}
	if err := s.cfg.Events.CheckType(t); err != nil {
		return fmt.Errorf("cannot publish: %w", err)
	}
	d, err := s.emitSource(m)
	if err != nil {
		return err
	}
	source := ""
	if d != nil {
		source = d.name
	}
	if !s.emits.limits.allow(source, s.cfg.Events.RateLimit, now) {
		return ErrRateLimited
	}
	s.publishOf(source, Event{Type: m.Type, Data: m.Data})
	return nil
}

// emitSource returns the daemon an emission comes from: the one whose
// process leads its process group, else the one it names; nil for none.
func (s *Supervisor) emitSource(m Emission) (*daemon, error) {
	if d := s.byPID[m.Group]; m.Group > 0 && d != nil {
		if m.As != "" && m.As != d.name {
			return nil, &ImpersonationError{Daemon: d.name, As: m.As}
		}
		return d, nil
	}
	if m.As == "" {
		return nil, nil
	}
	d, ok := s.daemons[m.As]
	if !ok {
		return nil, &UnknownDaemonError{Name: m.As}
	}
	return d, nil
}

// publishOf publishes e as an event of the daemon source, or of no daemon
// when source is "" or no longer in the config.
func (s *Supervisor) publishOf(source string, e Event) {
	if d, ok := s.daemons[source]; ok {
		s.publishFor(d, e)
		return
	}
	e.Daemon = source
	s.publishNow(e)
}

// dropsDeadline returns when the first EVENTS_DROPPED is due, or zero.
func (s *Supervisor) dropsDeadline() time.Time {
	var first time.Time
	for _, b := range s.emits.limits {
		first = earliest(first, b.reportAt)
	}
	return first
}

// reportDrops publishes the EVENTS_DROPPED events that are due, and
// forgets the buckets of daemons no longer in the config.
func (s *Supervisor) reportDrops(now time.Time) {
	for _, source := range sortedSources(s.emits.limits) {
		b := s.emits.limits[source]
		if !b.reportAt.IsZero() && !now.Before(b.reportAt) {
			s.publishOf(source, Event{Type: EventsDropped, Dropped: b.dropped})
			b.dropped, b.reportAt = 0, time.Time{}
		}
		if _, ok := s.daemons[source]; !ok && source != "" && b.reportAt.IsZero() {
			delete(s.emits.limits, source)
		}
	}
}

// runHookActions applies the hook actions that the events of the last pass
// fired, as the matching ctl command would; it reports whether there were
// any, so the loop runs another pass to carry them out.
func (s *Supervisor) runHookActions() bool {
	acts := s.hooks.takeActions()
	if len(acts) == 0 {
		return false
	}
	for _, a := range acts {
		err := s.operate(&opRequest{op: a.hook.Action, names: a.hook.Targets})
		if err != nil {
			s.hookFailed(a.hook, a.event, err.Error())
			continue
		}
		s.log.Info("hook applied", "event", string(a.event.Type), "hook", hookName(a.hook))
	}
	return true
}

// hookFailed publishes a hook's failure as HOOK_FAILED (which logs it),
// or only logs it if the hook was fired by a HOOK_FAILED: no failure feeds
// itself.
func (s *Supervisor) hookFailed(h config.Hook, e Event, msg string) {
	if e.Type == HookFailed {
		s.log.Error("hook failed", "event", string(e.Type), "hook", hookName(h), "error", msg)
		return
	}
	s.publishNow(Event{Type: HookFailed, Daemon: e.Daemon, Instance: e.Instance, Hook: hookName(h), Trigger: e.Type, Error: msg})
}
