// Package config loads and validates ringsup's configuration file.
//
// The configuration is one TOML file with a [supervisor] table, a [profiles]
// table, one [daemons.NAME] table per daemon, an [events] table and any
// number of [[hooks]].
// [Parse] decodes it, fills in every default and checks it whole: it returns
// either a complete *[Config] or an [ErrorList] holding every problem it found,
// each positioned FILE:LINE:COL and sorted by position. Relative paths in the
// file are resolved against the file's directory, so a *Config holds only
// absolute paths.
//
// The package is pure: it reads the file in [Load] and touches nothing else.
package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ringrift/ringsup/depgraph"
)

// Config is a loaded and validated configuration file. Every default has been
// filled in and every relative path resolved against Dir.
type Config struct {
	// Path is the absolute path of the file loaded.
	Path string
	// Dir is Path's directory; relative paths in the file resolve against it.
	Dir string

	// Supervisor holds the [supervisor] settings.
	Supervisor Supervisor
	// Profiles maps a profile name to its daemons' names, as written.
	Profiles map[string][]string
	// Daemons maps a daemon's name to its settings. A daemon with an
	// instances key is there as its instances, NAME@0 to NAME@N-1, each with
	// ${RINGSUP_INSTANCE} expanded.
	Daemons map[string]*Daemon
	// Templates maps the name of each daemon with an instances key to its
	// settings as written, before expansion.
	Templates map[string]*Daemon
	// Events holds the [events] settings: the custom event types daemons
	// may publish.
	Events Events
	// Hooks lists the [[hooks]] in file order.
	Hooks []Hook
	// Cluster holds the [cluster] settings; nil without the table.
	Cluster *Cluster

	// graph is the dependency graph of Daemons, built by Parse.
	graph *depgraph.Graph
}

// Supervisor holds the supervisor-wide settings of the [supervisor] table.
// The durations other than HealthInterval are also the defaults of the
// daemons' settings of the same name; HealthInterval is the default interval
// of health checks.
type Supervisor struct {
	// Socket is the absolute path of the control socket.
	// Default: ringsup.sock in Dir.
	Socket string
	// LogDir is the absolute path of the directory daemons' logs go to.
	// Default: logs in Dir.
	LogDir string
	// DefaultProfile is the profile run when none is named on the command
	// line. Empty means every daemon.
	DefaultProfile string
	// Watch reports whether the supervisor reloads the file when it changes.
	// Default: true.
	Watch bool

	// StopTimeout is how long a stopped daemon has to exit after its stop
	// signal before its process group is killed. Default: 10s.
	StopTimeout time.Duration
	// BackoffMin is the delay before the first restart of a daemon that
	// exited unexpectedly; each further restart doubles it. Default: 1s.
	BackoffMin time.Duration
	// BackoffMax caps the restart delay. Default: 5m.
	BackoffMax time.Duration
	// BackoffJitter spreads each restart delay uniformly within
	// ±BackoffJitter of itself (0.2: ±20%), so that a fleet of nodes does
	// not restart in lockstep. From 0 (the default) to 1.
	BackoffJitter float64
	// StableAfter is how long a daemon must stay running for its restart
	// count to reset to 0. Default: 1h.
	StableAfter time.Duration
	// HealthInterval is the default time between two health probes.
	// Default: 30s.
	HealthInterval time.Duration
	// Metrics is the host:port on which Prometheus metrics are served at
	// /metrics, such as "127.0.0.1:9273". Empty (the default): none.
	Metrics string

	// LogMaxSize, LogMaxFiles and LogTimestamps are the defaults of the
	// daemons' settings of the same name. Defaults: 10 MiB, 5, false.
	LogMaxSize    int64
	LogMaxFiles   int
	LogTimestamps bool
}

// Daemon holds the settings of one [daemons.NAME] table.
type Daemon struct {
	// Name is the daemon's name: the NAME of its table, or NAME@n for
	// instance n of a daemon with an instances key.
	Name string
	// Template is the NAME of the daemon's table: Name without its "@n".
	Template string
	// Instances is the value of the instances key: how many copies of the
	// daemon run, instances NAME@0 to NAME@N-1 (each with its own state,
	// process, restarts, health and log). 0 when the table has no
	// instances key: the daemon runs once, named NAME.
	Instances int
	// Instance is the instance's number n, from 0, when Instances > 0.
	Instance int
	// Description is free text for humans.
	Description string
	// Type is TypeDaemon (the default), a long-running process, or
	// TypeOneshot, a command that is done once it exits 0; its dependents
	// start after it is done.
	Type string
	// Command is the argv the daemon runs. The array form of the key is used
	// as written; the string form becomes {"/bin/sh", "-c", s}. A relative
	// Command[0] containing a slash, such as "./bin/x", has been resolved
	// against Dir; a bare name such as "sleep" is left for a PATH lookup.
	Command []string
	// DependsOn names the daemons that must be running before this one
	// starts, as written: a daemon with instances stands for all of them.
	DependsOn []string
	// AutoRestart reports whether an unexpected exit restarts the daemon.
	// Default: true.
	AutoRestart bool
	// MaxRestarts is how many restarts in a row the daemon gets before it
	// fails for good. Default: 5; never negative.
	MaxRestarts int
	// BackoffMin, BackoffMax and StableAfter are the daemon's restart
	// policy, as for [Supervisor]. Default: the [supervisor] values.
	BackoffMin, BackoffMax, StableAfter time.Duration
	// BackoffJitter is as for [Supervisor]. Default: the [supervisor] value.
	BackoffJitter float64
	// StopSignal is sent to the daemon's process group to stop it.
	// Default: SIGTERM.
	StopSignal syscall.Signal
	// StopTimeout is how long the daemon has to exit after StopSignal before
	// its process group gets SIGKILL. Default: the [supervisor] value.
	StopTimeout time.Duration
	// WorkingDir is the absolute directory the daemon runs in. Default: Dir.
	WorkingDir string
	// Env holds variables added to the supervisor's environment for the
	// daemon: those of the EnvFile files in order, then those of the env
	// key, later ones overriding earlier ones; nil when there are none.
	Env map[string]string
	// EnvFile lists the absolute paths of the env files read into Env,
	// as given by the env_file key.
	EnvFile []string
	// User is the user the daemon runs as; empty means the supervisor's.
	User string
	// Rlimits sets resource limits, soft and hard, by name ("nofile",
	// "core", ...: the RLIMIT_ names in lower case, without the prefix);
	// Unlimited is RLIM_INFINITY. nil: the supervisor's own limits.
	Rlimits map[string]uint64
	// Umask, when not nil, is the daemon's file mode creation mask.
	Umask *uint32
	// Health is the daemon's health check, nil when it has none.
	Health *Health
	// Ready is how the daemon tells it is ready: "" (it is ready once
	// spawned, or at its first passing health probe), "notify" (sd_notify
	// READY=1 on $NOTIFY_SOCKET) or "fd:N" (a newline written to
	// descriptor N, s6's convention).
	Ready string
	// Watchdog, with Ready "notify", is how often the daemon must send
	// WATCHDOG=1; a missed deadline counts as unhealthy. 0: no watchdog.
	Watchdog time.Duration

	// LogMaxSize is the size in bytes at which the daemon's log file
	// <log_dir>/<name>.log is rotated, as parsed by [ParseSize]; 0 means
	// never rotate it. Default: the [supervisor] value, itself 10 MiB.
	LogMaxSize int64
	// LogMaxFiles is how many rotated files (name.log.1, the newest, to
	// name.log.N) are kept; 0 keeps none, so a full log starts over empty.
	// Default: the [supervisor] value, itself 5; never negative.
	LogMaxFiles int
	// LogTimestamps reports whether each line of the log starts with the
	// time it arrived. Default: the [supervisor] value, itself false.
	LogTimestamps bool

	// Placement is where in a cluster the daemon runs: PlacementLocal
	// (the default), on every node that runs it, or PlacementSingleton,
	// on exactly one node at a time, elected through etcd. A singleton
	// needs a [cluster] table.
	Placement string
	// PlacementLabels, for a singleton, are the [cluster] labels a node
	// must have, every pair, to hold it; nil: any node.
	PlacementLabels map[string]string

	// Pos is where the daemon's name first appears in the file, normally in
	// its [daemons.NAME] table header.
	Pos Position

	// instanceEnv lists the keys of the env key, whose values
	// ${RINGSUP_INSTANCE} is expanded in (not those of env files).
	instanceEnv []string
}

// Health holds the settings of one [daemons.NAME.health] table. Exactly one
// of Exec, HTTP and TCP is set.
type Health struct {
	// Exec is a probe command: exit status 0 means healthy. It has the same
	// forms and resolution as [Daemon.Command].
	Exec []string
	// HTTP is an http or https URL: a 2xx answer means healthy.
	HTTP string
	// TCP is a host:port address: a successful connect means healthy.
	TCP string
	// Interval is the time between two probes.
	// Default: [Supervisor.HealthInterval].
	Interval time.Duration
	// Timeout bounds one probe. Default: 5s.
	Timeout time.Duration
	// Retries is how many probes in a row must fail for the daemon to be
	// unhealthy. Default: 3; at least 1.
	Retries int
	// StartPeriod is a window after the daemon starts in which failed
	// probes do not count. Default: 0 (all count).
	StartPeriod time.Duration
	// OnUnhealthy is what happens when the daemon becomes unhealthy:
	// "restart" (the default) treats it as an unexpected exit, "ignore" only
	// reports it.
	OnUnhealthy string
}

// Unlimited is the value of an unlimited resource limit in [Daemon.Rlimits].
const Unlimited = ^uint64(0)

// The values of [Daemon.Type].
const (
	TypeDaemon  = "daemon"
	TypeOneshot = "oneshot"
)

// Hook runs a command, or starts, stops or restarts daemons, when one of
// its events happens. Exactly one of Command and Action is set.
type Hook struct {
	// Events are the event types that fire the hook, such as
	// "DAEMON_FAILED": ringsup's own or the custom types of [Events].
	Events []string
	// Daemons, when not empty, limits the hook to the events of these
	// daemons (the event's daemon_type, its source for a custom event).
	Daemons []string
	// Command is the argv run with the event's JSON on its standard input,
	// with the same forms and resolution as [Daemon.Command].
	Command []string
	// Action is the built-in action of the hook: ActionStart, ActionStop
	// or ActionRestart (the key it was written with), applied to Targets
	// as `ringsup ctl start|stop|restart` would. Empty for a command hook.
	Action string
	// Targets are the daemons Action applies to.
	Targets []string
	// Timeout bounds one run of the hook; then its process group is
	// killed. Default: 10s.
	Timeout time.Duration
}

// Position is a place in the config file. Line and Col start at 1; Col counts
// bytes.
type Position struct {
	Line, Col int
}

// Names returns the names of all daemons, sorted.
func (c *Config) Names() []string {
	return sortedKeys(c.Daemons)
}

// HTTPSCheck returns the first daemon, by name, whose health check is an
// https:// URL (the scheme in any case, as the probe reads it), or "" if no
// daemon's is. Probing one takes TLS, which a build may leave out (see
// health.TLS).
func (c *Config) HTTPSCheck() string {
	for _, name := range c.Names() {
		if h := c.Daemons[name].Health; h != nil && h.HTTP != "" {
			if u, err := url.Parse(h.HTTP); err == nil && u.Scheme == "https" {
				return name
			}
		}
	}
	return ""
}

// ProfileNames returns the names of all profiles, sorted.
func (c *Config) ProfileNames() []string {
	return sortedKeys(c.Profiles)
}

// Deps returns each daemon's dependencies, as [depgraph.New] takes them: a
// dependency on a daemon with instances is one on each instance. The map
// and its slices are fresh copies.
func (c *Config) Deps() map[string][]string {
	deps := make(map[string][]string, len(c.Daemons))
	for name, d := range c.Daemons {
		var list []string
		for _, dep := range d.DependsOn {
			list = append(list, c.Instances(dep)...)
		}
		deps[name] = list
	}
	return deps
}

// TableDeps returns the dependencies of each [daemons.NAME] table as
// written, as [depgraph.New] takes them: the graph of Deps with each
// daemon's instances as one node. The map and its slices are fresh copies.
func (c *Config) TableDeps() map[string][]string {
	deps := make(map[string][]string, len(c.Daemons))
	for _, name := range c.Tables() {
		deps[name] = slices.Clone(c.Table(name).DependsOn)
	}
	return deps
}

// Graph returns the dependency graph of the daemons: the one Parse built,
// or, for a Config made otherwise, a new one.
func (c *Config) Graph() *depgraph.Graph {
	if c.graph != nil {
		return c.graph
	}
	return depgraph.New(c.Deps())
}

// Select returns the name of the profile it resolved and the daemons that
// profile runs: its members plus their transitive dependencies, in
// dependency order (every daemon after the daemons it depends on).
//
// An empty profile means Supervisor.DefaultProfile; if that is empty too,
// active is "" and names holds every daemon. A profile the config does not
// define gives an *[UnknownProfileError].
func (c *Config) Select(profile string) (active string, names []string, err error) {
	active = profile
	if active == "" {
		active = c.Supervisor.DefaultProfile
	}
	var roots []string
	if active == "" {
		roots = c.Names()
	} else {
		members, ok := c.Profiles[active]
		if !ok {
			return "", nil, &UnknownProfileError{Name: active, Have: c.ProfileNames()}
		}
		for _, m := range members {
			roots = append(roots, c.Instances(m)...)
		}
	}
	return active, c.Graph().Closure(roots), nil
}

// UnknownProfileError reports a profile name the config does not define.
type UnknownProfileError struct {
	Name string   // the profile asked for
	Have []string // the profiles defined, sorted
}

// Error returns `unknown profile "x" (have: full, minimal)`, or
// `unknown profile "x" (no profiles defined)`.
func (e *UnknownProfileError) Error() string {
	if len(e.Have) == 0 {
		return fmt.Sprintf("unknown profile %q (no profiles defined)", e.Name)
	}
	return fmt.Sprintf("unknown profile %q (have: %s)", e.Name, strings.Join(e.Have, ", "))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
