package logfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPrefix(t *testing.T) {
	plain, colored := NewEcho(nil, false), NewEcho(nil, true)
	defer plain.Close()
	defer colored.Close()
	tests := []struct {
		name  string
		width int
		want  string
	}{
		{"web", 12, "web          | "},
		{"event_router", 12, "event_router | "},
		{"a", 0, "a | "},
		{"longer_than_width", 4, "longer_than_width | "},
	}
	for _, tt := range tests {
		if got := plain.Prefix(tt.name, tt.width); got != tt.want {
			t.Errorf("Prefix(%q, %d) = %q, want %q", tt.name, tt.width, got, tt.want)
		}
		want := "\x1b[" + colorOf(tt.name) + "m" + strings.TrimSuffix(tt.want, " ") + "\x1b[0m "
		if got := colored.Prefix(tt.name, tt.width); got != want {
			t.Errorf("colored Prefix(%q, %d) = %q, want %q", tt.name, tt.width, got, want)
		}
	}
	// The color depends on the name only (not on the width, nor on the
	// Echo: a restarted supervisor gives a daemon the same color), and
	// names get different ones.
	other := NewEcho(nil, true)
	defer other.Close()
	colorRe := regexp.MustCompile(`^\x1b\[([0-9;]+)m`)
	first := colorRe.FindStringSubmatch(colored.Prefix("web", 3))
	for _, p := range []string{colored.Prefix("web", 20), other.Prefix("web", 3)} {
		if m := colorRe.FindStringSubmatch(p); first == nil || m == nil || m[1] != first[1] {
			t.Errorf("prefix %q of web has another color than %q", p, colored.Prefix("web", 3))
		}
	}
	seen := make(map[string]bool)
	for _, name := range []string{"event_router", "selfplay", "training", "evaluator", "flaky_uploader"} {
		seen[colorOf(name)] = true
	}
	if len(seen) < 3 {
		t.Errorf("five names got %d colors, want at least 3", len(seen))
	}
}

// TestEchoAligned runs two daemons' Writers into one Echo: their lines come
// out whole and aligned.
func TestEchoAligned(t *testing.T) {
	var out bytes.Buffer
	e := NewEcho(&out, false)
	dir := t.TempDir()
	names := []string{"web", "event_router"}
	width := len("event_router")
	ws := make(map[string]*Writer)
	for _, name := range names {
		ws[name] = mustOpen(t, filepath.Join(dir, name+".log"), Options{Echo: e, EchoPrefix: e.Prefix(name, width)})
	}
	write(t, ws["web"], "listening on :80\nGET /")
	write(t, ws["event_router"], "ready\n")
	write(t, ws["web"], "health 200\n")
	write(t, ws["event_router"], "no newline at exit")
	for _, name := range names {
		ws[name].Close()
	}
	e.Close()
	want := "web          | listening on :80\n" +
		"event_router | ready\n" +
		"web          | GET /health 200\n" +
		"event_router | no newline at exit\n"
	if got := out.String(); got != want {
		t.Errorf("echo =\n%s\nwant\n%s", got, want)
	}
}

// TestEchoConcurrent: daemons writing at once, in chunks that cut lines,
// never mix their lines in the echo. Run with -race.
func TestEchoConcurrent(t *testing.T) {
	var out bytes.Buffer
	e := NewEcho(&out, true)
	dir := t.TempDir()
	const daemons, lines = 4, 500
	var wg sync.WaitGroup
	for d := range daemons {
		name := fmt.Sprintf("d%d", d)
		w := mustOpen(t, filepath.Join(dir, name+".log"), Options{Echo: e, EchoPrefix: e.Prefix(name, 2)})
		wg.Go(func() {
			defer w.Close()
			var data []byte
			for i := range lines {
				data = fmt.Appendf(data, "%s line %d %s\n", name, i, strings.Repeat(name, i%7))
			}
			for len(data) > 0 {
				n := min(len(data), 7+len(data)%13)
				w.Write(data[:n])
				data = data[n:]
			}
		})
	}
	wg.Wait()
	e.Close()
	line := regexp.MustCompile(`^\x1b\[[0-9]+m(d[0-9]) \|\x1b\[0m (d[0-9]) line ([0-9]+) ((?:d[0-9])*)$`)
	next := make(map[string]int)
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil || m[1] != m[2] || m[3] != fmt.Sprint(next[m[1]]) || m[4] != strings.Repeat(m[1], next[m[1]]%7) {
			t.Fatalf("echo line %q: mixed, out of order or not from this test", l)
		}
		next[m[1]]++
	}
	for d := range daemons {
		if n := next[fmt.Sprintf("d%d", d)]; n != lines {
			t.Errorf("echo has %d lines of d%d, want %d", n, d, lines)
		}
	}
}

// blockingWriter blocks each Write until release is closed, telling
// entered when the first one begins.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	buf     bytes.Buffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.buf.Write(p)
}

// TestEchoSlowOutput: a stuck output does not block Write; what does not fit
// in the buffer is dropped and counted where it was.
func TestEchoSlowOutput(t *testing.T) {
	out := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	e := NewEcho(out, false)
	e.Write([]byte("first\n"))
	<-out.entered // the output has taken "first" and is stuck
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for range echoMax / len(line) {
		e.Write(line) // fills the buffer exactly
	}
	e.Write([]byte("dropped 1\n"))
	e.Write([]byte("dropped 2\ndropped 3\n"))
	close(out.release)
	e.Close()
	want := "first\n" + strings.Repeat(string(line), echoMax/len(line)) +
		"ringsup: 3 lines not echoed: the output was too slow (they are in the log files)\n"
	if got := out.buf.String(); got != want {
		t.Errorf("echo = %d bytes ending %q, want %d bytes ending %q", len(got), got[max(0, len(got)-100):], len(want), want[len(want)-100:])
	}
	if n, err := e.Write([]byte("late\n")); n != 5 || err != nil || strings.Contains(out.buf.String(), "late") {
		t.Errorf("Write after Close = %d, %v, want dropped", n, err)
	}
}

func TestColorEnabled(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	tty := openPTY(t)

	tests := []struct {
		name    string
		f       *os.File
		noColor string
		term    string
		want    bool
	}{
		{"pipe", w, "", "xterm", false},
		{"terminal", tty, "", "xterm", true},
		{"terminal, NO_COLOR", tty, "1", "xterm", false},
		{"terminal, TERM=dumb", tty, "", "dumb", false},
		{"pipe, NO_COLOR", w, "1", "xterm", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NO_COLOR", tt.noColor)
			t.Setenv("TERM", tt.term)
			if got := ColorEnabled(tt.f); got != tt.want {
				t.Errorf("ColorEnabled(%s) with NO_COLOR=%q TERM=%q = %v, want %v", tt.name, tt.noColor, tt.term, got, tt.want)
			}
		})
	}
	if IsTerminal(w) || !IsTerminal(tty) {
		t.Errorf("IsTerminal(pipe), IsTerminal(pty) = %v, %v, want false, true", IsTerminal(w), IsTerminal(tty))
	}
}

// openPTY returns the terminal end of a new pseudo-terminal, or skips the
// test when there is none.
func openPTY(t *testing.T) *os.File {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("cannot unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("cannot name pseudo-terminal: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("cannot open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty
}
