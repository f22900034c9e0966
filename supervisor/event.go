package supervisor

import (
	"encoding/json"
	"time"
)

// EventType names a lifecycle event. The names are the contract (SPEC.md).
type EventType string

// The event types of SPEC.md.
const (
	DaemonStarted      EventType = "DAEMON_STARTED"
	DaemonStopped      EventType = "DAEMON_STOPPED"
	DaemonExited       EventType = "DAEMON_EXITED"
	DaemonRestarting   EventType = "DAEMON_RESTARTING"
	DaemonFailed       EventType = "DAEMON_FAILED"
	DaemonImportFailed EventType = "DAEMON_IMPORT_FAILED"
	DaemonHealthy      EventType = "DAEMON_HEALTHY"
	DaemonUnhealthy    EventType = "DAEMON_UNHEALTHY"
	ConfigReloaded     EventType = "CONFIG_RELOADED"
	ConfigReloadFailed EventType = "CONFIG_RELOAD_FAILED"
)

// Event is one lifecycle event. It marshals to the JSON of SPEC.md: type,
// timestamp (Unix seconds) and, for daemon events, daemon_type, plus the
// fields of its type. Fields that do not belong to the type are omitted.
type Event struct {
	Type      EventType `json:"type"`
	Timestamp float64   `json:"timestamp"`
	Daemon    string    `json:"daemon_type,omitempty"`

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
	// Error is set on DAEMON_FAILED, DAEMON_IMPORT_FAILED and
	// CONFIG_RELOAD_FAILED, and on DAEMON_STOPPED when a dependency failed.
	Error string `json:"error,omitempty"`

	// Data is the payload of a custom event (ctl emit): a JSON object.
	Data json.RawMessage `json:"data,omitempty"`
	// Dropped is set on EVENTS_DROPPED: how many events of the daemon
	// the rate limit refused.
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
