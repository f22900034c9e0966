package procexec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Spawner starts processes from one dedicated OS thread that lives as long as
// the Spawner. Every process gets Pdeathsig SIGKILL, and Linux sends it when
// the thread that forked the process exits, not the process
// (golang/go#27505): forking from whatever thread a goroutine happens to run
// on would kill daemons whenever the Go runtime retires a thread. With one
// long-lived thread they die only with the supervisor, as they must.
//
// Spawn is safe for concurrent use; the requests are served one at a time.
type Spawner struct {
	reqs   chan spawnRequest
	quit   chan struct{}
	exited chan struct{}
	once   sync.Once
}

type spawnRequest struct {
	spec  Spec
	reply chan<- spawnResult
}

type spawnResult struct {
	proc *Proc
	err  error
}

// NewSpawner starts the Spawner's goroutine, locked to its OS thread.
func NewSpawner() *Spawner {
	s := &Spawner{
		reqs:   make(chan spawnRequest),
		quit:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go s.serve()
	return s
}

// Close stops the Spawner after the Spawn in progress, if any, and waits
// until it serves no more requests; later calls to Spawn return an error
// wrapping [ErrClosed]. Close may be called more than once. The processes
// started keep running.
//
// For that, the Spawner's thread must outlive them, so when the Spawner has
// started any process its goroutine stays parked on that thread, locked, for
// the life of the program (one idle goroutine and thread). It does not unlock
// it: an unlocked thread goes back to the Go scheduler, and any goroutine that
// locks it and ends without unlocking would make the runtime destroy it,
// killing every process it forked. A Spawner that started nothing ends its
// goroutine and frees its thread.
func (s *Spawner) Close() {
	s.once.Do(func() { close(s.quit) })
	<-s.exited
}

// Spawn starts spec as the leader of a new process group, with Pdeathsig
// SIGKILL, standard input from /dev/null and standard output and error to
// spec.Output. It returns once the command has been executed.
//
// An [*ExecError] means the command could not be executed (not found, not
// executable, bad working directory or user, ...): the child, if one was
// forked, has already been reaped, inside Spawn (so a concurrent [Reap] may
// see its PID, which the caller does not know and ignores). Any other error
// (out of processes, memory or descriptors) may go away on a retry.
func (s *Spawner) Spawn(spec Spec) (*Proc, error) {
	reply := make(chan spawnResult, 1)
	select {
	case s.reqs <- spawnRequest{spec: spec, reply: reply}:
	case <-s.quit:
		return nil, fmt.Errorf("cannot start %q: %w", spec.Name, ErrClosed)
	}
	r := <-reply
	return r.proc, r.err
}

// serve runs on the Spawner's thread and forks every process.
func (s *Spawner) serve() {
	runtime.LockOSThread()
	devNull, forked := -1, false
	for {
		select {
		case req := <-s.reqs:
			p, err := spawn(req.spec, &devNull)
			forked = forked || p != nil
			req.reply <- spawnResult{p, err}
		case <-s.quit:
			if devNull >= 0 {
				unix.Close(devNull)
			}
			close(s.exited)
			if forked {
				select {} // keep the thread alive: see Close
			}
			runtime.UnlockOSThread()
			return
		}
	}
}

// spawn starts spec. *devNull is a descriptor of /dev/null, opened on first
// use and shared by every child.
func spawn(spec Spec, devNull *int) (*Proc, error) {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return nil, &ExecError{Kind: ExecNotFound, Err: errors.New("empty command")}
	}
	argv0 := spec.Argv[0]
	fail := func(kind ExecErrorKind, err error) (*Proc, error) {
		return nil, &ExecError{Argv0: argv0, Kind: kind, Err: err}
	}
	path := argv0
	if !strings.Contains(argv0, "/") {
		found, err := exec.LookPath(argv0)
		if err != nil {
			return fail(ExecNotFound, err)
		}
		path = found
	}
	if err := checkDir(spec.Dir); err != nil {
		return fail(ExecBadDir, err)
	}
	env, err := buildEnv(os.Environ(), spec.Env, spec.Name)
	if err != nil {
		return fail(ExecOther, err)
	}
	sys := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if spec.User != "" {
		if sys.Credential, err = credential(spec.User); err != nil {
			return fail(ExecBadUser, err)
		}
	}
	extra, err := extraFiles(spec.ExtraFiles)
	if err != nil {
		return fail(ExecOther, err)
	}
	if *devNull < 0 {
		fd, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("cannot start %q: cannot open %s: %w", argv0, os.DevNull, err)
		}
		*devNull = fd
	}
	out, outW := (*os.File)(nil), *devNull
	if spec.Output != nil {
		out, outW, err = newOutputPipe(spec.Name)
		if err != nil {
			return nil, fmt.Errorf("cannot start %q: cannot create output pipe: %w", argv0, err)
		}
	}
	argv := spec.Argv
	if len(spec.Rlimits) > 0 || spec.Umask != nil {
		argv = trampolineArgv(spec, path)
		path = "/proc/self/exe"
	}
	stdin := uintptr(*devNull)
	if spec.Stdin != nil {
		stdin = spec.Stdin.Fd()
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   env,
		Files: append([]uintptr{stdin, uintptr(outW), uintptr(outW)}, extra...),
		Sys:   sys,
	})
	started := time.Now()
	runtime.KeepAlive(spec.ExtraFiles) // their descriptors are in extra
	runtime.KeepAlive(spec.Stdin)
	if out != nil {
		unix.Close(outW) // the child has its copy; EOF comes when the last holder exits
	}
	if err != nil {
		if out != nil {
			out.Close()
		}
		return classify(argv0, spec.Dir, err)
	}
	p := &Proc{PID: pid, Started: started, outputDone: make(chan struct{})}
	if out == nil {
		close(p.outputDone)
	} else {
		go copyOutput(out, spec.Output, spec.OnOutputError, spec.OnOutputEnd, p.outputDone)
	}
	return p, nil
}

// extraFiles returns the descriptors of files for the child's descriptors 3
// and up: ^uintptr(0), which syscall.ForkExec closes in the child, where the
// map has none.
func extraFiles(files map[int]*os.File) ([]uintptr, error) {
	top := 2
	for n, f := range files {
		switch {
		case n < 3 || n > MaxExtraFD:
			return nil, fmt.Errorf("extra file descriptor %d out of range (3 to %d)", n, MaxExtraFD)
		case f == nil:
			return nil, fmt.Errorf("extra file for descriptor %d is nil", n)
		}
		top = max(top, n)
	}
	fds := make([]uintptr, top-2)
	for i := range fds {
		fds[i] = ^uintptr(0)
	}
	for n, f := range files {
		if fds[n-3] = f.Fd(); fds[n-3] == ^uintptr(0) {
			return nil, fmt.Errorf("extra file %s for descriptor %d is closed", f.Name(), n)
		}
	}
	return fds, nil
}

// checkDir reports why dir cannot be a working directory, if it cannot.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &fs.PathError{Op: "chdir", Path: dir, Err: syscall.ENOTDIR}
	}
	return nil
}

// classify turns an error of syscall.ForkExec into an *ExecError, unless it
// is a shortage of resources that a retry may not meet.
func classify(argv0, dir string, err error) (*Proc, error) {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return nil, &ExecError{Argv0: argv0, Kind: ExecOther, Err: err}
	}
	kind := ExecOther
	switch errno {
	case syscall.EAGAIN, syscall.ENOMEM, syscall.EMFILE, syscall.ENFILE, syscall.EINTR:
		return nil, fmt.Errorf("cannot start %q: %w", argv0, err)
	case syscall.ENOENT:
		kind = ExecNotFound
		// The working directory may have gone since checkDir.
		if derr := checkDir(dir); derr != nil {
			return nil, &ExecError{Argv0: argv0, Kind: ExecBadDir, Err: derr}
		}
	case syscall.EACCES, syscall.EPERM:
		kind = ExecPermission
	case syscall.ENOEXEC:
		kind = ExecNotExecutable
	}
	return nil, &ExecError{Argv0: argv0, Kind: kind, Err: err}
}
