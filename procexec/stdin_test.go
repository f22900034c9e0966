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
