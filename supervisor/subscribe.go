package supervisor

import (
	"strings"
	"time"

	"github.com/ringrift/ringsup/config"
)

type subscribeRequest struct {
	sub   *subscriber
	reply chan error
}

func (r *subscribeRequest) handle(s *Supervisor) {
	if err := s.checkFilter(r.sub.filter); err != nil {
		r.reply <- err
		return
	}
	s.events.subs[r.sub] = struct{}{}
	r.reply <- nil
}

type unsubscribeRequest struct{ sub *subscriber }

func (r *unsubscribeRequest) handle(s *Supervisor) { s.dropSubscriber(r.sub) }

// Subscribe returns a channel that receives every event from now on, and a
// function that ends the subscription. It may be called before Run: the
// subscriber then also sees the events of start-up. A subscriber that falls
// Options.EventBuffer events behind is dropped: its channel is closed, and
// the supervisor never waits for it. The channel is also closed when Run
// returns, or at once if Run has already returned.
func (s *Supervisor) Subscribe() (<-chan Event, func()) {
	ch, cancel, _ := s.SubscribeFilter(EventFilter{}) // no filter, no error
	return ch, cancel
}

// SubscribeFilter is Subscribe for the events that pass f only: the others
// are never queued for this subscriber, so they cannot make it fall
// behind. Once Run has started, a type in f that is neither ringsup's own
// nor declared (*config.UnknownEventTypeError) or an unknown daemon
// (*UnknownDaemonError) is an error, and nothing is subscribed.
func (s *Supervisor) SubscribeFilter(f EventFilter) (<-chan Event, func(), error) {
	sub := &subscriber{ch: make(chan Event, s.opts.EventBuffer), filter: f}
	cancel := func() { _ = s.call(&unsubscribeRequest{sub: sub}) }
	// Before Run, the subscriber is handed to Run, so that it sees the
	// events of start-up too.
	early := &s.events.early
	early.Lock()
	if !early.started {
		early.subs = append(early.subs, sub)
		early.Unlock()
		return sub.ch, cancel, nil
	}
	early.Unlock()
	r := &subscribeRequest{sub: sub, reply: make(chan error, 1)}
	if err := s.call(r); err != nil {
		close(sub.ch)
		return sub.ch, func() {}, nil
	}
	if err := <-r.reply; err != nil {
		return nil, nil, err
	}
	return sub.ch, cancel, nil
}

// takeEarlySubscribers registers the subscribers made before Run; from now
// on Subscribe goes through the loop.
func (s *Supervisor) takeEarlySubscribers() {
	early := &s.events.early
	early.Lock()
	defer early.Unlock()
	early.started = true
	for _, sub := range early.subs {
		s.events.subs[sub] = struct{}{}
	}
	early.subs = nil
}

func (s *Supervisor) dropSubscriber(sub *subscriber) {
	if _, ok := s.events.subs[sub]; ok {
		delete(s.events.subs, sub)
		close(sub.ch)
	}
}

// publishFor publishes e as an event of daemon d, stamped with the time.
func (s *Supervisor) publishFor(d *daemon, e Event) {
	e.Daemon, e.Instance = d.name, instanceOf(d)
	s.publishNow(e)
}

// publishNow publishes e stamped with the current time. The loop hands it
// out at the end of its pass (flushEvents), in order, after what the pass
// started: logging an event costs more than spawning a process, and a
// restart should not wait for the log line of the exit.
func (s *Supervisor) publishNow(e Event) {
	e.Timestamp = unixSeconds(time.Now())
	s.events.pending = append(s.events.pending, e)
}

// flushEvents publishes the events of the loop's pass.
func (s *Supervisor) flushEvents() {
	for i := 0; i < len(s.events.pending); i++ { // publishing may add more
		s.publish(s.events.pending[i])
	}
	clear(s.events.pending)
	s.events.pending = s.events.pending[:0]
}

// publish logs e and hands it to every subscriber, dropping those whose
// buffer is full.
func (s *Supervisor) publish(e Event) {
	s.logEvent(e)
	s.hooks.fire(s.cfg.Hooks, s.cfg.Dir, e, time.Now())
	for sub := range s.events.subs {
		if !sub.filter.Match(e) {
			continue
		}
		select {
		case sub.ch <- e:
		default:
			s.log.Warn("dropping a slow event subscriber", "buffer", cap(sub.ch))
			s.dropSubscriber(sub)
		}
	}
}

func (s *Supervisor) closeSubscribers() {
	for sub := range s.events.subs {
		s.dropSubscriber(sub)
	}
}

// logEvent writes e to the supervisor's log with its fields.
func (s *Supervisor) logEvent(e Event) {
	args := []any{"event", string(e.Type)}
	if e.Daemon != "" {
		args = append(args, "daemon", e.Daemon)
	}
	if e.PID != 0 {
		args = append(args, "pid", e.PID)
	}
	if e.ExitCode != nil {
		args = append(args, "exit_code", *e.ExitCode)
	}
	if e.Signal != "" {
		args = append(args, "signal", e.Signal)
	}
	if e.RestartCount != nil {
		args = append(args, "restart_count", *e.RestartCount)
	}
	if e.DelayS != nil {
		args = append(args, "delay_s", *e.DelayS)
	}
	if e.Dropped != 0 {
		args = append(args, "dropped", e.Dropped)
	}
	if e.Hook != "" {
		args = append(args, "hook", e.Hook, "trigger", string(e.Trigger))
	}
	if e.Node != "" {
		args = append(args, "node", e.Node)
	}
	if e.Fence != nil {
		args = append(args, "fence", *e.Fence)
	}
	if e.Reason != "" {
		args = append(args, "reason", e.Reason)
	}
	if e.Error != "" {
		args = append(args, "error", e.Error)
	}
	if sum := e.ReloadSummary; sum != nil {
		// The one line that says what a reload does, before it does it.
		for _, kv := range []struct {
			key   string
			names []string
		}{{"added", sum.Added}, {"removed", sum.Removed}, {"restarted", sum.Restarted}, {"updated", sum.Updated}} {
			if len(kv.names) > 0 {
				args = append(args, kv.key, strings.Join(kv.names, ","))
			}
		}
	}
	switch e.Type {
	case DaemonFailed, DaemonImportFailed, ConfigReloadFailed, HookFailed:
		s.log.Error("event", args...)
	case DaemonExited, DaemonUnhealthy, EventsDropped:
		s.log.Warn("event", args...)
	default:
		if len(e.Data) > 0 { // a daemon's own: up to rate_limit a second each
			s.log.Debug("event", args...)
			return
		}
		s.log.Info("event", args...)
	}
}

// checkFilter reports a type of f that is neither ringsup's own nor
// declared, or a daemon f names that the config does not have.
func (s *Supervisor) checkFilter(f EventFilter) error {
	for _, t := range f.Types {
		if !config.IsOwnEventType(string(t)) {
			if err := s.cfg.Events.CheckType(string(t)); err != nil {
				return err
			}
		}
	}
	_, err := s.lookup(f.Daemons)
	return err
}
