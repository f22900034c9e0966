package procexec

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestSpawnAllQueuedFilesGoToTheirOwnProcess: with a request queued behind
// the one each thread forks, the descriptors of the queued request
// (ExtraFiles, Stdin) travel over the socket pair while the thread still
// forks the previous one, and the output pipes come back the same way.
// Each process must get its own files and its output reach its own
// writer, in every batch a SpawnAll keeps in flight and beyond.
func TestSpawnAllQueuedFilesGoToTheirOwnProcess(t *testing.T) {
	n := (requestsPerWorker*maxWorkers+1)*spawnBatch + 3
	dir := t.TempDir()
	specs := make([]Spec, n)
	outs := make([]*output, n)
	readers := make([]*os.File, n) // of the extra file's pipe, even specs
	var given []*os.File           // the caller's ends, closed after SpawnAll
	defer func() {
		for _, f := range append(given, readers...) {
			if f != nil {
				f.Close()
			}
		}
	}()
	for i := range specs {
		outs[i] = newOutput()
		if i%2 == 0 {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			readers[i], given = r, append(given, w)
			specs[i] = helperSpec("write-fd", "3", "extra"+strconv.Itoa(i))
			specs[i].ExtraFiles = map[int]*os.File{3: w}
		} else {
			path := filepath.Join(dir, strconv.Itoa(i))
			if err := os.WriteFile(path, []byte("stdin"+strconv.Itoa(i)), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			given = append(given, f)
			specs[i] = helperSpec("cat-stdin")
			specs[i].Stdin = f
		}
		specs[i].Output = outs[i]
	}
	since := time.Now()
	procs, errs := testSpawner.SpawnAll(specs)
	for _, f := range given {
		f.Close()
	}
	given = nil
	for i, p := range procs {
		if p == nil || errs[i] != nil {
			t.Fatalf("SpawnAll: spec %d = %v, %v", i, p, errs[i])
		}
		if e := waitExit(t, p.PID, since); !e.Success() {
			t.Errorf("spec %d: %v", i, e)
		}
		waitDone(t, p)
		if i%2 == 1 {
			if got, want := outs[i].String(), "stdin"+strconv.Itoa(i); got != want {
				t.Errorf("output of spec %d = %q, want %q (its own standard input)", i, got, want)
			}
			continue
		}
		readers[i].SetReadDeadline(time.Now().Add(waitTimeout))
		buf := make([]byte, 32)
		m, err := readers[i].Read(buf)
		if got, want := string(buf[:m]), "extra"+strconv.Itoa(i)+"\n"; err != nil || got != want {
			t.Errorf("extra file of spec %d got %q, %v; want %q", i, got, err, want)
		}
	}
}
