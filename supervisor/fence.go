package supervisor

import (
	"sync"
	"time"

	"github.com/ringrift/ringsup/eventtype"
)

// This file holds a singleton's placement: its events, and the link
// through which the loop asks the cluster for fences and hears its
// verdicts. The part of step that places a singleton (stepFence,
// depsDown, placed: the fences, the candidacy, the guard) is in step.go;
// the Supervisor's side of the link is in fencing.go. The cluster's side
// (the candidacy, the election, the fence transaction, the deadline) is
// package cluster's; the loop never waits on it.

// FenceMargin is how long before a singleton's stop deadline, D −
// stop_timeout, its fence stops passing and a held one is lost, and how
// long before D its SIGKILL falls. A grant that reaches the loop past D −
// stop_timeout − FenceMargin (the loop was frozen or slow since the fence
// passed) starts nothing: the node loses the fence and asks again.
const FenceMargin = 250 * time.Millisecond

// The events of a singleton's placement.
const (
	// SingletonAcquired: the node holds the singleton with a new fence
	// token (Node, Fence).
	SingletonAcquired EventType = eventtype.SingletonAcquired
	// SingletonLost: the node's copy stopped, or is stopping, and the
	// node no longer holds the singleton (Reason: one of the Lost*).
	SingletonLost EventType = eventtype.SingletonLost
)

// The reasons of SINGLETON_LOST.
const (
	LostLease      = "lease"      // the node's lease may expire before the copy could stop
	LostShutdown   = "shutdown"   // the supervisor shuts down; the next node takes over at once
	LostStopped    = "stopped"    // stopped by `ctl stop`, a reload or the profile
	LostFailed     = "failed"     // the copy ended failed; the node keeps it so that it does not roam
	LostIneligible = "ineligible" // the node's labels no longer match placement_labels
	LostDependency = "dependency" // a local dependency of the daemon is not running; the node withdraws
)

// FenceRequest is what the loop asks of the cluster for a singleton.
type FenceRequest struct {
	Daemon string
	// Campaign: the daemon is to spawn; send a VerdictGranted once a
	// fence passes. Otherwise the daemon is down: withdraw its candidacy.
	Campaign bool
	// StopTimeout is the daemon's stop_timeout: a fence passes only
	// before D − StopTimeout − 0.25s, and a held one is lost there.
	StopTimeout time.Duration
	// Ask numbers a Campaign among the daemon's: the VerdictGranted that
	// answers it carries it back, so that the loop can tell a grant for a
	// candidacy it withdrew since (the verdict was on its way) from one
	// for the candidacy it has now.
	Ask int64
}

// VerdictKind is what a Verdict says.
type VerdictKind int

const (
	// VerdictGranted: a fence passed for Daemon with token Fence.
	VerdictGranted VerdictKind = iota
	// VerdictLost: the node's lease is about to expire or has (Reason);
	// the copy must stop now.
	VerdictLost
	// VerdictOwner: the holder of Daemon is Owner with Fence ("" and 0:
	// none), as etcd last said.
	VerdictOwner
	// VerdictDeadline: the node lease's deadline D moved to Deadline
	// while the node holds Daemon; its guard is told.
	VerdictDeadline
)

// Verdict is what the cluster tells the loop about a singleton.
type Verdict struct {
	Kind   VerdictKind
	Daemon string
	Fence  int64
	Owner  string
	Reason string
	// Deadline is D, on CLOCK_BOOTTIME, with VerdictGranted and
	// VerdictDeadline: the copy's guard kills its group there.
	Deadline time.Duration
	// Ask, with VerdictGranted, is the Ask of the Campaign it answers.
	Ask int64
	// Gone, with VerdictLost: etcd said the node's lease or candidate key
	// is gone already, so the copy is SIGKILLed at once rather than
	// stopped.
	Gone bool
}

// PlacementLink carries fence requests from the loop to the cluster, and
// verdicts back. The loop never blocks on it: requests wait in a mailbox
// the cluster takes from when Wake fires.
type PlacementLink struct {
	mu       sync.Mutex
	pending  []FenceRequest
	wake     chan struct{}
	verdicts chan Verdict
	done     <-chan struct{}
}

func newPlacementLink(done <-chan struct{}) *PlacementLink {
	return &PlacementLink{wake: make(chan struct{}, 1), verdicts: make(chan Verdict), done: done}
}

// Wake receives when requests are waiting.
func (l *PlacementLink) Wake() <-chan struct{} { return l.wake }

// Take returns the requests waiting, oldest first.
func (l *PlacementLink) Take() []FenceRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	reqs := l.pending
	l.pending = nil
	return reqs
}

// Send hands v to the loop, and reports false when the supervisor is no
// longer running.
func (l *PlacementLink) Send(v Verdict) bool {
	select {
	case l.verdicts <- v:
		return true
	case <-l.done:
		return false
	}
}

func (l *PlacementLink) ask(r FenceRequest) {
	l.mu.Lock()
	l.pending = append(l.pending, r)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// SingletonStatus is where a singleton runs, as its node last heard.
type SingletonStatus struct {
	Owner string `json:"owner"`
	Fence int64  `json:"fence"`
}
