// Package health holds the primitives of ringsup's health checks: the http
// and tcp probes, the systemd-style notification socket (ready = "notify")
// and the s6-style readiness pipe (ready = "fd:N").
//
// None of them touches the supervisor's state. A [Prober] is called from a
// goroutine of the caller's, one per probe, and returns an error whose text
// is short enough to show as a daemon's health error; the caller reports it
// back to its loop. A [NotifySocket] and a [ReadyPipe] each have one reader
// goroutine that waits in the runtime poller, holding no thread and no
// buffer while the daemon is quiet, and that never blocks on the consumer:
// what the daemon says is delivered on a channel the consumer selects on.
//
// Exec probes are not here: like every process of ringsup they are started
// with procexec, by the supervisor.
package health
