package procexec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Spawner starts processes from dedicated OS threads that live as long as
// the Spawner. Every process gets Pdeathsig SIGKILL, and Linux sends it when
// the thread that forked the process exits, not the process
// (golang/go#27505): forking from whatever thread a goroutine happens to run
// on would kill daemons whenever the Go runtime retires a thread. From
// long-lived threads they die only with the supervisor, as they must.
//
// Each thread has a descriptor table of its own (unshare(CLONE_FILES)), which
// holds only what a spawn needs. A child gets a copy of its parent's table
// at fork and closes the close-on-exec descriptors at exec, one by one: from
// the process's table, which holds the read end of every daemon's output
// pipe, each spawn would cost O(daemons), and starting N daemons O(N²).
// A new output pipe is made in the thread's table and its read end passed
// to the process's over a socket pair (SCM_RIGHTS); Spec.Stdin and
// Spec.ExtraFiles go the other way. Where unshare is refused (a seccomp
// filter), the thread shares the process's table and nothing is passed.
//
// A Spawner has two such threads (one where GOMAXPROCS is 1): the fork of a
// process returns only once the child has executed its command, and while
// one thread waits for that the other forks the next. SpawnAll gives them
// batches in turn, two at a time each (one forking, one queued), and takes
// the results of one while they fork the next: a thread that finishes a
// batch finds the next one ready instead of waiting for the caller to
// take its results and prepare more.
//
// Spawn is safe for concurrent use; the calls are served one at a time.
type Spawner struct {
	// mu makes one call at a time: its requests, the descriptors passed
	// with them and their replies.
	mu      sync.Mutex
	workers []*worker
	quit    chan struct{}
	once    sync.Once
	closed  bool // the workers were told to end; mu is held
	// env is the supervisor's environment, ready to build on.
	env envBase
}

// worker is one of the Spawner's threads.
type worker struct {
	// reqs holds the request queued behind the one the thread forks; it
	// is closed, by Close, to end the thread.
	reqs   chan spawnRequest
	exited chan struct{}
	// conn is the process's end of the socket pair to the thread, or -1
	// when the thread shares the process's descriptor table.
	conn int
}

type spawnRequest struct {
	plans []*plan // nil for a spec that failed to prepare
	reply chan<- []spawnResult
}

type spawnResult struct {
	pid     int
	started time.Time
	// out is the read end of the output pipe in the thread's table: -1
	// for none, or when the thread has a table of its own and passed it
	// over the socket pair.
	out int
	err error
}

// maxWorkers is how many threads a Spawner forks from at most.
const maxWorkers = 2

// requestsPerWorker is how many requests of one SpawnAll a thread has at
// once: the one it forks and the next.
const requestsPerWorker = 2

// NewSpawner starts the Spawner's goroutines, each locked to its OS thread.
func NewSpawner() *Spawner {
	s := &Spawner{quit: make(chan struct{})}
	for range min(maxWorkers, max(runtime.GOMAXPROCS(0), 1)) {
		w := &worker{reqs: make(chan spawnRequest, requestsPerWorker-1), exited: make(chan struct{}), conn: -1}
		ready := make(chan [2]int)
		go w.serve(ready)
		if pair := <-ready; pair[0] >= 0 {
			// The thread's end lives on in its own table.
			unix.Close(pair[1])
			w.conn = pair[0]
		}
		s.workers = append(s.workers, w)
	}
	return s
}

// Close stops the Spawner after the call in progress, if any, and waits
// until it serves no more requests; later calls to Spawn return an error
// wrapping [ErrClosed]. Close may be called more than once. The processes
// started keep running.
//
// For that, a thread of the Spawner must outlive the processes it forked,
// so when it has started any its goroutine stays parked on it, locked, for
// the life of the program (one idle goroutine and thread). It does not
// unlock it: an unlocked thread goes back to the Go scheduler, and any
// goroutine that locks it and ends without unlocking would make the runtime
// destroy it, killing every process it forked. A thread that started
// nothing is freed (destroyed, when it has a descriptor table of its own,
// which no other goroutine may run with).
func (s *Spawner) Close() {
	s.once.Do(func() { close(s.quit) }) // a SpawnAll in progress sends no more
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.workers {
		if !s.closed {
			close(w.reqs) // after what is queued, which is answered
		}
		<-w.exited
		if w.conn >= 0 {
			unix.Close(w.conn)
			w.conn = -1
		}
	}
	s.closed = true
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
	procs, errs := s.SpawnAll([]Spec{spec})
	return procs[0], errs[0]
}

// spawnBatch is how many processes one request to a thread starts at
// most. The thread passes each output pipe before it replies, and the
// socket pair's buffer holds a few hundred such messages.
const spawnBatch = 32

// SpawnAll starts every spec as [Spawner.Spawn] does and returns for each
// either its Proc or its error, in the order of specs. It costs less than
// as many calls to Spawn: a thread is woken once per batch of processes,
// not once per process, and batches are forked by every thread at once, so
// processes in different batches may start in any order.
func (s *Spawner) SpawnAll(specs []Spec) ([]*Proc, []error) {
	procs, errs := make([]*Proc, len(specs)), make([]error, len(specs))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.env.update(os.Environ())
	// Each thread has up to requestsPerWorker requests, given in turn;
	// the oldest is taken as soon as it is done, and its thread given the
	// next.
	size := min(spawnBatch, max(1, (len(specs)+len(s.workers)-1)/len(s.workers)))
	var inFlight []*batch
	for lo, next := 0, 0; lo < len(specs) || len(inFlight) > 0; {
		if lo < len(specs) && len(inFlight) < requestsPerWorker*len(s.workers) {
			hi := min(lo+size, len(specs))
			b := &batch{w: s.workers[next%len(s.workers)], specs: specs[lo:hi], procs: procs[lo:hi], errs: errs[lo:hi]}
			if s.send(b) {
				inFlight = append(inFlight, b)
			}
			lo, next = hi, next+1
			continue
		}
		s.finish(inFlight[0])
		inFlight = inFlight[1:]
	}
	return procs, errs
}

// batch is one request of SpawnAll to a thread.
type batch struct {
	w     *worker
	specs []Spec
	procs []*Proc
	errs  []error
	plans []*plan
	reply chan []spawnResult
}

// send prepares b's specs and sends the request to its thread, with the
// descriptors it passes. It reports whether the thread took it; if not, it
// has filled b.errs. s.mu is held.
func (s *Spawner) send(b *batch) bool {
	b.plans = make([]*plan, len(b.specs))
	for i, spec := range b.specs {
		b.plans[i], b.errs[i] = prepare(spec, &s.env)
	}
	b.reply = make(chan []spawnResult, 1)
	closed := s.closed // the thread's queue is closed: no send on it
	if !closed {
		select {
		case b.w.reqs <- spawnRequest{plans: b.plans, reply: b.reply}:
		case <-s.quit:
			closed = true
		}
	}
	if closed {
		for i, spec := range b.specs {
			if b.errs[i] == nil {
				b.errs[i] = fmt.Errorf("cannot start %q: %w", spec.Name, ErrClosed)
			}
		}
		return false
	}
	// The thread waits for the descriptors of each plan that passes some.
	for _, p := range b.plans {
		if p == nil || !p.passes(b.w.conn) {
			continue
		}
		if err := sendFDs(b.w.conn, p.files); err != nil {
			sendFDs(b.w.conn, nil) // tells the thread to give up on it
		}
	}
	return true
}

// finish waits for the reply to b and fills b.procs and b.errs. s.mu is
// held.
func (s *Spawner) finish(b *batch) {
	results := <-b.reply
	for i, spec := range b.specs {
		runtime.KeepAlive(spec.ExtraFiles) // their descriptors are in the plan
		runtime.KeepAlive(spec.Stdin)
		if b.plans[i] == nil {
			continue
		}
		b.procs[i], b.errs[i] = b.w.started(b.plans[i], spec, results[i])
	}
}

// started makes the Proc of a process the thread started, or the error of
// one it could not.
func (w *worker) started(p *plan, spec Spec, r spawnResult) (*Proc, error) {
	if r.err != nil {
		return classify(p.argv0, p.dir, r.err)
	}
	proc := &Proc{PID: r.pid, Started: r.started, outputDone: make(chan struct{})}
	if !p.output {
		close(proc.outputDone)
		return proc, nil
	}
	out := r.out
	if w.conn >= 0 { // the thread passed it
		var err error
		if out, err = recvFD(w.conn); err != nil {
			// The child runs without a reader for its output: it must not.
			SignalGroup(r.pid, syscall.SIGKILL)
			return nil, fmt.Errorf("cannot start %q: cannot take its output pipe: %w", p.argv0, err)
		}
	}
	f := os.NewFile(uintptr(out), "|"+spec.Name)
	go copyOutput(f, spec.Output, spec.OnOutputError, spec.OnOutputEnd, proc.outputDone)
	return proc, nil
}

// plan is a Spec made ready to fork, on the caller's goroutine: everything
// that may block or allocate much is done before the request reaches the
// Spawner's thread.
type plan struct {
	argv0, path, dir string
	argv, env        []string
	sys              *syscall.SysProcAttr
	output           bool
	// files are the caller's descriptors the child gets; stdin and extra
	// index them (-1: /dev/null, or closed).
	files []int
	stdin int
	extra []int
}

// passes reports whether p's files go to the thread over the socket pair
// whose end is conn: -1 when the thread shares the process's table.
func (p *plan) passes(conn int) bool { return conn >= 0 && len(p.files) > 0 }

// prepare checks spec and resolves what the fork needs, its environment
// built on env.
func prepare(spec Spec, env *envBase) (*plan, error) {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return nil, &ExecError{Kind: ExecNotFound, Err: errors.New("empty command")}
	}
	argv0 := spec.Argv[0]
	fail := func(kind ExecErrorKind, err error) (*plan, error) {
		return nil, &ExecError{Argv0: argv0, Kind: kind, Err: err}
	}
	p := &plan{argv0: argv0, path: argv0, dir: spec.Dir, argv: spec.Argv, output: spec.Output != nil, stdin: -1}
	if !strings.Contains(argv0, "/") {
		found, err := exec.LookPath(argv0)
		if err != nil {
			return fail(ExecNotFound, err)
		}
		p.path = found
	}
	var err error
	if p.env, err = env.build(spec.Env, spec.Name); err != nil {
		return fail(ExecOther, err)
	}
	p.sys = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if spec.User != "" {
		if p.sys.Credential, err = credential(spec.User); err != nil {
			return fail(ExecBadUser, err)
		}
	}
	extra, err := extraFiles(spec.ExtraFiles)
	if err != nil {
		return fail(ExecOther, err)
	}
	if spec.Stdin != nil {
		p.stdin = len(p.files)
		p.files = append(p.files, int(spec.Stdin.Fd()))
	}
	p.extra = make([]int, len(extra))
	for i, fd := range extra {
		p.extra[i] = -1
		if fd != ^uintptr(0) {
			p.extra[i] = len(p.files)
			p.files = append(p.files, int(fd))
		}
	}
	if len(spec.Rlimits) > 0 {
		uid := -1
		if c := p.sys.Credential; c != nil {
			uid = int(c.Uid)
		}
		if err := checkRlimits(spec.Rlimits, uid); err != nil {
			return fail(ExecBadRlimit, err)
		}
	}
	if len(spec.Rlimits) > 0 || spec.Umask != nil {
		p.argv = trampolineArgv(spec, p.path)
		p.path = "/proc/self/exe"
	}
	return p, nil
}

// serve runs on the worker's thread and forks every process of the
// requests it takes. It first sends NewSpawner the two ends of the socket
// pair, or -1s when the thread shares the process's descriptor table.
//
// The thread is never the process's main thread: /proc/PID/fd (what ls,
// lsof and an operator look at) shows the main thread's descriptor table,
// which must stay the process's, with the log files and sockets, not a
// worker's own. When the goroutine starts there, it hands over to a new
// goroutine, holding the main thread until that one has locked another.
func (w *worker) serve(ready chan<- [2]int) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		locked := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(locked)
			w.serveLocked(ready)
		}()
		<-locked
		runtime.UnlockOSThread()
		return
	}
	w.serveLocked(ready)
}

// serveLocked is serve on the worker's thread, locked, until Close closes
// its queue.
func (w *worker) serveLocked(ready chan<- [2]int) {
	own := -1
	pair, err := privateTable()
	if err == nil {
		own = pair[1]
		ready <- pair
	} else {
		ready <- [2]int{-1, -1}
	}
	devNull, forked := -1, false
	spare := noPipe // the next output pipe, made once the last reply is out
	for req := range w.reqs {
		results := make([]spawnResult, len(req.plans))
		for i, p := range req.plans {
			if p != nil {
				results[i] = fork(p, own, &devNull, &spare)
				forked = forked || results[i].err == nil
			}
		}
		req.reply <- results
		if spare == noPipe && slices.ContainsFunc(req.plans, func(p *plan) bool { return p != nil && p.output }) {
			spare, _ = outputPipe() // none: the next fork makes its own
		}
	}
	if devNull >= 0 {
		unix.Close(devNull)
	}
	if spare != noPipe {
		unix.Close(spare[0])
		unix.Close(spare[1])
	}
	close(w.exited)
	switch {
	case forked:
		select {} // keep the thread alive: see Close
	case own >= 0:
		return // the thread, with its own table, ends with us
	}
	runtime.UnlockOSThread()
}

// privateTable gives the calling thread a descriptor table of its own and
// returns a socket pair: the first end for the process's table, the second
// for the thread's. It closes in the thread's table what it copied from the
// process's and marked close-on-exec, so that nothing outlives its closing
// in the process: a pipe's writer left open would hide its end from the
// reader, and an inotify instance (a config watch) kept open until the
// thread's end would make the process's exit wait for the kernel to
// destroy its marks (an SRCU grace period, 5-20 ms). It keeps 0-2, the
// descriptors without close-on-exec (handed down on purpose) and the
// runtime's poller (an epoll instance and its wake-up eventfd).
//
// The runtime's poller is made first, if it is not yet: the garbage
// collector may poll from this thread too, through the descriptor numbers
// the poller was made with, so they must be in the copy.
func privateTable() ([2]int, error) {
	if r, w, err := os.Pipe(); err == nil { // a pipe is pollable: it makes the poller
		r.Close()
		w.Close()
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return [2]int{-1, -1}, err
	}
	if err := unix.Unshare(unix.CLONE_FILES); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return [2]int{-1, -1}, err
	}
	unix.Close(fds[0]) // here; NewSpawner closes fds[1] in the process
	dir, err := unix.Open("/proc/thread-self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return [2]int{fds[0], fds[1]}, nil // nothing to trim by: still correct, only slower
	}
	defer unix.Close(dir)
	var names []string
	buf := make([]byte, 8<<10)
	for {
		n, err := unix.ReadDirent(dir, buf)
		if err != nil || n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	link := make([]byte, 64)
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd <= 2 || fd == fds[1] || fd == dir {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
			continue
		}
		if n, err := unix.Readlinkat(dir, name, link); err == nil && pollerFile(string(link[:n])) {
			continue
		}
		unix.Close(fd)
	}
	return [2]int{fds[0], fds[1]}, nil
}

// pollerFile says whether a descriptor's link (its /proc/PID/fd entry)
// names a kind of file the runtime's poller is made of: the poller may be
// used from any thread, through the numbers it was made with.
func pollerFile(link string) bool {
	return link == "anon_inode:[eventpoll]" || link == "anon_inode:[eventfd]"
}

// noPipe is no output pipe.
var noPipe = [2]int{-1, -1}

// outputPipe makes an output pipe: its read end (first) non-blocking for
// the runtime's poller, its write end the child's.
func outputPipe() ([2]int, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return noPipe, fmt.Errorf("cannot create output pipe: %w", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return noPipe, fmt.Errorf("cannot create output pipe: %w", err)
	}
	return fds, nil
}

// fork starts p from the Spawner's thread. own is the thread's end of the
// socket pair (-1: none); *devNull is a descriptor of /dev/null, opened on
// first use and shared by every child; *spare, if not noPipe, is an output
// pipe made beforehand, which fork takes (a restart does not wait for
// three system calls before its fork).
func fork(p *plan, own int, devNull *int, spare *[2]int) spawnResult {
	files := p.files
	if p.passes(own) {
		got, err := recvFDs(own, len(p.files))
		if err != nil {
			return spawnResult{err: fmt.Errorf("cannot receive descriptors: %w", err)}
		}
		files = got
		defer func() {
			for _, fd := range got {
				unix.Close(fd)
			}
		}()
	}
	if *devNull < 0 {
		fd, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return spawnResult{err: fmt.Errorf("cannot open %s: %w", os.DevNull, err)}
		}
		*devNull = fd
	}
	out, outW := -1, *devNull
	if p.output {
		fds := *spare
		*spare = noPipe
		if fds == noPipe {
			var err error
			if fds, err = outputPipe(); err != nil {
				return spawnResult{err: err}
			}
		}
		out, outW = fds[0], fds[1]
	}
	stdin := uintptr(*devNull)
	if p.stdin >= 0 {
		stdin = uintptr(files[p.stdin])
	}
	attrFiles := []uintptr{stdin, uintptr(outW), uintptr(outW)}
	for _, i := range p.extra {
		if i < 0 {
			attrFiles = append(attrFiles, ^uintptr(0))
		} else {
			attrFiles = append(attrFiles, uintptr(files[i]))
		}
	}
	pid, err := syscall.ForkExec(p.path, p.argv, &syscall.ProcAttr{
		Dir:   p.dir,
		Env:   p.env,
		Files: attrFiles,
		Sys:   p.sys,
	})
	started := time.Now()
	if out >= 0 {
		unix.Close(outW) // the child has its copy; EOF comes when the last holder exits
	}
	if err != nil {
		if out >= 0 {
			unix.Close(out)
		}
		return spawnResult{err: err}
	}
	r := spawnResult{pid: pid, started: started, out: out}
	if out >= 0 && own >= 0 {
		err := sendFDs(own, []int{out})
		unix.Close(out)
		r.out = -1
		if err != nil {
			// The child runs without a reader for its output: it must not.
			SignalGroup(pid, syscall.SIGKILL)
			return spawnResult{err: fmt.Errorf("cannot pass its output pipe: %w", err)}
		}
	}
	return r
}

// sendFDs sends fds over the socket pair in one message; none says that no
// descriptor will come.
func sendFDs(conn int, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for {
		if err := unix.Sendmsg(conn, []byte{byte(len(fds))}, oob, nil, 0); err != unix.EINTR {
			return err
		}
	}
}

// recvFDs receives the n descriptors of one message of sendFDs.
func recvFDs(conn, n int) ([]int, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4*max(n, 1)))
	_, oobn, flags, _, err := unix.Recvmsg(conn, buf, oob, unix.MSG_CMSG_CLOEXEC)
	for err == unix.EINTR {
		_, oobn, flags, _, err = unix.Recvmsg(conn, buf, oob, unix.MSG_CMSG_CLOEXEC)
	}
	if err != nil {
		return nil, err
	}
	var fds []int
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err == nil {
		for _, m := range msgs {
			got, err := unix.ParseUnixRights(&m)
			if err == nil {
				fds = append(fds, got...)
			}
		}
	}
	if len(fds) != n || flags&unix.MSG_CTRUNC != 0 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("got %d descriptors, want %d (out of descriptors?)", len(fds), n)
	}
	return fds, nil
}

// recvFD receives one descriptor of sendFDs.
func recvFD(conn int) (int, error) {
	fds, err := recvFDs(conn, 1)
	if err != nil {
		return -1, err
	}
	return fds[0], nil
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
// is a shortage of resources that a retry may not meet. The working
// directory is checked here, after the fact, rather than before every fork:
// the child's chdir fails with the same errors as its exec.
func classify(argv0, dir string, err error) (*Proc, error) {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return nil, fmt.Errorf("cannot start %q: %w", argv0, err)
	}
	switch errno {
	case syscall.EAGAIN, syscall.ENOMEM, syscall.EMFILE, syscall.ENFILE, syscall.EINTR:
		return nil, fmt.Errorf("cannot start %q: %w", argv0, err)
	}
	if derr := checkDir(dir); derr != nil {
		return nil, &ExecError{Argv0: argv0, Kind: ExecBadDir, Err: derr}
	}
	kind := ExecOther
	switch errno {
	case syscall.ENOENT:
		kind = ExecNotFound
	case syscall.EACCES, syscall.EPERM:
		kind = ExecPermission
	case syscall.ENOEXEC:
		kind = ExecNotExecutable
	}
	return nil, &ExecError{Argv0: argv0, Kind: kind, Err: err}
}
