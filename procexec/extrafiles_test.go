package procexec

import (
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestExtraFiles(t *testing.T) {
	for _, n := range []int{3, 7, MaxExtraFD} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close()

			// The child gets the pipe as exactly descriptor n.
			spec := helperSpec("write-fd", strconv.Itoa(n), "hello")
			spec.ExtraFiles = map[int]*os.File{n: w}
			p := start(t, testSpawner, spec)
			if e := waitProc(t, p); !e.Success() {
				t.Fatalf("write-fd %d: %v", n, e)
			}
			r.SetReadDeadline(time.Now().Add(waitTimeout))
			buf := make([]byte, 16)
			m, err := r.Read(buf)
			if got, want := string(buf[:m]), "hello\n"; err != nil || got != want {
				t.Errorf("read of what the child wrote to descriptor %d = %q, %v; want %q", n, got, err, want)
			}

			// The descriptors between 3 and n are closed. (Those above n
			// are the supervisor's: it must not inherit any without
			// close-on-exec.) /bin/sleep opens none of its own once loaded;
			// the dynamic loader may hold one for a moment, hence the
			// polling.
			spec = Spec{Argv: sleepArgv, ExtraFiles: map[int]*os.File{n: w}}
			p = start(t, testSpawner, spec)
			want := []int{0, 1, 2, n}
			for deadline := time.Now().Add(waitTimeout); ; time.Sleep(5 * time.Millisecond) {
				got := slices.DeleteFunc(openFDs(t, p.PID), func(fd int) bool { return fd > n })
				if slices.Equal(got, want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("open descriptors up to %d of /bin/sleep with ExtraFiles {%d: w} = %v, want %v", n, n, got, want)
				}
			}
		})
	}
}

// openFDs lists the open descriptors of pid, in order.
func openFDs(t *testing.T, pid int) []int {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		t.Fatal(err)
	}
	fds := make([]int, 0, len(names))
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil {
			t.Fatalf("/proc/%d/fd/%s: not a number", pid, name)
		}
		fds = append(fds, fd)
	}
	slices.Sort(fds)
	return fds
}

func TestExtraFilesInvalid(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	closed, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	for _, tt := range []struct {
		extra map[int]*os.File
		want  string
	}{
		{map[int]*os.File{2: f}, `cannot execute "/bin/true": extra file descriptor 2 out of range (3 to 255)`},
		{map[int]*os.File{-1: f}, `cannot execute "/bin/true": extra file descriptor -1 out of range (3 to 255)`},
		{map[int]*os.File{256: f}, `cannot execute "/bin/true": extra file descriptor 256 out of range (3 to 255)`},
		{map[int]*os.File{3: nil}, `cannot execute "/bin/true": extra file for descriptor 3 is nil`},
		{map[int]*os.File{3: f, 4: closed}, `cannot execute "/bin/true": extra file /dev/null for descriptor 4 is closed`},
	} {
		p, err := testSpawner.Spawn(Spec{Argv: []string{"/bin/true"}, ExtraFiles: tt.extra})
		var ee *ExecError
		if p != nil || !errors.As(err, &ee) || ee.Kind != ExecOther || err.Error() != tt.want {
			t.Errorf("Spawn(ExtraFiles %v) = %v, %v; want nil, %q", tt.extra, p, err, tt.want)
		}
		if p != nil {
			waitProc(t, p)
		}
	}
}

// TestSpawnerKeepsNoCopies: each thread of a Spawner has a descriptor table of
// its own, copied from the process's when the Spawner was made. It must not
// keep the pipes of that copy: a writer left open there would keep a reader
// in the process from ever seeing the end of the pipe.
func TestSpawnerKeepsNoCopies(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := NewSpawner()
	defer s.Close()
	// A spawn with a file passed along, and one with output.
	p := start(t, s, Spec{Argv: []string{"/bin/true"}, ExtraFiles: map[int]*os.File{3: w}, Output: io.Discard})
	waitProc(t, p)
	waitDone(t, p)
	w.Close()
	r.SetReadDeadline(time.Now().Add(waitTimeout))
	if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read from a pipe whose writer the process closed = %d, %v; want end of file", n, err)
	}
}

// TestSpawnerKeepsNoInotifyCopy: an inotify instance (a config file's
// watch) open when a Spawner is made must not live on in its threads'
// tables: the last close of an inotify instance waits for the kernel to
// destroy its marks, and a copy kept until the threads' end made the
// supervisor's exit wait for that. Only the runtime's poller is kept.
func TestSpawnerKeepsNoInotifyCopy(t *testing.T) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSpawner()
	defer s.Close()
	p := start(t, s, Spec{Argv: []string{"/bin/true"}, Output: io.Discard})
	waitProc(t, p)
	waitDone(t, p)
	unix.Close(fd)
	// Each thread's fd directory lists its own table; the spawner threads'
	// tables are their own.
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	pollers := 0
	for _, task := range tasks {
		dir := "/proc/self/task/" + task.Name() + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // the thread ended
		}
		for _, f := range fds {
			link, err := os.Readlink(dir + f.Name())
			switch {
			case err != nil:
			case link == "anon_inode:inotify":
				t.Errorf("thread %s still has an inotify instance open as %s after the process closed it", task.Name(), f.Name())
			case pollerFile(link):
				pollers++
			}
		}
	}
	if pollers == 0 {
		t.Error("no thread lists the runtime's poller: the test did not read the tables")
	}
}
