package main

import (
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/ringrift/ringsup/procexec"
)

// procs starts the run's processes (etcd members, ringsup nodes, go build)
// and reaps them. The run is a child subreaper, so a copy or a guard whose
// ringsup was killed comes back to it and is reaped too. Spawning and
// reaping hold one lock, so an exit is never reaped before its PID is
// registered, and a signal is never sent to a PID already reaped.
type procs struct {
	spawner *procexec.Spawner

	mu   sync.Mutex
	live map[int]chan procexec.Exit // by PID; gets the exit, then is dropped
}

// newProcs makes the run a subreaper and starts reaping; stop ends that.
func newProcs() (p *procs, stop func(), err error) {
	if err := procexec.SetSubreaper(); err != nil {
		return nil, nil, err
	}
	p = &procs{spawner: procexec.NewSpawner(), live: make(map[int]chan procexec.Exit)}
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case <-sigchld:
				p.reap()
			case <-quit:
				return
			}
		}
	}()
	stop = func() {
		signal.Stop(sigchld)
		close(quit)
		p.spawner.Close()
	}
	return p, stop, nil
}

func (p *procs) reap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	exits, _ := procexec.Reap()
	for _, e := range exits {
		if c, ok := p.live[e.PID]; ok {
			c <- e
			delete(p.live, e.PID)
		}
	}
}

// proc is a process started by procs.
type proc struct {
	p    *procs
	PID  int
	exit chan procexec.Exit // buffered: the reaper never waits
}

// start spawns spec; its exit comes on the returned proc's Exited.
func (p *procs) start(spec procexec.Spec) (*proc, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, err := p.spawner.Spawn(spec)
	if err != nil {
		return nil, err
	}
	c := make(chan procexec.Exit, 1)
	p.live[pr.PID] = c
	return &proc{p: p, PID: pr.PID, exit: c}, nil
}

// Exited returns the channel that receives the process's exit, once.
func (pr *proc) Exited() <-chan procexec.Exit { return pr.exit }

// Signal sends sig to the process alone (not its group: a ringsup's
// daemons and guard have groups of their own anyway), and reports
// whether it was still there to receive it.
func (pr *proc) Signal(sig syscall.Signal) bool {
	pr.p.mu.Lock()
	defer pr.p.mu.Unlock()
	if _, ok := pr.p.live[pr.PID]; !ok {
		return false
	}
	return syscall.Kill(pr.PID, sig) == nil
}
