package supervisor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/eventtype"
)

// This file holds the events daemons publish themselves (ctl emit): their
// checks, the rate limit and what it drops, and filtered subscriptions.

// The event types of daemon events (SPEC.md, "Daemon events").
const (
	// EventsDropped reports how many events of a publisher the rate
	// limit refused, at most once a second per publisher.
	EventsDropped EventType = eventtype.EventsDropped
	// HookFailed reports a hook whose command failed or timed out, or
	// whose action was refused.
	HookFailed EventType = eventtype.HookFailed
)

// MaxEventData is the largest Data an Emission may have, in bytes.
const MaxEventData = 64 << 10

// dropReportDelay is how long drops are counted before an EVENTS_DROPPED
// reports them.
const dropReportDelay = time.Second

// Emission is an event a client publishes.
type Emission struct {
	// Type is one of the custom types of the config's [events].
	Type EventType
	// Data is a JSON object of at most MaxEventData bytes; empty means {}.
	Data json.RawMessage
	// Group is the process group of the publishing process (0: none
	// known). The daemon whose process leads that group is the event's
	// source, its daemon_type.
	Group int
	// As names the source daemon of a publisher that is in no daemon's
	// process group, or its own daemon. The caller decides who may use it.
	As string
}

// ImpersonationError reports a daemon that tried to publish an event as
// another daemon.
type ImpersonationError struct{ Daemon, As string }

func (e *ImpersonationError) Error() string {
	return fmt.Sprintf("cannot publish as %q: the publisher belongs to daemon %q", e.As, e.Daemon)
}

// ErrRateLimited is returned by Emit when the publisher's rate limit
// refused the event.
var ErrRateLimited = fmt.Errorf("cannot publish: rate limit exceeded; the event was dropped")

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

// checkEventData returns data, compact and HTML-escaped as json.Marshal
// writes it, or {} when empty, if it is a JSON object of at most
// MaxEventData bytes.
func checkEventData(data json.RawMessage) (json.RawMessage, error) {
	if len(data) > MaxEventData {
		return nil, fmt.Errorf("cannot publish: data is %d bytes, more than the limit of %d", len(data), MaxEventData)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return json.RawMessage("{}"), nil
	}
	var compact bytes.Buffer
	if trimmed[0] != '{' || json.Compact(&compact, trimmed) != nil {
		return nil, fmt.Errorf("cannot publish: data must be a JSON object")
	}
	// As json.Marshal writes it, so that it can be copied as it is.
	var escaped bytes.Buffer
	json.HTMLEscape(&escaped, compact.Bytes())
	return escaped.Bytes(), nil
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

// emitter is what the loop keeps for the events daemons publish: each
// publisher's rate limit, and the control sockets of the daemons that run
// as another user (usersocket.go).
type emitter struct {
	limits  emitLimits
	sockets userSockets // by daemon name
}

// emitLimits holds the rate limit of each publisher, by source daemon
// ("" for publishers outside any daemon). Only the loop touches it.
type emitLimits map[string]*bucket

// bucket is one publisher's token bucket and the drops not yet reported.
type bucket struct {
	tokens   float64
	last     time.Time
	dropped  int
	reportAt time.Time // when to publish EVENTS_DROPPED; zero when none dropped
}

// allow takes a token of source's bucket, refilled at rate a second up to
// rate; at rate 0 everything is allowed. A refused event is counted.
func (l *emitLimits) allow(source string, rate int, now time.Time) bool {
	if rate <= 0 {
		return true
	}
	if *l == nil {
		*l = make(emitLimits)
	}
	b := (*l)[source]
	if b == nil {
		b = &bucket{tokens: float64(rate), last: now}
		(*l)[source] = b
	}
	b.tokens = min(float64(rate), b.tokens+now.Sub(b.last).Seconds()*float64(rate))
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	if b.dropped == 0 {
		b.reportAt = now.Add(dropReportDelay)
	}
	b.dropped++
	return false
}

// dropsDeadline returns when the first EVENTS_DROPPED is due, or zero.
func (s *Supervisor) dropsDeadline() time.Time {
	var first time.Time
	for _, b := range s.emits.limits {
		first = earliest(first, b.reportAt)
	}
	return first
}

// earliest returns the earlier of two deadlines, of which zero is none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
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

func sortedSources(l emitLimits) []string {
	out := make([]string, 0, len(l))
	for k := range l {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// EventFilter selects events: those of one of Types (all when empty) and,
// when Daemons is not empty, of one of those daemons (their daemon_type;
// a daemon with instances stands for each of them).
type EventFilter struct {
	Types   []EventType
	Daemons []string
}

// Match reports whether e passes f.
func (f EventFilter) Match(e Event) bool {
	return (len(f.Types) == 0 || slices.Contains(f.Types, e.Type)) &&
		(len(f.Daemons) == 0 || e.of(f.Daemons))
}

// of reports whether e is an event of one of the daemons names: of one
// of them, or of an instance of one.
func (e Event) of(names []string) bool {
	if slices.Contains(names, e.Daemon) {
		return true
	}
	if e.Instance == nil {
		return false
	}
	name, _, _ := config.SplitInstance(e.Daemon)
	return slices.Contains(names, name)
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

// hookAction is a built-in action of a hook, waiting to be applied.
type hookAction struct {
	hook  config.Hook
	event Event
}

// hookName describes h in logs and HOOK_FAILED: its command, or its
// action and targets ("restart selfplay").
func hookName(h config.Hook) string {
	if h.Action != "" {
		return h.Action + " " + strings.Join(h.Targets, " ")
	}
	return strings.Join(h.Command, " ")
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

// hookMatches reports whether hook h fires for e.
func hookMatches(h config.Hook, e Event) bool {
	return slices.Contains(h.Events, string(e.Type)) &&
		(len(h.Daemons) == 0 || e.of(h.Daemons))
}
