package procexec

import (
	"errors"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestSpawnAll starts more processes than one batch of a Spawner's thread
// holds, some that cannot be executed and one with an extra file among
// them: each gets its own result, in order, and each output reaches its
// own writer.
func TestSpawnAll(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const n = 2*spawnBatch + 5
	specs := make([]Spec, n)
	outs := make([]*output, n)
	for i := range specs {
		outs[i] = newOutput()
		specs[i] = helperSpec("burst", strconv.Itoa(100+i))
		specs[i].Output = outs[i]
	}
	specs[3].Argv = []string{"/nonexistent/command"}
	specs[spawnBatch] = helperSpec("write-fd", "3", "passed")
	specs[spawnBatch].ExtraFiles = map[int]*os.File{3: w}
	since := time.Now()
	procs, errs := testSpawner.SpawnAll(specs)
	w.Close()
	for i, p := range procs {
		var ee *ExecError
		switch {
		case i == 3:
			if p != nil || !errors.As(errs[i], &ee) || ee.Kind != ExecNotFound {
				t.Errorf("spec %d (not found) = %v, %v; want an ExecError", i, p, errs[i])
			}
			continue
		case p == nil || errs[i] != nil:
			t.Fatalf("spec %d = %v, %v", i, p, errs[i])
		}
		if e := waitExit(t, p.PID, since); !e.Success() {
			t.Errorf("spec %d: %v", i, e)
		}
		waitDone(t, p)
		if i == spawnBatch {
			continue
		}
		if got, want := outs[i].String(), string(burst(100+i)); got != want {
			t.Errorf("output of spec %d: %d bytes, want the %d of its own burst", i, len(got), len(want))
		}
	}
	r.SetReadDeadline(time.Now().Add(waitTimeout))
	buf := make([]byte, 16)
	m, err := r.Read(buf)
	if got := string(buf[:m]); err != nil || got != "passed\n" {
		t.Errorf("what spec %d wrote to its extra file = %q, %v", spawnBatch, got, err)
	}
}
