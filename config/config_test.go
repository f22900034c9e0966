package config

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ringrift/ringsup/depgraph"
	"github.com/ringrift/ringsup/procexec"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.err golden files")

// testFiles returns the config files in testdata.
func testFiles(t testing.TB) []string {
	files, err := filepath.Glob("testdata/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.toml: %v", err)
	}
	return files
}

// TestLoadFiles loads each testdata/NAME.toml and compares the errors with
// testdata/NAME.err, which exists only for invalid files.
func TestLoadFiles(t *testing.T) {
	for _, file := range testFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			golden := strings.TrimSuffix(file, ".toml") + ".err"
			c, err := Load(file)
			got := ""
			if err != nil {
				got = err.Error() + "\n"
				var list ErrorList
				if !errors.As(err, &list) {
					t.Fatalf("Load(%q) = %T, want ErrorList", file, err)
				}
				if c != nil {
					t.Errorf("Load(%q) = %v and an error, want nil *Config", file, c)
				}
			} else if c == nil {
				t.Fatalf("Load(%q) = nil, nil", file)
			}
			if *update {
				if got == "" {
					os.Remove(golden)
					return
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if errors.Is(err, fs.ErrNotExist) {
				want, err = nil, nil
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("Load(%q) errors:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}

func TestLoadValid(t *testing.T) {
	const file = "testdata/valid.toml"
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	sup := Supervisor{
		Socket:         filepath.Join(dir, "run/ringsup.sock"),
		LogDir:         "/var/log/ringsup",
		DefaultProfile: "full",
		Watch:          false,
		StopTimeout:    20 * time.Second,
		BackoffMin:     2 * time.Second,
		BackoffMax:     10 * time.Minute,
		StableAfter:    30 * time.Minute,
		HealthInterval: 15 * time.Second,
		LogMaxSize:     1 << 20,
		LogMaxFiles:    3,
		LogTimestamps:  true,
	}
	want := &Config{
		Path:       filepath.Join(dir, "valid.toml"),
		Dir:        dir,
		Supervisor: sup,
		Profiles: map[string][]string{
			"full":    {"event_router", "selfplay", "training"},
			"minimal": {"event_router"},
		},
		Daemons: map[string]*Daemon{
			"event_router": {
				Name:          "event_router",
				Type:          TypeDaemon,
				Placement:     PlacementLocal,
				Description:   "Routes data events between daemons",
				Command:       []string{filepath.Join(dir, "bin/event-router"), "--port", "9000"},
				AutoRestart:   true,
				MaxRestarts:   5,
				BackoffMin:    time.Second,
				BackoffMax:    5 * time.Minute,
				StableAfter:   time.Hour,
				StopSignal:    syscall.SIGTERM,
				StopTimeout:   10 * time.Second,
				WorkingDir:    dir,
				Env:           map[string]string{"LOG_LEVEL": "info"},
				LogMaxSize:    1 << 20,
				LogMaxFiles:   3,
				LogTimestamps: true,
				User:          "ringrift",
				Health: &Health{
					Exec:        []string{filepath.Join(dir, "bin/probe")},
					Interval:    30 * time.Second,
					Timeout:     5 * time.Second,
					Retries:     3,
					OnUnhealthy: "restart",
				},
				Pos: Position{20, 10},
			},
			"selfplay": {
				Name:          "selfplay",
				Type:          TypeDaemon,
				Placement:     PlacementLocal,
				Command:       []string{"/bin/sh", "-c", "exec ./bin/selfplay --games 100"},
				DependsOn:     []string{"event_router"},
				AutoRestart:   false,
				MaxRestarts:   0,
				BackoffMin:    2 * time.Second,
				BackoffMax:    10 * time.Minute,
				StableAfter:   30 * time.Minute,
				StopSignal:    syscall.SIGINT,
				StopTimeout:   20 * time.Second,
				WorkingDir:    filepath.Join(dir, "work/selfplay"),
				Env:           map[string]string{"CUDA_VISIBLE_DEVICES": "0", "EMPTY": ""},
				LogMaxSize:    1 << 20,
				LogMaxFiles:   3,
				LogTimestamps: true,
				Health: &Health{
					HTTP:        "http://127.0.0.1:9100/health",
					Interval:    15 * time.Second,
					Timeout:     5 * time.Second,
					Retries:     3,
					OnUnhealthy: "ignore",
				},
				Pos: Position{43, 10},
			},
			"training": {
				Name:          "training",
				Type:          TypeDaemon,
				Placement:     PlacementLocal,
				Command:       []string{"python3", "-m", "train"},
				DependsOn:     []string{"selfplay", "event_router"},
				AutoRestart:   true,
				MaxRestarts:   5,
				BackoffMin:    2 * time.Second,
				BackoffMax:    10 * time.Minute,
				StableAfter:   30 * time.Minute,
				StopSignal:    syscall.SIGINT,
				StopTimeout:   20 * time.Second,
				WorkingDir:    dir,
				LogMaxSize:    1 << 20,
				LogMaxFiles:   3,
				LogTimestamps: true,
				Health: &Health{
					TCP:         "127.0.0.1:9200",
					Interval:    15 * time.Second,
					Timeout:     5 * time.Second,
					Retries:     1,
					OnUnhealthy: "restart",
				},
				Pos: Position{56, 10},
			},
			"gpu-monitor.v2": {
				Name:        "gpu-monitor.v2",
				Type:        TypeDaemon,
				Placement:   PlacementLocal,
				Command:     []string{"/usr/bin/nvidia-smi", "-l", "5"},
				AutoRestart: true,
				MaxRestarts: 5,
				BackoffMin:  2 * time.Second,
				BackoffMax:  10 * time.Minute,
				StableAfter: 30 * time.Minute,
				StopSignal:  syscall.SIGTERM,
				StopTimeout: 20 * time.Second,
				WorkingDir:  dir,
				LogMaxSize:  4096,
				Pos:         Position{62, 10},
			},
		},
		Hooks: []Hook{
			{Events: []string{"DAEMON_FAILED", "DAEMON_IMPORT_FAILED"}, Command: []string{filepath.Join(dir, "scripts/alert.sh")}, Timeout: 10 * time.Second},
			{Events: []string{"CONFIG_RELOADED"}, Command: []string{"/bin/sh", "-c", "logger ringsup reloaded"}, Timeout: 30 * time.Second},
			{Events: []string{"MODEL_PROMOTED"}, Daemons: []string{"training"}, Action: ActionRestart, Targets: []string{"selfplay"}, Timeout: 10 * time.Second},
		},
		Events: Events{Types: []string{"SELFPLAY_COMPLETED", "MODEL_PROMOTED"}, RateLimit: 50, SubscriberBuffer: 4096},
	}

	want.Templates = map[string]*Daemon{}
	for name, d := range want.Daemons {
		d.Template = name // none has instances
	}

	got, err := Load(file)
	if err != nil {
		t.Fatalf("Load(%q) = %v", file, err)
	}
	if !reflect.DeepEqual(got.Supervisor, want.Supervisor) {
		t.Errorf("Load(%q).Supervisor = %+v, want %+v", file, got.Supervisor, want.Supervisor)
	}
	for _, name := range want.Names() {
		g, w := got.Daemons[name], want.Daemons[name]
		if g == nil {
			t.Errorf("Load(%q).Daemons[%q] = nil, want %+v", file, name, w)
			continue
		}
		if !reflect.DeepEqual(g.Health, w.Health) {
			t.Errorf("Load(%q).Daemons[%q].Health = %+v, want %+v", file, name, g.Health, w.Health)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("Load(%q).Daemons[%q] =\n%+v\nwant\n%+v", file, name, g, w)
		}
	}
	want.graph = depgraph.New(want.Deps()) // Load builds it once, for the supervisor and Select
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(%q) =\n%+v\nwant\n%+v", file, got, want)
	}
	if names := got.Names(); !slices.Equal(names, []string{"event_router", "gpu-monitor.v2", "selfplay", "training"}) {
		t.Errorf("Names() = %q", names)
	}
	if names := got.ProfileNames(); !slices.Equal(names, []string{"full", "minimal"}) {
		t.Errorf("ProfileNames() = %q", names)
	}
}

// TestDefaults parses small configs and checks the settings they leave to
// defaults and inheritance.
func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ringsup.toml")
	tests := []struct {
		name string
		toml string
		get  func(c *Config) any
		want any
	}{
		{"socket default", "", func(c *Config) any { return c.Supervisor.Socket }, filepath.Join(dir, "ringsup.sock")},
		{"log_dir default", "", func(c *Config) any { return c.Supervisor.LogDir }, filepath.Join(dir, "logs")},
		{"socket relative", "[supervisor]\nsocket = \"run/../s.sock\"", func(c *Config) any { return c.Supervisor.Socket }, filepath.Join(dir, "s.sock")},
		{"log_dir relative", "[supervisor]\nlog_dir = \"var/log\"", func(c *Config) any { return c.Supervisor.LogDir }, filepath.Join(dir, "var/log")},
		{"log_dir absolute", "[supervisor]\nlog_dir = \"/tmp//x/\"", func(c *Config) any { return c.Supervisor.LogDir }, "/tmp/x"},
		{"watch default", "", func(c *Config) any { return c.Supervisor.Watch }, true},
		{"supervisor durations", "", func(c *Config) any {
			s := c.Supervisor
			return []time.Duration{s.StopTimeout, s.BackoffMin, s.BackoffMax, s.StableAfter, s.HealthInterval}
		}, []time.Duration{10 * time.Second, time.Second, 5 * time.Minute, time.Hour, 30 * time.Second}},
		{"daemon defaults", "[daemons.a]\ncommand = \"x\"", func(c *Config) any {
			d := c.Daemons["a"]
			return []any{d.AutoRestart, d.MaxRestarts, d.BackoffMin, d.BackoffMax, d.StableAfter, d.StopSignal, d.StopTimeout, d.WorkingDir, d.Env, d.DependsOn, d.Health, d.User}
		}, []any{true, 5, time.Second, 5 * time.Minute, time.Hour, syscall.SIGTERM, 10 * time.Second, dir, map[string]string(nil), []string(nil), (*Health)(nil), ""}},
		{"daemon inherits supervisor", "[supervisor]\nstop_timeout = \"3s\"\nbackoff_min = \"2s\"\nbackoff_max = \"1m\"\nstable_after = \"10m\"\n[daemons.a]\ncommand = \"x\"", func(c *Config) any {
			d := c.Daemons["a"]
			return []time.Duration{d.StopTimeout, d.BackoffMin, d.BackoffMax, d.StableAfter}
		}, []time.Duration{3 * time.Second, 2 * time.Second, time.Minute, 10 * time.Minute}},
		{"daemon overrides supervisor", "[supervisor]\nstop_timeout = \"3s\"\nbackoff_min = \"2s\"\nbackoff_max = \"1m\"\nstable_after = \"10m\"\n[daemons.a]\ncommand = \"x\"\nstop_timeout = \"4s\"\nbackoff_min = \"5s\"\nbackoff_max = \"6m\"\nstable_after = \"7h\"", func(c *Config) any {
			d := c.Daemons["a"]
			return []time.Duration{d.StopTimeout, d.BackoffMin, d.BackoffMax, d.StableAfter}
		}, []time.Duration{4 * time.Second, 5 * time.Second, 6 * time.Minute, 7 * time.Hour}},
		{"daemon inherits only what it does not set", "[supervisor]\nbackoff_max = \"1m\"\n[daemons.a]\ncommand = \"x\"\nbackoff_min = \"30s\"", func(c *Config) any {
			d := c.Daemons["a"]
			return []time.Duration{d.BackoffMin, d.BackoffMax}
		}, []time.Duration{30 * time.Second, time.Minute}},
		{"log defaults", "[daemons.a]\ncommand = \"x\"", func(c *Config) any {
			s, d := c.Supervisor, c.Daemons["a"]
			return []any{s.LogMaxSize, s.LogMaxFiles, s.LogTimestamps, d.LogMaxSize, d.LogMaxFiles, d.LogTimestamps}
		}, []any{int64(10 << 20), 5, false, int64(10 << 20), 5, false}},
		{"log settings inherited", "[supervisor]\nlog_max_size = \"512KB\"\nlog_max_files = 2\nlog_timestamps = true\n[daemons.a]\ncommand = \"x\"", func(c *Config) any {
			d := c.Daemons["a"]
			return []any{d.LogMaxSize, d.LogMaxFiles, d.LogTimestamps}
		}, []any{int64(512 << 10), 2, true}},
		{"log settings overridden", "[supervisor]\nlog_max_size = \"512KB\"\nlog_max_files = 2\nlog_timestamps = true\n[daemons.a]\ncommand = \"x\"\nlog_max_size = 100\nlog_max_files = 0\nlog_timestamps = false", func(c *Config) any {
			d := c.Daemons["a"]
			return []any{d.LogMaxSize, d.LogMaxFiles, d.LogTimestamps}
		}, []any{int64(100), 0, false}},
		{"log_max_size zero", "[supervisor]\nlog_max_size = \"0\"", func(c *Config) any { return c.Supervisor.LogMaxSize }, int64(0)},
		{"string command", "[daemons.a]\ncommand = \"exec ./a >log 2>&1\"", func(c *Config) any { return c.Daemons["a"].Command }, []string{"/bin/sh", "-c", "exec ./a >log 2>&1"}},
		{"relative command", "[daemons.a]\ncommand = [\"./bin/a\", \"./arg\"]", func(c *Config) any { return c.Daemons["a"].Command }, []string{filepath.Join(dir, "bin/a"), "./arg"}},
		{"relative command without dot", "[daemons.a]\ncommand = [\"bin/a\"]", func(c *Config) any { return c.Daemons["a"].Command }, []string{filepath.Join(dir, "bin/a")}},
		{"bare command", "[daemons.a]\ncommand = [\"sleep\", \"1\"]", func(c *Config) any { return c.Daemons["a"].Command }, []string{"sleep", "1"}},
		{"absolute command", "[daemons.a]\ncommand = [\"/bin/sleep\"]", func(c *Config) any { return c.Daemons["a"].Command }, []string{"/bin/sleep"}},
		{"relative working_dir", "[daemons.a]\ncommand = \"x\"\nworking_dir = \"w\"", func(c *Config) any { return c.Daemons["a"].WorkingDir }, filepath.Join(dir, "w")},
		{"health defaults", "[supervisor]\nhealth_interval = \"7s\"\n[daemons.a]\ncommand = \"x\"\n[daemons.a.health]\nexec = \"./probe\"", func(c *Config) any { return c.Daemons["a"].Health }, &Health{
			Exec: []string{"/bin/sh", "-c", "./probe"}, Interval: 7 * time.Second, Timeout: 5 * time.Second, Retries: 3, OnUnhealthy: "restart",
		}},
		{"health relative exec", "[daemons.a]\ncommand = \"x\"\nhealth.exec = [\"./probe\"]", func(c *Config) any { return c.Daemons["a"].Health.Exec }, []string{filepath.Join(dir, "probe")}},
		{"empty env", "[daemons.a]\ncommand = \"x\"\nenv = {}", func(c *Config) any { return c.Daemons["a"].Env }, map[string]string(nil)},
		{"hooks inline", "hooks = [{events = [\"DAEMON_STOPPED\"], command = \"x\"}]", func(c *Config) any { return c.Hooks }, []Hook{
			{Events: []string{"DAEMON_STOPPED"}, Command: []string{"/bin/sh", "-c", "x"}, Timeout: 10 * time.Second},
		}},
		{"path", "", func(c *Config) any { return []string{c.Path, c.Dir} }, []string{path, dir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(path, []byte(tt.toml))
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tt.toml, err)
			}
			if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q): %s = %#v, want %#v", tt.toml, tt.name, got, tt.want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	valid, err := Load("testdata/valid.toml")
	if err != nil {
		t.Fatal(err)
	}
	noDefault, err := Parse("x.toml", []byte(`
[profiles]
web = ["web"]
[daemons.web]
command = "x"
depends_on = ["db"]
[daemons.db]
command = "x"
[daemons.cache]
command = "x"
`))
	if err != nil {
		t.Fatal(err)
	}
	noProfiles, err := Parse("x.toml", []byte("[daemons.web]\ncommand = \"x\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		c          *Config
		profile    string
		wantActive string
		wantNames  []string
		wantErr    string
	}{
		{"full", valid, "full", "full", []string{"event_router", "selfplay", "training"}, ""},
		{"minimal", valid, "minimal", "minimal", []string{"event_router"}, ""},
		{"default profile", valid, "", "full", []string{"event_router", "selfplay", "training"}, ""},
		{"unknown", valid, "nope", "", nil, `unknown profile "nope" (have: full, minimal)`},
		{"dependencies pulled in", noDefault, "web", "web", []string{"db", "web"}, ""},
		{"no default: every daemon", noDefault, "", "", []string{"cache", "db", "web"}, ""},
		{"no profiles", noProfiles, "full", "", nil, `unknown profile "full" (no profiles defined)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			active, names, err := tt.c.Select(tt.profile)
			if tt.wantErr != "" {
				var upe *UnknownProfileError
				if !errors.As(err, &upe) || err.Error() != tt.wantErr {
					t.Fatalf("Select(%q) = %v, want UnknownProfileError %q", tt.profile, err, tt.wantErr)
				}
				return
			}
			if err != nil || active != tt.wantActive || !slices.Equal(names, tt.wantNames) {
				t.Errorf("Select(%q) = %q, %q, %v, want %q, %q, nil", tt.profile, active, names, err, tt.wantActive, tt.wantNames)
			}
		})
	}
}

// TestParseEndsScanner checks that the scanner Parse runs beside the TOML
// decoder is done when Parse returns, after a syntax error too: synctest.Test
// fails if a goroutine of its bubble is left blocked.
func TestParseEndsScanner(t *testing.T) {
	for _, src := range []string{"[daemons.a]\ncommand = 'x'\n", "[daemons.a\ncommand = 'x'\n"} {
		synctest.Test(t, func(t *testing.T) {
			c, err := Parse("x.toml", []byte(src))
			if (c == nil) == (err == nil) {
				t.Errorf("Parse(%q) = %v, %v, want a config or an error", src, c, err)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	const file = "testdata/missing.toml"
	c, err := Load(file)
	want := "cannot read config: open testdata/missing.toml: no such file or directory"
	if c != nil || err == nil || err.Error() != want {
		t.Fatalf("Load(%q) = %v, %v, want nil, %q", file, c, err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(Load(%q), fs.ErrNotExist) = false, want true", file)
	}
}

func TestErrorList(t *testing.T) {
	_, err := Parse("f.toml", []byte("[daemons.a]\ncommand = 1\n[daemons.b]\n"))
	want := "f.toml:2:1: daemons.a.command: expected string or array of strings, got integer\n" +
		"f.toml:3:10: daemons.b: missing required key \"command\""
	if err == nil || err.Error() != want {
		t.Fatalf("Parse() = %v, want\n%s", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 || e.Col != 1 {
		t.Errorf("errors.As(Parse(), *Error) = %v, want the first error", e)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"500ms", 500 * time.Millisecond, ""},
		{"1s", time.Second, ""},
		{"5m", 5 * time.Minute, ""},
		{"1h", time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{"", 0, `invalid duration ""`},
		{"10", 0, `invalid duration "10"`},
		{"5 minutes", 0, `invalid duration "5 minutes"`},
		{"-1s", 0, `invalid duration "-1s": must not be negative`},
		{"1d", 0, `invalid duration "1d"`},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("ParseDuration(%q) = %v, %q, want %v, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"0", 0, ""},
		{"100", 100, ""},
		{"100B", 100, ""},
		{"100b", 100, ""},
		{"512KB", 512 << 10, ""},
		{"512K", 512 << 10, ""},
		{"512KiB", 512 << 10, ""},
		{"512kb", 512 << 10, ""},
		{"10MB", 10 << 20, ""},
		{"10 MB", 10 << 20, ""},
		{"10MiB", 10 << 20, ""},
		{"1GB", 1 << 30, ""},
		{"8589934591GB", 8589934591 << 30, ""},
		{"8589934592GB", 0, `invalid size "8589934592GB": too large`},
		{"99999999999999999999", 0, `invalid size "99999999999999999999": too large`},
		{"", 0, `invalid size "": want an integer and an optional unit B, KB, MB or GB, such as "10MB"`},
		{"MB", 0, `invalid size "MB": want an integer and an optional unit B, KB, MB or GB, such as "10MB"`},
		{"-1MB", 0, `invalid size "-1MB": want an integer and an optional unit B, KB, MB or GB, such as "10MB"`},
		{" 10MB", 0, `invalid size " 10MB": want an integer and an optional unit B, KB, MB or GB, such as "10MB"`},
		{"1.5MB", 0, `invalid size "1.5MB": want a whole number, such as "1536KB"`},
		{"10TB", 0, `invalid size "10TB": unknown unit: want B, KB, MB or GB`},
		{"10MBs", 0, `invalid size "10MBs": unknown unit: want B, KB, MB or GB`},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("ParseSize(%q) = %v, %q, want %v, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in      string
		want    syscall.Signal
		wantErr string
	}{
		{"SIGTERM", syscall.SIGTERM, ""},
		{"TERM", syscall.SIGTERM, ""},
		{"sigint", syscall.SIGINT, ""},
		{"Hup", syscall.SIGHUP, ""},
		{"SIGKILL", syscall.SIGKILL, ""},
		{"SIGUSR1", syscall.SIGUSR1, ""},
		{"SIGFOO", 0, `invalid signal "SIGFOO"`},
		{"SIG", 0, `invalid signal "SIG"`},
		{"", 0, `invalid signal ""`},
		{"15", 0, `invalid signal "15"`},
	}
	for _, tt := range tests {
		got, err := ParseSignal(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("ParseSignal(%q) = %v, %q, want %v, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestSignalName(t *testing.T) {
	tests := []struct {
		in   syscall.Signal
		want string
	}{
		{syscall.SIGTERM, "SIGTERM"},
		{syscall.SIGKILL, "SIGKILL"},
		{syscall.SIGINT, "SIGINT"},
		{syscall.Signal(40), "signal 40"},
	}
	for _, tt := range tests {
		if got := procexec.SignalName(tt.in); got != tt.want {
			t.Errorf("SignalName(%d) = %q, want %q", tt.in, got, tt.want)
		}
		if tt.in < 32 {
			if back, err := ParseSignal(tt.want); err != nil || back != tt.in {
				t.Errorf("ParseSignal(SignalName(%d)) = %v, %v, want %v", tt.in, back, err, tt.in)
			}
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		word       string
		candidates []string
		want       string
	}{
		{"comand", []string{"command", "description"}, ` (did you mean "command"?)`},
		{"Command", []string{"command"}, ` (did you mean "command"?)`},
		{"evnt_router", []string{"event_router", "selfplay"}, ` (did you mean "event_router"?)`},
		{"xyz", []string{"command", "env"}, ""},
		{"a", []string{"b"}, ""},
		{"tcpp", []string{"exec", "http", "tcp"}, ` (did you mean "tcp"?)`},
	}
	for _, tt := range tests {
		if got := suggest(tt.word, tt.candidates); got != tt.want {
			t.Errorf("suggest(%q, %q) = %q, want %q", tt.word, tt.candidates, got, tt.want)
		}
	}
}
