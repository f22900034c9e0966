package supervisor

import (
	"errors"
	"fmt"
	"slices"
	"syscall"
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
		{"deps running: ask for a fence, not spawn", record{State: Starting, Ask: 4}, input{kind: inDepsReady}, Starting, []actionKind{actFence},
			func(t *testing.T, r record, _ []action) {
				if !r.Fencing || !r.Candidate || r.Ask != 5 {
					t.Errorf("Fencing %v, Candidate %v, Ask %d; want both set, a new request 5", r.Fencing, r.Candidate, r.Ask)
				}
			}},
		{"deps running again while asking: nothing", record{State: Starting, Fencing: true}, input{kind: inDepsReady}, Starting, nil, nil},
		{"fence granted: a new token is announced", record{State: Starting, Fencing: true, Fence: 5}, input{kind: inFenceGranted, fence: 9}, Starting, []actionKind{actEmit},
			func(t *testing.T, r record, acts []action) {
				if !r.Granted || r.Fencing || r.Fence != 9 || acts[0].event.Type != SingletonAcquired || *acts[0].event.Fence != 9 {
					t.Errorf("record %+v, event %+v", r, acts[0].event)
				}
			}},
		{"a grant for an earlier request: stale, ignored", record{State: Starting, Fencing: true, Candidate: true, Ask: 2}, input{kind: inFenceGranted, fence: 9, ask: 1}, Starting, nil,
			func(t *testing.T, r record, _ []action) {
				if r.Granted || !r.Fencing || r.Fence != 0 {
					t.Errorf("record %+v, want still fencing, nothing granted", r)
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
		{"lease gone while running: SIGKILL now", record{State: Running, PID: 7, Fence: 9}, input{kind: inFenceLost, why: LostLease, gone: true}, Stopping, []actionKind{actEmit, actHealthStop, actSignal},
			func(t *testing.T, r record, acts []action) {
				if r.After != startAgain || !r.Killed || !r.Deadline.IsZero() || acts[2].sig != syscall.SIGKILL {
					t.Errorf("record %+v, signal %v; want killed at once", r, acts[2].sig)
				}
			}},
		{"lease gone while stopping: SIGKILL now", record{State: Stopping, PID: 7, Fence: 9, Deadline: t0.Add(time.Minute)}, input{kind: inFenceLost, why: LostLease, gone: true}, Stopping, []actionKind{actEmit, actSignal},
			func(t *testing.T, r record, acts []action) {
				if !r.Killed || !r.Deadline.IsZero() || acts[1].sig != syscall.SIGKILL {
					t.Errorf("record %+v, signal %v; want killed at once", r, acts[1].sig)
				}
			}},
		{"lease gone while stopping, killed already: no second SIGKILL", record{State: Stopping, PID: 7, Fence: 9, Killed: true}, input{kind: inFenceLost, why: LostLease, gone: true}, Stopping, []actionKind{actEmit}, nil},
		{"fence lost, none held: nothing", record{State: Starting, Fencing: true}, input{kind: inFenceLost, why: LostLease}, Starting, nil, nil},
		{"stopped: withdraw, lost", record{State: Stopping, PID: 7, Fence: 9, Candidate: true, After: stayDown}, input{kind: inExit, exit: procexec.Exit{PID: 7}}, Stopped, []actionKind{actKillGroup, actEmit, actKillLeftovers, actGuardRelease, actWithdraw},
			func(t *testing.T, r record, acts []action) {
				if a := acts[len(acts)-1]; a.event.Type != SingletonLost || a.event.Reason != LostStopped || r.Fence != 0 || r.Candidate {
					t.Errorf("withdraw %+v", a)
				}
			}},
		{"stop while asking: withdraw", record{State: Starting, Fencing: true, Candidate: true}, input{kind: inStop}, Stopped, []actionKind{actEmit, actKillLeftovers, actWithdraw},
			func(t *testing.T, r record, acts []action) {
				if r.Fencing || r.Candidate || acts[2].event.Type != "" {
					t.Errorf("record %+v, withdraw %+v; want no candidacy, no event (nothing held)", r, acts[2])
				}
			}},
		{"stop, never a candidate: nothing to withdraw", record{State: Starting}, input{kind: inStop}, Stopped, []actionKind{actEmit, actKillLeftovers}, nil},
		{"failed: keeps its candidacy", record{State: Running, PID: 7, Fence: 9, Candidate: true, RestartCount: 5}, input{kind: inExit, exit: procexec.Exit{PID: 7, Code: 1}}, Failed, []actionKind{actHealthStop, actKillGroup, actEmit, actCascade, actEmit, actGuardRelease, actEmit},
			func(t *testing.T, r record, acts []action) {
				if a := acts[len(acts)-1]; a.event.Type != SingletonLost || a.event.Reason != LostFailed || !r.Candidate {
					t.Errorf("last action %+v, Candidate %v", a, r.Candidate)
				}
			}},
		{"spawned: the guard starts first", record{State: Starting, Fence: 9, Candidate: true}, input{kind: inSpawned, pid: 7}, Running, []actionKind{actGuardStart, actHealthStart, actEmit},
			func(t *testing.T, _ record, acts []action) {
				if acts[0].pid != 7 {
					t.Errorf("guard of group %d, want 7", acts[0].pid)
				}
			}},
		{"crash: the guard goes, the candidacy stays", record{State: Running, PID: 7, Fence: 9, Candidate: true}, input{kind: inExit, exit: procexec.Exit{PID: 7, Code: 1}}, Restarting, []actionKind{actHealthStop, actKillGroup, actEmit, actCascade, actEmit, actGuardRelease},
			func(t *testing.T, r record, _ []action) {
				if !r.Candidate || r.Fence != 9 {
					t.Errorf("record %+v, want the candidacy and fence kept", r)
				}
			}},
		{"a dependency stops: stop as in a cascade", record{State: Running, PID: 7, Fence: 9, Candidate: true}, input{kind: inStopDue, reason: stayDown, depStopping: true}, Running, nil,
			func(t *testing.T, r record, _ []action) {
				if !r.StopDue || r.DueReason != startAgain {
					t.Errorf("StopDue %v, DueReason %v; want due, startAgain", r.StopDue, r.DueReason)
				}
			}},
		{"a dependency stops after its own stop: it stays down", record{State: Running, PID: 7, StopDue: true, DueReason: stayDown}, input{kind: inStopDue, reason: stayDown, depStopping: true}, Running, nil,
			func(t *testing.T, r record, _ []action) {
				if r.DueReason != stayDown {
					t.Errorf("DueReason %v, want stayDown", r.DueReason)
				}
			}},
		{"copy gone, a dependency down: withdraw, lost", record{State: Starting, Fence: 9, Candidate: true}, input{kind: inDepsDown}, Starting, []actionKind{actWithdraw},
			func(t *testing.T, r record, acts []action) {
				if e := acts[0].event; e.Type != SingletonLost || e.Reason != LostDependency || r.Fence != 0 || r.Candidate {
					t.Errorf("record %+v, event %+v", r, e)
				}
			}},
		{"asking, a dependency down: withdraw", record{State: Starting, Fencing: true, Candidate: true}, input{kind: inDepsDown}, Starting, []actionKind{actWithdraw},
			func(t *testing.T, r record, acts []action) {
				if r.Fencing || r.Candidate || acts[0].event.Type != "" {
					t.Errorf("record %+v, event %+v", r, acts[0].event)
				}
			}},
		{"granted, a dependency down: withdraw, lost", record{State: Starting, Granted: true, Fence: 9, Candidate: true}, input{kind: inDepsDown}, Starting, []actionKind{actWithdraw},
			func(t *testing.T, r record, _ []action) {
				if r.Granted {
					t.Error("the fence is still granted")
				}
			}},
		{"a dependency down for good: wait, withdrawn", record{State: Starting, Fencing: true, Candidate: true}, input{kind: inDepFailed, err: errors.New("dependency \"d\" is stopped")}, Starting, []actionKind{actWithdraw}, nil},
		{"a dependency down for good, not a candidate: wait", record{State: Starting}, input{kind: inDepFailed, err: errors.New("x")}, Starting, nil, nil},
		{"a dependency down, copy still running: nothing yet", record{State: Running, PID: 7, Fence: 9, Candidate: true}, input{kind: inDepsDown}, Running, nil, nil},
		{"dependencies run again: campaign anew", record{State: Starting}, input{kind: inDepsReady}, Starting, []actionKind{actFence}, nil},
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

// TestDepsDownEveryState decides deps_down and dep_failed for a singleton
// in every state: only a candidate with no process that waits to start
// (starting, restarting) withdraws, losing the singleton if it held its
// fence; the state never changes (a singleton waits for its dependencies
// however long, another node running it meanwhile). A local daemon
// ignores deps_down in every state.
func TestDepsDownEveryState(t *testing.T) {
	p := basePolicy
	p.Singleton = true
	for _, st := range States() {
		for _, pid := range []int{0, 7} {
			if !reachableRecord(st, pid) {
				continue // not a reachable record
			}
			for _, cand := range []bool{false, true} {
				for _, fence := range []int64{0, 9} {
					for _, kind := range []inputKind{inDepsDown, inDepFailed} {
						r := record{State: st, PID: pid, Candidate: cand, Fence: fence, Deadline: t0}
						if st == Starting && pid == 0 && cand {
							r.Fencing = fence == 0
							r.Granted = fence != 0
						}
						name := fmt.Sprintf("step(%v pid %d candidate %v fence %d, %v)", st, pid, cand, fence, kind)
						next, acts := step(r, p, input{kind: kind, err: errors.New("dependency \"d\" is stopped")}, t0)
						if next.State != st || next.PID != pid {
							t.Errorf("%s = %v pid %d, want it to stay %v pid %d", name, next.State, next.PID, st, pid)
						}
						if pid == 0 && cand && (st == Starting || st == Restarting) {
							var wantType EventType
							if fence != 0 {
								wantType = SingletonLost
							}
							if len(acts) != 1 || acts[0].kind != actWithdraw || acts[0].event.Type != wantType ||
								(fence != 0 && acts[0].event.Reason != LostDependency) {
								t.Errorf("%s: actions %+v, want one withdraw with event %q (reason %q)", name, acts, wantType, LostDependency)
							}
							if next.Candidate || next.Fencing || next.Granted || next.Fence != 0 {
								t.Errorf("%s = %+v, want no candidacy, fence or grant left", name, next)
							}
							continue
						}
						if acts != nil || next.Candidate != cand || next.Fence != fence {
							t.Errorf("%s = %+v, %+v; want nothing to change", name, next, acts)
						}
					}
					r := record{State: st, PID: pid, Candidate: cand, Fence: fence}
					if next, acts := step(r, basePolicy, input{kind: inDepsDown}, t0); next != r || acts != nil {
						t.Errorf("deps_down on a local daemon %v pid %d: %+v, %v", st, pid, next, acts)
					}
				}
			}
		}
	}
}

// TestGuardEveryState: in every state and on every input, a singleton's
// step starts the guard exactly when a copy appears (first, with the
// copy's group) and releases it exactly when the copy is gone; a local
// daemon never gets a guard.
func TestGuardEveryState(t *testing.T) {
	single := basePolicy
	single.Singleton = true
	for _, st := range States() {
		for _, pid := range []int{0, 7} {
			if !reachableRecord(st, pid) {
				continue // not a reachable record
			}
			for _, after := range []stopReason{stayDown, startAgain, asCrash} {
				for _, kind := range allInputs() {
					for _, code := range []int{0, 1} {
						for _, p := range []policy{basePolicy, single} {
							r := record{State: st, PID: pid, After: after, Deadline: t0, Fence: 9, Candidate: true, Granted: true}
							in := input{kind: kind, pid: 8, exit: procexec.Exit{PID: pid, Code: code}, err: errors.New("x"), fence: 9, why: LostLease}
							next, acts := step(r, p, in, t0)
							var starts, releases int
							for i, a := range acts {
								switch a.kind {
								case actGuardStart:
									starts++
									if i != 0 || a.pid != next.PID {
										t.Errorf("step(%v pid %d, %v): guard_start at %d for group %d, want first, for %d", st, pid, kind, i, a.pid, next.PID)
									}
								case actGuardRelease:
									releases++
								}
							}
							wantStart, wantRelease := 0, 0
							if p.Singleton && pid == 0 && next.PID != 0 {
								wantStart = 1
							}
							if p.Singleton && pid != 0 && next.PID == 0 {
								wantRelease = 1
							}
							if starts != wantStart || releases != wantRelease {
								t.Errorf("step(%v pid %d, %v) singleton %v -> pid %d: %d guard_start, %d guard_release; want %d, %d",
									st, pid, kind, p.Singleton, next.PID, starts, releases, wantStart, wantRelease)
							}
						}
					}
				}
			}
		}
	}
}

// TestSingletonStepSafety walks a singleton's step over every state,
// input and placement (candidate or not, fence held or not, asking or
// granted) and checks what keeps two copies from running at once: it
// spawns only on a fence granted, and uses it up; it withdraws (which
// lets another node hold it) only with no process left; a node that
// asks for a fence is a candidate, and one that withdrew or rests
// stopped is not.
func TestSingletonStepSafety(t *testing.T) {
	p := basePolicy
	p.Singleton = true
	for _, st := range States() {
		for _, pid := range []int{0, 7} {
			if !reachableRecord(st, pid) {
				continue
			}
			for _, kind := range allInputs() {
				for _, reason := range []stopReason{stayDown, startAgain, asCrash} {
					for flags := 0; flags < 16; flags++ {
						r := record{State: st, PID: pid, After: reason, Deadline: t0, RestartCount: 2,
							Candidate: flags&1 != 0, Granted: flags&2 != 0, Fencing: flags&4 != 0}
						if flags&8 != 0 {
							r.Fence = 9
						}
						if st == Stopped && (r.Candidate || r.Fence != 0) {
							continue // not reachable: it is what this test checks
						}
						in := input{kind: kind, pid: 8, exit: procexec.Exit{PID: pid, Code: 1}, err: errors.New("x"),
							reason: reason, fence: 9, why: LostLease, depStopping: true}
						next, acts := step(r, p, in, t0)
						name := fmt.Sprintf("step(%+v, %v)", r, kind)
						for _, a := range acts {
							switch a.kind {
							case actSpawn:
								if !r.Granted || next.Granted {
									t.Errorf("%s spawns without using up a granted fence", name)
								}
							case actWithdraw:
								if next.PID != 0 || next.Candidate || next.Fence != 0 {
									t.Errorf("%s withdraws leaving pid %d, candidate %v, fence %d", name, next.PID, next.Candidate, next.Fence)
								}
							case actFence:
								if !next.Candidate || !next.Fencing {
									t.Errorf("%s asks for a fence without being a candidate", name)
								}
							}
						}
						if next.State == Stopped && next.Candidate {
							t.Errorf("%s rests stopped as a candidate", name)
						}
					}
				}
			}
		}
	}
}
