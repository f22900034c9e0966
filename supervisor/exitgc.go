package supervisor

import (
	"runtime/debug"
	"runtime/metrics"
)

// exitGCHeadroom is how much the process's memory may grow, once the
// collector is off for a shutdown (Options.NoGCAtShutdown), before it runs
// all the same: a shutdown that lasts (a daemon's long stop_timeout, a
// chatty hook) cannot grow without bound.
const exitGCHeadroom = 64 << 20

// pauseGC turns the garbage collector off, with a memory limit of the
// memory in use now plus exitGCHeadroom (or the limit already set, if
// lower), and returns what restores both settings. A stop of 1000 daemons
// allocates a few MiB (their exits, events and log lines) against a live
// heap of about as much, enough for a collection in the middle of it that
// took 2-8 ms of the loop's last milliseconds (docs/performance.md, B5).
func pauseGC() (restore func()) {
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(sample)
	inUse := int64(sample[0].Value.Uint64() - sample[1].Value.Uint64())
	limit := debug.SetMemoryLimit(-1) // -1 reads it
	percent := debug.SetGCPercent(-1)
	debug.SetMemoryLimit(min(limit, inUse+exitGCHeadroom))
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
