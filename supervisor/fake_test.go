package supervisor

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// fakeRuntime is a Runtime of pretend processes for tests under
// testing/synctest: spawns get increasing PIDs, signals are recorded, and a
// process "dies" of SIGTERM (unless its daemon ignores it) or SIGKILL.
// Tests make processes exit with exit.
type fakeRuntime struct {
	mu       sync.Mutex
	nextPID  int
	live     map[int]string // pid -> daemon name
	pending  []procexec.Exit
	exited   chan os.Signal
	log      []string // "spawn a", "SIGTERM a", ...
	ignore   map[string]bool
	noExec   map[string]bool // daemons whose command cannot be executed
	spawnErr map[string]error
	// Exec probes are commands whose argv[0] is "probe": they exit at once
	// with probeCode[daemon] (default 0), or never when probeHang[daemon].
	probeCode map[string]int
	probeHang map[string]bool
	probes    map[int]bool
	// Hooks are commands whose argv[0] is "hook": their stdin is read into
	// hookInput and they exit 0 at once.
	hookInput []string
	hookEnv   []map[string]string
	// escaped are processes that left their daemon's group and were
	// re-parented to the supervisor: pid -> the RINGSUP_DAEMON they carry.
	escaped map[int]string
	// guards are the singletons' guards (commands of no daemon with a
	// stdin): pid -> a duplicate of the read end of the pipe it is fed
	// D over (liveGuards).
	guards map[int]int
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{
		nextPID:   100,
		live:      make(map[int]string),
		exited:    make(chan os.Signal, 1),
		ignore:    make(map[string]bool),
		noExec:    make(map[string]bool),
		spawnErr:  make(map[string]error),
		probeCode: make(map[string]int),
		probeHang: make(map[string]bool),
		probes:    make(map[int]bool),
		escaped:   make(map[int]string),
		guards:    make(map[int]int),
	}
}

func (f *fakeRuntime) SpawnAll(specs []procexec.Spec) ([]int, []error) {
	pids, errs := make([]int, len(specs)), make([]error, len(specs))
	for i, spec := range specs {
		pids[i], errs[i] = f.Spawn(spec)
	}
	return pids, errs
}

func (f *fakeRuntime) Spawn(spec procexec.Spec) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noExec[spec.Name] {
		f.log = append(f.log, "noexec "+spec.Name)
		return 0, &procexec.ExecError{Argv0: spec.Argv[0], Kind: procexec.ExecNotFound, Err: syscall.ENOENT}
	}
	if err := f.spawnErr[spec.Name]; err != nil {
		return 0, err
	}
	f.nextPID++
	pid := f.nextPID
	if spec.Argv[0] == "hook" {
		data, _ := io.ReadAll(spec.Stdin)
		f.hookInput = append(f.hookInput, string(data))
		f.hookEnv = append(f.hookEnv, map[string]string{"RINGSUP_EVENT": spec.Env["RINGSUP_EVENT"], "RINGSUP_DAEMON": spec.Name, SocketEnv: spec.Env[SocketEnv]})
		code := 0
		if len(spec.Argv) > 1 && spec.Argv[1] == "fail" { // hook fail: exits 1
			code = 1
		}
		f.exitLocked(pid, procexec.Exit{PID: pid, Code: code})
		return pid, nil
	}
	if spec.Argv[0] == "hook-hang" { // a hook that runs until killed
		f.live[pid] = "hook"
		return pid, nil
	}
	if spec.Argv[0] == "probe" {
		f.probes[pid] = true
		f.live[pid] = spec.Name
		if !f.probeHang[spec.Name] {
			f.exitLocked(pid, procexec.Exit{PID: pid, Code: f.probeCode[spec.Name]})
		}
		return pid, nil
	}
	f.live[pid] = spec.Name
	f.log = append(f.log, "spawn "+spec.Name)
	if spec.Stdin != nil && spec.Name == "" {
		fd, err := syscall.Dup(int(spec.Stdin.Fd()))
		if err != nil {
			return 0, err
		}
		if err := syscall.SetNonblock(fd, true); err != nil {
			return 0, err
		}
		f.guards[pid] = fd
	}
	return pid, nil
}

func (f *fakeRuntime) Signal(pgid int, sig syscall.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	name, ok := f.live[pgid]
	if !ok {
		return procexec.ErrNoProcess
	}
	if sig == 0 {
		return nil
	}
	if f.probes[pgid] {
		name = "probe:" + name
	}
	f.log = append(f.log, fmt.Sprintf("%s %s", procexec.SignalName(sig), name))
	if sig == syscall.SIGKILL || (sig != 0 && !f.ignore[name]) {
		f.exitLocked(pgid, procexec.Exit{PID: pgid, Code: -1, Signal: sig})
	}
	return nil
}

func (f *fakeRuntime) Kill(pid int, sig syscall.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	name, ok := f.escaped[pid]
	if !ok {
		return procexec.ErrNoProcess
	}
	if sig == 0 {
		return nil
	}
	f.log = append(f.log, fmt.Sprintf("%s leftover:%s", procexec.SignalName(sig), name))
	if sig == syscall.SIGKILL {
		delete(f.escaped, pid)
		f.exitLocked(pid, procexec.Exit{PID: pid, Code: -1, Signal: sig})
	}
	return nil
}

func (f *fakeRuntime) Getpgid(pid int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.live[pid]; ok {
		return pid, nil
	}
	if _, ok := f.escaped[pid]; ok {
		return pid, nil // a group of its own (setsid)
	}
	return 0, syscall.ESRCH
}

func (f *fakeRuntime) Children() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var pids []int
	for pid := range f.escaped {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}

func (f *fakeRuntime) DaemonOf(pid int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.escaped[pid]
}

// escape makes a process of daemon name leave its group and its parent
// die: it is now the supervisor's child, and its pid is returned.
func (f *fakeRuntime) escape(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextPID++
	f.escaped[f.nextPID] = name
	return f.nextPID
}

func (f *fakeRuntime) Exited() <-chan os.Signal { return f.exited }

func (f *fakeRuntime) Reap(max int) ([]procexec.Exit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.pending)
	if max > 0 {
		n = min(n, max)
	}
	out := slices.Clone(f.pending[:n])
	f.pending = f.pending[n:]
	return out, nil
}

func (f *fakeRuntime) AwaitOutput(time.Duration) bool { return true }

func (f *fakeRuntime) StopAll() {}

func (f *fakeRuntime) Close() {}

// exit makes the process of daemon name exit with code.
func (f *fakeRuntime) exit(t *testing.T, name string, code int) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for pid, n := range f.live {
		if n == name && !f.probes[pid] {
			f.exitLocked(pid, procexec.Exit{PID: pid, Code: code})
			return
		}
	}
	t.Fatalf("exit(%q): no live process", name)
}

func (f *fakeRuntime) exitLocked(pid int, x procexec.Exit) {
	delete(f.live, pid)
	x.At = time.Now()
	f.pending = append(f.pending, x)
	select {
	case f.exited <- syscall.SIGCHLD:
	default:
	}
}

// takeLog returns the actions since the last call.
func (f *fakeRuntime) takeLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.log
	f.log = nil
	return out
}

func (f *fakeRuntime) liveNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for pid, n := range f.live {
		if !f.probes[pid] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// daemonsForTest exposes the daemon table to tests; call only while the
// loop is idle (after synctest.Wait).
func (s *Supervisor) daemonsForTest() map[string]*daemon { return s.daemons }

// fakeProber answers network probes from a table: err[url or addr]. A tcp
// probe of an address in slow is not decided at once: its finish waits
// that long.
type fakeProber struct {
	mu   sync.Mutex
	err  map[string]error
	slow map[string]time.Duration
}

func (p *fakeProber) set(target string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err[target] = err
}

func (p *fakeProber) result(target string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err[target]
}

func (p *fakeProber) HTTP(_ context.Context, url string, _ time.Duration) error { return p.result(url) }
func (p *fakeProber) StartTCP(_ context.Context, addr string, _ time.Duration) (func() error, error) {
	p.mu.Lock()
	wait := p.slow[addr]
	p.mu.Unlock()
	if wait == 0 {
		return nil, p.result(addr)
	}
	return func() error {
		time.Sleep(wait)
		return p.result(addr)
	}, nil
}

// specFor is a spec of a process of daemon name.
func specFor(name string) procexec.Spec { return procexec.Spec{Name: name, Argv: []string{name}} }
