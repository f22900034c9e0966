package supervisor

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/ringrift/ringsup/config"
)

const emitNode = `
[events]
types = ["SELFPLAY_COMPLETED", "MODEL_PROMOTED"]
rate_limit = 5

[daemons.selfplay]
command = "selfplay"

[daemons.training]
command = "training"
`

// ofType returns the events of es of type typ.
func ofType(es []Event, typ EventType) []Event {
	var out []Event
	for _, e := range es {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// emitted returns the custom events among es as "TYPE source data" lines.
func emitted(es []Event) []string {
	var out []string
	for _, e := range es {
		if len(e.Data) > 0 {
			out = append(out, strings.Join(strings.Fields(string(e.Type)+" "+e.Daemon+" "+string(e.Data)), " "))
		}
	}
	return out
}

func TestEmitSourceIsTheDaemonOfTheProcessGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, emitNode, "")
		defer h.stop()
		h.drain()
		pid := h.status("selfplay").PID
		for _, m := range []Emission{
			{Type: "SELFPLAY_COMPLETED", Group: pid, Data: json.RawMessage(` {"games": 100} `)},
			{Type: "SELFPLAY_COMPLETED"},                         // outside any daemon
			{Type: "MODEL_PROMOTED", As: "training"},             // outside, naming a source
			{Type: "MODEL_PROMOTED", Group: pid, As: "selfplay"}, // its own name
			{Type: "MODEL_PROMOTED", Group: 99999},               // a group that is no daemon's
		} {
			if err := h.sup.Emit(m); err != nil {
				t.Errorf("Emit(%+v) = %v, want nil", m, err)
			}
		}
		synctest.Wait()
		want := []string{
			`SELFPLAY_COMPLETED selfplay {"games":100}`, // compacted
			`SELFPLAY_COMPLETED {}`,
			`MODEL_PROMOTED training {}`,
			`MODEL_PROMOTED selfplay {}`,
			`MODEL_PROMOTED {}`,
		}
		if got := emitted(h.drain()); !slices.Equal(got, want) {
			t.Errorf("events = %q, want %q", got, want)
		}
	})
}

func TestEmitRefusesBadInputAndPublishesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, emitNode, "")
		defer h.stop()
		h.drain()
		pid := h.status("selfplay").PID
		big := `{"x":"` + strings.Repeat("a", MaxEventData) + `"}`
		var unknown *config.UnknownEventTypeError
		var impersonation *ImpersonationError
		var unknownDaemon *UnknownDaemonError
		for _, tc := range []struct {
			m     Emission
			check func(error) bool
			want  string
		}{
			{Emission{Type: "SELFPLAY_COMPLETE"}, func(err error) bool { return errors.As(err, &unknown) }, `did you mean "SELFPLAY_COMPLETED"`},
			{Emission{Type: "DAEMON_STARTED"}, nil, "ringsup's own"},
			{Emission{Type: "SELFPLAY_COMPLETED", Data: json.RawMessage(`[1,2]`)}, nil, "JSON object"},
			{Emission{Type: "SELFPLAY_COMPLETED", Data: json.RawMessage(`{"a":`)}, nil, "JSON object"},
			{Emission{Type: "SELFPLAY_COMPLETED", Data: json.RawMessage(big)}, nil, "more than the limit of 65536"},
			{Emission{Type: "SELFPLAY_COMPLETED", Group: pid, As: "training"}, func(err error) bool { return errors.As(err, &impersonation) }, `belongs to daemon "selfplay"`},
			{Emission{Type: "SELFPLAY_COMPLETED", As: "nobody"}, func(err error) bool { return errors.As(err, &unknownDaemon) }, `unknown daemon "nobody"`},
		} {
			err := h.sup.Emit(tc.m)
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.check != nil && !tc.check(err)) {
				t.Errorf("Emit(%.60v) = %v, want an error with %q", tc.m, err, tc.want)
			}
		}
		synctest.Wait()
		if got := h.drain(); len(got) != 0 {
			t.Errorf("refused emits published %v", eventTypes(got))
		}
	})
}

func TestEmitRateLimitDropsAndReportsTheExcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, emitNode, "")
		defer h.stop()
		h.drain()
		pid := h.status("selfplay").PID
		var ok, limited int
		for range 8 {
			switch err := h.sup.Emit(Emission{Type: "SELFPLAY_COMPLETED", Group: pid}); {
			case err == nil:
				ok++
			case errors.Is(err, ErrRateLimited):
				limited++
			default:
				t.Fatalf("Emit = %v", err)
			}
		}
		// Another publisher has a limit of its own.
		if err := h.sup.Emit(Emission{Type: "SELFPLAY_COMPLETED"}); err != nil {
			t.Errorf("Emit from outside any daemon = %v, want nil", err)
		}
		if ok != 5 || limited != 3 {
			t.Errorf("8 emits at once with rate_limit 5: %d published, %d refused; want 5 and 3", ok, limited)
		}
		sleep(dropReportDelay)
		drops := ofType(h.drain(), EventsDropped)
		if len(drops) != 1 || drops[0].Daemon != "selfplay" || drops[0].Dropped != 3 {
			t.Errorf("EVENTS_DROPPED events = %+v, want one for selfplay with dropped 3", drops)
		}
		// A second later the bucket is full again.
		if err := h.sup.Emit(Emission{Type: "SELFPLAY_COMPLETED", Group: pid}); err != nil {
			t.Errorf("Emit after the limit's second = %v, want nil", err)
		}
	})
}

func TestEmitAfterReloadThatRemovesTheType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, emitNode, "")
		defer h.stop()
		if err := h.sup.Emit(Emission{Type: "MODEL_PROMOTED"}); err != nil {
			t.Fatalf("Emit before the reload = %v", err)
		}
		writeConfig(t, h.path, strings.Replace(emitNode, `, "MODEL_PROMOTED"`, "", 1))
		if _, err := h.sup.Reload(); err != nil {
			t.Fatalf("Reload = %v", err)
		}
		var unknown *config.UnknownEventTypeError
		if err := h.sup.Emit(Emission{Type: "MODEL_PROMOTED"}); !errors.As(err, &unknown) {
			t.Errorf("Emit after the reload removed the type = %v, want *config.UnknownEventTypeError", err)
		}
	})
}

func TestSubscribeFilter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, emitNode, "")
		defer h.stop()
		pid := h.status("selfplay").PID
		ch, cancel, err := h.sup.SubscribeFilter(EventFilter{Types: []EventType{"SELFPLAY_COMPLETED", DaemonStarted}, Daemons: []string{"selfplay"}})
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		h.sup.Emit(Emission{Type: "SELFPLAY_COMPLETED"})             // no source
		h.sup.Emit(Emission{Type: "MODEL_PROMOTED", Group: pid})     // other type
		h.sup.Emit(Emission{Type: "SELFPLAY_COMPLETED", Group: pid}) // passes
		h.sup.Restart(false, "training")                             // other daemon
		synctest.Wait()
		var got []string
		for len(ch) > 0 {
			e := <-ch
			got = append(got, string(e.Type)+" "+e.Daemon)
		}
		if want := []string{"SELFPLAY_COMPLETED selfplay"}; !slices.Equal(got, want) {
			t.Errorf("filtered events = %q, want %q", got, want)
		}
		var unknown *config.UnknownEventTypeError
		if _, _, err := h.sup.SubscribeFilter(EventFilter{Types: []EventType{"NOPE"}}); !errors.As(err, &unknown) {
			t.Errorf("SubscribeFilter(undeclared type) = %v, want *config.UnknownEventTypeError", err)
		}
		var unknownDaemon *UnknownDaemonError
		if _, _, err := h.sup.SubscribeFilter(EventFilter{Daemons: []string{"nope"}}); !errors.As(err, &unknownDaemon) {
			t.Errorf("SubscribeFilter(unknown daemon) = %v, want *UnknownDaemonError", err)
		}
	})
}

// TestInstancesInFiltersAndHooks: a daemon with instances, named in a
// subscription's or a hook's daemons, stands for each of its instances,
// and an instance's own events say which one it is.
func TestInstancesInFiltersAndHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, emitNode+`
[daemons.worker]
command = "worker"
instances = 2

[[hooks]]
events = ["SELFPLAY_COMPLETED"]
daemons = ["worker"]
command = ["hook"]
`, "")
		defer h.stop()
		ch, cancel, err := h.sup.SubscribeFilter(EventFilter{Types: []EventType{"SELFPLAY_COMPLETED"}, Daemons: []string{"worker"}})
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		h.sup.Emit(Emission{Type: "SELFPLAY_COMPLETED", Group: h.status("worker@1").PID})
		h.sup.Emit(Emission{Type: "SELFPLAY_COMPLETED", As: "selfplay"}) // not a worker's
		synctest.Wait()
		var got []string
		for len(ch) > 0 {
			e := <-ch
			if e.Instance == nil || *e.Instance != 1 {
				t.Errorf("event of %s has instance %v, want 1", e.Daemon, e.Instance)
			}
			got = append(got, e.Daemon)
		}
		if want := []string{"worker@1"}; !slices.Equal(got, want) {
			t.Errorf("events of worker = %q, want %q", got, want)
		}
		h.rt.mu.Lock()
		envs := h.rt.hookEnv
		h.rt.mu.Unlock()
		if len(envs) != 1 || envs[0]["RINGSUP_DAEMON"] != "worker@1" {
			t.Errorf("hook runs = %v, want one, for worker@1", envs)
		}
	})
}

func TestHookActionsGoThroughTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, emitNode+`
[daemons.evaluator]
command = "evaluator"

[[hooks]]
events = ["MODEL_PROMOTED"]
daemons = ["training"]
restart = ["selfplay"]

[[hooks]]
events = ["SELFPLAY_COMPLETED"]
stop = ["evaluator"]

[[hooks]]
events = ["MODEL_PROMOTED"]
daemons = ["selfplay"]
start = ["evaluator"]
`, "")
		defer h.stop()
		before := h.status("selfplay").PID

		// The daemons filter: an event of selfplay does not restart it.
		h.sup.Emit(Emission{Type: "MODEL_PROMOTED", As: "evaluator"})
		synctest.Wait()
		if pid := h.status("selfplay").PID; pid != before {
			t.Fatalf("MODEL_PROMOTED of evaluator restarted selfplay (pid %d -> %d)", before, pid)
		}

		if err := h.sup.Emit(Emission{Type: "MODEL_PROMOTED", As: "training"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.wantState("selfplay", Running)
		if after := h.status("selfplay").PID; after == before || after == 0 {
			t.Errorf("selfplay pid after the restart hook = %d, want a new pid (was %d)", after, before)
		}

		h.sup.Emit(Emission{Type: "SELFPLAY_COMPLETED"})
		synctest.Wait()
		h.wantState("evaluator", Stopped)
		h.sup.Emit(Emission{Type: "MODEL_PROMOTED", As: "selfplay"})
		synctest.Wait()
		h.wantState("evaluator", Running)
	})
}

func TestRefusedHookActionPublishesHookFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// training cannot be executed, so it is import_failed at once, and
		// a restart without force refuses it.
		h := start(t, emitNode+`
[[hooks]]
events = ["DAEMON_IMPORT_FAILED"]
restart = ["training"]
`, "", func(rt *fakeRuntime) { rt.noExec["training"] = true })
		defer h.stop()
		// Start-up's events may come before the harness subscribed: fail
		// training again once it has.
		synctest.Wait()
		h.drain()
		if err := h.sup.Restart(true, "training"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		failed := ofType(h.drain(), HookFailed)
		if len(failed) != 1 || failed[0].Hook != "restart training" || failed[0].Trigger != DaemonImportFailed ||
			failed[0].Daemon != "training" || !strings.Contains(failed[0].Error, "force") {
			t.Errorf("HOOK_FAILED events = %+v, want one for the refused restart of training", failed)
		}
	})
}

func TestFailedHookCommandPublishesHookFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, emitNode+`
[[hooks]]
events = ["SELFPLAY_COMPLETED"]
command = ["hook", "fail"]

[[hooks]]
events = ["HOOK_FAILED"]
command = ["hook", "fail"]
`, "")
		defer h.stop()
		h.drain()
		if err := h.sup.Emit(Emission{Type: "SELFPLAY_COMPLETED", As: "selfplay"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		failed := ofType(h.drain(), HookFailed)
		// The hook on HOOK_FAILED fails too, and is only logged.
		if len(failed) != 1 || failed[0].Hook != "hook fail" || failed[0].Trigger != "SELFPLAY_COMPLETED" ||
			failed[0].Daemon != "selfplay" || failed[0].Error != "exit status 1" {
			t.Errorf("HOOK_FAILED events = %+v, want one, of the hook on SELFPLAY_COMPLETED", failed)
		}
	})
}

// Regression guard: the vocabulary of ringsup's own event types that config
// knows must include the types this package publishes.
func TestOwnEventTypesAreKnownToConfig(t *testing.T) {
	for _, typ := range []EventType{EventsDropped, HookFailed, DaemonStarted, ProfileChanged} {
		if !config.IsOwnEventType(string(typ)) {
			t.Errorf("config.IsOwnEventType(%q) = false, want true", typ)
		}
	}
}

func TestReloadAppliesHooksInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, emitNode, "")
		defer h.stop()
		before := h.status("selfplay").PID
		writeConfig(t, h.path, emitNode+`
[[hooks]]
events = ["MODEL_PROMOTED"]
restart = ["selfplay"]
`)
		sum, err := h.sup.Reload()
		if err != nil {
			t.Fatalf("Reload = %v", err)
		}
		if len(sum.Restarted) != 0 || h.status("selfplay").PID != before {
			t.Fatalf("a reload that only adds a hook restarted %v", sum.Restarted)
		}
		if err := h.sup.Emit(Emission{Type: "MODEL_PROMOTED"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if after := h.status("selfplay").PID; after == before || after == 0 {
			t.Errorf("selfplay pid after the hook added by the reload = %d, want a new pid (was %d)", after, before)
		}
	})
}
