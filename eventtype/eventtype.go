// Package eventtype spells the lifecycle event types of SPEC.md once: the
// supervisor publishes them (as supervisor.EventType), config checks the
// types a hook listens for, and metrics counts each from the start.
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
)

// All returns every event type, in the order of SPEC.md.
func All() []string {
	return []string{
		DaemonStarted, DaemonStopped, DaemonExited, DaemonRestarting,
		DaemonFailed, DaemonImportFailed, DaemonHealthy, DaemonUnhealthy,
		ConfigReloaded, ConfigReloadFailed, ProfileChanged,
	}
}
