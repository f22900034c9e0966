package supervisor

import "time"

// backoff returns the delay before restart number restartCount+1:
// min(max, min * 2^restartCount). It never overflows.
func backoff(minDelay, maxDelay time.Duration, restartCount int) time.Duration {
	if minDelay <= 0 {
		return 0
	}
	d := minDelay
	for i := 0; i < restartCount; i++ {
		if d >= maxDelay || d > maxDelay/2 {
			return maxDelay
		}
		d *= 2
	}
	return min(d, maxDelay)
}
