package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A kind of fault. Each fault holds its targets (a node, a member, or two
// members) from its start to its heal, so that no two faults act on the
// same target at once; faults on different targets do overlap.
type kind struct {
	name string
	// what the fault acts on: "node", "member", or "members" (two).
	on string
	// run injects the fault on targets, waits and heals it; it says what
	// it did once it did it (not at all when there was nothing to act on,
	// such as no ringsup between two runs).
	run func(r *run, rng *rand.Rand, targets []int, say func(string))
}

// between returns a random duration in [lo, hi] seconds, to the 100 ms.
func between(rng *rand.Rand, lo, hi int) time.Duration {
	return time.Duration(lo*10+rng.IntN((hi-lo)*10+1)) * 100 * time.Millisecond
}

// kinds are the faults of a run, each equally likely.
var kinds = []kind{
	{"node-kill", "node", func(r *run, _ *rand.Rand, t []int, say func(string)) {
		r.killNode(t[0], syscall.SIGKILL, say)
	}},
	{"node-term", "node", func(r *run, _ *rand.Rand, t []int, say func(string)) {
		r.killNode(t[0], syscall.SIGTERM, say)
	}},
	{"node-stop", "node", func(r *run, rng *rand.Rand, t []int, say func(string)) {
		n, d := r.nodes[t[0]], between(rng, 1, 12)
		if pid := n.signal(syscall.SIGSTOP); pid != 0 {
			say(fmt.Sprintf("SIGSTOP ringsup %d for %v", pid, d))
			time.Sleep(d)
			n.signal(syscall.SIGCONT)
		}
	}},
	{"node-partition", "node", func(r *run, rng *rand.Rand, t []int, say func(string)) {
		n, d := r.nodes[t[0]], between(rng, 1, 15)
		all := []int{0, 1, 2}
		say(fmt.Sprintf("etcd traffic frozen for %v", d))
		n.pause(all, false)
		time.Sleep(d)
		n.pause(all, true)
	}},
	{"node-partition-some", "node", func(r *run, rng *rand.Rand, t []int, say func(string)) {
		n, d := r.nodes[t[0]], between(rng, 1, 15)
		some := rng.Perm(3)[:1+rng.IntN(2)]
		slices.Sort(some)
		say(fmt.Sprintf("traffic to %s frozen for %v", memberNames(some), d))
		n.pause(some, false)
		time.Sleep(d)
		n.pause(some, true)
	}},
	{"member-kill", "member", func(r *run, rng *rand.Rand, t []int, say func(string)) {
		d := between(rng, 1, 10)
		say(fmt.Sprintf("SIGKILL, down for %v", d))
		r.etcd.kill(t[0])
		time.Sleep(d)
		if err := r.etcd.start(t[0]); err != nil {
			say(err.Error())
		}
	}},
	{"member-stop", "member", func(r *run, rng *rand.Rand, t []int, say func(string)) {
		d := between(rng, 1, 10)
		say(fmt.Sprintf("SIGSTOP for %v", d))
		r.etcd.signal(t[0], syscall.SIGSTOP)
		time.Sleep(d)
		r.etcd.signal(t[0], syscall.SIGCONT)
	}},
	{"member-partition", "member", func(r *run, rng *rand.Rand, t []int, say func(string)) {
		d := between(rng, 1, 15)
		say(fmt.Sprintf("peer traffic with both others frozen for %v", d))
		for o := range r.etcd.members {
			if o != t[0] {
				r.etcd.partition(t[0], o, false)
			}
		}
		time.Sleep(d)
		for o := range r.etcd.members {
			if o != t[0] {
				r.etcd.partition(t[0], o, true)
			}
		}
	}},
	{"member-partition-one", "members", func(r *run, rng *rand.Rand, t []int, say func(string)) {
		d := between(rng, 1, 15)
		say(fmt.Sprintf("peer traffic between them frozen for %v", d))
		r.etcd.partition(t[0], t[1], false)
		time.Sleep(d)
		r.etcd.partition(t[0], t[1], true)
	}},
}

func memberNames(idx []int) string {
	var s []string
	for _, i := range idx {
		s = append(s, fmt.Sprintf("m%d", i))
	}
	return strings.Join(s, "+")
}

// killNode signals node i's ringsup, then holds the node until its loop
// has started a new one (or 30 s).
func (r *run) killNode(i int, sig syscall.Signal, say func(string)) {
	n := r.nodes[i]
	old := n.signal(sig)
	if old == 0 {
		return
	}
	say(fmt.Sprintf("%v ringsup %d", sigName(sig), old))
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if p := n.current(); p != nil && p.PID != old {
			return
		}
	}
}

func sigName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// fault is one injected fault, as logged.
type fault struct {
	kind       string
	target     string
	what       string
	start, end time.Time
}

// chaos injects a fault every 2 to 6 s until stop is closed, then waits
// for every fault to heal.
type chaos struct {
	r   *run
	rng *rand.Rand

	mu     sync.Mutex
	busy   map[string]bool // targets: "n0", "m1", ...
	faults []*fault
	wg     sync.WaitGroup
}

func (c *chaos) loop(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			c.wg.Wait()
			return
		case <-time.After(between(c.rng, 2, 6)):
		}
		c.inject()
	}
}

// inject starts a fault of a random kind on random idle targets; when
// every target of a kind is busy it tries the other kinds.
func (c *chaos) inject() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.rng.Perm(len(kinds)) {
		kd := kinds[k]
		var idle []int
		prefix := "n"
		if kd.on != "node" {
			prefix = "m"
		}
		for i := range 3 {
			if !c.busy[fmt.Sprintf("%s%d", prefix, i)] {
				idle = append(idle, i)
			}
		}
		need := 1
		if kd.on == "members" {
			need = 2
		}
		if len(idle) < need {
			continue
		}
		c.rng.Shuffle(len(idle), func(a, b int) { idle[a], idle[b] = idle[b], idle[a] })
		targets := idle[:need]
		slices.Sort(targets)
		var names []string
		for _, t := range targets {
			name := fmt.Sprintf("%s%d", prefix, t)
			names = append(names, name)
			c.busy[name] = true
		}
		f := &fault{kind: kd.name, target: strings.Join(names, "+"), start: time.Now()}
		c.faults = append(c.faults, f)
		rng := rand.New(rand.NewPCG(c.rng.Uint64(), c.rng.Uint64()))
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			kd.run(c.r, rng, targets, func(what string) {
				c.mu.Lock()
				f.what = what
				c.mu.Unlock()
				c.r.logf("fault %-20s %-6s %s", kd.name, f.target, what)
			})
			c.mu.Lock()
			f.end = time.Now()
			acted := f.what != ""
			for _, n := range names {
				c.busy[n] = false
			}
			c.mu.Unlock()
			if acted {
				c.r.logf("healed %-19s %s", kd.name, f.target)
			}
		}()
		return
	}
}

// list returns the faults that acted (a signal to a ringsup between two
// runs does not count), as they are now.
func (c *chaos) list() []fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	var fs []fault
	for _, f := range c.faults {
		if f.what != "" {
			fs = append(fs, *f)
		}
	}
	return fs
}

// during returns the faults active at some time in [from, to].
func during(faults []fault, from, to time.Time) []fault {
	var fs []fault
	for _, f := range faults {
		if !f.start.After(to) && (f.end.IsZero() || !f.end.Before(from)) {
			fs = append(fs, f)
		}
	}
	return fs
}

// counts returns the number of faults of each kind.
func counts(faults []fault) map[string]int {
	byKind := make(map[string]int)
	for _, f := range faults {
		byKind[f.kind]++
	}
	return byKind
}
