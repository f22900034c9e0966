package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ringrift/ringsup/eventtype"
)

// Events holds the settings of the [events] table: the custom event types
// daemons may publish with `ringsup ctl emit`, and how fast.
type Events struct {
	// Types are the custom event types the node accepts, as written. Each
	// matches EventTypePattern and is none of ringsup's own types.
	Types []string
	// RateLimit is how many events a second each daemon may publish, with
	// bursts of as many; the events beyond it are refused and counted in
	// an EVENTS_DROPPED event. Publishers outside any daemon share one
	// such limit. 0 means no limit. Default: 100.
	RateLimit int
	// SubscriberBuffer is how many events a subscriber of the event
	// stream (ctl events, a client) may fall behind before it is dropped;
	// each subscriber holds room for that many. Read at start-up only.
	// 0 (the default) means the supervisor's default, 1024.
	SubscriberBuffer int
}

// EventTypePattern is the pattern custom event types must match.
const EventTypePattern = "^[A-Z][A-Z0-9_]*$"

// The built-in actions of a hook, which are also the keys that set them:
// restart = ["selfplay"].
const (
	ActionStart   = "start"
	ActionStop    = "stop"
	ActionRestart = "restart"
)

// hookActionKeys are the keys of [[hooks]] of which exactly one must be
// set.
func hookActionKeys() []string {
	return []string{"command", ActionRestart, ActionStart, ActionStop}
}

// eventsFields lists the keys of [events]. Defaults are in defaultEvents.
func eventsFields() []field[Events] {
	return []field[Events]{
		{"types", kindStrings, false, nil, func(e *Events, v any) { e.Types = v.([]string) }},
		{"rate_limit", kindInt, false, atLeast(0), func(e *Events, v any) { e.RateLimit = v.(int) }},
		{"subscriber_buffer", kindInt, false, atLeast(0), func(e *Events, v any) { e.SubscriberBuffer = v.(int) }},
	}
}

func defaultEvents() Events {
	return Events{RateLimit: 100}
}

// Declared reports whether t is one of the custom event types.
func (e Events) Declared(t string) bool { return slices.Contains(e.Types, t) }

// CheckType returns nil if t is one of the custom types, and otherwise an
// *UnknownEventTypeError.
func (e Events) CheckType(t string) error {
	if e.Declared(t) {
		return nil
	}
	return &UnknownEventTypeError{Type: t, Declared: slices.Clone(e.Types)}
}

// UnknownEventTypeError reports an event type that is not declared in
// [events] types.
type UnknownEventTypeError struct {
	Type     string   // the type asked for
	Declared []string // the custom types, as written
}

// Error returns `undeclared event type "X" (did you mean "Y"?)` when a
// declared type is close, and otherwise lists the declared types.
func (e *UnknownEventTypeError) Error() string {
	switch {
	case len(e.Declared) == 0:
		return fmt.Sprintf("undeclared event type %q (no [events] types declared)", e.Type)
	case closest(e.Type, e.Declared) != "":
		return fmt.Sprintf("undeclared event type %q%s", e.Type, suggest(e.Type, e.Declared))
	}
	return fmt.Sprintf("undeclared event type %q (declared: %s)", e.Type, strings.Join(e.Declared, ", "))
}

// IsOwnEventType reports whether t is one of ringsup's own event types,
// which no daemon may publish and no custom type may be named.
func IsOwnEventType(t string) bool { return slices.Contains(eventtype.All(), t) }

// validEventType reports whether s matches EventTypePattern.
func validEventType(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// checkEventTypes reports the custom types at k that are malformed, one of
// ringsup's own, or declared twice.
func (p *parser) checkEventTypes(k keyPath, types []string) {
	for i, t := range types {
		ek := k.index(i)
		switch {
		case !validEventType(t):
			p.errorAt(ek, fmt.Sprintf("%s: invalid event type %q: must match %s", k, t, EventTypePattern))
		case IsOwnEventType(t):
			p.errorAt(ek, fmt.Sprintf("%s: %q is one of ringsup's own event types", k, t))
		case slices.Index(types, t) < i:
			p.errorAt(ek, fmt.Sprintf("%s: %q is declared twice", k, t))
		}
	}
}

// checkHookAction reports a hook, the table t at k, that has none or more
// than one of command, restart, start and stop.
func (p *parser) checkHookAction(k keyPath, t map[string]any) {
	switch set := p.keysSet(k, t, hookActionKeys()); {
	case len(set) == 0:
		p.errorf(k, "no action: set one of command, restart, start or stop")
	case len(set) > 1:
		p.errorAt(k.key(set[1]), fmt.Sprintf("%s: more than one action (%s): set only one", k, strings.Join(set, ", ")))
	}
}

// checkHookDaemons reports the daemon names of hooks (their daemons filter
// and the targets of their action) that name no daemon. names are
// c.Names().
func (p *parser) checkHookDaemons(c *Config, names []string) {
	for i, h := range c.Hooks {
		k := keyPath{"hooks"}.index(i)
		check := func(key string, list []string) {
			for _, n := range list {
				if _, ok := c.Daemons[n]; !ok {
					p.errorf(k.key(key), "unknown daemon %q%s", n, suggest(n, names))
				}
			}
		}
		check("daemons", h.Daemons)
		if h.Action != "" {
			check(h.Action, h.Targets)
		}
	}
}
