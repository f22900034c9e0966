package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// instancesNode runs n instances of selfplay and a training that depends
// on selfplay. Instance i writes its pid to pid.i and its argv and env to
// its log, and is ready (fd 3) once the file go.i exists.
func instancesNode(n int) string {
	return fmt.Sprintf(`
[supervisor]
log_dir = "logs"
stop_timeout = "5s"
backoff_min = "100ms"
watch = false # each test reloads with ctl reload, and sees what it changed

[daemons.selfplay]
command = ["/bin/sh", "-c", "echo $$$$ > pid.$1; echo argv=$1 env=$RINGSUP_INSTANCE gpu=$GPU dir=$PWD; while [ ! -e ../go.$1 ]; do sleep 0.02; done; echo >&3; exec sleep 1000", "selfplay", "${RINGSUP_INSTANCE}"]
instances = %d
env = { GPU = "gpu${RINGSUP_INSTANCE}" }
working_dir = "w${RINGSUP_INSTANCE}"
ready = "fd:3"

[daemons.training]
command = "echo $$ > training.pid; exec sleep 1000"
depends_on = ["selfplay"]
`, n)
}

// startInstancesNode runs instancesNode(n) in a new directory with a
// working directory for up to 8 instances.
func startInstancesNode(t *testing.T, n int) string {
	t.Helper()
	quickRaceExit(t)
	dir := t.TempDir()
	for i := range 8 {
		if err := os.Mkdir(filepath.Join(dir, fmt.Sprintf("w%d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, "ringsup.toml"), instancesNode(n))
	r := startRingsup(t, dir)
	t.Cleanup(func() { stopRingsup(t, r) })
	waitListening(t, r, filepath.Join(dir, "ringsup.sock"))
	return dir
}

// letReady makes instance i of selfplay ready.
func letReady(t *testing.T, dir string, i int) {
	t.Helper()
	write(t, filepath.Join(dir, fmt.Sprintf("go.%d", i)), "")
}

// pidsOf returns the pid of every daemon in `ctl status --json`, by name.
func pidsOf(t *testing.T, dir string) map[string]int {
	t.Helper()
	st := ctlStatus(t, dir)
	pids := make(map[string]int)
	for name := range st["daemons"].(map[string]any) {
		pids[name] = int(daemonField(st, name, "pid").(float64))
	}
	return pids
}

// waitRunning waits until exactly the daemons names are listed, all running.
func waitRunning(t *testing.T, dir string, names ...string) map[string]int {
	t.Helper()
	var pids map[string]int
	eventually(t, 20*time.Second, strings.Join(names, ", ")+" running", func() bool {
		st := ctlStatus(t, dir)
		got := keys(st["daemons"].(map[string]any))
		if !slices.Equal(got, names) {
			return false
		}
		for _, n := range names {
			if daemonField(st, n, "state") != "running" {
				return false
			}
		}
		pids = pidsOf(t, dir)
		return true
	})
	return pids
}

// sameExcept checks that every pid of before but those of changed is the
// same in after, and that those of changed are new.
func sameExcept(t *testing.T, what string, before, after map[string]int, changed ...string) {
	t.Helper()
	for name, pid := range before {
		now, ok := after[name]
		switch {
		case !ok:
		case slices.Contains(changed, name) && now == pid:
			t.Errorf("%s: %s kept pid %d, want a new process", what, name, pid)
		case !slices.Contains(changed, name) && now != pid:
			t.Errorf("%s: %s pid %d -> %d, want it untouched", what, name, pid, now)
		}
	}
}

func TestInstances(t *testing.T) {
	dir := startInstancesNode(t, 4)
	ev := startCtl(t, dir, "events")

	// A dependent waits for every instance to be ready.
	for i := range 3 {
		letReady(t, dir, i)
	}
	waitCtlState(t, dir, "selfplay@2", "running")
	st := ctlStatus(t, dir, "selfplay@3", "training")
	if s := daemonField(st, "selfplay@3", "state"); s != "starting" {
		t.Fatalf("selfplay@3 is %v before go.3, want starting", s)
	}
	if s, pid := daemonField(st, "training", "state"), daemonField(st, "training", "pid"); s != "starting" || pid != 0.0 {
		t.Fatalf("training is %v (pid %v) while selfplay@3 is not ready, want starting without a process", s, pid)
	}
	letReady(t, dir, 3)
	all := []string{"selfplay@0", "selfplay@1", "selfplay@2", "selfplay@3", "training"}
	pids := waitRunning(t, dir, all...)

	// Each instance has its number in argv, env and working_dir, and
	// its own log file.
	for i := range 4 {
		name := fmt.Sprintf("selfplay@%d", i)
		if got := readPID(t, filepath.Join(dir, fmt.Sprintf("w%d", i), fmt.Sprintf("pid.%d", i))); got != pids[name] {
			t.Errorf("%s wrote pid %d, status says %d", name, got, pids[name])
		}
		want := fmt.Sprintf("argv=%d env=%d gpu=gpu%d dir=%s\n", i, i, i, filepath.Join(dir, fmt.Sprintf("w%d", i)))
		if out := ctlOK(t, dir, "logs", name); out != want {
			t.Errorf("logs %s = %q, want %q", name, out, want)
		}
		b, err := os.ReadFile(filepath.Join(dir, "logs", name+".log"))
		if err != nil || string(b) != want {
			t.Errorf("logs/%s.log = %q, %v; want %q", name, b, err, want)
		}
	}
	// The daemon's name: every instance's log, line by line, prefixed.
	var want strings.Builder
	for i := range 4 {
		fmt.Fprintf(&want, "selfplay@%d | argv=%d env=%d gpu=gpu%d dir=%s\n", i, i, i, i, filepath.Join(dir, fmt.Sprintf("w%d", i)))
	}
	if out := ctlOK(t, dir, "logs", "selfplay"); out != want.String() {
		t.Errorf("logs selfplay =\n%s\nwant\n%s", out, want.String())
	}

	// Status: a row per instance, in number order; JSON with daemon and
	// instance.
	table := ctlOK(t, dir, "status")
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(table), "\n")[1:] {
		rows = append(rows, strings.Fields(line)[0])
	}
	if !slices.Equal(rows, all) {
		t.Errorf("status rows = %q, want %q", rows, all)
	}
	st = ctlStatus(t, dir, "selfplay")
	if got := keys(st["daemons"].(map[string]any)); !slices.Equal(got, all[:4]) {
		t.Errorf("status --json selfplay lists %q, want the four instances", got)
	}
	if d, n := daemonField(st, "selfplay@3", "daemon"), daemonField(st, "selfplay@3", "instance"); d != "selfplay" || n != 3.0 {
		t.Errorf("selfplay@3: daemon %v, instance %v; want selfplay, 3", d, n)
	}
	st = ctlStatus(t, dir, "training")
	if d, n := daemonField(st, "training", "daemon"), daemonField(st, "training", "instance"); d != "training" || n != nil {
		t.Errorf("training: daemon %v, instance %v; want training and no instance", d, n)
	}

	// Killing @2 restarts @2 and, as it left running, its dependent.
	mark := len(ev.stdout.String())
	syscall.Kill(pids["selfplay@2"], syscall.SIGKILL)
	eventually(t, 20*time.Second, "selfplay@2 restarted", func() bool {
		now := pidsOf(t, dir)
		return now["selfplay@2"] != pids["selfplay@2"] && now["selfplay@2"] != 0
	})
	after := waitRunning(t, dir, all...)
	sameExcept(t, "kill selfplay@2", pids, after, "selfplay@2", "training")
	if n := daemonField(ctlStatus(t, dir, "selfplay@2"), "selfplay@2", "restart_count"); n != 1.0 {
		t.Errorf("selfplay@2 restart_count = %v, want 1", n)
	}
	if n := daemonField(ctlStatus(t, dir, "selfplay@1"), "selfplay@1", "restart_count"); n != 0.0 {
		t.Errorf("selfplay@1 restart_count = %v, want 0", n)
	}
	eventually(t, 10*time.Second, "events of selfplay@2 with its instance", func() bool {
		return strings.Contains(ev.stdout.String()[mark:], `"daemon_type":"selfplay@2","instance":2,"signal":"SIGKILL"`)
	})
	if strings.Contains(ev.stdout.String()[mark:], `"daemon_type":"selfplay@1"`) {
		t.Errorf("events of selfplay@1 after killing @2:\n%s", ev.stdout)
	}

	// ctl restart NAME@n touches that instance alone (and its dependent).
	pids = after
	follow := startCtl(t, dir, "logs", "-f", "-n", "0", "selfplay")
	eventually(t, 10*time.Second, "logs -f selfplay following", func() bool {
		// Until the follower watches, an appended line may be read as
		// part of the last 0 lines: append until one comes out.
		appendTo(t, filepath.Join(dir, "logs", "selfplay@3.log"), "mark\n")
		return strings.Contains(follow.stdout.String(), "selfplay@3 | mark\n")
	})
	ctlOK(t, dir, "restart", "selfplay@1")
	eventually(t, 20*time.Second, "selfplay@1 restarted", func() bool {
		return pidsOf(t, dir)["selfplay@1"] != pids["selfplay@1"]
	})
	after = waitRunning(t, dir, all...)
	sameExcept(t, "restart selfplay@1", pids, after, "selfplay@1", "training")
	line := fmt.Sprintf("selfplay@1 | argv=1 env=1 gpu=gpu1 dir=%s\n", filepath.Join(dir, "w1"))
	eventually(t, 10*time.Second, "logs -f selfplay prints the new line of selfplay@1", func() bool {
		return strings.HasSuffix(follow.stdout.String(), line)
	})
	syscall.Kill(follow.pid, syscall.SIGINT)
	follow.wait(t, 10*time.Second)

	// ctl stop NAME stops every instance (and the dependent); start NAME
	// starts them all again.
	ctlOK(t, dir, "stop", "selfplay")
	for _, n := range all {
		waitCtlState(t, dir, n, "stopped")
	}
	ctlOK(t, dir, "start", "selfplay")
	for _, n := range all[:4] {
		waitCtlState(t, dir, n, "running")
	}
	if s := daemonField(ctlStatus(t, dir, "training"), "training", "state"); s != "stopped" {
		t.Errorf("training is %v after start selfplay, want stopped (stop took it down)", s)
	}
	if msg := ctlFails(t, dir, "restart", "selfplay@4"); msg != `ringsup ctl: unknown daemon "selfplay@4"` {
		t.Errorf("restart selfplay@4: %q", msg)
	}
}

func TestInstancesScale(t *testing.T) {
	dir := startInstancesNode(t, 4)
	for i := range 8 {
		letReady(t, dir, i)
	}
	names := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("selfplay@%d", i))
		}
		return append(out, "training")
	}
	pids := waitRunning(t, dir, names(4)...)

	// ctl scale waits for the new instances, as reload does.
	out := ctlOK(t, dir, "scale", "selfplay", "6")
	if want := "added:     selfplay@4, selfplay@5\nremoved:   -\nrestarted: -\nupdated:   -\nselfplay@4: running\nselfplay@5: running\n"; !sameLines(out, want) {
		t.Errorf("scale selfplay 6 printed\n%s\nwant\n%s", out, want)
	}
	after := waitRunning(t, dir, names(6)...)
	sameExcept(t, "scale 4 -> 6", pids, after)

	pids = after
	ctlOK(t, dir, "scale", "selfplay", "2")
	after = waitRunning(t, dir, names(2)...)
	sameExcept(t, "scale 6 -> 2", pids, after)
	for _, gone := range []string{"selfplay@2", "selfplay@5"} {
		eventually(t, 10*time.Second, gone+"'s process gone", func() bool { return processGone(pids[gone]) })
	}

	// A reload of a file whose instances did not change keeps the scale.
	pids = after
	ctlOK(t, dir, "reload")
	sameExcept(t, "reload after scale", pids, waitRunning(t, dir, names(2)...))

	// A reload that changes instances: the file wins, 4 -> 6, then 3.
	write(t, filepath.Join(dir, "ringsup.toml"), instancesNode(6))
	out = ctlOK(t, dir, "reload")
	if want := "added:     selfplay@2, selfplay@3, selfplay@4, selfplay@5\nremoved:   -\nrestarted: -\nupdated:   -\n" +
		"selfplay@2: running\nselfplay@3: running\nselfplay@4: running\nselfplay@5: running\n"; !sameLines(out, want) {
		t.Errorf("reload to 6 printed\n%s\nwant\n%s", out, want)
	}
	after = waitRunning(t, dir, names(6)...)
	sameExcept(t, "reload 2 -> 6", pids, after)
	pids = after
	write(t, filepath.Join(dir, "ringsup.toml"), instancesNode(3))
	ctlOK(t, dir, "reload")
	after = waitRunning(t, dir, names(3)...)
	sameExcept(t, "reload 6 -> 3", pids, after)

	for _, bad := range [][]string{
		{"scale", "training", "2"},
		{"scale", "selfplay", "0"},
		{"scale", "selfplay", "10001"},
		{"scale", "nope", "2"},
		{"scale", "selfplay"},
	} {
		ctlFails(t, dir, bad...)
	}
	sameExcept(t, "bad scales", after, waitRunning(t, dir, names(3)...))

	// A waiting verb given the daemon's name waits for every instance.
	out = ctlOK(t, dir, "stop", "selfplay")
	if want := "selfplay@0: stopped\nselfplay@1: stopped\nselfplay@2: stopped\n"; !sameLines(out, want) {
		t.Errorf("stop selfplay printed\n%s\nwant\n%s", out, want)
	}
}

// TestInstancesCheckAndGraph: check and graph show a daemon with
// instances once, with its count; check reports bad instances with
// their positions.
func TestInstancesCheckAndGraph(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ringsup.toml")
	write(t, file, `
[profiles]
learn = ["training"]

[daemons.event_router]
command = ["sleep", "1000"]

[daemons.selfplay]
command = ["sleep", "1000"]
instances = 8
depends_on = ["event_router"]

[daemons.training]
command = ["sleep", "1000"]
depends_on = ["selfplay"]
`)
	out, errOut, err := runCLI(t, "check", "--config", file)
	if err != nil {
		t.Fatalf("check: %v\n%s", err, errOut)
	}
	want := file + `: ok, 3 daemons
start order (all daemons, no profile):
  1. event_router
  2. selfplay ×8
  3. training
profiles:
  learn:  training (pulls in event_router, selfplay ×8)
`
	if out != want {
		t.Errorf("check =\n%s\nwant\n%s", out, want)
	}
	out, _, err = runCLI(t, "graph", "--config", file)
	want = `digraph ringsup {
  "event_router";
  "selfplay" [label="selfplay ×8"];
  "training";
  "selfplay" -> "event_router";
  "training" -> "selfplay";
}
`
	if err != nil || out != want {
		t.Errorf("graph = %v\n%s\nwant\n%s", err, out, want)
	}

	write(t, file, `
[daemons.selfplay]
command = ["./selfplay", "--gpu", "${GPU}"]
instances = 0
`)
	_, _, err = runCLI(t, "check", "--config", file)
	if want := file + `:3:35: daemons.selfplay.command[2]: unknown variable ${GPU}: only ${RINGSUP_INSTANCE} is expanded (write $$ for a literal $)
` + file + `:4:1: daemons.selfplay.instances: must be from 1 to 10000, got 0`; err == nil || err.Error() != want {
		t.Errorf("check of bad instances = %v, want\n%s", err, want)
	}
}
