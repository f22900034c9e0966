package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// readDir returns the name and content of every file in dir.
func readDir(t testing.TB, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := make(map[string]string)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(data)
	}
	return files
}

// writeFiles creates the files of files in dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// mustOpen opens a Writer or fails the test.
func mustOpen(t testing.TB, path string, opts Options) *Writer {
	t.Helper()
	w, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%q, %+v) = %v", path, opts, err)
	}
	return w
}

// write writes each chunk to w, checking that Write takes all of it.
func write(t testing.TB, w *Writer, chunks ...string) {
	t.Helper()
	for _, c := range chunks {
		if n, err := w.Write([]byte(c)); n != len(c) || err != nil {
			t.Fatalf("Write(%q) = %d, %v, want %d, nil", c, n, err, len(c))
		}
	}
}

// stampAt is a time whose timestamp is stamp0.
var stampAt = time.Date(2024, 5, 1, 12, 30, 45, 678_900_000, time.UTC)

const stamp0 = "2024-05-01T12:30:45.678Z "

// rotationTests write chunks to a.log with MaxSize and MaxFiles, in a
// directory that holds before, and expect the directory to hold after. They
// also seed FuzzWrite.
var rotationTests = []struct {
	name     string
	maxSize  int64
	maxFiles int
	stamps   bool
	before   map[string]string
	chunks   []string
	after    map[string]string
}{
	{"below max", 10, 5, false, nil,
		[]string{"abc\n"},
		map[string]string{"a.log": "abc\n"}},
	{"exactly max is not rotated", 8, 5, false, nil,
		[]string{"abc\n", "def\n"},
		map[string]string{"a.log": "abc\ndef\n"}},
	{"cut after the last newline that fits", 10, 5, false, nil,
		[]string{"aaaa\nbbbb\ncccc\n"},
		map[string]string{"a.log.1": "aaaa\nbbbb\n", "a.log": "cccc\n"}},
	{"a line that does not fit starts the new file", 10, 5, false, nil,
		[]string{"aaaa\n", "bbbbbbb\n"},
		map[string]string{"a.log.1": "aaaa\n", "a.log": "bbbbbbb\n"}},
	{"a line begun in the file fills it", 10, 5, false, nil,
		[]string{"abc", "defghijklm\n"},
		map[string]string{"a.log.1": "abcdefghij", "a.log": "klm\n"}},
	{"a line longer than max is cut at max", 4, 5, false, nil,
		[]string{"abcdefghij\n"},
		map[string]string{"a.log.2": "abcd", "a.log.1": "efgh", "a.log": "ij\n"}},
	{"no newline at all", 4, 5, false, nil,
		[]string{"abcdef", "ghij"},
		map[string]string{"a.log.2": "abcd", "a.log.1": "efgh", "a.log": "ij"}},
	{"count: the oldest is removed", 4, 2, false, nil,
		[]string{"111\n", "222\n", "333\n", "444\n"},
		map[string]string{"a.log.2": "222\n", "a.log.1": "333\n", "a.log": "444\n"}},
	{"count: one chunk, many rotations", 4, 3, false, nil,
		[]string{"111\n222\n333\n444\n555\n666\n"},
		map[string]string{"a.log.3": "333\n", "a.log.2": "444\n", "a.log.1": "555\n", "a.log": "666\n"}},
	{"max files 0 starts over", 4, 0, false, nil,
		[]string{"111\n", "222\n", "33"},
		map[string]string{"a.log": "33"}},
	{"max files 0 removes rotated files", 4, 0, false,
		map[string]string{"a.log.1": "old\n"},
		[]string{"111\n", "222\n"},
		map[string]string{"a.log": "222\n"}},
	{"max size 0 never rotates", 0, 5, false, nil,
		[]string{strings.Repeat("x", 100_000), "\n"},
		map[string]string{"a.log": strings.Repeat("x", 100_000) + "\n"}},
	{"appends to an existing file", 20, 5, false,
		map[string]string{"a.log": "old\n"},
		[]string{"new\n"},
		map[string]string{"a.log": "old\nnew\n"}},
	{"an existing file counts toward max", 10, 5, false,
		map[string]string{"a.log": "old\nold\n"},
		[]string{"new\n"},
		map[string]string{"a.log.1": "old\nold\n", "a.log": "new\n"}},
	{"an existing file over max is rotated first", 4, 5, false,
		map[string]string{"a.log": "oldoldold\n"},
		[]string{"new\n"},
		map[string]string{"a.log.1": "oldoldold\n", "a.log": "new\n"}},
	{"rotated files shift up", 4, 3, false,
		map[string]string{"a.log": "ccc\n", "a.log.1": "bbb\n", "a.log.2": "aaa\n"},
		[]string{"ddd\n"},
		map[string]string{"a.log.3": "aaa\n", "a.log.2": "bbb\n", "a.log.1": "ccc\n", "a.log": "ddd\n"}},
	{"files beyond max files are removed", 4, 2, false,
		map[string]string{"a.log": "ccc\n", "a.log.1": "bbb\n", "a.log.2": "aaa\n", "a.log.3": "x", "a.log.4": "y"},
		[]string{"ddd\n"},
		map[string]string{"a.log.2": "bbb\n", "a.log.1": "ccc\n", "a.log": "ddd\n"}},
	{"a gap in the rotated files", 4, 3, false,
		map[string]string{"a.log": "ccc\n", "a.log.2": "aaa\n"},
		[]string{"ddd\n"},
		map[string]string{"a.log.3": "aaa\n", "a.log.1": "ccc\n", "a.log": "ddd\n"}},
	{"timestamps count toward max", int64(len(stamp0)) + 4, 5, true, nil,
		[]string{"abc\n", "def\n"},
		map[string]string{"a.log.1": stamp0 + "abc\n", "a.log": stamp0 + "def\n"}},
	{"other files are left alone", 4, 1, false,
		map[string]string{"b.log": "b\n", "a.log.x": "x", "a.logx": "y"},
		[]string{"111\n", "222\n", "333\n"},
		map[string]string{"a.log.1": "222\n", "a.log": "333\n", "b.log": "b\n", "a.log.x": "x", "a.logx": "y"}},
}

func TestRotation(t *testing.T) {
	for _, tt := range rotationTests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.before)
			opts := Options{MaxSize: tt.maxSize, MaxFiles: tt.maxFiles, Timestamps: tt.stamps, Now: func() time.Time { return stampAt }}
			w := mustOpen(t, filepath.Join(dir, "a.log"), opts)
			write(t, w, tt.chunks...)
			if err := w.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
			if got := readDir(t, dir); !maps.Equal(got, tt.after) {
				t.Errorf("files after Write(%q) with MaxSize %d, MaxFiles %d = %q, want %q", tt.chunks, tt.maxSize, tt.maxFiles, got, tt.after)
			}
		})
	}
}

func TestOpenInvalid(t *testing.T) {
	tests := []struct {
		path string
		opts Options
		want string
	}{
		{"", Options{}, "cannot open log: empty path"},
		{"a.log", Options{MaxSize: -1}, "cannot open log a.log: negative MaxSize -1"},
		{"a.log", Options{MaxFiles: -1}, "cannot open log a.log: negative MaxFiles -1"},
	}
	for _, tt := range tests {
		w, err := Open(tt.path, tt.opts)
		if w != nil || err == nil || err.Error() != tt.want {
			t.Errorf("Open(%q, %+v) = %v, %v, want nil, %q", tt.path, tt.opts, w, err, tt.want)
		}
	}
}

// TestOpenIsLazy: the file appears with the first write, not before.
func TestOpenIsLazy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	w := mustOpen(t, path, Options{})
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Stat(%q) after Open = %v, want not exist", path, err)
	}
	write(t, w, "x")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644&^umask() {
		t.Fatalf("Stat(%q) after Write = %v, %v, want mode %v", path, fi, err, os.FileMode(0o644&^umask()))
	}
	w.Close()
}

func umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}

// TestReopen follows logrotate's create mode: the file is renamed away and a
// new one created, then SIGUSR1 makes the supervisor call Reopen.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	w := mustOpen(t, path, Options{MaxSize: 1 << 20, MaxFiles: 5})
	write(t, w, "one\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"a.log": ""})
	write(t, w, "two\n") // still the open file, now a.log.1
	if err := w.Reopen(); err != nil {
		t.Fatalf("Reopen() = %v", err)
	}
	write(t, w, "three\n")
	want := map[string]string{"a.log.1": "one\ntwo\n", "a.log": "three\n"}
	if got := readDir(t, dir); !maps.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}

	// Removed rather than renamed: Reopen creates it again.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); err != nil {
		t.Fatalf("Reopen() = %v", err)
	}
	if err := w.Reopen(); err != nil {
		t.Fatalf("Reopen() twice = %v", err)
	}
	write(t, w, "four\n")
	w.Close()
	want = map[string]string{"a.log.1": "one\ntwo\n", "a.log": "four\n"}
	if got := readDir(t, dir); !maps.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
}

// TestWriteAfterClose: output that arrives after Close (a grandchild still
// holding the daemon's pipe) is appended, and no file stays open.
func TestWriteAfterClose(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	w := mustOpen(t, path, Options{})
	write(t, w, "before\n")
	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	write(t, w, "after\n")
	if w.f != nil {
		t.Errorf("file open after Write following Close")
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close() twice = %v", err)
	}
	if got, want := readDir(t, dir)["a.log"], "before\nafter\n"; got != want {
		t.Errorf("a.log = %q, want %q", got, want)
	}
}

// TestTimestamps writes chunks at given times and checks the file after
// each: a partial line is in the file at once, and its continuation gets no
// timestamp of its own.
func TestTimestamps(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	paris := time.FixedZone("CEST", 2*3600)
	steps := []struct {
		at    time.Time
		chunk string
		file  string // the whole file after the chunk
	}{
		{t0, "par", "2024-05-01T12:00:00.000Z par"},
		{t0.Add(1500 * time.Millisecond), "tial\nnext", "2024-05-01T12:00:00.000Z partial\n2024-05-01T12:00:01.500Z next"},
		{t0.Add(2 * time.Second), "\n", "2024-05-01T12:00:00.000Z partial\n2024-05-01T12:00:01.500Z next\n"},
		{t0.Add(5 * time.Millisecond).In(paris), "a\n\nb\n",
			"2024-05-01T12:00:00.000Z partial\n2024-05-01T12:00:01.500Z next\n" +
				"2024-05-01T12:00:00.005Z a\n2024-05-01T12:00:00.005Z \n2024-05-01T12:00:00.005Z b\n"},
	}
	path := filepath.Join(t.TempDir(), "a.log")
	var now time.Time
	w := mustOpen(t, path, Options{Timestamps: true, Now: func() time.Time { return now }})
	defer w.Close()
	for _, s := range steps {
		now = s.at
		write(t, w, s.chunk)
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != s.file {
			t.Fatalf("file after Write(%q) at %v = %q, want %q", s.chunk, s.at, got, s.file)
		}
	}
}

// echoRecorder is an Options.Echo that records each Write.
type echoRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *echoRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, string(p))
	return len(p), nil
}

// TestLongLines checks the split at LineMax in the file (with timestamps)
// and the echo, with the line arriving in 32 KiB chunks as from procexec.
func TestLongLines(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name  string
		input string
		lines []string // what the lines are after splitting
	}{
		{"short", "abc\n", []string{"abc\n"}},
		{"exactly LineMax", x(LineMax) + "\n", []string{x(LineMax) + "\n"}},
		{"LineMax+1", x(LineMax+1) + "\n", []string{x(LineMax) + "\n", "x\n"}},
		{"LineMax without newline yet", x(LineMax) + "\nnext\n", []string{x(LineMax) + "\n", "next\n"}},
		{"twice LineMax and more", x(2*LineMax+10) + "\n", []string{x(LineMax) + "\n", x(LineMax) + "\n", x(10) + "\n"}},
		{"twice LineMax exactly", x(2*LineMax) + "\n", []string{x(LineMax) + "\n", x(LineMax) + "\n"}},
		{"after a short line", "ab\n" + x(LineMax+3) + "\n", []string{"ab\n", x(LineMax) + "\n", "xxx\n"}},
	}
	for _, tt := range tests {
		for _, chunk := range []int{32 << 10, 1000, LineMax, LineMax + 1} {
			t.Run(fmt.Sprintf("%s/chunk %d", tt.name, chunk), func(t *testing.T) {
				dir := t.TempDir()
				rec := &echoRecorder{}
				opts := Options{Timestamps: true, Now: func() time.Time { return stampAt }, Echo: rec, EchoPrefix: "p | "}
				w := mustOpen(t, filepath.Join(dir, "a.log"), opts)
				raw := mustOpen(t, filepath.Join(dir, "raw.log"), Options{Echo: &echoRecorder{}})
				for in := tt.input; len(in) > 0; {
					n := min(chunk, len(in))
					write(t, w, in[:n])
					write(t, raw, in[:n])
					in = in[n:]
				}
				w.Close()
				raw.Close()
				var wantFile, wantEcho strings.Builder
				for _, l := range tt.lines {
					wantFile.WriteString(stamp0 + l)
					wantEcho.WriteString("p | " + l)
				}
				files := readDir(t, dir)
				if got := files["a.log"]; got != wantFile.String() {
					t.Errorf("file with timestamps = %.80q... (%d bytes), want %.80q... (%d bytes)", got, len(got), wantFile.String(), wantFile.Len())
				}
				if got := files["raw.log"]; got != tt.input {
					t.Errorf("file without timestamps = %d bytes, want the input unchanged, %d bytes", len(got), len(tt.input))
				}
				if got := strings.Join(rec.calls, ""); got != wantEcho.String() {
					t.Errorf("echo = %d bytes, want %d bytes", len(got), wantEcho.Len())
				}
			})
		}
	}
}

// TestEchoWholeLines: the echo gets whole lines only, in as few writes as
// chunks; a partial line waits for its end, or for Close.
func TestEchoWholeLines(t *testing.T) {
	rec := &echoRecorder{}
	dir := t.TempDir()
	w := mustOpen(t, filepath.Join(dir, "a.log"), Options{Echo: rec, EchoPrefix: "web | "})
	steps := []struct {
		chunk string
		calls []string // every call so far
	}{
		{"hel", nil},
		{"lo\nwor", []string{"web | hello\n"}},
		{"ld\none\ntwo\nthr", []string{"web | hello\n", "web | world\nweb | one\nweb | two\n"}},
	}
	for _, s := range steps {
		write(t, w, s.chunk)
		if !slices.Equal(rec.calls, s.calls) {
			t.Fatalf("echo after Write(%q) = %q, want %q", s.chunk, rec.calls, s.calls)
		}
	}
	w.Close()
	want := []string{"web | hello\n", "web | world\nweb | one\nweb | two\n", "web | thr\n"}
	if !slices.Equal(rec.calls, want) {
		t.Errorf("echo after Close() = %q, want %q", rec.calls, want)
	}
	if got := readDir(t, dir)["a.log"]; got != "hello\nworld\none\ntwo\nthr" {
		t.Errorf("a.log = %q, want the output unchanged", got)
	}
}

// TestEndLine: a line left unfinished by one process is not continued by
// the next: EndLine sends it to the echo and, with timestamps, ends it in
// the file; without timestamps the file keeps the output as it came.
func TestEndLine(t *testing.T) {
	dir := t.TempDir()
	rec, rawRec := &echoRecorder{}, &echoRecorder{}
	w := mustOpen(t, filepath.Join(dir, "a.log"), Options{
		Timestamps: true, Now: func() time.Time { return stampAt }, Echo: rec, EchoPrefix: "p | ",
	})
	raw := mustOpen(t, filepath.Join(dir, "raw.log"), Options{Echo: rawRec, EchoPrefix: "p | "})
	for _, w := range []*Writer{w, raw} {
		w.EndLine() // nothing to end
		write(t, w, "one\ntw")
		w.EndLine()
		w.EndLine() // nothing more to end
		write(t, w, "three\n")
		w.Close()
	}
	files := readDir(t, dir)
	if got, want := files["a.log"], stamp0+"one\n"+stamp0+"tw\n"+stamp0+"three\n"; got != want {
		t.Errorf("file with timestamps = %q, want %q", got, want)
	}
	if got, want := files["raw.log"], "one\ntwthree\n"; got != want {
		t.Errorf("file without timestamps = %q, want %q", got, want)
	}
	for _, r := range []*echoRecorder{rec, rawRec} {
		if got, want := strings.Join(r.calls, ""), "p | one\np | tw\np | three\n"; got != want {
			t.Errorf("echo = %q, want %q", got, want)
		}
	}
}

// breakable returns a log path in a fresh directory and two functions: one
// makes the path unusable even for root (its directory becomes a regular
// file), the other makes it usable again.
func breakable(t *testing.T) (path string, breakIt, fix func()) {
	dir := filepath.Join(t.TempDir(), "logs")
	breakIt = func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fix = func() {
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "a.log"), breakIt, fix
}

// errorRecorder is an OnError that records the errors.
type errorRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *errorRecorder) onError(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *errorRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs)
}

// TestUnwritableDir: output is dropped while the directory cannot hold the
// file, reported once per episode, and logging resumes when it can.
func TestUnwritableDir(t *testing.T) {
	path, breakIt, fix := breakable(t)
	rec := &errorRecorder{}
	w := mustOpen(t, path, Options{OnError: rec.onError})
	defer w.Close()

	breakIt()
	write(t, w, "lost 1\n", "lost 2\n")
	if len(rec.errs) != 1 || !errors.Is(rec.errs[0], syscall.ENOTDIR) {
		t.Fatalf("errors after two writes to an unusable path = %v, want one ENOTDIR", rec.errs)
	}
	if want := "cannot open log: open " + path + ": not a directory"; rec.errs[0].Error() != want {
		t.Errorf("error = %q, want %q", rec.errs[0], want)
	}

	fix()
	write(t, w, "kept 1\n")
	if got := readDir(t, filepath.Dir(path))["a.log"]; got != "kept 1\n" {
		t.Fatalf("a.log after the directory is back = %q, want %q", got, "kept 1\n")
	}

	// A second episode is reported again.
	breakIt()
	if err := w.Reopen(); err != nil {
		t.Fatalf("Reopen() = %v", err)
	}
	write(t, w, "lost 3\n", "lost 4\n")
	if len(rec.errs) != 2 {
		t.Fatalf("errors after a second episode = %v, want 2", rec.errs)
	}
	fix()
	write(t, w, "kept 2\n")
	if got := readDir(t, filepath.Dir(path))["a.log"]; got != "kept 2\n" {
		t.Errorf("a.log = %q, want %q", got, "kept 2\n")
	}
}

// TestReadOnlyDir is TestUnwritableDir with permissions, which root ignores.
func TestReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write a read-only directory; TestUnwritableDir covers this")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	rec := &errorRecorder{}
	w := mustOpen(t, filepath.Join(dir, "a.log"), Options{OnError: rec.onError})
	defer w.Close()
	write(t, w, "lost\n", "lost\n")
	if len(rec.errs) != 1 || !errors.Is(rec.errs[0], syscall.EACCES) {
		t.Fatalf("errors = %v, want one EACCES", rec.errs)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, w, "kept\n")
	if got := readDir(t, dir)["a.log"]; got != "kept\n" {
		t.Errorf("a.log = %q, want %q", got, "kept\n")
	}
}

// TestDiskFull writes to a /dev/full device node at the log's path (the
// Writer never follows a symlink, so it cannot be one), where every write
// fails with ENOSPC, then replaces it with a regular file.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	// /dev/full is character device 1:7.
	if err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 7))); err != nil {
		t.Skipf("cannot make a /dev/full node (needs root and a file system that allows devices): %v", err)
	}
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err != nil {
		t.Skipf("cannot open the /dev/full node (file system mounted nodev?): %v", err)
	} else {
		f.Close()
	}
	rec := &errorRecorder{}
	w := mustOpen(t, path, Options{OnError: rec.onError, Timestamps: true})
	defer w.Close()
	for range 3 {
		write(t, w, "lost\n")
	}
	if len(rec.errs) != 1 || !errors.Is(rec.errs[0], syscall.ENOSPC) {
		t.Fatalf("errors after three writes to a full disk = %v, want one ENOSPC", rec.errs)
	}
	if want := "cannot write log: write " + path + ": no space left on device"; rec.errs[0].Error() != want {
		t.Errorf("error = %q, want %q", rec.errs[0], want)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	write(t, w, "kept\n")
	if got := readDir(t, dir)["a.log"]; !strings.HasSuffix(got, " kept\n") || strings.Contains(got, "lost") {
		t.Errorf("a.log after the disk has room = %q, want one timestamped line, kept", got)
	}
}

// TestRotationFails: when the rotated name cannot be taken, the output
// keeps going to the file, past MaxSize, the failure is reported once, and
// rotation resumes once it can.
func TestRotationFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	if err := os.Mkdir(path+".1", 0o755); err != nil { // rename(a.log, a.log.1) fails
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path+".1", "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &errorRecorder{}
	w := mustOpen(t, path, Options{MaxSize: 4, MaxFiles: 1, OnError: rec.onError})
	defer w.Close()
	write(t, w, "111\n", "222\n", "333\n")
	if rec.count() != 1 || !strings.HasPrefix(rec.errs[0].Error(), "cannot rotate log: ") {
		t.Fatalf("errors = %v, want one rotation error", rec.errs)
	}
	if got, err := os.ReadFile(path); string(got) != "111\n222\n333\n" {
		t.Fatalf("a.log = %q, %v, want everything", got, err)
	}
	if err := os.RemoveAll(path + ".1"); err != nil {
		t.Fatal(err)
	}
	write(t, w, "444\n")
	want := map[string]string{"a.log.1": "111\n222\n333\n", "a.log": "444\n"}
	if got := readDir(t, dir); !maps.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
	if rec.count() != 1 {
		t.Errorf("errors = %v, want still one", rec.errs)
	}
}

// TestConcurrentReopen writes numbered lines from one goroutine while
// another calls Reopen and finally Close: every line lands once, in order.
func TestConcurrentReopen(t *testing.T) {
	dir := t.TempDir()
	rec := &echoRecorder{}
	w := mustOpen(t, filepath.Join(dir, "a.log"), Options{MaxSize: 64 << 10, MaxFiles: 1000, Echo: rec, EchoPrefix: "a | ", Timestamps: true})
	const lines = 20000
	var input bytes.Buffer
	for i := range lines {
		fmt.Fprintf(&input, "line %06d\n", i)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		data := input.Bytes()
		for len(data) > 0 {
			n := min(len(data), 1000+len(data)%3000)
			w.Write(data[:n])
			data = data[n:]
		}
	}()
	reopens := 0
	for running := true; running; reopens++ {
		select {
		case <-done:
			running = false
		default:
		}
		if err := w.Reopen(); err != nil {
			t.Fatalf("Reopen() = %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	var got strings.Builder
	for _, line := range strings.SplitAfter(strings.Join(concatFiles(t, dir, "a.log"), ""), "\n") {
		if line != "" {
			got.WriteString(line[len(stamp0):])
		}
	}
	if got.String() != input.String() {
		t.Errorf("files after %d reopens hold %d bytes without timestamps, want the %d bytes written", reopens, got.Len(), input.Len())
	}
	if echo := strings.ReplaceAll(strings.Join(rec.calls, ""), "a | ", ""); echo != input.String() {
		t.Errorf("echo holds %d bytes without prefixes, want the %d bytes written", len(echo), input.Len())
	}
}

// concatFiles returns the contents of name and its rotated files in dir,
// oldest first, checking that they are numbered without gaps.
func concatFiles(t testing.TB, dir, name string) []string {
	t.Helper()
	files := readDir(t, dir)
	var out []string
	for i := len(files) - 1; i >= 1; i-- {
		data, ok := files[fmt.Sprintf("%s.%d", name, i)]
		if !ok {
			t.Fatalf("files = %d, no %s.%d", len(files), name, i)
		}
		out = append(out, data)
	}
	data, ok := files[name]
	if !ok && len(files) > 0 {
		t.Fatalf("no %s", name)
	}
	return append(out, data)
}
