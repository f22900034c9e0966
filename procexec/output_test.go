package procexec

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
)

func TestOutputStdoutAndStderrInOrder(t *testing.T) {
	out := newOutput()
	spec := helperSpec("echo-both")
	spec.Output = out
	p := start(t, testSpawner, spec)
	if e := waitProc(t, p); !e.Success() {
		t.Fatalf("echo-both: %v", e)
	}
	waitDone(t, p)
	if got, want := out.String(), "1 out\n2 err\n3 out\n4 err\n"; got != want {
		t.Errorf("output of echo-both = %q, want %q", got, want)
	}
}

func TestOutputNilIsDevNull(t *testing.T) {
	p := start(t, testSpawner, helperSpec("echo-both"))
	select {
	case <-p.OutputDone():
	default:
		t.Errorf("OutputDone() not closed for a nil Output")
	}
	if e := waitProc(t, p); !e.Success() {
		t.Errorf("echo-both writing to /dev/null: %v", e)
	}
}

// hashWriter hashes what it is given.
type hashWriter struct {
	h hash.Hash
	n int
}

func (w *hashWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return w.h.Write(p)
}

func TestOutputBurstIntact(t *testing.T) {
	const size = 10 << 20
	w := &hashWriter{h: sha256.New()}
	spec := helperSpec("burst", "10485760")
	spec.Output = w
	p := start(t, testSpawner, spec)
	if e := waitProc(t, p); !e.Success() {
		t.Fatalf("burst: %v", e)
	}
	waitDone(t, p) // the reader's writes happen before this
	want := sha256.Sum256(burst(size))
	if w.n != size || !bytes.Equal(w.h.Sum(nil), want[:]) {
		t.Errorf("burst of %d bytes arrived as %d bytes, sha256 %x; want %x", size, w.n, w.h.Sum(nil), want)
	}
}

// failingWriter fails every write.
type failingWriter struct{ calls atomic.Int64 }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.calls.Add(1)
	return 0, errors.New("disk full")
}

func TestOutputWriteErrorKeepsDraining(t *testing.T) {
	w := &failingWriter{}
	var reported atomic.Int64
	spec := helperSpec("burst", "1048576") // far more than a pipe holds
	spec.Output = w
	spec.OnOutputError = func(err error) { reported.Add(1) }
	p := start(t, testSpawner, spec)
	// The child would block forever on a full pipe if the reader stopped.
	if e := waitProc(t, p); !e.Success() {
		t.Fatalf("burst into a failing Output: %v", e)
	}
	waitDone(t, p)
	if n := reported.Load(); n != 1 {
		t.Errorf("OnOutputError called %d times, want once", n)
	}
	if n := w.calls.Load(); n < 2 {
		t.Errorf("Output called %d times after failing, want every chunk offered", n)
	}
}

func TestOutputExitDoesNotWaitForPipe(t *testing.T) {
	out := newOutput()
	spec := helperSpec("hold-pipe-open")
	spec.Output = out
	p := start(t, testSpawner, spec)
	since := p.Started
	gpid := waitPID(t, out, "grandchild")
	// Regression: the exit must come while a grandchild holds the pipe.
	if e := waitProc(t, p); !e.Success() {
		t.Fatalf("hold-pipe-open: %v", e)
	}
	select {
	case <-p.OutputDone():
		t.Fatalf("OutputDone closed while grandchild %d holds the pipe", gpid)
	default:
	}
	// The group outlives its reaped leader: kill what is left of it.
	if err := SignalGroup(p.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("SignalGroup(%d, SIGKILL) after the leader exited = %v", p.PID, err)
	}
	if e := waitExit(t, gpid, since); e.Signal != syscall.SIGKILL {
		t.Errorf("exit of the grandchild = %v, want signal SIGKILL", e)
	}
	if s := procState(gpid); s != 0 {
		t.Errorf("grandchild %d still in /proc after Reap (state %c)", gpid, s)
	}
	waitDone(t, p)
}

func TestOutputIdleReadersHoldNoBuffer(t *testing.T) {
	const n = 200
	before := heapInUse()
	for range n {
		start(t, testSpawner, Spec{Argv: []string{"/bin/sleep", "1000"}, Output: newOutput()})
	}
	after := heapInUse()
	// A reader holding a chunk would take n * 32 KiB = 6.4 MB.
	if per := (after - before) / n; per > chunkSize/4 {
		t.Errorf("heap per idle process = %d bytes, want well under the %d of a buffer", per, chunkSize)
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
