package supervisor

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeManager records what the supervisor tells its service manager; with
// block set, Status waits until block is closed.
type fakeManager struct {
	mu    sync.Mutex
	said  []string
	dogs  []time.Time
	block chan struct{}
}

func (m *fakeManager) add(s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.said = append(m.said, s)
}

func (m *fakeManager) take() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.said
	m.said = nil
	return out
}

func (m *fakeManager) Ready(status string) { m.add("ready " + status) }
func (m *fakeManager) Reloading()          { m.add("reloading") }
func (m *fakeManager) Reloaded(status string, err error) {
	if err != nil {
		m.add("reload failed " + status)
		return
	}
	m.add("reloaded " + status)
}
func (m *fakeManager) Stopping() { m.add("stopping") }
func (m *fakeManager) Status(status string) {
	m.mu.Lock()
	block := m.block
	m.mu.Unlock()
	if block != nil {
		<-block
	}
	m.add("status " + status)
}
func (m *fakeManager) Watchdog() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dogs = append(m.dogs, time.Now())
}

func (m *fakeManager) watchdogs() []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.dogs)
}

func TestManagerIsTold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &fakeManager{}
		h := startOpts(t, gated+`
[daemons.broken]
command = "broken"
`, "", func(o *Options) {
			o.Manager, o.WatchdogInterval = m, time.Second
		}, func(f *fakeRuntime) {
			f.probeCode["db"] = 1
			f.noExec["broken"] = true
		})
		defer h.stop()

		// Not ready while db is not: app waits for it.
		sleep(3 * time.Second)
		for _, s := range m.take() {
			if strings.HasPrefix(s, "ready") {
				t.Fatalf("ready before db is: %q", s)
			}
		}
		h.rt.setProbe("db", 0, false)
		sleep(time.Second)
		if got := m.take(); !slices.Contains(got, "ready 2 running, 1 import_failed") {
			t.Fatalf("once db and app run: %q, want ready with the counts", got)
		}

		writeConfig(t, h.path, gated)
		if _, err := h.sup.Reload(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		writeConfig(t, h.path, "[daemons.x\n")
		if _, err := h.sup.Reload(); err == nil {
			t.Fatal("a bad reload succeeded")
		}
		synctest.Wait()
		want := []string{"reloading", "status 2 running", "reloaded 2 running", "reloading", "reload failed 2 running"}
		if got := m.take(); !slices.Equal(got, want) {
			t.Fatalf("around two reloads: %q, want %q", got, want)
		}

		// The watchdog is the loop's: every second while it turns, none
		// while it is stuck (here in a call to the manager).
		n := len(m.watchdogs())
		sleep(5 * time.Second)
		if got := len(m.watchdogs()) - n; got < 4 || got > 6 {
			t.Fatalf("%d watchdog calls in 5s, want about 5", got)
		}
		m.mu.Lock()
		m.block = make(chan struct{})
		m.mu.Unlock()
		h.rt.exit(t, "app", 1) // a change of state: Status, which blocks
		time.Sleep(10 * time.Second)
		stuck := len(m.watchdogs())
		m.mu.Lock()
		close(m.block)
		m.block = nil
		m.mu.Unlock()
		sleep(3 * time.Second)
		dogs := m.watchdogs()
		if len(dogs) <= stuck {
			t.Fatalf("no watchdog after the loop came unstuck")
		}
		if gap := dogs[stuck].Sub(dogs[stuck-1]); gap < 9*time.Second {
			t.Fatalf("watchdog calls went on while the loop was stuck (gap %v)", gap)
		}

		h.stop()
		if got := m.take(); !slices.Contains(got, "stopping") {
			t.Fatalf("at shutdown: %q, want stopping", got)
		}
	})
}
