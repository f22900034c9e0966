package supervisor

import "fmt"

// State is where a daemon is in its lifecycle. The names are the contract
// (SPEC.md) and appear in `ctl status` and events.
type State int

// The seven daemon states.
const (
	// Stopped: not running and not wanted; or exited 0 without auto_restart.
	Stopped State = iota
	// Starting: wanted, waiting for its dependencies to be running, or
	// spawned and waiting to be ready.
	Starting
	// Running: its process is up (and ready, when it has a readiness check).
	Running
	// Stopping: its process group was sent stop_signal; waiting for the exit.
	Stopping
	// Failed: it exited unexpectedly with no restarts left, or without
	// auto_restart. Only `restart --force` or a reload brings it back.
	Failed
	// ImportFailed: its command could not be executed (not found, not
	// executable). Only `restart --force` or a reload brings it back.
	ImportFailed
	// Restarting: it exited unexpectedly and waits for its backoff delay.
	Restarting
)

var stateNames = [...]string{
	Stopped:      "stopped",
	Starting:     "starting",
	Running:      "running",
	Stopping:     "stopping",
	Failed:       "failed",
	ImportFailed: "import_failed",
	Restarting:   "restarting",
}

// States lists every state in declaration order.
func States() []State {
	return []State{Stopped, Starting, Running, Stopping, Failed, ImportFailed, Restarting}
}

// String returns the contract's lower-case name, such as "import_failed".
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText encodes the state as its name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown state %q", b)
}
