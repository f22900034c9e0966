package control

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/ringrift/ringsup/supervisor"
)

// statusTextCases are statuses whose text must be what json.MarshalIndent
// makes of them; they seed FuzzStatusText too.
var statusTextCases = map[string]supervisor.Status{
	"zero":       {},
	"no daemons": {Profile: "full", Config: "/etc/ringsup.toml", PID: 42, Daemons: map[string]supervisor.DaemonStatus{}},
	"spec example": {Profile: "full", Config: "/abs/path/ringsup.toml", PID: 4242, Daemons: map[string]supervisor.DaemonStatus{
		"event_router": {
			State: supervisor.Running, PID: 4301, UptimeS: 12.5, Health: "healthy",
			LastExit: &supervisor.ExitStatus{Code: 1}, DependsOn: []string{},
		},
	}},
	"every state": {Daemons: map[string]supervisor.DaemonStatus{
		"a": {State: supervisor.Stopped, Health: "none"},
		"b": {State: supervisor.Starting, DependsOn: []string{"a"}},
		"c": {State: supervisor.Stopping, DependsOn: []string{"a", "b"}},
		"d": {State: supervisor.Failed, LastExit: &supervisor.ExitStatus{Code: -1, Signal: "SIGKILL"}, LastError: "exited 3 times"},
		"e": {State: supervisor.ImportFailed, LastError: `exec: "./x": not found`},
		"f": {State: supervisor.Restarting, BackoffS: 0.25, RestartCount: 7},
		"g": {State: supervisor.State(99), Done: true, Leftovers: []int{12, 13}},
		"h": {State: supervisor.Stopped, Singleton: &supervisor.SingletonStatus{Owner: "n2", Fence: 123}},
		"i": {State: supervisor.Running, Singleton: &supervisor.SingletonStatus{}},
	}},
	"odd strings": {Profile: "<&>\"\\\b\f\n\r\t\x00\x1f\x7f", Config: "é\u2028\u2029\xff\xfe\U0001F600", Daemons: map[string]supervisor.DaemonStatus{
		"\xff": {Health: "\u2028"}, "<b>": {HealthError: "a\x01b"}, "": {},
	}},
	"floats": {Daemons: map[string]supervisor.DaemonStatus{
		"tiny":  {UptimeS: 1e-7, BackoffS: 9.99e-7},
		"small": {UptimeS: 1e-6, BackoffS: 0.000001234},
		"big":   {UptimeS: 1e21, BackoffS: 1e20},
		"huge":  {UptimeS: math.MaxFloat64, BackoffS: -1e-300},
		"neg0":  {UptimeS: math.Copysign(0, -1), BackoffS: 123456789.125},
		"min":   {UptimeS: math.SmallestNonzeroFloat64, BackoffS: 1.0 / 3},
	}},
	"big ints": {PID: math.MaxInt, Daemons: map[string]supervisor.DaemonStatus{
		"x": {PID: math.MinInt, RestartCount: -1, LastExit: &supervisor.ExitStatus{Code: math.MaxInt32}},
	}},
}

// checkStatusText fails t unless appendStatusText(st) is the text
// json.MarshalIndent makes of st, with a newline.
func checkStatusText(t *testing.T, st supervisor.Status) {
	t.Helper()
	want, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatalf("json.MarshalIndent: %v", err)
	}
	want = append(want, '\n')
	got, err := appendStatusText([]byte("prefix"), st.List())
	if err != nil {
		t.Fatalf("appendStatusText(%+v) = %v, want %q", st, err, want)
	}
	got, ok := bytes.CutPrefix(got, []byte("prefix"))
	if !ok || !bytes.Equal(got, want) {
		t.Fatalf("appendStatusText(%+v) =\n%s\nwant (json.MarshalIndent)\n%s", st, got, want)
	}
}

func TestStatusTextMatchesMarshalIndent(t *testing.T) {
	for name, st := range statusTextCases {
		t.Run(name, func(t *testing.T) { checkStatusText(t, st) })
	}
	// Every field of every type in a Status, set: a field added to
	// supervisor.Status, DaemonStatus or ExitStatus that appendStatusText
	// does not write fails here.
	var st supervisor.Status
	fill(reflect.ValueOf(&st).Elem(), 1)
	t.Run("every field", func(t *testing.T) { checkStatusText(t, st) })
}

// TestAppendRequestMatchesMarshal: the client encodes its request as
// json.Marshal would. FuzzReadRequest checks it on every request it
// decodes; here every field is set, so a field added to Request and not to
// appendRequest fails.
func TestAppendRequestMatchesMarshal(t *testing.T) {
	var full Request
	fill(reflect.ValueOf(&full).Elem(), 3)
	full.Data = json.RawMessage(`{"k": "<v>", "n": [1, 2]}`) // what fill sets is not JSON
	lines := 0
	for _, req := range []Request{{}, full, {V: Version, Cmd: CmdLogs, Names: []string{}, Lines: &lines}} {
		want, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendRequest(nil, req); !bytes.Equal(got, want) {
			t.Errorf("appendRequest(%+v) = %s, want (json.Marshal) %s", req, got, want)
		}
	}
}

// fill sets every field reachable from v to a value other than its zero
// value, derived from seed.
func fill(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("s<" + string(rune('a'+seed%26)) + ">\n")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed%7 + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed%7 + 1))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(seed) + 0.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), seed+i+1)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			e := reflect.New(v.Type().Elem()).Elem()
			fill(k, seed+10*i+1)
			fill(e, seed+10*i+2)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), seed+i+1)
			}
		}
	default:
		panic("fill: no value for kind " + v.Kind().String())
	}
}

func TestStatusTextRefusesWhatMarshalRefuses(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		st := supervisor.Status{Daemons: map[string]supervisor.DaemonStatus{"x": {BackoffS: f}}}
		if _, err := json.Marshal(st); err == nil {
			t.Fatalf("json.Marshal(backoff_s %v) = nil error", f)
		}
		if _, err := appendStatusText(nil, st.List()); err == nil {
			t.Errorf("appendStatusText(backoff_s %v) = nil error, want one", f)
		}
	}
}

// FuzzStatusText checks appendStatusText against json.MarshalIndent on a
// status made of the fuzzed strings and numbers.
func FuzzStatusText(f *testing.F) {
	for _, st := range statusTextCases {
		for name, d := range st.Daemons {
			sig := ""
			if d.LastExit != nil {
				sig = d.LastExit.Signal
			}
			f.Add(st.Profile, name, d.Health+d.LastError, sig, d.UptimeS, d.BackoffS, d.PID, len(d.DependsOn), d.Done)
		}
	}
	f.Fuzz(func(t *testing.T, profile, name, text, signal string, uptime, backoff float64, pid, deps int, done bool) {
		d := supervisor.DaemonStatus{
			State: supervisor.State(pid % 9), PID: pid, RestartCount: -pid, UptimeS: uptime, BackoffS: backoff,
			Health: text, HealthError: signal, LastError: text + signal, Done: done,
		}
		if deps%3 != 0 {
			d.DependsOn = []string{}
			for range deps % 4 {
				d.DependsOn = append(d.DependsOn, name+text)
			}
		}
		if deps%5 != 0 {
			d.Daemon, d.Instance = name, &deps
		}
		if deps%2 != 0 {
			d.LastExit = &supervisor.ExitStatus{Code: deps, Signal: signal}
			d.Leftovers = []int{pid, deps}
		}
		st := supervisor.Status{Profile: profile, Config: text, PID: pid, Daemons: map[string]supervisor.DaemonStatus{name: d, text: {}}}
		if _, err := json.Marshal(st); err != nil {
			if _, err := appendStatusText(nil, st.List()); err == nil {
				t.Fatalf("appendStatusText(%+v) = nil error, json.Marshal refuses it", st)
			}
			return
		}
		checkStatusText(t, st)
	})
}
