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

// This file holds the types and pure parts of the events daemons publish
// themselves (ctl emit): their checks, the rate limit and what it drops,
// filtered subscriptions and hook actions. The Supervisor's side, which
// carries them through the loop, is in emitting.go.

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

// earliest returns the earlier of two deadlines, of which zero is none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
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

// hookMatches reports whether hook h fires for e.
func hookMatches(h config.Hook, e Event) bool {
	return slices.Contains(h.Events, string(e.Type)) &&
		(len(h.Daemons) == 0 || e.of(h.Daemons))
}
