package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// This file is the schema: every key the config file accepts, in the table
// that accepts it. Adding a key is one line here plus a field in config.go.

// kind is the type of value a key takes, and how Parse decodes it.
type kind int

const (
	kindString    kind = iota // a string: string
	kindBool                  // a boolean: bool
	kindInt                   // an integer: int
	kindDuration              // a string in Go duration syntax, not negative: time.Duration
	kindSize                  // a size string such as "10MB", or an integer of bytes, not negative: int64
	kindSignal                // a signal name such as "SIGTERM" or "TERM": syscall.Signal
	kindPath                  // a non-empty string, resolved against the file's directory: string
	kindStrings               // an array of strings: []string, nil when empty
	kindCommand               // a string (for /bin/sh -c) or a non-empty array of strings: []string
	kindStringMap             // a table of strings: map[string]string, nil when empty
	kindFraction              // a number from 0 to 1: float64
	kindRlimits               // a table of resource limits: map[string]uint64
	kindUmask                 // an octal string such as "022", or an integer: uint32
	kindTable                 // a table, decoded by its own schema
	kindTables                // an array of tables, each decoded by its own schema
)

// field describes one key of a table.
type field[T any] struct {
	key      string
	kind     kind
	required bool            // the table must have the key
	check    func(any) error // if not nil, checks the decoded value
	set      func(*T, any)   // stores the decoded value; nil for kindTable and kindTables
}

// topFields lists the top-level keys; their tables are decoded by the
// schemas below.
func topFields() []field[Config] {
	return []field[Config]{
		{key: "supervisor", kind: kindTable},
		{key: "profiles", kind: kindTable},
		{key: "daemons", kind: kindTable},
		{key: "events", kind: kindTable},
		{key: "hooks", kind: kindTables},
		{key: "cluster", kind: kindTable},
	}
}

// supervisorFields lists the keys of [supervisor]. Defaults are in
// defaultSupervisor.
func supervisorFields() []field[Supervisor] {
	return []field[Supervisor]{
		{"socket", kindPath, false, nil, func(s *Supervisor, v any) { s.Socket = v.(string) }},
		{"log_dir", kindPath, false, nil, func(s *Supervisor, v any) { s.LogDir = v.(string) }},
		{"default_profile", kindString, false, nil, func(s *Supervisor, v any) { s.DefaultProfile = v.(string) }},
		{"watch", kindBool, false, nil, func(s *Supervisor, v any) { s.Watch = v.(bool) }},
		{"stop_timeout", kindDuration, false, nil, func(s *Supervisor, v any) { s.StopTimeout = v.(time.Duration) }},
		{"backoff_min", kindDuration, false, nil, func(s *Supervisor, v any) { s.BackoffMin = v.(time.Duration) }},
		{"backoff_max", kindDuration, false, nil, func(s *Supervisor, v any) { s.BackoffMax = v.(time.Duration) }},
		{"backoff_jitter", kindFraction, false, nil, func(s *Supervisor, v any) { s.BackoffJitter = v.(float64) }},
		{"stable_after", kindDuration, false, nil, func(s *Supervisor, v any) { s.StableAfter = v.(time.Duration) }},
		{"health_interval", kindDuration, false, positive, func(s *Supervisor, v any) { s.HealthInterval = v.(time.Duration) }},
		{"metrics", kindString, false, hostPort, func(s *Supervisor, v any) { s.Metrics = v.(string) }},
		{"log_max_size", kindSize, false, nil, func(s *Supervisor, v any) { s.LogMaxSize = v.(int64) }},
		{"log_max_files", kindInt, false, atLeast(0), func(s *Supervisor, v any) { s.LogMaxFiles = v.(int) }},
		{"log_timestamps", kindBool, false, nil, func(s *Supervisor, v any) { s.LogTimestamps = v.(bool) }},
	}
}

// daemonFields lists the keys of [daemons.NAME]. Defaults are in
// defaultDaemon.
func daemonFields() []field[Daemon] {
	return []field[Daemon]{
		{"description", kindString, false, nil, func(d *Daemon, v any) { d.Description = v.(string) }},
		{"type", kindString, false, oneOf(TypeDaemon, TypeOneshot), func(d *Daemon, v any) { d.Type = v.(string) }},
		{"command", kindCommand, true, nil, func(d *Daemon, v any) { d.Command = v.([]string) }},
		{"depends_on", kindStrings, false, nil, func(d *Daemon, v any) { d.DependsOn = v.([]string) }},
		{"auto_restart", kindBool, false, nil, func(d *Daemon, v any) { d.AutoRestart = v.(bool) }},
		{"max_restarts", kindInt, false, atLeast(0), func(d *Daemon, v any) { d.MaxRestarts = v.(int) }},
		{"backoff_min", kindDuration, false, nil, func(d *Daemon, v any) { d.BackoffMin = v.(time.Duration) }},
		{"backoff_max", kindDuration, false, nil, func(d *Daemon, v any) { d.BackoffMax = v.(time.Duration) }},
		{"backoff_jitter", kindFraction, false, nil, func(d *Daemon, v any) { d.BackoffJitter = v.(float64) }},
		{"stable_after", kindDuration, false, nil, func(d *Daemon, v any) { d.StableAfter = v.(time.Duration) }},
		{"stop_signal", kindSignal, false, nil, func(d *Daemon, v any) { d.StopSignal = v.(syscall.Signal) }},
		{"stop_timeout", kindDuration, false, nil, func(d *Daemon, v any) { d.StopTimeout = v.(time.Duration) }},
		{"working_dir", kindPath, false, nil, func(d *Daemon, v any) { d.WorkingDir = v.(string) }},
		{"env", kindStringMap, false, envNames, func(d *Daemon, v any) { d.Env = v.(map[string]string) }},
		{"env_file", kindStrings, false, nil, func(d *Daemon, v any) { d.EnvFile = v.([]string) }},
		{"rlimits", kindRlimits, false, nil, func(d *Daemon, v any) { d.Rlimits = v.(map[string]uint64) }},
		{"umask", kindUmask, false, nil, func(d *Daemon, v any) { m := v.(uint32); d.Umask = &m }},
		{"user", kindString, false, nonEmpty, func(d *Daemon, v any) { d.User = v.(string) }},
		{"ready", kindString, false, readyValue, func(d *Daemon, v any) { d.Ready = v.(string) }},
		{"watchdog", kindDuration, false, positive, func(d *Daemon, v any) { d.Watchdog = v.(time.Duration) }},
		{"log_max_size", kindSize, false, nil, func(d *Daemon, v any) { d.LogMaxSize = v.(int64) }},
		{"log_max_files", kindInt, false, atLeast(0), func(d *Daemon, v any) { d.LogMaxFiles = v.(int) }},
		{"log_timestamps", kindBool, false, nil, func(d *Daemon, v any) { d.LogTimestamps = v.(bool) }},
		{"instances", kindInt, false, between(1, MaxInstances), func(d *Daemon, v any) { d.Instances = v.(int) }},
		{"placement", kindString, false, oneOf(PlacementLocal, PlacementSingleton), func(d *Daemon, v any) { d.Placement = v.(string) }},
		{"placement_labels", kindStringMap, false, nil, func(d *Daemon, v any) { d.PlacementLabels = v.(map[string]string) }},
		{key: "health", kind: kindTable},
	}
}

// healthFields lists the keys of [daemons.NAME.health]. Defaults are in
// defaultHealth.
func healthFields() []field[Health] {
	return []field[Health]{
		{"exec", kindCommand, false, nil, func(h *Health, v any) { h.Exec = v.([]string) }},
		{"http", kindString, false, probeURL, func(h *Health, v any) { h.HTTP = v.(string) }},
		{"tcp", kindString, false, probeAddr, func(h *Health, v any) { h.TCP = v.(string) }},
		{"interval", kindDuration, false, positive, func(h *Health, v any) { h.Interval = v.(time.Duration) }},
		{"timeout", kindDuration, false, positive, func(h *Health, v any) { h.Timeout = v.(time.Duration) }},
		{"retries", kindInt, false, atLeast(1), func(h *Health, v any) { h.Retries = v.(int) }},
		{"start_period", kindDuration, false, nil, func(h *Health, v any) { h.StartPeriod = v.(time.Duration) }},
		{"on_unhealthy", kindString, false, oneOf("restart", "ignore"), func(h *Health, v any) { h.OnUnhealthy = v.(string) }},
	}
}

// probeKeys are the keys of [daemons.NAME.health] of which exactly one must
// be set.
func probeKeys() []string { return []string{"exec", "http", "tcp"} }

// hookFields lists the keys of [[hooks]].
func hookFields() []field[Hook] {
	return []field[Hook]{
		{"events", kindStrings, true, nonEmptyList, func(h *Hook, v any) { h.Events = v.([]string) }},
		{"daemons", kindStrings, false, nil, func(h *Hook, v any) { h.Daemons = v.([]string) }},
		{"command", kindCommand, false, nil, func(h *Hook, v any) { h.Command = v.([]string) }},
		{ActionRestart, kindStrings, false, nonEmptyList, func(h *Hook, v any) { h.Action, h.Targets = ActionRestart, v.([]string) }},
		{ActionStart, kindStrings, false, nonEmptyList, func(h *Hook, v any) { h.Action, h.Targets = ActionStart, v.([]string) }},
		{ActionStop, kindStrings, false, nonEmptyList, func(h *Hook, v any) { h.Action, h.Targets = ActionStop, v.([]string) }},
		{"timeout", kindDuration, false, positive, func(h *Hook, v any) { h.Timeout = v.(time.Duration) }},
	}
}

func defaultSupervisor(dir string) Supervisor {
	return Supervisor{
		Socket:         joinDir(dir, "ringsup.sock"),
		LogDir:         joinDir(dir, "logs"),
		Watch:          true,
		StopTimeout:    10 * time.Second,
		BackoffMin:     1 * time.Second,
		BackoffMax:     5 * time.Minute,
		StableAfter:    1 * time.Hour,
		HealthInterval: 30 * time.Second,
		LogMaxSize:     10 << 20,
		LogMaxFiles:    5,
	}
}

func defaultDaemon(name, dir string, s *Supervisor) *Daemon {
	return &Daemon{
		Name:          name,
		Template:      name,
		Type:          TypeDaemon,
		Placement:     PlacementLocal,
		AutoRestart:   true,
		MaxRestarts:   5,
		BackoffMin:    s.BackoffMin,
		BackoffMax:    s.BackoffMax,
		StableAfter:   s.StableAfter,
		StopSignal:    syscall.SIGTERM,
		BackoffJitter: s.BackoffJitter,
		StopTimeout:   s.StopTimeout,
		WorkingDir:    dir,

		LogMaxSize:    s.LogMaxSize,
		LogMaxFiles:   s.LogMaxFiles,
		LogTimestamps: s.LogTimestamps,
	}
}

func defaultHealth(s *Supervisor) *Health {
	return &Health{
		Interval:    s.HealthInterval,
		Timeout:     5 * time.Second,
		Retries:     3,
		OnUnhealthy: "restart",
	}
}

// Checks of single values. Their errors follow the key's name in a message.

func atLeast(n int) func(any) error {
	return func(v any) error {
		if v.(int) < n {
			return fmt.Errorf("must be >= %d, got %d", n, v.(int))
		}
		return nil
	}
}

func between(lo, hi int) func(any) error {
	return func(v any) error {
		if n := v.(int); n < lo || n > hi {
			return fmt.Errorf("must be from %d to %d, got %d", lo, hi, n)
		}
		return nil
	}
}

// readyValue checks a `ready` setting: "notify", or "fd:N" with N from 3
// to 255 (0 to 2 are the daemon's standard streams).
func readyValue(v any) error {
	s := v.(string)
	if s == "notify" {
		return nil
	}
	if n, ok := strings.CutPrefix(s, "fd:"); ok {
		if fd, err := strconv.Atoi(n); err == nil && fd >= 3 && fd <= 255 {
			return nil
		}
		return fmt.Errorf("invalid descriptor in %q: want fd:N with N from 3 to 255", s)
	}
	return fmt.Errorf("invalid value %q: want \"notify\" or \"fd:N\"", s)
}

func positive(v any) error {
	if v.(time.Duration) <= 0 {
		return fmt.Errorf("must be positive, got %v", v)
	}
	return nil
}

func nonEmpty(v any) error {
	if v.(string) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func nonEmptyList(v any) error {
	if len(v.([]string)) == 0 {
		return errors.New("must not be empty")
	}
	return nil
}

func oneOf(values ...string) func(any) error {
	return func(v any) error {
		for _, ok := range values {
			if v.(string) == ok {
				return nil
			}
		}
		return fmt.Errorf("must be %s, got %q", quoteList(values, "or"), v)
	}
}

func httpURL(v any) error {
	u, err := url.Parse(v.(string))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid URL %q: want http:// or https:// and a host", v)
	}
	return nil
}

func hostPort(v any) error {
	host, port, err := net.SplitHostPort(v.(string))
	if err == nil && host != "" {
		if n, err := strconv.Atoi(port); err == nil && n >= 1 && n <= 65535 {
			return nil
		}
	}
	return fmt.Errorf("invalid address %q: want host:port", v)
}

func envNames(v any) error {
	for _, name := range sortedKeys(v.(map[string]string)) {
		if !validEnvName(name) {
			return fmt.Errorf("invalid variable name %q", name)
		}
	}
	return nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '=' || s[i] == 0 {
			return false
		}
	}
	return true
}

// namePattern is the pattern daemon names must match.
const namePattern = "^[a-z0-9][a-z0-9_.-]*$"

// validName reports whether s matches namePattern. "." and ".." do not.
// reservedNames are the names no daemon may have: their log file would be
// one of ringsup's own (ringsup.log, hooks.log).
func reservedNames() []string { return []string{"ringsup", "hooks"} }

func validName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// quoteList returns `"a", "b" or "c"`.
func quoteList(values []string, conj string) string {
	s := ""
	for i, v := range values {
		switch {
		case i == 0:
		case i == len(values)-1:
			s += " " + conj + " "
		default:
			s += ", "
		}
		s += strconv.Quote(v)
	}
	return s
}
