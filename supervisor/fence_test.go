package supervisor

import (
	"slices"
	"testing"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// TestFenceSteps walks a singleton's placement through step: it spawns
// only after a fence passed, once per fence, stops its copy when the fence
// is lost (SIGKILL by the end of stop_timeout, which ends before the lease
// can), withdraws when it comes to rest stopped and keeps its candidacy
// when it ends failed.
func TestFenceSteps(t *testing.T) {
	p := basePolicy
	p.Singleton, p.StopTimeout = true, time.Second
	kinds := func(acts []action) []actionKind {
		var ks []actionKind
		for _, a := range acts {
			ks = append(ks, a.kind)
		}
		return ks
	}
	for _, tc := range []struct {
		name string
		rec  record
		in   input
		want State
		acts []actionKind
		// check looks at the next record and the actions.
		check func(t *testing.T, r record, acts []action)
	}{
		{"deps running: ask for a fence, not spawn", record{State: Starting}, input{kind: inDepsReady}, Starting, []actionKind{actFence},
			func(t *testing.T, r record, _ []action) {
				if !r.Fencing {
					t.Error("Fencing not set")
				}
			}},
		{"deps running again while asking: nothing", record{State: Starting, Fencing: true}, input{kind: inDepsReady}, Starting, nil, nil},
		{"fence granted: a new token is announced", record{State: Starting, Fencing: true, Fence: 5}, input{kind: inFenceGranted, fence: 9}, Starting, []actionKind{actEmit},
			func(t *testing.T, r record, acts []action) {
				if !r.Granted || r.Fencing || r.Fence != 9 || acts[0].event.Type != SingletonAcquired || *acts[0].event.Fence != 9 {
					t.Errorf("record %+v, event %+v", r, acts[0].event)
				}
			}},
		{"fence granted again, same token: silent", record{State: Starting, Fencing: true, Fence: 9}, input{kind: inFenceGranted, fence: 9}, Starting, nil, nil},
		{"fence granted to one not asking: ignored", record{State: Running, PID: 7, Fence: 9}, input{kind: inFenceGranted, fence: 12}, Running, nil, nil},
		{"granted: spawn once", record{State: Starting, Granted: true, Fence: 9}, input{kind: inDepsReady}, Starting, []actionKind{actSpawn},
			func(t *testing.T, r record, _ []action) {
				if r.Granted {
					t.Error("the fence was not used up")
				}
			}},
		{"fence lost while running: stop now", record{State: Running, PID: 7, Fence: 9}, input{kind: inFenceLost, why: LostLease}, Stopping, []actionKind{actEmit, actHealthStop, actSignal},
			func(t *testing.T, r record, acts []action) {
				if r.After != startAgain || r.Fence != 0 || !r.Deadline.Equal(t0.Add(time.Second)) || acts[0].event.Reason != LostLease {
					t.Errorf("record %+v, event %+v", r, acts[0].event)
				}
			}},
		{"fence lost while stopping: SIGKILL brought forward", record{State: Stopping, PID: 7, Fence: 9, Deadline: t0.Add(time.Minute)}, input{kind: inFenceLost, why: LostLease}, Stopping, []actionKind{actEmit},
			func(t *testing.T, r record, _ []action) {
				if !r.Deadline.Equal(t0.Add(time.Second)) {
					t.Errorf("Deadline = %v, want stop_timeout from now", r.Deadline)
				}
			}},
		{"fence lost, none held: nothing", record{State: Starting, Fencing: true}, input{kind: inFenceLost, why: LostLease}, Starting, nil, nil},
		{"stopped: withdraw, lost", record{State: Stopping, PID: 7, Fence: 9, After: stayDown}, input{kind: inExit, exit: procexec.Exit{PID: 7}}, Stopped, []actionKind{actKillGroup, actEmit, actKillLeftovers, actWithdraw},
			func(t *testing.T, r record, acts []action) {
				if a := acts[len(acts)-1]; a.event.Type != SingletonLost || a.event.Reason != LostStopped || r.Fence != 0 {
					t.Errorf("withdraw %+v", a)
				}
			}},
		{"stop while asking: withdraw", record{State: Starting, Fencing: true}, input{kind: inStop}, Stopped, []actionKind{actEmit, actKillLeftovers, actWithdraw},
			func(t *testing.T, r record, _ []action) {
				if r.Fencing {
					t.Error("still fencing")
				}
			}},
		{"failed: keeps its candidacy", record{State: Running, PID: 7, Fence: 9, RestartCount: 5}, input{kind: inExit, exit: procexec.Exit{PID: 7, Code: 1}}, Failed, []actionKind{actHealthStop, actKillGroup, actEmit, actCascade, actEmit, actEmit},
			func(t *testing.T, _ record, acts []action) {
				if a := acts[len(acts)-1]; a.event.Type != SingletonLost || a.event.Reason != LostFailed {
					t.Errorf("last action %+v", a)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, acts := step(tc.rec, p, tc.in, t0)
			if r.State != tc.want || !slices.Equal(kinds(acts), tc.acts) {
				t.Fatalf("step = %v, %v; want %v, %v", r.State, kinds(acts), tc.want, tc.acts)
			}
			if tc.check != nil {
				tc.check(t, r, acts)
			}
		})
	}
	// A daemon that is not a singleton ignores the fences in every state.
	for _, st := range States() {
		for _, in := range []input{{kind: inFenceGranted, fence: 3}, {kind: inFenceLost, why: LostLease}} {
			r := record{State: st, PID: 7, Fence: 3, Fencing: true}
			if next, acts := step(r, basePolicy, in, t0); next != r || acts != nil {
				t.Errorf("%v, %v on a local daemon: %+v, %v", st, in.kind, next, acts)
			}
		}
	}
}
