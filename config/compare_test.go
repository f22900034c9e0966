package config

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

// reloadClass says, for every field of Daemon, what a reload does when it
// changes: "runtime" (Compare lists the daemon in Diff.Runtime: it
// restarts), "policy" (Diff.Policy: it applies in place), or, for a field
// Compare must not look at, why. TestCompareSeesEveryField fails when
// Daemon gains a field that is not here, so that a new setting cannot be
// silently ignored by reload.
var reloadClass = map[string]string{
	"Name":          "not compared: the key both configs are matched by",
	"Description":   "policy",
	"Type":          "runtime",
	"Command":       "runtime",
	"DependsOn":     "policy",
	"AutoRestart":   "policy",
	"MaxRestarts":   "policy",
	"BackoffMin":    "policy",
	"BackoffMax":    "policy",
	"StableAfter":   "policy",
	"BackoffJitter": "policy",
	"StopSignal":    "runtime",
	"StopTimeout":   "runtime",
	"WorkingDir":    "runtime",
	"Env":           "runtime",
	"EnvFile":       "not compared: the files' variables are in Env, which is",
	"User":          "runtime",
	"Rlimits":       "runtime",
	"Umask":         "runtime",
	"Health":        "policy",
	"Ready":         "runtime",
	"Watchdog":      "policy",
	"LogMaxSize":    "policy",
	"LogMaxFiles":   "policy",
	"LogTimestamps": "policy",
	"Pos":           "not compared: where the daemon is written in the file",
	"Template":      "not compared: part of Name",
	"Instance":      "not compared: part of Name",
	"Instances":     "not compared: a change adds or removes instances, and leaves the others alone",
	"instanceEnv":   "not compared: which of Env's values were expanded; Env is compared",
}

// reloadHealthFields lists the fields of Health, which is policy as a whole.
var reloadHealthFields = []string{"Exec", "HTTP", "TCP", "Interval", "Timeout", "Retries", "StartPeriod", "OnUnhealthy"}

func TestCompareSeesEveryField(t *testing.T) {
	base := func() *Daemon {
		umask := uint32(0o022)
		return &Daemon{
			Name: "d", Command: []string{"a"}, Env: map[string]string{"A": "1"},
			Rlimits: map[string]uint64{"nofile": 10}, Umask: &umask,
			Health: &Health{Exec: []string{"probe"}, Interval: time.Second},
		}
	}
	diff := func(d *Daemon) Diff {
		old := &Config{Daemons: map[string]*Daemon{"d": base()}}
		return Compare(old, &Config{Daemons: map[string]*Daemon{"d": d}})
	}
	classOf := func(df Diff) string {
		switch {
		case slices.Equal(df.Runtime, []string{"d"}):
			return "runtime"
		case slices.Equal(df.Policy, []string{"d"}):
			return "policy"
		}
		return "unchanged"
	}
	if got := classOf(diff(base())); got != "unchanged" {
		t.Fatalf("Compare of equal daemons = %s, want unchanged", got)
	}
	typ := reflect.TypeFor[Daemon]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		want, ok := reloadClass[f.Name]
		if !ok {
			t.Errorf("Daemon.%s is not in reloadClass: say whether a reload restarts the daemon (runtime), applies it in place (policy), or why Compare ignores it", f.Name)
			continue
		}
		if want != "runtime" && want != "policy" {
			continue
		}
		d := base()
		changeField(t, reflect.ValueOf(d).Elem().Field(i), f.Name)
		if got := classOf(diff(d)); got != want {
			t.Errorf("a change of Daemon.%s is %s to Compare, want %s", f.Name, got, want)
		}
	}
	htyp := reflect.TypeFor[Health]()
	for i := range htyp.NumField() {
		name := htyp.Field(i).Name
		if !slices.Contains(reloadHealthFields, name) {
			t.Errorf("Health.%s is not in reloadHealthFields", name)
			continue
		}
		d := base()
		changeField(t, reflect.ValueOf(d.Health).Elem().Field(i), "Health."+name)
		if got := classOf(diff(d)); got != "policy" {
			t.Errorf("a change of Daemon.Health.%s is %s to Compare, want policy", name, got)
		}
	}
}

// changeField sets v to a value different from the one base() gives it.
func changeField(t *testing.T, v reflect.Value, name string) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Float64:
		v.SetFloat(v.Float() + 0.5)
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.ValueOf("x")))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.ValueOf("B"), reflect.New(v.Type().Elem()).Elem())
		v.Set(m)
	case reflect.Pointer:
		switch p := v.Interface().(type) {
		case *uint32:
			x := *p + 1
			v.Set(reflect.ValueOf(&x))
		case *Health:
			v.Set(reflect.ValueOf((*Health)(nil)))
		default:
			t.Fatalf("changeField: no change for %s of type %v", name, v.Type())
		}
	default:
		t.Fatalf("changeField: no change for %s of type %v", name, v.Type())
	}
}
