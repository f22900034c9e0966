package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// runNode writes cfg to a new directory, runs ringsup on it and returns
// the directory once ringsup answers on its socket (ringsup.sock there);
// the test stops ringsup at its end.
func runNode(t *testing.T, cfg string) (string, *ringsupProc) {
	t.Helper()
	return runNodeIn(t, t.TempDir(), cfg)
}

// runNodeIn is runNode in dir.
func runNodeIn(t *testing.T, dir, cfg string) (string, *ringsupProc) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startRingsup(t, dir, "--log-level", "debug")
	t.Cleanup(func() {
		syscall.Kill(r.pid, syscall.SIGTERM)
		r.wait(30 * time.Second)
	})
	// ctl commands run right after would otherwise race the socket.
	waitListening(t, r, filepath.Join(dir, "ringsup.sock"))
	return dir, r
}

// gatedNode is a config where app depends on db, and records whether db
// had said it was ready when app started.
func gatedNode(dbSettings string) string {
	return fmt.Sprintf(`
[daemons.db]
command = [%q]
%s

[daemons.app]
command = "test -e db.ready && echo yes > app.saw || echo no > app.saw; echo $$ > app.pid; exec sleep 1000"
depends_on = ["db"]
`, os.Args[0], dbSettings)
}

func wantAppSawReady(t *testing.T, dir string) {
	t.Helper()
	readPID(t, filepath.Join(dir, "app.pid"))
	saw, _ := os.ReadFile(filepath.Join(dir, "app.saw"))
	if strings.TrimSpace(string(saw)) != "yes" {
		t.Fatalf("app started before db was ready (app.saw = %q)", saw)
	}
}

func TestReadyNotify(t *testing.T) {
	dir, _ := runNode(t, gatedNode(`ready = "notify"
env = { RINGSUP_TEST_DAEMON = "notify" }`))
	wantAppSawReady(t, dir)
}

func TestReadyFD(t *testing.T) {
	dir, _ := runNode(t, gatedNode(`ready = "fd:3"
env = { RINGSUP_TEST_DAEMON = "fd", READY_FD = "3" }`))
	wantAppSawReady(t, dir)
}

func TestExecProbeGatesReadiness(t *testing.T) {
	dir, _ := runNode(t, gatedNode(`env = { RINGSUP_TEST_DAEMON = "fd", READY_FD = "1" }
[daemons.db.health]
exec = ["test", "-e", "db.ready"]
interval = "100ms"
retries = 50`))
	wantAppSawReady(t, dir)
}

func TestHTTPProbeGatesReadiness(t *testing.T) {
	var healthy atomic.Bool
	var probes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		if !healthy.Load() {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()
	dir, _ := runNode(t, fmt.Sprintf(`
[daemons.web]
command = "exec sleep 1000"
[daemons.web.health]
http = %q
interval = "100ms"
retries = 100
[daemons.client]
command = "echo $$ > client.pid; exec sleep 1000"
depends_on = ["web"]
`, srv.URL))
	eventually(t, 20*time.Second, "web probed several times, failing", func() bool { return probes.Load() >= 3 })
	if _, err := os.Stat(filepath.Join(dir, "client.pid")); err == nil {
		t.Fatal("client started while web answered 503")
	}
	healthy.Store(true)
	readPID(t, filepath.Join(dir, "client.pid"))
}

func TestTCPProbeRestartsUnhealthy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dir, _ := runNode(t, fmt.Sprintf(`
[daemons.svc]
command = "echo $$ > svc.pid; exec sleep 1000"
backoff_min = "100ms"
[daemons.svc.health]
tcp = %q
interval = "100ms"
retries = 2
`, ln.Addr().String()))
	first := readPID(t, filepath.Join(dir, "svc.pid"))
	os.Remove(filepath.Join(dir, "svc.pid"))
	ln.Close() // now every probe is refused: svc is unhealthy and restarted
	second := readPID(t, filepath.Join(dir, "svc.pid"))
	if second == first {
		t.Fatalf("svc not restarted after its tcp probe failed")
	}
}

func TestMissedWatchdogRestarts(t *testing.T) {
	dir, _ := runNode(t, fmt.Sprintf(`
[daemons.db]
command = [%q]
ready = "notify"
watchdog = "200ms"
backoff_min = "100ms"
env = { RINGSUP_TEST_DAEMON = "notify-no-watchdog" }
`, os.Args[0]))
	first := readPID(t, filepath.Join(dir, "db.pid"))
	os.Remove(filepath.Join(dir, "db.pid"))
	second := readPID(t, filepath.Join(dir, "db.pid"))
	if second == first {
		t.Fatal("db not restarted after missing its watchdog")
	}
}

func TestHookReceivesTheEvent(t *testing.T) {
	dir, _ := runNode(t, `
[daemons.doomed]
command = "exit 3"
auto_restart = false

[[hooks]]
events = ["DAEMON_FAILED"]
command = "cat > hook.json.tmp && echo \"$RINGSUP_EVENT $RINGSUP_DAEMON\" > hook.env && mv hook.json.tmp hook.json"
`)
	var e map[string]any
	eventually(t, 10*time.Second, "the hook ran", func() bool {
		data, err := os.ReadFile(filepath.Join(dir, "hook.json"))
		return err == nil && json.Unmarshal(data, &e) == nil
	})
	if e["type"] != "DAEMON_FAILED" || e["daemon_type"] != "doomed" || !strings.Contains(fmt.Sprint(e["error"]), "exit status 3") {
		t.Errorf("hook stdin = %v, want DAEMON_FAILED of doomed with its error", e)
	}
	env, _ := os.ReadFile(filepath.Join(dir, "hook.env"))
	if got := strings.TrimSpace(string(env)); got != "DAEMON_FAILED doomed" {
		t.Errorf("hook env = %q", got)
	}
}

// TestHealthEventsInCtlEvents: an http check that fails then recovers, with
// on_unhealthy = "ignore": DAEMON_UNHEALTHY then DAEMON_HEALTHY reach
// `ctl events`, the daemon keeps its process, and `ctl status --json`
// carries the probe's error while it fails.
func TestHealthEventsInCtlEvents(t *testing.T) {
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "broken", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	dir, _ := runNode(t, fmt.Sprintf(`
[daemons.web]
command = "echo $$ > web.pid; exec sleep 1000"
[daemons.web.health]
http = %q
interval = "100ms"
retries = 2
on_unhealthy = "ignore"
[daemons.tick]
command = "exec sleep 1000"
`, srv.URL))
	pid := readPID(t, filepath.Join(dir, "web.pid"))
	eventually(t, 10*time.Second, "web is running", func() bool {
		return daemonField(ctlStatus(t, dir, "web"), "web", "health") == "healthy"
	})
	ev := startCtl(t, dir, "events")
	// ctl events is subscribed once it prints: restart tick until it does.
	eventually(t, 15*time.Second, "ctl events subscribed", func() bool {
		if strings.Contains(ev.stdout.String(), `"daemon_type":"tick"`) {
			return true
		}
		ctlOK(t, dir, "restart", "tick")
		return false
	})
	failing.Store(true)
	eventually(t, 10*time.Second, "unhealthy", func() bool {
		return daemonField(ctlStatus(t, dir, "web"), "web", "health") == "unhealthy"
	})
	if e := daemonField(ctlStatus(t, dir, "web"), "web", "health_error"); !strings.Contains(fmt.Sprint(e), "status 500") {
		t.Errorf("health_error = %v, want the probe's status 500", e)
	}
	failing.Store(false)
	eventually(t, 10*time.Second, "UNHEALTHY then HEALTHY in ctl events", func() bool {
		out := ev.stdout.String()
		u := strings.Index(out, `"type":"DAEMON_UNHEALTHY"`)
		return u >= 0 && strings.Contains(out[u:], `"type":"DAEMON_HEALTHY"`)
	})
	if processGone(pid) {
		t.Error("web lost its process with on_unhealthy = ignore")
	}
}
