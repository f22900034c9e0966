package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/procexec"
)

// startCtlNode runs ringsup on ctlNode and waits until router and worker
// run; it returns their pids.
func startCtlNode(t *testing.T) (dir string, r *ringsupProc, pids map[string]int) {
	t.Helper()
	dir = writeCtlNode(t, "")
	r = startRingsup(t, dir)
	pids = map[string]int{
		"router": readPID(t, filepath.Join(dir, "router.pid")),
		"worker": readPID(t, filepath.Join(dir, "worker.pid")),
	}
	waitCtlState(t, dir, "worker", "running")
	waitCtlState(t, dir, "broken", "import_failed")
	return dir, r, pids
}

// ctlStatus runs `ringsup ctl status --json` and decodes it generically,
// as a script would.
func ctlStatus(t *testing.T, dir string, names ...string) map[string]any {
	t.Helper()
	out := ctlOK(t, dir, append([]string{"status", "--json"}, names...)...)
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("ctl status --json: %v\n%s", err, out)
	}
	return st
}

// daemonField returns a field of a daemon in a decoded status.
func daemonField(st map[string]any, name, field string) any {
	d, _ := st["daemons"].(map[string]any)[name].(map[string]any)
	return d[field]
}

// waitCtlState polls `ctl status --json` until daemon name is in state.
func waitCtlState(t *testing.T, dir, name, state string) map[string]any {
	t.Helper()
	var st map[string]any
	eventually(t, 15*time.Second, name+" "+state, func() bool {
		st = ctlStatus(t, dir, name)
		return daemonField(st, name, "state") == state
	})
	return st
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestCtlStatusJSON checks `ctl status --json` field by field against
// SPEC.md.
func TestCtlStatusJSON(t *testing.T) {
	dir, r, pids := startCtlNode(t)
	defer stopRingsup(t, r)
	st := ctlStatus(t, dir)

	// SPEC's fields must all be there; others may be added.
	hasAll := func(what string, m map[string]any, fields ...string) {
		t.Helper()
		for _, f := range fields {
			if _, ok := m[f]; !ok {
				t.Errorf("%s lacks %q: it has %v", what, f, keys(m))
			}
		}
	}
	hasAll("the status", st, "profile", "config", "pid", "daemons")
	if st["profile"] != "full" {
		t.Errorf("profile = %v, want full", st["profile"])
	}
	if st["config"] != filepath.Join(dir, "ringsup.toml") {
		t.Errorf("config = %v, want %s", st["config"], filepath.Join(dir, "ringsup.toml"))
	}
	if st["pid"] != float64(r.pid) {
		t.Errorf("pid = %v, want %d", st["pid"], r.pid)
	}
	daemons := st["daemons"].(map[string]any)
	if got, want := keys(daemons), []string{"broken", "quiet", "router", "worker"}; !reflect.DeepEqual(got, want) {
		t.Errorf("daemons = %v, want %v", got, want)
	}
	for name, d := range daemons {
		hasAll(name, d.(map[string]any), "state", "pid", "restart_count", "uptime_s", "health", "last_exit", "last_error", "depends_on")
	}
	worker := daemons["worker"].(map[string]any)
	for field, want := range map[string]any{
		"state":         "running",
		"pid":           float64(pids["worker"]),
		"restart_count": float64(0),
		"health":        "none",
		"last_exit":     nil,
		"last_error":    "",
		"depends_on":    []any{"router"},
	} {
		if got := worker[field]; !reflect.DeepEqual(got, want) {
			t.Errorf("worker.%s = %#v, want %#v", field, got, want)
		}
	}
	if up, ok := worker["uptime_s"].(float64); !ok || up <= 0 {
		t.Errorf("worker.uptime_s = %#v, want a positive number", worker["uptime_s"])
	}
	if got := daemons["router"].(map[string]any)["depends_on"]; !reflect.DeepEqual(got, []any{}) {
		t.Errorf("router.depends_on = %#v, want []", got)
	}
	// Outside the profile: stopped, pid 0, no uptime.
	quiet := daemons["quiet"].(map[string]any)
	if quiet["state"] != "stopped" || quiet["pid"] != float64(0) || quiet["uptime_s"] != float64(0) {
		t.Errorf("quiet = %v, want stopped with pid 0 and uptime 0", quiet)
	}
	broken := daemons["broken"].(map[string]any)
	if broken["state"] != "import_failed" || !strings.Contains(broken["last_error"].(string), "no-such-program") {
		t.Errorf("broken = %v, want import_failed naming its command", broken)
	}

	// Names filter; an unknown one is an error.
	if got := keys(ctlStatus(t, dir, "worker", "quiet")["daemons"].(map[string]any)); !reflect.DeepEqual(got, []string{"quiet", "worker"}) {
		t.Errorf("status worker quiet lists %v", got)
	}
	if msg := ctlFails(t, dir, "status", "--json", "worker", "foo"); msg != `ringsup ctl: unknown daemon "foo"` {
		t.Errorf("status foo: %q", msg)
	}
}

func TestCtlStatusTable(t *testing.T) {
	dir, r, pids := startCtlNode(t)
	defer stopRingsup(t, r)
	out := ctlOK(t, dir, "status")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("status printed %d lines, want a header and 4 daemons:\n%s", len(lines), out)
	}
	if got := strings.Fields(lines[0]); !reflect.DeepEqual(got, []string{"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "HEALTH", "INFO"}) {
		t.Errorf("header = %q", lines[0])
	}
	// Aligned: every column starts at the same offset on every line.
	col := strings.Index(lines[0], "STATE")
	for _, l := range lines[1:] {
		if l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("line %q is not aligned with the header", l)
		}
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		rows[f[0]] = f
	}
	if w := rows["worker"]; w[1] != "running" || w[2] != strconv.Itoa(pids["worker"]) || w[4] != "0" || w[5] != "none" {
		t.Errorf("worker row = %q", w)
	}
	if q := rows["quiet"]; q[1] != "stopped" || q[2] != "-" || q[3] != "-" {
		t.Errorf("quiet row = %q", q)
	}
	if b := rows["broken"]; b[1] != "import_failed" || !strings.Contains(strings.Join(b[6:], " "), "no-such-program") {
		t.Errorf("broken row = %q", b)
	}
	out = ctlOK(t, dir, "status", "router")
	if n := strings.Count(out, "\n"); n != 2 || !strings.Contains(out, "router") {
		t.Errorf("status router:\n%s", out)
	}
}

func TestCtlStopStartRestart(t *testing.T) {
	dir, r, pids := startCtlNode(t)
	defer stopRingsup(t, r)

	// stop router: worker, its dependent, stops first; both stay stopped.
	ctlOK(t, dir, "stop", "router")
	waitCtlState(t, dir, "router", "stopped")
	st := ctlStatus(t, dir)
	if daemonField(st, "worker", "state") != "stopped" {
		t.Errorf("worker is %v after stop router, want stopped", daemonField(st, "worker", "state"))
	}
	stops, _ := os.ReadFile(filepath.Join(dir, "stops"))
	if got := strings.Fields(string(stops)); !reflect.DeepEqual(got, []string{"worker", "router"}) {
		t.Errorf("stop order = %v, want worker then router", got)
	}
	for _, name := range []string{"router", "worker"} {
		if !processGone(pids[name]) {
			t.Errorf("%s (pid %d) still runs after stop", name, pids[name])
		}
		os.Remove(filepath.Join(dir, name+".pid"))
	}

	// start worker: router first, then worker.
	ctlOK(t, dir, "start", "worker")
	newPIDs := map[string]int{
		"router": readPID(t, filepath.Join(dir, "router.pid")),
		"worker": readPID(t, filepath.Join(dir, "worker.pid")),
	}
	waitCtlState(t, dir, "worker", "running")
	for name, pid := range newPIDs {
		if pid == pids[name] {
			t.Errorf("%s has the same pid %d after stop and start", name, pid)
		}
	}

	// restart router: it and worker get new processes.
	os.Remove(filepath.Join(dir, "router.pid"))
	os.Remove(filepath.Join(dir, "worker.pid"))
	ctlOK(t, dir, "restart", "router")
	for _, name := range []string{"router", "worker"} {
		if pid := readPID(t, filepath.Join(dir, name+".pid")); pid == newPIDs[name] {
			t.Errorf("%s pid %d unchanged by restart router", name, pid)
		}
	}
	waitCtlState(t, dir, "worker", "running")

	// An import_failed daemon needs --force.
	if msg := ctlFails(t, dir, "restart", "broken"); !strings.Contains(msg, "--force") || !strings.Contains(msg, "import_failed") {
		t.Errorf("restart broken: %q, want a refusal that names --force", msg)
	}
	if msg := ctlFails(t, dir, "start", "broken"); !strings.Contains(msg, "--force") {
		t.Errorf("start broken: %q, want a refusal that names --force", msg)
	}
	// --force lets it start again; it cannot, and says so.
	out, errOut, code := ctl(t, dir, "restart", "--force", "broken")
	if code != 1 || errOut != "ringsup ctl: 1 of 1 did not reach their goal: broken (import_failed)\n" ||
		!strings.HasPrefix(out, "broken: import_failed: cannot start \"broken\": cannot execute") {
		t.Errorf("restart --force broken: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	for _, args := range [][]string{{"start"}, {"stop"}, {"restart", "--force"}} {
		if msg := ctlFails(t, dir, args...); !strings.Contains(msg, "needs at least one daemon name") {
			t.Errorf("ctl %v: %q", args, msg)
		}
	}
	if msg := ctlFails(t, dir, "stop", "nope"); msg != `ringsup ctl: unknown daemon "nope"` {
		t.Errorf("stop nope: %q", msg)
	}
}

func TestCtlLogs(t *testing.T) {
	dir, r, _ := startCtlNode(t)
	defer stopRingsup(t, r)

	// What the daemon wrote.
	eventually(t, 10*time.Second, "router's output in its log", func() bool {
		out := ctlOK(t, dir, "logs", "router")
		return out == "router up\n"
	})
	// quiet never ran: no log yet, nothing to print.
	if out := ctlOK(t, dir, "logs", "quiet"); out != "" {
		t.Errorf("logs quiet = %q, want nothing", out)
	}
	log := filepath.Join(dir, "logs", "quiet.log")
	if err := os.WriteFile(log, []byte("one\ntwo\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := ctlOK(t, dir, "logs", "-n", "2", "quiet"); out != "two\nthree\n" {
		t.Errorf("logs -n 2 quiet = %q", out)
	}
	if out := ctlOK(t, dir, "logs", "quiet"); out != "one\ntwo\nthree\n" {
		t.Errorf("logs quiet = %q", out)
	}

	// -f: the last line, then what is appended, until interrupted.
	f := startCtl(t, dir, "logs", "-f", "-n", "1", "quiet")
	eventually(t, 10*time.Second, "logs -f prints the last line", func() bool { return f.stdout.String() == "three\n" })
	appendTo(t, log, "four\n")
	eventually(t, 10*time.Second, "logs -f prints an appended line", func() bool { return f.stdout.String() == "three\nfour\n" })
	syscall.Kill(f.pid, syscall.SIGINT)
	if _, _, code := f.wait(t, 10*time.Second); code != 128+int(syscall.SIGINT) {
		t.Errorf("logs -f after SIGINT: exit %d, want killed by SIGINT", code)
	}

	if msg := ctlFails(t, dir, "logs", "nope"); msg != `ringsup ctl: unknown daemon "nope"` {
		t.Errorf("logs nope: %q", msg)
	}
	if msg := ctlFails(t, dir, "logs", "router", "worker"); !strings.Contains(msg, "exactly one daemon name") {
		t.Errorf("logs router worker: %q", msg)
	}
	if msg := ctlFails(t, dir, "logs", "-n", "-1", "router"); !strings.Contains(msg, "invalid -n") {
		t.Errorf("logs -n -1: %q", msg)
	}
	if msg := ctlFails(t, dir, "logs", "router", "-f"); msg != "ringsup ctl: flag -f after a name: flags go first (ringsup ctl logs [-f] [-n N] NAME)" {
		t.Errorf("logs router -f: %q", msg)
	}
}

func appendTo(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

// TestCtlEventsAndShutdown: `ctl events` prints SPEC's events as JSON
// lines; `ctl shutdown` stops everything, returns once ringsup is done, and
// ends the event stream.
func TestCtlEventsAndShutdown(t *testing.T) {
	dir, r, pids := startCtlNode(t)
	ev := startCtl(t, dir, "events")
	// The stream starts when ctl has subscribed, which we cannot see:
	// restart worker until its events show up.
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(ev.stdout.String(), `"type":"DAEMON_STARTED","timestamp"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no DAEMON_STARTED from ctl events:\n%s", ev.stdout)
		}
		ctlOK(t, dir, "restart", "worker")
		eventually(t, 10*time.Second, "worker runs", func() bool {
			return daemonField(ctlStatus(t, dir, "worker"), "worker", "state") == "running"
		})
	}

	out, errOut, code := ctl(t, dir, "shutdown")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("ctl shutdown: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// ctl shutdown returns once the socket is gone and every daemon stopped.
	if _, err := os.Lstat(filepath.Join(dir, "ringsup.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after ctl shutdown: %v", err)
	}
	if x := waitExit(t, r.pid, 30*time.Second); x.Code != 0 {
		t.Errorf("ringsup exit after ctl shutdown = %v, want 0\n%s", x, r.output)
	}
	for name, pid := range pids {
		if !processGone(pid) {
			t.Errorf("%s (pid %d) outlived ctl shutdown", name, pid)
		}
	}
	stdout, events := ctlEventsToTheEnd(t, ev)
	seen := map[string]bool{}
	for _, e := range events {
		typ, _ := e["type"].(string)
		if _, ok := e["timestamp"].(float64); !ok || typ == "" {
			t.Errorf("event %v lacks type or a numeric timestamp", e)
		}
		if strings.HasPrefix(typ, "DAEMON_") && e["daemon_type"] == nil {
			t.Errorf("daemon event %v lacks daemon_type", e)
		}
		if typ == "DAEMON_STARTED" && e["pid"] == nil {
			t.Errorf("DAEMON_STARTED %v lacks pid", e)
		}
		seen[typ+" "+fmt.Sprint(e["daemon_type"])] = true
	}
	for _, want := range []string{"DAEMON_STOPPED worker", "DAEMON_STARTED worker", "DAEMON_STOPPED router"} {
		if !seen[want] {
			t.Errorf("ctl events did not print %s:\n%s", want, stdout)
		}
	}
	checkNoChildren(t)
}

func TestCtlErrors(t *testing.T) {
	quickRaceExit(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "ringsup.sock")
	for _, args := range [][]string{
		{"--socket", sock, "status"},
		{"status", "--json"}, // found beside ./ringsup.toml, which does not exist
		{"--socket", sock, "events"},
		{"--socket", sock, "shutdown"},
	} {
		if msg := ctlFails(t, dir, args...); msg != "ringsup ctl: no supervisor is listening on "+sock {
			t.Errorf("ctl %v: %q", args, msg)
		}
	}
	if msg := ctlFails(t, dir, "--socket", sock, "dance"); !strings.HasPrefix(msg, `ringsup ctl: unknown command "dance" (have: status, start, stop, restart, logs, events, emit, top, reload, profile, scale, shutdown)`) {
		t.Errorf("ctl dance: %q", msg)
	}
	// A config that does not parse: say so, in one line.
	os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte("[daemons.x]\ncommand = 3\nbogus = 1\n"), 0o644)
	if msg := ctlFails(t, dir, "status"); !strings.Contains(msg, "ringsup.toml:2:") || !strings.Contains(msg, "give --socket") {
		t.Errorf("ctl status with a broken config: %q", msg)
	}
}

// TestCtlFindsSocket: --socket, then RINGSUP_SOCKET, then the config's
// [supervisor] socket, then ringsup.sock beside the config.
func TestCtlFindsSocket(t *testing.T) {
	dir := writeCtlNode(t, "")
	conf := filepath.Join(dir, "ringsup.toml")
	src, _ := os.ReadFile(conf)
	os.WriteFile(conf, bytes.Replace(src, []byte(`log_dir = "logs"`), []byte("log_dir = \"logs\"\nsocket = \"run/ctl.sock\""), 1), 0o644)
	r := startRingsup(t, dir)
	defer stopRingsup(t, r)
	sock := filepath.Join(dir, "run", "ctl.sock")
	// The socket file exists from bind(2), a moment before listen(2):
	// wait until ringsup answers.
	waitListening(t, r, sock)

	status := func(args ...string) error {
		var out, errOut bytes.Buffer
		err := run(t.Context(), append([]string{"ringsup", "ctl"}, append(args, "status")...), &out, &errOut)
		if err != nil {
			return fmt.Errorf("%v: %s", err, errOut.String())
		}
		return nil
	}
	if err := status("--config", conf); err != nil {
		t.Errorf("--config: %v", err)
	}
	other := t.TempDir()
	if err := status("--config", filepath.Join(other, "ringsup.toml")); err == nil || !strings.Contains(err.Error(), filepath.Join(other, "ringsup.sock")) {
		t.Errorf("--config with no file = %v, want the socket beside it", err)
	}
	t.Setenv("RINGSUP_CONFIG", conf)
	if err := status(); err != nil {
		t.Errorf("RINGSUP_CONFIG: %v", err)
	}
	t.Setenv("RINGSUP_SOCKET", filepath.Join(other, "nope.sock"))
	if err := status(); err == nil || !strings.Contains(err.Error(), "nope.sock") {
		t.Errorf("RINGSUP_SOCKET does not win over the config: %v", err)
	}
	if err := status("--socket", sock); err != nil {
		t.Errorf("--socket over RINGSUP_SOCKET: %v", err)
	}
}

// TestSecondSupervisorRefused: a second ringsup on the same socket exits 1
// and starts nothing while the first answers.
func TestSecondSupervisorRefused(t *testing.T) {
	dir, r, pids := startCtlNode(t)
	defer stopRingsup(t, r)
	second := startRingsup(t, dir)
	x := waitExit(t, second.pid, 20*time.Second)
	if x.Code != 1 || !strings.Contains(second.output.String(), fmt.Sprintf("ringsup: already running, pid %d", r.pid)) {
		t.Errorf("second ringsup: %v\n%s", x, second.output)
	}
	for name, pid := range pids {
		if got := readPID(t, filepath.Join(dir, name+".pid")); got != pid {
			t.Errorf("%s.pid = %d, was %d: the second ringsup started it", name, got, pid)
		}
	}
	ctlOK(t, dir, "status")
}

// TestStaleSocketReplaced: a socket file left by a ringsup that was killed
// does not stop the next one.
func TestStaleSocketReplaced(t *testing.T) {
	dir := writeCtlNode(t, "")
	first := startRingsup(t, dir)
	readPID(t, filepath.Join(dir, "worker.pid"))
	syscall.Kill(first.pid, syscall.SIGKILL)
	waitExit(t, first.pid, 10*time.Second)
	checkNoChildren(t) // its daemons died with it
	if fi, err := os.Lstat(filepath.Join(dir, "ringsup.sock")); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("no stale socket left by a killed ringsup: %v", err)
	}
	r := startRingsup(t, dir)
	defer stopRingsup(t, r)
	waitListening(t, r, filepath.Join(dir, "ringsup.sock"))
	waitCtlState(t, dir, "worker", "running")
}

func TestSocketPathTooLong(t *testing.T) {
	dir := writeCtlNode(t, "")
	long := filepath.Join(dir, strings.Repeat("s", 110)+".sock")
	r := startRingsup(t, dir, "--socket", long)
	if x := waitExit(t, r.pid, 20*time.Second); x.Code != 1 {
		t.Errorf("ringsup with a long socket path: %v", x)
	}
	if out := r.output.String(); !strings.Contains(out, "longer than the 107 a unix socket path may have") {
		t.Errorf("output = %q, want the path length explained", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "router.pid")); err == nil {
		t.Errorf("a daemon started although the socket could not be created")
	}
	if msg := ctlFails(t, dir, "--socket", long, "status"); !strings.Contains(msg, "longer than the 107") {
		t.Errorf("ctl with a long socket path: %q", msg)
	}
}

func TestSocketCreatedPrivate(t *testing.T) {
	dir := writeCtlNode(t, "")
	sock := filepath.Join(dir, "run", "ringsup.sock")
	r := startRingsup(t, dir, "--socket", sock)
	readPID(t, filepath.Join(dir, "worker.pid"))
	for path, want := range map[string]os.FileMode{sock: os.ModeSocket | 0o600, filepath.Dir(sock): os.ModeDir | 0o700} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != want {
			t.Errorf("mode of %s = %v (%v), want %v", path, fi.Mode(), err, want)
		}
	}
	stopRingsup(t, r)
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after ringsup exited: %v", err)
	}
}

// TestCtlRefusesOtherUID: a client running as uid 65534 is refused, by the
// socket's mode and, were the mode loosened, by its peer credentials.
func TestCtlRefusesOtherUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run a client as uid 65534")
	}
	// uid 65534 must reach the socket and run the binary: both live in a
	// directory it may enter, not in the private test directories.
	dir, err := os.MkdirTemp("", "ringsup-uid")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "ringsup")
	copyFile(t, os.Args[0], bin)
	writeCtlNode(t, dir)
	r := startRingsup(t, dir)
	defer stopRingsup(t, r)
	pids := map[string]int{
		"router": readPID(t, filepath.Join(dir, "router.pid")),
		"worker": readPID(t, filepath.Join(dir, "worker.pid")),
	}
	sock := filepath.Join(dir, "ringsup.sock")
	asNobody := func() (string, int) {
		t.Helper()
		out := &syncBuffer{}
		p, err := spawner().Spawn(procexec.Spec{
			Argv:   []string{bin, "ctl", "--socket", sock, "stop", "router"},
			Dir:    dir,
			Env:    map[string]string{"RINGSUP_TEST_AS_MAIN": "1"},
			User:   "65534",
			Output: out,
		})
		if err != nil {
			t.Fatalf("cannot start ctl as uid 65534: %v", err)
		}
		x := waitExit(t, p.PID, 30*time.Second)
		<-p.OutputDone()
		return out.String(), x.Code
	}

	// The socket is 0600: the kernel refuses the connection.
	if out, code := asNobody(); code != 1 || out != fmt.Sprintf("ringsup ctl: cannot connect to %s: permission denied\n", sock) {
		t.Errorf("ctl as uid 65534: exit %d, %q", code, out)
	}
	// With the mode loosened, the peer credential check refuses it.
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	if out, code := asNobody(); code != 1 || out != "ringsup ctl: permission denied for uid 65534\n" {
		t.Errorf("ctl as uid 65534 on a 0666 socket: exit %d, %q", code, out)
	}
	if !strings.Contains(r.output.String(), "refused a client: permission denied: uid=65534") {
		t.Errorf("the refusal was not logged:\n%s", r.output)
	}
	// Nothing changed, and root is still served.
	st := ctlStatus(t, dir)
	for name, pid := range pids {
		if daemonField(st, name, "pid") != float64(pid) {
			t.Errorf("%s: pid %v, want %d unchanged", name, daemonField(st, name, "pid"), pid)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestHostileClientsChangeNothing: garbage, a 2 MiB line and a client that
// never writes leave ringsup answering and every daemon's pid unchanged.
func TestHostileClientsChangeNothing(t *testing.T) {
	dir, r, _ := startCtlNode(t)
	defer stopRingsup(t, r)
	before := ctlStatus(t, dir)
	sock := filepath.Join(dir, "ringsup.sock")
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(20 * time.Second))
		return c
	}
	idle := dial()

	garbage := dial()
	garbage.Write([]byte("\x00\x01\xfe\xffGET / HTTP/1.1\r\n\r\n"))
	if b, _ := io.ReadAll(garbage); !strings.Contains(string(b), "malformed request") {
		t.Errorf("garbage got %q", b)
	}
	big := dial()
	go big.Write(append(bytes.Repeat([]byte("{"), 2<<20), '\n'))
	b, err := io.ReadAll(big)
	if !strings.Contains(string(b), "request too long") && err == nil && len(b) > 0 {
		t.Errorf("2 MiB line got %q, %v", b, err)
	}

	// While the idle client waits for its deadline, others are served.
	ctlOK(t, dir, "status")
	start := time.Now()
	b, err = io.ReadAll(idle)
	if err != nil || !strings.Contains(string(b), "timed out waiting for a request") {
		t.Errorf("idle client got %q, %v", b, err)
	}
	t.Logf("the idle client was closed after %v", time.Since(start).Round(time.Millisecond))

	after := ctlStatus(t, dir)
	for _, name := range []string{"router", "worker"} {
		if daemonField(before, name, "pid") != daemonField(after, name, "pid") {
			t.Errorf("%s pid changed: %v -> %v", name, daemonField(before, name, "pid"), daemonField(after, name, "pid"))
		}
	}
	if _, err := (&control.Client{Path: sock}).Ping(context.Background()); err != nil {
		t.Errorf("Ping() = %v", err)
	}
}
