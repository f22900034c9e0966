package supervisor

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

const instancesBase = `
[daemons.w]
command = "w"
instances = 3
[daemons.d]
command = "d"
depends_on = ["w"]
`

func TestInstancesAreDaemonsOfTheirOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, instancesBase, "")
		defer h.stop()
		if got, want := h.rt.liveNames(), []string{"d", "w@0", "w@1", "w@2"}; !slices.Equal(got, want) {
			t.Fatalf("running %q, want %q", got, want)
		}
		h.rt.takeLog()
		h.drain()

		// A crash of one instance restarts it, and cascades to the
		// dependent of the daemon; the other instances are untouched.
		h.rt.exit(t, "w@1", 1)
		synctest.Wait()
		sleep(time.Second)
		if got, want := h.rt.takeLog(), []string{"SIGTERM d", "spawn w@1", "spawn d"}; !slices.Equal(got, want) {
			t.Errorf("after w@1 crashed: %q, want %q", got, want)
		}
		for _, e := range h.drain() {
			if e.Daemon == "w@1" && (e.Instance == nil || *e.Instance != 1) {
				t.Errorf("event %s of w@1 has instance %v, want 1", e.Type, e.Instance)
			}
			if e.Daemon == "d" && e.Instance != nil {
				t.Errorf("event %s of d has instance %d, want none", e.Type, *e.Instance)
			}
		}
		if n := h.status("w@1").RestartCount; n != 1 {
			t.Errorf("w@1 restart_count = %d, want 1", n)
		}
		if n := h.status("w@0").RestartCount; n != 0 {
			t.Errorf("w@0 restart_count = %d, want 0", n)
		}

		// The daemon's name stands for every instance; NAME@n for one.
		if err := h.sup.Stop("w"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := h.rt.liveNames(); len(got) != 0 {
			t.Errorf("after Stop(w), running %q, want nothing", got)
		}
		if err := h.sup.Start("w@2"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got, want := h.rt.liveNames(), []string{"w@2"}; !slices.Equal(got, want) {
			t.Errorf("after Start(w@2), running %q, want %q", got, want)
		}
		st, err := h.sup.Status("w")
		if err != nil || !slices.Equal(st.Names(), []string{"w@0", "w@1", "w@2"}) {
			t.Errorf("Status(w) = %q, %v; want the three instances", st.Names(), err)
		}
		if ds := st.Daemons["w@2"]; ds.Daemon != "w" || ds.Instance == nil || *ds.Instance != 2 {
			t.Errorf("Status(w)[w@2] daemon %q instance %v, want w and 2", ds.Daemon, ds.Instance)
		}
		for _, bad := range []string{"w@3", "w@", "x"} {
			if _, err := h.sup.Status(bad); err == nil {
				t.Errorf("Status(%q) = nil error, want unknown daemon", bad)
			}
		}
	})
}

func TestScaleHoldsUntilTheFileChangesInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, instancesBase, "")
		defer h.stop()
		h.rt.takeLog()

		sum, err := h.sup.Scale("w", 5)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if want := []string{"w@3", "w@4"}; !slices.Equal(sum.Added, want) || len(sum.Removed)+len(sum.Restarted)+len(sum.Updated) != 0 {
			t.Errorf("Scale(w, 5) = %+v, want added %q and nothing else", sum, want)
		}
		if got, want := h.rt.takeLog(), []string{"spawn w@3", "spawn w@4"}; !slices.Equal(got, want) {
			t.Errorf("Scale(w, 5) did %q, want %q", got, want)
		}

		// A reload of a file whose instances is the same keeps the scale.
		sum, err = h.sup.Reload()
		synctest.Wait()
		if err != nil || len(sum.Added)+len(sum.Removed) != 0 {
			t.Errorf("Reload of the same file = %+v, %v; want no change", sum, err)
		}
		if got := h.rt.takeLog(); len(got) != 0 {
			t.Errorf("Reload of the same file did %q, want nothing", got)
		}

		// Scaling down stops the highest-numbered instances.
		if _, err := h.sup.Scale("w", 4); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got, want := h.rt.takeLog(), []string{"SIGTERM w@4"}; !slices.Equal(got, want) {
			t.Errorf("Scale(w, 4) did %q, want %q", got, want)
		}

		// The file's instances changes: the file wins.
		writeConfig(t, h.path, strings.Replace(instancesBase, "instances = 3", "instances = 2", 1))
		sum, err = h.sup.Reload()
		synctest.Wait()
		if err != nil || !slices.Equal(sum.Removed, []string{"w@2", "w@3"}) {
			t.Errorf("Reload to 2 instances = %+v, %v; want w@2 and w@3 removed", sum, err)
		}
		if got, want := h.rt.liveNames(), []string{"d", "w@0", "w@1"}; !slices.Equal(got, want) {
			t.Errorf("after Reload to 2, running %q, want %q", got, want)
		}

		for _, bad := range []struct {
			name string
			n    int
		}{{"d", 2}, {"w", 0}, {"w", 10001}, {"nope", 1}, {"w@1", 2}} {
			if _, err := h.sup.Scale(bad.name, bad.n); err == nil {
				t.Errorf("Scale(%q, %d) = nil error", bad.name, bad.n)
			}
		}
		if got := h.rt.takeLog(); slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "spawn") }) {
			t.Errorf("refused scales did %q", got)
		}
	})
}

func TestScaleDroppedWhenTheFileMakesItInvalid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// It used to panic the loop: the count kept across the reload
		// gave instance 10 the port 91000.
		body := `
[daemons.w]
command = "w"
instances = 2
health = { tcp = "127.0.0.1:1${RINGSUP_INSTANCE}00" }
`
		h := start(t, body, "")
		defer h.stop()
		if _, err := h.sup.Scale("w", 12); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		writeConfig(t, h.path, strings.Replace(body, ":1${", ":9${", 1))
		sum, err := h.sup.Reload()
		synctest.Wait()
		if err != nil || len(sum.Removed) != 10 {
			t.Fatalf("Reload = %+v, %v; want the 10 instances of the scale removed", sum, err)
		}
		if st, _ := h.sup.Status("w"); len(st.Daemons) != 2 {
			t.Errorf("after the reload, %d instances, want the file's 2", len(st.Daemons))
		}
	})
}
