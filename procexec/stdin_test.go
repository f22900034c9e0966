package procexec

import (
	"os"
	"testing"
	"time"
)

func TestStdin(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString(`{"type":"DAEMON_FAILED"}`); err != nil {
		t.Fatal(err)
	}
	w.Close()
	out := newOutput()
	spec := helperSpec("cat-stdin")
	spec.Stdin, spec.Output = r, out
	p := start(t, testSpawner, spec)
	r.Close()
	if e := waitProc(t, p); !e.Success() {
		t.Fatalf("cat-stdin: %v", e)
	}
	select {
	case <-p.OutputDone():
	case <-time.After(waitTimeout):
		t.Fatal("output not done")
	}
	if got, want := out.String(), `{"type":"DAEMON_FAILED"}`; got != want {
		t.Errorf("child read %q from stdin, want %q", got, want)
	}
}

func TestOnOutputEnd(t *testing.T) {
	ended := make(chan struct{})
	spec := helperSpec("exit", "0")
	spec.Output = newOutput()
	spec.OnOutputEnd = func() { close(ended) } // a second call would panic
	p := start(t, testSpawner, spec)
	waitProc(t, p)
	select {
	case <-ended:
	case <-time.After(waitTimeout):
		t.Fatal("OnOutputEnd not called after the output ended")
	}
	<-p.OutputDone()
}
