package config

import (
	"maps"
	"slices"
)

// Diff is what changed between two configs, daemon by daemon. Each list is
// sorted and never nil.
type Diff struct {
	// Added daemons are in the new config only.
	Added []string
	// Removed daemons are in the old config only.
	Removed []string
	// Runtime daemons changed how their process runs (command, env,
	// working_dir, user, stop_signal, stop_timeout, ready,
	// placement, placement_labels): a running one must
	// restart for the change to take effect.
	Runtime []string
	// Policy daemons changed only settings that apply in place (restart
	// policy, dependencies, health timing, logs, description).
	Policy []string
	// Unchanged daemons are the same in both.
	Unchanged []string
	// Profiles reports whether any profile's members or the default
	// profile changed.
	Profiles bool
	// NeedRestart names the [supervisor] settings that changed but cannot
	// change while the supervisor runs, such as "socket" and "log_dir".
	NeedRestart []string
}

// Compare returns what changed from old to new.
func Compare(old, new *Config) Diff {
	d := Diff{
		Added: []string{}, Removed: []string{}, Runtime: []string{},
		Policy: []string{}, Unchanged: []string{}, NeedRestart: []string{},
	}
	for _, name := range new.Names() {
		before, ok := old.Daemons[name]
		after := new.Daemons[name]
		switch {
		case !ok:
			d.Added = append(d.Added, name)
		case !sameRuntime(before, after):
			d.Runtime = append(d.Runtime, name)
		case !samePolicy(before, after):
			d.Policy = append(d.Policy, name)
		default:
			d.Unchanged = append(d.Unchanged, name)
		}
	}
	for _, name := range old.Names() {
		if _, ok := new.Daemons[name]; !ok {
			d.Removed = append(d.Removed, name)
		}
	}
	d.Profiles = old.Supervisor.DefaultProfile != new.Supervisor.DefaultProfile ||
		!maps.EqualFunc(old.Profiles, new.Profiles, slices.Equal)
	if old.Supervisor.Socket != new.Supervisor.Socket {
		d.NeedRestart = append(d.NeedRestart, "socket")
	}
	if old.Supervisor.LogDir != new.Supervisor.LogDir {
		d.NeedRestart = append(d.NeedRestart, "log_dir")
	}
	if old.Supervisor.Metrics != new.Supervisor.Metrics {
		d.NeedRestart = append(d.NeedRestart, "metrics")
	}
	return d
}

// sameRuntime reports whether a and b run their process the same way.
func sameRuntime(a, b *Daemon) bool {
	return slices.Equal(a.Command, b.Command) &&
		maps.Equal(a.Env, b.Env) &&
		a.WorkingDir == b.WorkingDir &&
		a.User == b.User &&
		a.StopSignal == b.StopSignal &&
		a.StopTimeout == b.StopTimeout &&
		a.Ready == b.Ready &&
		a.Type == b.Type &&
		a.Placement == b.Placement &&
		maps.Equal(a.PlacementLabels, b.PlacementLabels) &&
		maps.Equal(a.Rlimits, b.Rlimits) &&
		(a.Umask == nil) == (b.Umask == nil) && (a.Umask == nil || *a.Umask == *b.Umask)
}

// samePolicy reports whether a and b, which run the same way, also agree
// on everything else.
func samePolicy(a, b *Daemon) bool {
	return a.Description == b.Description &&
		slices.Equal(a.DependsOn, b.DependsOn) &&
		a.AutoRestart == b.AutoRestart &&
		a.MaxRestarts == b.MaxRestarts &&
		a.BackoffMin == b.BackoffMin &&
		a.BackoffMax == b.BackoffMax &&
		a.BackoffJitter == b.BackoffJitter &&
		a.StableAfter == b.StableAfter &&
		sameHealth(a.Health, b.Health) &&
		a.Watchdog == b.Watchdog &&
		a.LogMaxSize == b.LogMaxSize &&
		a.LogMaxFiles == b.LogMaxFiles &&
		a.LogTimestamps == b.LogTimestamps
}

func sameHealth(a, b *Health) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.Exec, b.Exec) && a.HTTP == b.HTTP && a.TCP == b.TCP &&
		a.Interval == b.Interval && a.Timeout == b.Timeout && a.Retries == b.Retries &&
		a.StartPeriod == b.StartPeriod && a.OnUnhealthy == b.OnUnhealthy
}
