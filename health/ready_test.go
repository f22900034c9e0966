package health

import (
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestParseReady(t *testing.T) {
	for _, tt := range []struct {
		in   string
		kind string
		fd   int
		err  string
	}{
		{"notify", ReadyNotify, 0, ""},
		{"fd:3", ReadyFD, 3, ""},
		{"fd:255", ReadyFD, 255, ""},
		{"fd:2", "", 0, `invalid ready "fd:2": descriptor must be from 3 to 255`},
		{"fd:256", "", 0, `invalid ready "fd:256": descriptor must be from 3 to 255`},
		{"fd:", "", 0, `invalid ready "fd:": want "fd:N" with a decimal descriptor N, such as "fd:3"`},
		{"fd:03", "", 0, `invalid ready "fd:03": want "fd:N" with a decimal descriptor N, such as "fd:3"`},
		{"fd:+3", "", 0, `invalid ready "fd:+3": want "fd:N" with a decimal descriptor N, such as "fd:3"`},
		{"fd: 3", "", 0, `invalid ready "fd: 3": want "fd:N" with a decimal descriptor N, such as "fd:3"`},
		{"", "", 0, `invalid ready "": want "notify" or "fd:N", such as "fd:3"`},
		{"Notify", "", 0, `invalid ready "Notify": want "notify" or "fd:N", such as "fd:3"`},
		{"3", "", 0, `invalid ready "3": want "notify" or "fd:N", such as "fd:3"`},
	} {
		kind, fd, err := ParseReady(tt.in)
		if kind != tt.kind || fd != tt.fd || errText(err) != orNil(tt.err) {
			t.Errorf("ParseReady(%q) = %q, %d, %v; want %q, %d, %s", tt.in, kind, fd, err, tt.kind, tt.fd, orNil(tt.err))
		}
	}
}

// closed reports whether c is closed, waiting for it until wait has passed.
func closed(c <-chan struct{}, wait time.Duration) bool {
	select {
	case <-c:
		return true
	default:
	}
	select {
	case <-c:
		return true
	case <-time.After(wait):
		return false
	}
}

func TestReadyPipe(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fd    int
		args  []string // of the helper, after "write-fd N"
		ready bool
	}{
		{"newline", 3, []string{"sleep", "starting", "...\n"}, true},
		{"newline alone", 7, []string{"sleep", "\n"}, true},
		{"newline then more", 3, []string{"sleep", "\n", "more\n", "and more"}, true},
		{"no newline", 3, []string{"exit", "almost ready"}, false},
		{"nothing", 3, []string{"exit"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewReadyPipe()
			if err != nil {
				t.Fatalf("NewReadyPipe() = %v", err)
			}
			defer p.Close()
			spec := helperSpec(t, append([]string{"write-fd", strconv.Itoa(tt.fd)}, tt.args...)...)
			spec.ExtraFiles = map[int]*os.File{tt.fd: p.ChildEnd()}
			proc := start(t, spec)
			p.CloseChildEnd()

			if tt.ready {
				if !closed(p.Ready(), waitTimeout) {
					t.Fatalf("Ready() not closed after %v", waitTimeout)
				}
				// The daemon still holds the pipe: not done until it
				// exits.
				if closed(p.Done(), 0) {
					t.Errorf("Done() closed while the daemon holds the pipe")
				}
				proc.Signal(syscall.SIGKILL)
				waitExit(t, proc)
			}
			if !closed(p.Done(), waitTimeout) {
				t.Fatalf("Done() not closed after %v", waitTimeout)
			}
			if got := closed(p.Ready(), 0); got != tt.ready {
				t.Errorf("Ready() closed = %v after Done(), want %v", got, tt.ready)
			}
		})
	}
}

func TestReadyPipeClose(t *testing.T) {
	p, err := NewReadyPipe()
	if err != nil {
		t.Fatalf("NewReadyPipe() = %v", err)
	}
	p.Close()
	if !closed(p.Done(), 0) {
		t.Errorf("Done() not closed after Close()")
	}
	if closed(p.Ready(), 0) {
		t.Errorf("Ready() closed after Close(), want open")
	}
	p.Close()
	p.CloseChildEnd()
}
