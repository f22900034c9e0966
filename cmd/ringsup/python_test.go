package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pythonNode runs two Python daemons that use clients/python: selfplay
// publishes SELFPLAY_COMPLETED every 100ms (after trying two things it may
// not do), training answers each with TRAINING_COMPLETED, and a hook
// records those.
const pythonNode = `
[supervisor]
log_dir = "logs"
stop_timeout = "2s"

[events]
types = ["SELFPLAY_COMPLETED", "TRAINING_COMPLETED"]

[daemons.selfplay]
command = [%[1]q, "-u", "selfplay.py"]
env = { PYTHONPATH = %[2]q }

[daemons.training]
command = [%[1]q, "-u", "training.py"]
env = { PYTHONPATH = %[2]q }

[[hooks]]
events = ["TRAINING_COMPLETED"]
command = "cat >> hook.in"
`

const selfplayPy = `import os, time
import ringsup_events as r

errors = []
for event_type, as_daemon in [("SELFPLAY_COMPLETE", None), ("SELFPLAY_COMPLETED", "training")]:
    try:
        r.Client().emit(event_type, as_daemon=as_daemon)
    except r.RingsupError as e:
        errors.append(str(e))
with open("errors.tmp", "w") as f:
    f.write("\n".join(errors) + "\n")
os.rename("errors.tmp", "errors.txt")
games = 0
while True:
    games += 1
    r.emit("SELFPLAY_COMPLETED", games=games)
    time.sleep(0.1)
`

const trainingPy = `import ringsup_events as r

for event in r.subscribe("SELFPLAY_COMPLETED", daemons=["selfplay"]):
    r.emit("TRAINING_COMPLETED", model="m-%d" % event["data"]["games"], source=event["daemon_type"])
`

// lookPath finds an executable in $PATH (os/exec is procexec's alone).
func lookPath(name string) string {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// TestPythonClient runs the Python client against a real ringsup: a
// daemon publishes, another subscribes and publishes in turn, a hook sees
// the result, and refusals reach Python as RingsupError.
func TestPythonClient(t *testing.T) {
	python := lookPath("python3")
	if python == "" {
		t.Skip("python3 is not installed; CI has it")
	}
	lib, err := filepath.Abs("../../clients/python")
	if err != nil {
		t.Fatal(err)
	}
	quickRaceExit(t)
	dir := t.TempDir()
	for name, src := range map[string]string{
		"ringsup.toml": fmt.Sprintf(pythonNode, python, lib),
		"selfplay.py":  selfplayPy,
		"training.py":  trainingPy,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := startRingsup(t, dir)
	defer stopRingsup(t, r)

	var errs []byte
	eventually(t, 30*time.Second, "selfplay.py writes errors.txt", func() bool {
		errs, err = os.ReadFile(filepath.Join(dir, "errors.txt"))
		return err == nil
	})
	want := `cannot publish: undeclared event type "SELFPLAY_COMPLETE" (did you mean "SELFPLAY_COMPLETED"?)` + "\n" +
		`cannot publish as "training": the publisher belongs to daemon "selfplay"` + "\n"
	if string(errs) != want {
		t.Errorf("RingsupError messages in Python:\n%s\nwant:\n%s", errs, want)
	}

	var lines []map[string]any
	eventually(t, 60*time.Second, "the hook gets three TRAINING_COMPLETED", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "hook.in"))
		if i := strings.LastIndexByte(string(b), '\n'); i >= 0 {
			lines = eventLines(t, string(b[:i+1]))
		}
		return len(lines) >= 3
	})
	for _, e := range lines {
		data, _ := e["data"].(map[string]any)
		model, _ := data["model"].(string)
		if e["type"] != "TRAINING_COMPLETED" || e["daemon_type"] != "training" || data["source"] != "selfplay" || !strings.HasPrefix(model, "m-") {
			t.Errorf("hook stdin line = %v, want TRAINING_COMPLETED of training, in answer to selfplay", e)
		}
	}
}
