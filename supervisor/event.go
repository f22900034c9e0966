package supervisor

import (
	"encoding/json"
	"time"

	"github.com/ringrift/ringsup/eventtype"
)

// EventType names a lifecycle event. The names are the contract (SPEC.md),
// spelled once in package eventtype.
type EventType string

// The event types of SPEC.md.
const (
	DaemonStarted      EventType = eventtype.DaemonStarted
	DaemonStopped      EventType = eventtype.DaemonStopped
	DaemonExited       EventType = eventtype.DaemonExited
	DaemonRestarting   EventType = eventtype.DaemonRestarting
	DaemonFailed       EventType = eventtype.DaemonFailed
	DaemonImportFailed EventType = eventtype.DaemonImportFailed
	DaemonHealthy      EventType = eventtype.DaemonHealthy
	DaemonUnhealthy    EventType = eventtype.DaemonUnhealthy
	ConfigReloaded     EventType = eventtype.ConfigReloaded
	ConfigReloadFailed EventType = eventtype.ConfigReloadFailed
	// ProfileChanged is published when SetProfile switched the active
	// profile; its Profile field names the new one.
	ProfileChanged EventType = eventtype.ProfileChanged
)

// EventTypes returns every event type, in the order of SPEC.md.
func EventTypes() []EventType {
	all := eventtype.All()
	out := make([]EventType, len(all))
	for i, t := range all {
		out[i] = EventType(t)
	}
	return out
}

// Event is one lifecycle event. It marshals to the JSON of SPEC.md: type,
// timestamp (Unix seconds) and, for daemon events, daemon_type, plus the
// fields of its type. Fields that do not belong to the type are omitted.
type Event struct {
	Type      EventType `json:"type"`
	Timestamp float64   `json:"timestamp"`
	Daemon    string    `json:"daemon_type,omitempty"`
	// Instance is the instance's number n when Daemon is an instance
	// NAME@n.
	Instance *int `json:"instance,omitempty"`

	// PID is set on DAEMON_STARTED.
	PID int `json:"pid,omitempty"`
	// ExitCode or Signal is set on DAEMON_EXITED, and on DAEMON_STOPPED
	// when the daemon had a process that exited.
	ExitCode *int   `json:"exit_code,omitempty"`
	Signal   string `json:"signal,omitempty"`
	// RestartCount and DelayS are set on DAEMON_RESTARTING; RestartCount
	// counts the restart being announced.
	RestartCount *int     `json:"restart_count,omitempty"`
	DelayS       *float64 `json:"delay_s,omitempty"`
	// Profile is set on PROFILE_CHANGED.
	Profile string `json:"profile,omitempty"`
	// Error is set on DAEMON_FAILED, DAEMON_IMPORT_FAILED,
	// CONFIG_RELOAD_FAILED and HOOK_FAILED, and on DAEMON_STOPPED when a
	// dependency failed.
	Error string `json:"error,omitempty"`
	// Node and Fence are set on SINGLETON_ACQUIRED: the node that holds
	// the singleton and its fence token. Reason is set on SINGLETON_LOST.
	Node   string `json:"node,omitempty"`
	Fence  *int64 `json:"fence,omitempty"`
	Reason string `json:"reason,omitempty"`

	// Data is the payload of a custom event (ctl emit): a JSON object.
	Data json.RawMessage `json:"data,omitempty"`
	// Dropped is set on EVENTS_DROPPED: how many events a rate limit
	// refused since the last report. The daemon's, when Daemon is set; of
	// the publishers outside any daemon, when not. In cluster mode the
	// node reports the events its own limit kept out of etcd the same way,
	// with no daemon_type (package cluster).
	Dropped int `json:"dropped,omitempty"`
	// Hook and Trigger are set on HOOK_FAILED: the hook (its command, or
	// its action and targets) and the type of the event that fired it.
	Hook    string    `json:"hook,omitempty"`
	Trigger EventType `json:"trigger,omitempty"`

	// The daemons a reload changed, on CONFIG_RELOADED: its four lists
	// are inlined in the JSON (added, removed, restarted, updated).
	*ReloadSummary
}

// Time returns the event's timestamp as a time.Time.
func (e Event) Time() time.Time {
	sec := int64(e.Timestamp)
	return time.Unix(sec, int64((e.Timestamp-float64(sec))*1e9))
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

// ReloadSummary is what a reload changed, by daemon name; every list is
// sorted and never nil. It is the body of CONFIG_RELOADED.
type ReloadSummary struct {
	// Added daemons are new in the file.
	Added []string `json:"added"`
	// Removed daemons left the file; they are stopped and forgotten.
	Removed []string `json:"removed"`
	// Restarted daemons changed how they run and were restarted (with
	// their dependents), or were failed and get a new chance.
	Restarted []string `json:"restarted"`
	// Updated daemons changed settings that apply in place, or runtime
	// settings that take effect at their next start.
	Updated []string `json:"updated"`
}
