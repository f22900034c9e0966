// Package procexec starts daemons as process-group leaders, signals their
// groups, and reaps every exit.
//
// It keeps no table of its own. A [Spawner] starts a process described by a
// [Spec] and returns a [Proc] whose PID is also its process-group ID;
// [SignalGroup] and [Proc.Signal] signal that whole group; [Reap] collects
// every exited child of the process, without blocking, as a batch of [Exit]
// values; [SetSubreaper] makes orphaned grandchildren come back to this
// process so that Reap collects them too and none is left a zombie.
//
// A [Watcher] is the one exception to "no table": it holds a pidfd for
// each process it watches, learns from them which exited, and reaps those
// by PID, without wait4(-1)'s walk over every child; what it cannot watch
// is still reaped by the walk.
//
// Reap and the Watcher are the only code that waits for processes: no
// goroutine blocks in wait4 for a particular child. The caller (the supervisor loop) calls Spawn
// and Reap from one goroutine, registering each PID that Spawn returns before
// it calls Reap again, so an exit can never arrive for a PID it does not yet
// know. Reap is typically called when SIGCHLD arrives (os/signal), and once
// after signal.Notify in case a child exited before.
//
// A process's standard output and standard error share one pipe, read by one
// goroutine per process that holds no buffer while the process is quiet. An
// exit never waits for the end of its output: a grandchild may keep the pipe
// open long after the daemon is gone.
//
// procexec is the only package of ringsup that may import os/exec; a test
// enforces it.
package procexec
