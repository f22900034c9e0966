package control

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringrift/ringsup/supervisor"
)

// BenchmarkStatus1000 measures `ctl status --json` with 1000 running
// daemons as a request round trip over the socket: connect, send the
// request, read the whole answer (raw), read the status as the text that
// `ctl status --json` prints (text), and decode it (decoded).
// Metric ms-median is the median round trip.
func BenchmarkStatus1000(b *testing.B) {
	const daemons = 1000
	var src strings.Builder
	for i := range daemons {
		fmt.Fprintf(&src, "[daemons.d%04d]\ncommand = [\"/bin/sleep\", \"1000\"]\n", i)
	}
	n := startNode(b, src.String(), Options{})
	states := map[string]int{}
	defer func() {
		if b.Failed() {
			b.Logf("daemons by state: %v", states)
		}
	}()
	eventually(b, 2*time.Minute, "every daemon running", func() bool {
		st, err := n.client.Status(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		running := 0
		clear(states)
		for _, d := range st.Daemons {
			states[d.State.String()]++
			if d.State == supervisor.Running {
				running++
			}
		}
		return running == daemons
	})
	b.Run("raw", func(b *testing.B) {
		var times []time.Duration
		for b.Loop() {
			start := time.Now()
			raw, err := n.client.StatusJSON(b.Context())
			times = append(times, time.Since(start))
			if err != nil || len(raw) < daemons*100 {
				b.Fatalf("StatusJSON() = %d bytes, %v", len(raw), err)
			}
		}
		reportMedian(b, times)
	})
	b.Run("text", func(b *testing.B) {
		var times []time.Duration
		for b.Loop() {
			var out countingWriter
			start := time.Now()
			err := n.client.StatusText(b.Context(), &out)
			times = append(times, time.Since(start))
			if err != nil || out < daemons*100 {
				b.Fatalf("StatusText() = %d bytes, %v", out, err)
			}
		}
		reportMedian(b, times)
	})
	b.Run("decoded", func(b *testing.B) {
		var times []time.Duration
		for b.Loop() {
			start := time.Now()
			st, err := n.client.Status(b.Context())
			times = append(times, time.Since(start))
			if err != nil || len(st.Daemons) != daemons {
				b.Fatalf("Status() = %d daemons, %v", len(st.Daemons), err)
			}
		}
		reportMedian(b, times)
	})
}

// reportMedian reports the median of times as metric ms-median.
func reportMedian(b *testing.B, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2])/float64(time.Millisecond), "ms-median")
}

// countingWriter counts the bytes written to it.
type countingWriter int

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}
