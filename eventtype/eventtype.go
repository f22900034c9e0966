// Package eventtype spells ringsup's own event types of SPEC.md once: the
// supervisor publishes them (as supervisor.EventType), config checks the
// types a hook listens for and keeps custom types from taking their names,
// metrics counts each from the start, and cluster reports its drops with
// EventsDropped.
package eventtype

// The event types of SPEC.md.
const (
	DaemonStarted      = "DAEMON_STARTED"
	DaemonStopped      = "DAEMON_STOPPED"
	DaemonExited       = "DAEMON_EXITED"
	DaemonRestarting   = "DAEMON_RESTARTING"
	DaemonFailed       = "DAEMON_FAILED"
	DaemonImportFailed = "DAEMON_IMPORT_FAILED"
	DaemonHealthy      = "DAEMON_HEALTHY"
	DaemonUnhealthy    = "DAEMON_UNHEALTHY"
	ConfigReloaded     = "CONFIG_RELOADED"
	ConfigReloadFailed = "CONFIG_RELOAD_FAILED"
	ProfileChanged     = "PROFILE_CHANGED"
	// EventsDropped reports, in its dropped field, how many events a rate
	// limit refused: a publisher's (ctl emit), or in cluster mode the
	// node's limit on the events it puts to etcd.
	EventsDropped = "EVENTS_DROPPED"
	// HookFailed reports a hook whose command failed or timed out, or
	// whose action was refused.
	HookFailed = "HOOK_FAILED"
	// SingletonAcquired and SingletonLost: a node took or gave up a
	// singleton daemon (cluster mode).
	SingletonAcquired = "SINGLETON_ACQUIRED"
	SingletonLost     = "SINGLETON_LOST"
)

// All returns every event type, in the order of SPEC.md.
func All() []string {
	return []string{
		DaemonStarted, DaemonStopped, DaemonExited, DaemonRestarting,
		DaemonFailed, DaemonImportFailed, DaemonHealthy, DaemonUnhealthy,
		ConfigReloaded, ConfigReloadFailed, ProfileChanged,
		EventsDropped, HookFailed,
		SingletonAcquired, SingletonLost,
	}
}
