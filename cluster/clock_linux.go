package cluster

import (
	"time"

	"github.com/ringrift/ringsup/internal/boottime"
)

// Now reads CLOCK_BOOTTIME: a monotonic clock that also counts the time
// the machine was suspended, so that a lease deadline on it is never late
// after a resume. Lease.Deadline is on this clock.
func Now() time.Duration { return boottime.Now() }
