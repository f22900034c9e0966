package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/supervisor"
)

var tailTests = []struct {
	name string
	data string
	n    int
	want string
}{
	{"empty", "", 3, ""},
	{"zero lines", "a\nb\n", 0, ""},
	{"fewer lines than asked", "a\nb\n", 5, "a\nb\n"},
	{"exactly", "a\nb\nc\n", 3, "a\nb\nc\n"},
	{"last two", "a\nb\nc\n", 2, "b\nc\n"},
	{"last one", "a\nb\nc\n", 1, "c\n"},
	{"unterminated last line", "a\nb\nc", 2, "b\nc"},
	{"unterminated only line", "abc", 1, "abc"},
	{"empty lines", "\n\n\n", 2, "\n\n"},
	{"just a newline", "\n", 1, "\n"},
}

func TestTailOffset(t *testing.T) {
	for _, tc := range tailTests {
		t.Run(tc.name, func(t *testing.T) {
			off, err := tailOffset(strings.NewReader(tc.data), int64(len(tc.data)), tc.n)
			if err != nil || tc.data[off:] != tc.want {
				t.Errorf("tailOffset(%q, %d) = %d (%q), %v; want %q", tc.data, tc.n, off, tc.data[off:], err, tc.want)
			}
		})
	}
}

// FuzzTailOffset checks tailOffset against splitting the whole text.
func FuzzTailOffset(f *testing.F) {
	for _, tc := range tailTests {
		f.Add([]byte(tc.data), tc.n)
	}
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n < 0 || n > 1<<20 {
			return
		}
		off, missing, err := tailLines(bytes.NewReader(data), int64(len(data)), n)
		if err != nil {
			t.Fatal(err)
		}
		// The naive way: the lines, the last one maybe unterminated.
		lines := strings.SplitAfter(string(data), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		want := strings.Join(lines[max(0, len(lines)-n):], "")
		if got := string(data[off:]); got != want {
			t.Errorf("tailOffset(%q, %d) gives %q, want %q", data, n, got, want)
		}
		if want := max(0, n-len(lines)); missing != want {
			t.Errorf("tailLines(%q, %d) misses %d lines, want %d", data, n, missing, want)
		}
	})
}

// countingReader counts the bytes read through ReadAt.
type countingReader struct {
	r    *bytes.Reader
	read int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.read += int64(n)
	return n, err
}

// TestTailOffsetReadsOnlyTheTail: the last lines of a large log cost one
// block, not the file.
func TestTailOffsetReadsOnlyTheTail(t *testing.T) {
	var b bytes.Buffer
	for i := range 200_000 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	r := &countingReader{r: bytes.NewReader(b.Bytes())}
	off, err := tailOffset(r, int64(b.Len()), 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Bytes()[off:]; !bytes.HasPrefix(got, []byte("line 199900\n")) {
		t.Errorf("tail starts with %.20q, want line 199900", got)
	}
	if r.read > tailBlock {
		t.Errorf("read %d bytes of %d for 100 lines, want at most one block (%d)", r.read, b.Len(), tailBlock)
	}
	// Lines longer than a block: it reads back as far as it must.
	long := strings.Repeat("y", 3*tailBlock)
	data := "first\n" + long + "\n" + long + "\n"
	off, err = tailOffset(strings.NewReader(data), int64(len(data)), 2)
	if err != nil || data[off:] != long+"\n"+long+"\n" {
		t.Errorf("tailOffset over long lines = %d, %v", off, err)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

// TestLogsReadsRotatedFiles: `ctl logs -n N` used to show only the current
// file, however few lines it had; the rest come from name.log.1, .2, ...
func TestLogsReadsRotatedFiles(t *testing.T) {
	n := startNode(t, node, Options{})
	path := filepath.Join(n.cfg.Supervisor.LogDir, "router.log")
	var all strings.Builder
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&all, "line %d\n", i)
	}
	// Oldest in router.log.3, newest in router.log; router.log.5 is beyond
	// the gap at .4 and is not read.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path+".5", "too old\n")
	appendFile(t, path+".3", "line 1\nline 2\nline 3\n")
	appendFile(t, path+".2", "line 4\nline 5\n")
	appendFile(t, path+".1", "line 6\nline 7\nline 8\n")
	appendFile(t, path, "line 9\nline 10\n")
	for _, tc := range []struct{ lines, from int }{
		{1, 10}, {2, 9}, {3, 8}, {5, 6}, {6, 5}, {8, 3}, {10, 1}, {100, 1},
	} {
		var out bytes.Buffer
		err := n.client.Logs(t.Context(), "router", tc.lines, false, &out)
		want := all.String()[strings.Index(all.String(), fmt.Sprintf("line %d\n", tc.from)):]
		if err != nil || out.String() != want {
			t.Errorf("Logs(router, -n %d) = %q, %v; want %q", tc.lines, out.String(), err, want)
		}
	}
	// With no current file (rotated, not yet written again).
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := n.client.Logs(t.Context(), "router", 2, false, &out); err != nil || out.String() != "line 7\nline 8\n" {
		t.Errorf("Logs(router, -n 2) with no router.log = %q, %v; want the end of router.log.1", out.String(), err)
	}
}

func TestLogs(t *testing.T) {
	n := startNode(t, node, Options{})
	ctx := t.Context()
	// router runs `sleep`, which writes nothing: the test writes its log.
	// Until something is written there is no file, and nothing to show.
	var out bytes.Buffer
	if err := n.client.Logs(ctx, "router", 10, false, &out); err != nil || out.Len() != 0 {
		t.Fatalf("Logs(router) with no log = %q, %v; want nothing", out.String(), err)
	}
	path := filepath.Join(n.cfg.Supervisor.LogDir, "router.log")
	var all strings.Builder
	for i := 1; i <= 500; i++ {
		fmt.Fprintf(&all, "line %d\n", i)
	}
	appendFile(t, path, all.String())
	for _, tc := range []struct {
		lines int
		want  string
	}{
		{3, "line 498\nline 499\nline 500\n"},
		{0, ""},
		{1000, all.String()},
	} {
		out.Reset()
		if err := n.client.Logs(ctx, "router", tc.lines, false, &out); err != nil || out.String() != tc.want {
			t.Errorf("Logs(router, -n %d) = %.40q, %v; want %.40q", tc.lines, out.String(), err, tc.want)
		}
	}
	// Without "lines" in the request: the last 100.
	c, _, err := n.client.call(ctx, Request{V: Version, Cmd: CmdLogs, Names: []string{"router"}})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	out.ReadFrom(c.r)
	c.close()
	if got := strings.Count(out.String(), "\n"); got != DefaultLogLines || !strings.HasPrefix(out.String(), "line 401\n") {
		t.Errorf("logs without lines gave %d lines from %.10q, want the last %d", got, out.String(), DefaultLogLines)
	}

	// A symlink in the log directory is not followed.
	os.WriteFile(filepath.Join(n.dir, "secret"), []byte("secret\n"), 0o644)
	worker := filepath.Join(n.cfg.Supervisor.LogDir, "worker.log")
	os.Remove(worker)
	if err := os.Symlink(filepath.Join(n.dir, "secret"), worker); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := n.client.Logs(ctx, "worker", 10, false, &out); err == nil || out.Len() != 0 {
		t.Errorf("Logs(worker) through a symlink = %q, %v; want an error", out.String(), err)
	}

	// Only the logs of daemons the supervisor knows.
	os.WriteFile(filepath.Join(n.dir, "secret.log"), []byte("secret\n"), 0o644)
	for _, name := range []string{"nope", "../secret", "../../etc/passwd"} {
		err := n.client.Logs(ctx, name, 10, false, &out)
		if remoteError(err) != fmt.Sprintf("unknown daemon %q", name) {
			t.Errorf("Logs(%q) = %v, want unknown daemon", name, err)
		}
	}
}

func TestLogsFollow(t *testing.T) {
	n := startNode(t, node, Options{})
	n.waitState(t, "router", supervisor.Running) // the log directory exists
	path := filepath.Join(n.cfg.Supervisor.LogDir, "router.log")
	appendFile(t, path, "old 1\nold 2\n")
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	ended := make(chan error, 1)
	go func() { ended <- n.client.Logs(ctx, "router", 1, true, out) }()
	want := "old 2\n"
	waitFor := func(what string) {
		t.Helper()
		eventually(t, 10*time.Second, what, func() bool { return out.String() == want })
	}
	waitFor("the last line")

	appendFile(t, path, "new 1\n")
	want += "new 1\n"
	waitFor("an appended line")

	// Truncated, as by copytruncate: start over from the beginning.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "after truncate\n")
	want += "after truncate\n"
	waitFor("a line after truncation")

	// Rotated: the rest of the old file, then the new one.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path+".1", "end of old\n")
	appendFile(t, path, "start of new\n")
	want += "end of old\nstart of new\n"
	waitFor("lines from the rotated and the new file")

	cancel()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Logs() after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Logs() did not return after cancel")
	}
	eventually(t, 10*time.Second, "the server lets go of the follower", func() bool { return n.srv.clients() == 0 })
}

// TestLogsFollowEndsWithSupervisor: `ctl logs -f` ends when the supervisor
// stops.
func TestLogsFollowEndsWithSupervisor(t *testing.T) {
	n := startNode(t, node, Options{})
	ended := make(chan error, 1)
	go func() { ended <- n.client.Logs(t.Context(), "router", 10, true, &syncBuffer{}) }()
	eventually(t, 10*time.Second, "the follower is connected", func() bool { return n.srv.clients() == 1 })
	n.sup.Shutdown()
	select {
	case err := <-ended:
		if err != nil {
			t.Errorf("Logs() after shutdown = %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Logs() did not return after shutdown")
	}
}

// TestWatcherFallsBackToPolling: without a directory to watch, followers
// are woken every pollInterval.
func TestWatcherFallsBackToPolling(t *testing.T) {
	w := newWatcher(filepath.Join(t.TempDir(), "missing"), hclog.NewNullLogger())
	defer w.close()
	ch, stop := w.watch("x.log")
	defer stop()
	for range 2 {
		select {
		case <-ch:
		case <-time.After(10 * pollInterval):
			t.Fatal("no tick from the polling fallback")
		}
	}
}
