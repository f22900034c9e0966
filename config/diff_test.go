package config

import (
	"reflect"
	"testing"
)

func TestCompare(t *testing.T) {
	const base = `
[supervisor]
default_profile = "full"
[profiles]
full = ["a", "b", "c", "d", "e"]
[daemons.a]
command = "a"
[daemons.b]
command = "b"
depends_on = ["a"]
[daemons.c]
command = "c"
env = { X = "1" }
[daemons.d]
command = "d"
max_restarts = 2
[daemons.e]
command = "e"
`
	const changed = `
[supervisor]
default_profile = "full"
log_dir = "elsewhere"
[profiles]
full = ["a", "b", "c", "d", "f"]
[daemons.a]
command = "a"
[daemons.b]
command = "b"
depends_on = ["a"]
[daemons.c]
command = "c"
env = { X = "2" }
[daemons.d]
command = "d"
max_restarts = 3
[daemons.f]
command = "f"
`
	old := mustParse(t, base)
	got := Compare(old, mustParse(t, changed))
	want := Diff{
		Added:       []string{"f"},
		Removed:     []string{"e"},
		Runtime:     []string{"c"},
		Policy:      []string{"d"},
		Unchanged:   []string{"a", "b"},
		Profiles:    true,
		NeedRestart: []string{"log_dir"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Compare = %+v\nwant %+v", got, want)
	}
	same := Compare(old, mustParse(t, base))
	if len(same.Unchanged) != 5 || same.Profiles || len(same.Added)+len(same.Removed)+len(same.Runtime)+len(same.Policy)+len(same.NeedRestart) != 0 {
		t.Errorf("Compare(x, x) = %+v, want everything unchanged", same)
	}
}

func TestCompareKinds(t *testing.T) {
	for _, tt := range []struct {
		before, after string
		runtime       bool
	}{
		{`command = "x"`, `command = "y"`, true},
		{`command = "x"` + "\n" + `working_dir = "/tmp"`, `command = "x"`, true},
		{`command = "x"` + "\n" + `stop_signal = "INT"`, `command = "x"`, true},
		{`command = "x"` + "\n" + `stop_timeout = "1s"`, `command = "x"`, true},
		{`command = "x"` + "\n" + `backoff_min = "2s"`, `command = "x"`, false},
		{`command = "x"` + "\n" + `auto_restart = false`, `command = "x"`, false},
		{`command = "x"` + "\n" + `description = "d"`, `command = "x"`, false},
	} {
		a := mustParse(t, "[daemons.x]\n"+tt.before+"\n")
		b := mustParse(t, "[daemons.x]\n"+tt.after+"\n")
		d := Compare(a, b)
		if got := len(d.Runtime) == 1; got != tt.runtime {
			t.Errorf("Compare(%q -> %q): runtime = %v, want %v (%+v)", tt.before, tt.after, got, tt.runtime, d)
		}
		if !tt.runtime && len(d.Policy) != 1 {
			t.Errorf("Compare(%q -> %q) = %+v, want a policy change", tt.before, tt.after, d)
		}
	}
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := Parse("/etc/ringsup/ringsup.toml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, src)
	}
	return cfg
}
