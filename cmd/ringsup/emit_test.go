package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/control"
)

// emitNode is the config of the emit tests. Its daemons run jobs: a test
// writes a shell script to NAME.job, the daemon runs it (so whatever the
// script runs is in the daemon's process group) and leaves its output and
// exit status in NAME.done. BIN is the ringsup under test.
const emitNode = `
[supervisor]
log_dir = "logs"
stop_timeout = "5s"

[events]
types = ["SELFPLAY_COMPLETED", "TRAINING_COMPLETED", "MODEL_PROMOTED"]
rate_limit = 20

[daemons.selfplay]
command = %[1]q
env = { BIN = %[2]q, NAME = "selfplay" }

[daemons.training]
command = %[1]q
env = { BIN = %[2]q, NAME = "training" }

[[hooks]]
events = ["TRAINING_COMPLETED"]
command = "cat >> hook.in"

[[hooks]]
events = ["MODEL_PROMOTED"]
daemons = ["training"]
restart = ["selfplay"]
`

// jobRunner is the command of the daemons of emitNode.
const jobRunner = `echo $$ > $NAME.pid
while :; do
  if [ -f $NAME.job ]; then
    sh $NAME.job > $NAME.out 2>&1; echo "exit=$?" >> $NAME.out
    rm $NAME.job; mv $NAME.out $NAME.done
  fi
  sleep 0.02
done`

// writeEmitNode writes emitNode to dir/ringsup.toml, with the test binary
// as BIN, or bin when not empty.
func writeEmitNode(t *testing.T, dir, bin string) {
	t.Helper()
	quickRaceExit(t)
	if bin == "" {
		bin = os.Args[0]
	}
	src := fmt.Sprintf(emitNode, jobRunner, bin)
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runIn runs script in daemon name's process group (as its job) and returns
// its output and exit status line ("exit=N").
func runIn(t *testing.T, dir, name, script string) (out, exit string) {
	t.Helper()
	tmp := filepath.Join(dir, name+".job.tmp")
	if err := os.WriteFile(tmp, []byte(script+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name+".job")); err != nil {
		t.Fatal(err)
	}
	done := filepath.Join(dir, name+".done")
	var b []byte
	eventually(t, 30*time.Second, name+" runs its job", func() bool {
		var err error
		b, err = os.ReadFile(done)
		return err == nil
	})
	os.Remove(done)
	text := strings.TrimSuffix(string(b), "\n")
	i := strings.LastIndex(text, "exit=")
	return strings.TrimSuffix(text[:i], "\n"), text[i:]
}

// eventLines decodes the JSON lines of s.
func eventLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("event line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// subscribed starts `ctl events args...` and waits until its stream runs:
// it publishes probe (ctl emit arguments, run from outside the daemons)
// until the event shows up.
func subscribed(t *testing.T, dir string, probe []string, args ...string) *ctlProc {
	t.Helper()
	ev := startCtl(t, dir, append([]string{"events"}, args...)...)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(ev.stdout.String(), `"probe":true`) {
		if time.Now().After(deadline) {
			t.Fatalf("ctl events %v never showed the probe:\n%s", args, ev.stdout)
		}
		ctl(t, dir, append([]string{"emit"}, probe...)...) // the rate limit may refuse some
		time.Sleep(100 * time.Millisecond)
	}
	return ev
}

func TestEmitEndToEnd(t *testing.T) {
	dir := t.TempDir()
	writeEmitNode(t, dir, "")
	r := startRingsup(t, dir)
	defer stopRingsup(t, r)
	sock := filepath.Join(dir, "ringsup.sock")
	waitListening(t, r, sock)
	selfplay := readPID(t, filepath.Join(dir, "selfplay.pid"))
	readPID(t, filepath.Join(dir, "training.pid"))

	// Every daemon has the socket in its environment.
	if out, exit := runIn(t, dir, "selfplay", `echo "$RINGSUP_SOCKET"`); out != sock || exit != "exit=0" {
		t.Errorf("RINGSUP_SOCKET in selfplay = %q (%s), want %q", out, exit, sock)
	}

	// A filtered subscriber; the probes come from outside, as selfplay.
	ev := subscribed(t, dir, []string{"--as", "selfplay", "SELFPLAY_COMPLETED", "probe:=true"},
		"--type", "SELFPLAY_COMPLETED", "--daemon", "selfplay")

	// selfplay publishes with no flags but the event's; training publishes
	// the same type, and selfplay another one: the filter leaves them out.
	if out, exit := runIn(t, dir, "training", `"$BIN" ctl emit SELFPLAY_COMPLETED games:=1`); exit != "exit=0" {
		t.Errorf("ctl emit in training: %s %s", out, exit)
	}
	if out, exit := runIn(t, dir, "selfplay", `"$BIN" ctl emit TRAINING_COMPLETED games:=2`); exit != "exit=0" {
		t.Errorf("ctl emit in selfplay: %s %s", out, exit)
	}
	if out, exit := runIn(t, dir, "selfplay", `"$BIN" ctl emit --data '{"games": 100, "model": "m1"}' SELFPLAY_COMPLETED batch=7 games:=128`); exit != "exit=0" || out != "" {
		t.Errorf("ctl emit in selfplay: output %q, %s; want nothing and exit=0", out, exit)
	}
	eventually(t, 30*time.Second, "the filtered stream shows selfplay's event", func() bool {
		return strings.Contains(ev.stdout.String(), `"batch"`)
	})
	var got map[string]any
	for _, e := range eventLines(t, ev.stdout.String()) {
		if e["type"] != "SELFPLAY_COMPLETED" || e["daemon_type"] != "selfplay" {
			t.Errorf("the stream filtered on SELFPLAY_COMPLETED of selfplay has %v", e)
		}
		if d, _ := e["data"].(map[string]any); d["batch"] != nil {
			got = e
		}
	}
	data, _ := got["data"].(map[string]any)
	if _, ok := got["timestamp"].(float64); !ok || data["batch"] != "7" || data["games"] != float64(128) || data["model"] != "m1" {
		t.Errorf("event = %v, want a timestamp and data {batch: \"7\", games: 128, model: m1}", got)
	}

	// A hook command gets the event on stdin: TRAINING_COMPLETED came from
	// selfplay, and one from outside names its source with --as.
	ctlOK(t, dir, "emit", "--as", "training", "TRAINING_COMPLETED", "round:=3")
	eventually(t, 30*time.Second, "the hook got both events", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "hook.in"))
		return strings.Count(string(b), "\n") >= 2
	})
	b, _ := os.ReadFile(filepath.Join(dir, "hook.in"))
	hooked := eventLines(t, string(b))
	if hooked[0]["daemon_type"] != "selfplay" || hooked[1]["daemon_type"] != "training" || hooked[1]["data"].(map[string]any)["round"] != float64(3) {
		t.Errorf("hook stdin = %v, want TRAINING_COMPLETED of selfplay, then of training with round 3", hooked)
	}

	// A daemon cannot pretend to be another.
	if out, exit := runIn(t, dir, "selfplay", `"$BIN" ctl emit --as training MODEL_PROMOTED`); exit != "exit=1" ||
		out != `ringsup ctl: cannot publish as "training": the publisher belongs to daemon "selfplay"` {
		t.Errorf("ctl emit --as training in selfplay: %q %s; want refused", out, exit)
	}
	if pid := readPID(t, filepath.Join(dir, "selfplay.pid")); pid != selfplay {
		t.Fatalf("selfplay restarted (pid %d -> %d) by a refused emit", selfplay, pid)
	}

	// The hook action: MODEL_PROMOTED of training restarts selfplay.
	if out, exit := runIn(t, dir, "training", `"$BIN" ctl emit MODEL_PROMOTED`); exit != "exit=0" {
		t.Fatalf("ctl emit MODEL_PROMOTED in training: %s %s", out, exit)
	}
	eventually(t, 30*time.Second, "selfplay restarts with a new pid", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "selfplay.pid"))
		return err == nil && strings.HasSuffix(string(b), "\n") && strings.TrimSpace(string(b)) != fmt.Sprint(selfplay)
	})
	waitCtlState(t, dir, "selfplay", "running")

	// Bad input: a clear error, and nothing published.
	big := "x=" + strings.Repeat("a", 70000)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"emit", "SELFPLAY_COMPLETE"}, `ringsup ctl: cannot publish: undeclared event type "SELFPLAY_COMPLETE" (did you mean "SELFPLAY_COMPLETED"?`},
		{[]string{"emit", "DAEMON_STARTED"}, "ringsup ctl: cannot publish DAEMON_STARTED: it is one of ringsup's own event types"},
		{[]string{"emit", "--data", "[1, 2]", "SELFPLAY_COMPLETED"}, "ringsup ctl: --data must be a JSON object"},
		{[]string{"emit", "SELFPLAY_COMPLETED", big}, "ringsup ctl: cannot publish: data is 70008 bytes, more than the limit of 65536"},
		{[]string{"emit", "--as", "nobody", "SELFPLAY_COMPLETED"}, `ringsup ctl: unknown daemon "nobody"`},
		{[]string{"events", "--type", "SELFPLAY_DONE"}, `ringsup ctl: undeclared event type "SELFPLAY_DONE"`},
	} {
		if msg := ctlFails(t, dir, tc.args...); !strings.HasPrefix(msg, tc.want) {
			t.Errorf("ctl %.40q: %q, want %q", tc.args, msg, tc.want)
		}
	}

	// A flood: the rate limit (20/s) refuses the excess, and EVENTS_DROPPED
	// counts it.
	drops := subscribed(t, dir, []string{"--as", "training", "SELFPLAY_COMPLETED", "probe:=true"},
		"--type", "EVENTS_DROPPED", "--type", "SELFPLAY_COMPLETED", "--daemon", "training")
	client := &control.Client{Path: sock}
	refused := 0
	for i := 0; i < 1000 && refused == 0; i++ {
		err := client.EmitAs(t.Context(), "training", "SELFPLAY_COMPLETED", json.RawMessage(`{"flood":true}`))
		switch {
		case err != nil && strings.Contains(err.Error(), "rate limit exceeded"):
			refused++
		case err != nil:
			t.Fatalf("Emit during the flood = %v", err)
		}
	}
	if refused == 0 {
		t.Fatal("1000 emits as training at once: none refused by a rate limit of 20/s")
	}
	eventually(t, 30*time.Second, "EVENTS_DROPPED of training", func() bool {
		return strings.Contains(drops.stdout.String(), `"type":"EVENTS_DROPPED"`)
	})
	for _, e := range eventLines(t, drops.stdout.String()) {
		if e["type"] == "EVENTS_DROPPED" && (e["daemon_type"] != "training" || e["dropped"].(float64) < 1) {
			t.Errorf("EVENTS_DROPPED = %v, want training's, with dropped >= 1", e)
		}
	}
	// selfplay has a limit of its own.
	if out, exit := runIn(t, dir, "selfplay", `"$BIN" ctl emit SELFPLAY_COMPLETED`); exit != "exit=0" {
		t.Errorf("ctl emit in selfplay during training's flood: %s %s", out, exit)
	}

	// A reload that removes a type: emits of it are refused from then on.
	src, _ := os.ReadFile(filepath.Join(dir, "ringsup.toml"))
	src = []byte(strings.Replace(string(src), `, "MODEL_PROMOTED"]`, `]`, 1))
	src = []byte(strings.Replace(string(src), `events = ["MODEL_PROMOTED"]`, `events = ["TRAINING_COMPLETED"]`, 1))
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	ctlOK(t, dir, "reload")
	if msg := ctlFails(t, dir, "emit", "MODEL_PROMOTED"); !strings.Contains(msg, `undeclared event type "MODEL_PROMOTED"`) {
		t.Errorf("ctl emit after the reload removed the type: %q", msg)
	}
}

// TestEmitFromDaemonOfAnotherUser: a daemon that runs as another user gets
// a socket of its own in RINGSUP_SOCKET, on which it may publish (as
// itself only) and subscribe, and nothing else.
func TestEmitFromDaemonOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run a daemon as uid 65534")
	}
	// uid 65534 must run the binary and write its job files: both live in
	// a directory it may enter and write, not in the private test ones.
	dir, err := os.MkdirTemp("", "ringsup-emit-uid")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "ringsup")
	copyFile(t, os.Args[0], bin)
	writeEmitNode(t, dir, bin)
	f, err := os.OpenFile(filepath.Join(dir, "ringsup.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[daemons.nobodyd]\ncommand = %q\nuser = \"65534\"\nenv = { BIN = %q, NAME = \"nobodyd\" }\n", jobRunner, bin)
	f.Close()

	r := startRingsup(t, dir)
	sock := filepath.Join(dir, "ringsup.sock")
	waitListening(t, r, sock)
	readPID(t, filepath.Join(dir, "nobodyd.pid"))

	own, exit := runIn(t, dir, "nobodyd", `echo "$RINGSUP_SOCKET"`)
	fi, err := os.Stat(own)
	if exit != "exit=0" || own == sock || err != nil {
		t.Fatalf("RINGSUP_SOCKET of nobodyd = %q (%s, %v), want a socket of its own", own, exit, err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || fi.Mode().Perm() != 0o600 {
		t.Errorf("nobodyd's socket: uid %d, mode %v; want 65534 and 0600", st.Uid, fi.Mode().Perm())
	}

	ev := subscribed(t, dir, []string{"--as", "nobodyd", "SELFPLAY_COMPLETED", "probe:=true"},
		"--type", "SELFPLAY_COMPLETED", "--daemon", "nobodyd")
	if out, exit := runIn(t, dir, "nobodyd", `"$BIN" ctl emit SELFPLAY_COMPLETED from=nobody`); exit != "exit=0" {
		t.Fatalf("ctl emit in nobodyd: %q %s", out, exit)
	}
	eventually(t, 30*time.Second, "nobodyd's event", func() bool {
		return strings.Contains(ev.stdout.String(), `"from":"nobody"`)
	})
	// It subscribes on its socket too.
	if out, exit := runIn(t, dir, "nobodyd", `timeout 1 "$BIN" ctl events --type SELFPLAY_COMPLETED; echo "events=$?"`); !strings.HasSuffix(out, "events=124") {
		t.Errorf("ctl events in nobodyd: %q %s, want it streaming until killed", out, exit)
	}
	for script, want := range map[string]string{
		`"$BIN" ctl emit --as selfplay SELFPLAY_COMPLETED`: "ringsup ctl: permission denied: uid 65534 may not publish as another daemon",
		`"$BIN" ctl stop selfplay`:                         `ringsup ctl: "stop" is not served on the socket of daemon "nobodyd" (only emit, events and ping)`,
		`"$BIN" ctl --socket "` + sock + `" stop selfplay`: "ringsup ctl: cannot connect to " + sock + ": permission denied",
	} {
		if out, exit := runIn(t, dir, "nobodyd", script); exit != "exit=1" || out != want {
			t.Errorf("%s in nobodyd: %q %s; want %q", script, out, exit, want)
		}
	}
	waitCtlState(t, dir, "selfplay", "running")
	stopRingsup(t, r)
	if _, err := os.Stat(filepath.Dir(own)); !os.IsNotExist(err) {
		t.Errorf("the daemons' socket directory is left after ringsup exits: %v", err)
	}
}
