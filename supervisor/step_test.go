package supervisor

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

var update = flag.Bool("update", false, "rewrite docs/states.md from the transition table")

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var basePolicy = policy{
	AutoRestart: true, MaxRestarts: 5,
	BackoffMin: time.Second, BackoffMax: time.Minute, StableAfter: time.Hour,
	StopSignal: syscall.SIGTERM, StopTimeout: 10 * time.Second,
}

// transitions is the state machine's table: each row is one (state, input)
// situation and the state it must lead to. TestTransitions checks step
// against it, and docs/states.md is drawn from it.
var transitions = []struct {
	label string // edge label in the diagram
	rec   record
	pol   func(*policy)
	in    input
	want  State
	acts  []actionKind
}{
	{"start", record{State: Stopped}, nil, input{kind: inStart}, Starting, nil},
	{"restart", record{State: Stopped}, nil, input{kind: inRestart}, Starting, nil},
	{"start for a dependent (done)", record{State: Stopped, Done: true}, func(p *policy) { p.Oneshot = true }, input{kind: inStart, forDependent: true}, Stopped, nil},
	{"start (refused)", record{State: Failed}, nil, input{kind: inStart}, Failed, nil},
	{"restart --force", record{State: Failed, RestartCount: 5}, nil, input{kind: inRestart, force: true}, Starting, nil},
	{"restart (refused)", record{State: ImportFailed}, nil, input{kind: inRestart}, ImportFailed, nil},
	{"restart --force", record{State: ImportFailed}, nil, input{kind: inRestart, force: true}, Starting, nil},
	{"deps running", record{State: Starting}, nil, input{kind: inDepsReady}, Starting, []actionKind{actSpawn}},
	{"spawned", record{State: Starting}, nil, input{kind: inSpawned, pid: 7}, Running, []actionKind{actHealthStart, actEmit}},
	{"cannot exec", record{State: Starting}, nil, input{kind: inSpawnFailed, err: errors.New("not found")}, ImportFailed, []actionKind{actEmit}},
	{"spawn error", record{State: Starting}, nil, input{kind: inSpawnError, err: errors.New("EMFILE")}, Restarting, []actionKind{actEmit}},
	{"dependency failed", record{State: Starting}, nil, input{kind: inDepFailed, err: errors.New("dep")}, Stopped, []actionKind{actEmit, actKillLeftovers}},
	{"stop", record{State: Starting}, nil, input{kind: inStop}, Stopped, []actionKind{actEmit, actKillLeftovers}},
	{"crash", record{State: Running, PID: 7}, nil, input{kind: inExit, exit: procexec.Exit{PID: 7, Code: 1}}, Restarting, []actionKind{actHealthStop, actKillGroup, actEmit, actCascade, actEmit}},
	{"crash, max_restarts reached", record{State: Running, PID: 7, RestartCount: 5}, nil, input{kind: inExit, exit: procexec.Exit{PID: 7, Code: 1}}, Failed, []actionKind{actHealthStop, actKillGroup, actEmit, actCascade, actEmit}},
	{"exit != 0, no auto_restart", record{State: Running, PID: 7}, func(p *policy) { p.AutoRestart = false }, input{kind: inExit, exit: procexec.Exit{PID: 7, Code: 2}}, Failed, []actionKind{actHealthStop, actKillGroup, actEmit, actCascade, actEmit}},
	{"exit 0, no auto_restart", record{State: Running, PID: 7}, func(p *policy) { p.AutoRestart = false }, input{kind: inExit, exit: procexec.Exit{PID: 7}}, Stopped, []actionKind{actHealthStop, actKillGroup, actEmit, actCascade, actEmit, actKillLeftovers}},
	{"exit of another pid", record{State: Running, PID: 7}, nil, input{kind: inExit, exit: procexec.Exit{PID: 8}}, Running, nil},
	{"stop", record{State: Running, PID: 7}, nil, input{kind: inStop}, Stopping, []actionKind{actHealthStop, actSignal}},
	{"stable_after", record{State: Running, PID: 7, RestartCount: 3, Deadline: t0}, nil, input{kind: inDeadline}, Running, nil},
	{"exit", record{State: Stopping, PID: 7, After: stayDown}, nil, input{kind: inExit, exit: procexec.Exit{PID: 7, Signal: syscall.SIGTERM}}, Stopped, []actionKind{actKillGroup, actEmit, actKillLeftovers}},
	{"exit, to start again", record{State: Stopping, PID: 7, After: startAgain}, nil, input{kind: inExit, exit: procexec.Exit{PID: 7, Signal: syscall.SIGTERM}}, Starting, []actionKind{actKillGroup, actEmit}},
	{"stop_timeout: SIGKILL", record{State: Stopping, PID: 7, Deadline: t0}, nil, input{kind: inDeadline}, Stopping, []actionKind{actSignal}},
	{"unhealthy: stop after dependents", record{State: Running, PID: 7}, nil, input{kind: inUnhealthy, err: errors.New("probe")}, Running, []actionKind{actHealthStop, actCascade}},
	{"stop (unhealthy)", record{State: Running, PID: 7}, nil, input{kind: inStop, reason: asCrash}, Stopping, []actionKind{actHealthStop, actSignal}},
	{"exit after unhealthy", record{State: Stopping, PID: 7, After: asCrash}, nil, input{kind: inExit, exit: procexec.Exit{PID: 7, Signal: syscall.SIGTERM}}, Restarting, []actionKind{actKillGroup, actEmit, actEmit}},
	{"not ready in time", record{State: Starting, PID: 7}, nil, input{kind: inUnhealthy, err: errors.New("probe")}, Stopping, []actionKind{actHealthStop, actSignal}},
	{"ready", record{State: Starting, PID: 7}, nil, input{kind: inReady}, Running, []actionKind{actEmit}},
	{"spawned (needs ready)", record{State: Starting}, func(p *policy) { p.NeedsReady = true }, input{kind: inSpawned, pid: 7}, Starting, []actionKind{actHealthStart}},
	{"crash, backoff_min 0", record{State: Running, PID: 7}, func(p *policy) { p.BackoffMin = 0 }, input{kind: inExit, exit: procexec.Exit{PID: 7, Code: 1}}, Starting, []actionKind{actHealthStop, actKillGroup, actEmit, actCascade, actEmit}},
	{"backoff over", record{State: Restarting, Deadline: t0}, nil, input{kind: inDeadline}, Starting, nil},
	{"start", record{State: Restarting, Deadline: t0.Add(time.Hour)}, nil, input{kind: inStart}, Starting, nil},
	{"stop", record{State: Restarting, Deadline: t0.Add(time.Hour)}, nil, input{kind: inStop}, Stopped, []actionKind{actEmit, actKillLeftovers}},
	{"dependency failed", record{State: Restarting, Deadline: t0.Add(time.Hour)}, nil, input{kind: inDepFailed, err: errors.New("dep")}, Stopped, []actionKind{actEmit, actKillLeftovers}},
}

// reachableRecord reports whether a record in state st with process pid
// (0: none) can happen: running and stopping have a process, starting may
// or may not, the others have none.
func reachableRecord(st State, pid int) bool {
	if st == Starting {
		return true
	}
	return (pid != 0) == (st == Running || st == Stopping)
}

func TestTransitions(t *testing.T) {
	for _, tt := range transitions {
		p := basePolicy
		if tt.pol != nil {
			tt.pol(&p)
		}
		got, acts := step(tt.rec, p, tt.in, t0)
		var kinds []actionKind
		for _, a := range acts {
			kinds = append(kinds, a.kind)
		}
		if got.State != tt.want || !slices.Equal(kinds, tt.acts) {
			t.Errorf("step(%v, %v) [%s] = %v %v, want %v %v", tt.rec.State, tt.in.kind, tt.label, got.State, kinds, tt.want, tt.acts)
		}
	}
}

// TestStepIsTotal walks every (state, input) pair, with and without a
// process, and checks the invariants the loop relies on.
func TestStepIsTotal(t *testing.T) {
	for _, st := range States() {
		for _, pid := range []int{0, 7} {
			for _, kind := range allInputs() {
				if !reachableRecord(st, pid) {
					continue // not a reachable record
				}
				for _, after := range []stopReason{stayDown, startAgain} {
					r := record{State: st, PID: pid, Deadline: t0, RestartCount: 2}
					in := input{kind: kind, pid: 9, exit: procexec.Exit{PID: pid, Code: 1},
						err: errors.New("x"), reason: after}
					got, acts := step(r, basePolicy, in, t0)
					name := fmt.Sprintf("step(%v pid %d, %v %v)", st, pid, kind, after)
					switch got.State {
					case Stopped, Failed, ImportFailed, Restarting:
						if got.PID != 0 {
							t.Errorf("%s = %v with pid %d: a down state keeps a process", name, got.State, got.PID)
						}
					case Running, Stopping:
						if got.PID == 0 {
							t.Errorf("%s = %v without a pid", name, got.State)
						}
					}
					if got.State == Restarting && got.Deadline.IsZero() {
						t.Errorf("%s = restarting without a deadline", name)
					}
					for _, a := range acts {
						if a.kind == actSpawn && (got.State != Starting || got.PID != 0) {
							t.Errorf("%s spawns while %v pid %d", name, got.State, got.PID)
						}
					}
				}
			}
		}
	}
}

// stepEdges enumerates step over every state and every input, each in the
// variants that lead to different places (with and without a process, every
// stop reason, restarts left or not, each kind of policy, a singleton's
// holder among them), and returns the
// state changes it takes: for each (from, to), the inputs that take it.
func stepEdges() map[[2]State][]string {
	policies := []func(*policy){
		nil,
		func(p *policy) { p.AutoRestart = false },
		func(p *policy) { p.BackoffMin = 0 },
		func(p *policy) { p.Oneshot = true },
		func(p *policy) { p.NeedsReady = true },
		func(p *policy) { p.Singleton = true },
	}
	reasons := []stopReason{stayDown, startAgain, asCrash}
	edges := map[[2]State][]string{}
	for _, st := range States() {
		for _, pid := range []int{0, 7} {
			if !reachableRecord(st, pid) {
				continue // not a reachable record
			}
			for _, after := range reasons {
				for _, count := range []int{0, basePolicy.MaxRestarts} {
					for _, pol := range policies {
						p := basePolicy
						if pol != nil {
							pol(&p)
						}
						r := record{State: st, PID: pid, After: after, RestartCount: count, Deadline: t0}
						if p.Singleton {
							r.Fence, r.Candidate = 3, true // it holds the singleton
						}
						for _, kind := range allInputs() {
							for _, reason := range reasons {
								for _, code := range []int{0, 1} {
									for _, force := range []bool{false, true} {
										in := input{kind: kind, pid: 9, exit: procexec.Exit{PID: pid, Code: code},
											err: errors.New("x"), reason: reason, force: force}
										got, _ := step(r, p, in, t0)
										e := [2]State{st, got.State}
										if st != got.State && !slices.Contains(edges[e], kind.String()) {
											edges[e] = append(edges[e], kind.String())
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	return edges
}

// TestStateDiagram keeps docs/states.md in step with step itself.
func TestStateDiagram(t *testing.T) {
	edges := stepEdges()
	var b strings.Builder
	b.WriteString("# Daemon states\n\n")
	b.WriteString("Generated by enumerating `step` (supervisor/step.go) over every state and\n")
	b.WriteString("input by `go test ./supervisor -run TestStateDiagram -update`; do not edit.\n")
	b.WriteString("An edge is labelled with the inputs (supervisor/step.go, `inputKind`) that\n")
	b.WriteString("take it; inputs that leave the state as it is are not drawn.\n\n")
	b.WriteString("```mermaid\nstateDiagram-v2\n    [*] --> stopped\n")
	for _, from := range States() {
		for _, to := range States() {
			if inputs := edges[[2]State{from, to}]; len(inputs) > 0 {
				fmt.Fprintf(&b, "    %s --> %s: %s\n", from, to, strings.Join(inputs, ", "))
			}
		}
	}
	b.WriteString("```\n")
	const path = "../docs/states.md"
	if *update {
		if err := os.MkdirAll("../docs", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(got) != b.String() {
		t.Fatalf("%s is out of date: run go test ./supervisor -run TestStateDiagram -update", path)
	}
}

// TestStepTakesTheTableEdges: every state change of the transition table
// is among the edges the diagram draws; the two it used to miss are there.
func TestStepTakesTheTableEdges(t *testing.T) {
	edges := stepEdges()
	for _, tt := range transitions {
		if tt.rec.State != tt.want && !slices.Contains(edges[[2]State{tt.rec.State, tt.want}], tt.in.kind.String()) {
			t.Errorf("edge %v --> %v: %v [%s] is not in the diagram", tt.rec.State, tt.want, tt.in.kind, tt.label)
		}
	}
	for _, e := range []struct {
		from, to State
		in       inputKind
	}{
		{Starting, Failed, inExit}, // a crash while starting, no restarts left
		{Stopping, Failed, inExit}, // an unhealthy daemon stopped, no restarts left
	} {
		if !slices.Contains(edges[[2]State{e.from, e.to}], e.in.String()) {
			t.Errorf("edge %v --> %v on %v is missing", e.from, e.to, e.in)
		}
	}
}

func TestBackoff(t *testing.T) {
	for _, tt := range []struct {
		min, max time.Duration
		n        int
		want     time.Duration
	}{
		{time.Second, 5 * time.Minute, 0, time.Second},
		{time.Second, 5 * time.Minute, 1, 2 * time.Second},
		{time.Second, 5 * time.Minute, 4, 16 * time.Second},
		{time.Second, 5 * time.Minute, 9, 5 * time.Minute},
		{time.Second, 5 * time.Minute, 1000, 5 * time.Minute},
		{0, time.Minute, 3, 0},
		{500 * time.Millisecond, time.Second, 1, time.Second},
	} {
		if got := backoff(tt.min, tt.max, tt.n); got != tt.want {
			t.Errorf("backoff(%v, %v, %d) = %v, want %v", tt.min, tt.max, tt.n, got, tt.want)
		}
	}
}

// TestStopDue checks the stop that waits for a daemon's dependents, and
// the kill that does not wait: both are decided by step, in every state.
func TestStopDue(t *testing.T) {
	for _, tt := range []struct {
		name    string
		rec     record
		in      input
		want    record
		wantSig syscall.Signal // the signal sent, if any
	}{
		{"due to start again", record{State: Running, PID: 7}, input{kind: inStopDue, reason: startAgain},
			record{State: Running, PID: 7, StopDue: true, DueReason: startAgain}, 0},
		{"staying down wins", record{State: Running, PID: 7, StopDue: true, DueReason: stayDown}, input{kind: inStopDue, reason: startAgain},
			record{State: Running, PID: 7, StopDue: true, DueReason: stayDown}, 0},
		{"staying down overrides", record{State: Running, PID: 7, StopDue: true, DueReason: startAgain}, input{kind: inStopDue, reason: stayDown},
			record{State: Running, PID: 7, StopDue: true, DueReason: stayDown}, 0},
		{"due while down", record{State: Stopped}, input{kind: inStopDue, reason: stayDown},
			record{State: Stopped, StopDue: true, DueReason: stayDown}, 0},
		{"start cancels it", record{State: Starting, StopDue: true}, input{kind: inStart},
			record{State: Starting}, 0},
		{"stop takes it", record{State: Stopped, StopDue: true}, input{kind: inStop},
			record{State: Stopped}, 0},
		{"unhealthy: stop as a crash", record{State: Running, PID: 7}, input{kind: inUnhealthy, err: errors.New("x")},
			record{State: Running, PID: 7, StopDue: true, DueReason: asCrash, LastError: "x"}, 0},
		{"unhealthy while due to stay down", record{State: Running, PID: 7, StopDue: true, DueReason: stayDown}, input{kind: inUnhealthy, err: errors.New("x")},
			record{State: Running, PID: 7, StopDue: true, DueReason: stayDown, LastError: "x"}, 0},
		{"kill running", record{State: Running, PID: 7, StopDue: true}, input{kind: inKill},
			record{State: Stopping, PID: 7, After: stayDown, Killed: true}, syscall.SIGKILL},
		{"kill stopping", record{State: Stopping, PID: 7, After: startAgain, Deadline: t0}, input{kind: inKill},
			record{State: Stopping, PID: 7, After: startAgain, Killed: true}, syscall.SIGKILL},
		{"kill before spawn: the due stop keeps it down", record{State: Starting, StopDue: true}, input{kind: inKill},
			record{State: Starting, StopDue: true}, 0},
	} {
		got, acts := step(tt.rec, basePolicy, tt.in, t0)
		var sig syscall.Signal
		for _, a := range acts {
			if a.kind == actSignal {
				sig = a.sig
			}
		}
		if !reflect.DeepEqual(got, tt.want) || sig != tt.wantSig {
			t.Errorf("step(%+v, %v) [%s] = %+v, signal %d; want %+v, signal %d", tt.rec, tt.in.kind, tt.name, got, sig, tt.want, tt.wantSig)
		}
	}
}
