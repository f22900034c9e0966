package control

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/supervisor"
)

// benchData is the payload of the benchmarks' events.
var benchData = json.RawMessage(`{"games":100,"model":"m-0042"}`)

// percentile returns the p-th percentile (0 to 1) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// subscribeCounting subscribes over the socket to the events of type typ and
// calls fn with each, until the benchmark ends; it returns once the stream
// runs (a first event, published until it arrives, went through).
func subscribeCounting(b *testing.B, n *testNode, typ string, fn func(json.RawMessage)) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := n.client.EventsFiltered(ctx, EventFilter{Types: []string{typ}}, func(e json.RawMessage) error {
			if started.Load() {
				fn(e)
			}
			started.Store(true)
			return nil
		})
		if ctx.Err() == nil {
			streamEnded.Store(fmt.Sprintf("a subscriber's stream ended: %v", err))
		}
	}()
	b.Cleanup(func() { cancel(); <-done })
	eventually(b, 30*time.Second, "the subscriber's stream runs", func() bool {
		if err := n.client.Emit(b.Context(), typ, nil); err != nil {
			b.Fatal(err)
		}
		return started.Load()
	})
}

// streamEnded holds why a stream of subscribeCounting ended before its
// benchmark did, if one did.
var streamEnded atomic.Value

// waitDelivered waits until count reaches want, or fails if a subscriber's
// stream ended.
func waitDelivered(b *testing.B, count *atomic.Int64, want int64) {
	b.Helper()
	eventually(b, time.Minute, "every subscriber has every event", func() bool {
		if msg, _ := streamEnded.Load().(string); msg != "" {
			b.Fatalf("%s (after %d of %d deliveries)", msg, count.Load(), want)
		}
		return count.Load() >= want
	})
}

// BenchmarkEmitToSubscriber measures how long an event takes from a
// publisher to a subscriber, both clients of the socket: the time from
// the call of Publisher.Emit to the event's arrival in the subscriber's
// callback (EventsFiltered), one event at a time. Metrics: p50-µs, p99-µs.
func BenchmarkEmitToSubscriber(b *testing.B) {
	streamEnded.Store("")
	n := startNode(b, eventsNode, Options{})
	type arrival struct {
		seq int
		at  time.Time
	}
	got := make(chan arrival, 1024)
	subscribeCounting(b, n, "SELFPLAY_COMPLETED", func(raw json.RawMessage) {
		at := time.Now()
		var e struct {
			Data struct{ Seq int } `json:"data"`
		}
		json.Unmarshal(raw, &e)
		got <- arrival{e.Data.Seq, at}
	})
	p := n.client.Publisher()
	defer p.Close()
	var lat []time.Duration
	seq := 0
	for b.Loop() {
		seq++
		data := json.RawMessage(fmt.Sprintf(`{"seq":%d,"games":100,"model":"m-0042"}`, seq))
		start := time.Now()
		if err := p.Emit(b.Context(), "SELFPLAY_COMPLETED", data); err != nil {
			b.Fatal(err)
		}
		for a := range got { // the warm-up's events may come first
			if a.seq == seq {
				lat = append(lat, a.at.Sub(start))
				break
			}
		}
	}
	b.ReportMetric(float64(percentile(lat, 0.5).Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkEmitThroughput measures sustained publishing to 10 subscribers
// of the type over the socket: 4 publishers (a Publisher each) share b.N
// events, and the time runs until every subscriber has them all. In
// "paced-R" they send what is due every millisecond (Publisher.EmitAll) at
// R events a second in all; a subscriber that falls behind is dropped (as
// it would be from a real stream), which fails the benchmark. Metrics:
// events/s, events published and delivered to all 10, a second; and
// cpu-µs/event, the CPU time of the whole process (supervisor, server and
// the benchmark's clients) for each event, which a loaded machine changes
// less than the rate.
func BenchmarkEmitThroughput(b *testing.B) {
	for _, c := range []struct{ rate, buffer int }{{20000, 0}, {50000, 0}, {50000, 16384}} {
		name := fmt.Sprintf("paced-%dk", c.rate/1000)
		if c.buffer > 0 {
			name += fmt.Sprintf("-buffer-%d", c.buffer)
		}
		b.Run(name, func(b *testing.B) { benchThroughput(b, c.rate, c.buffer) })
	}
}

// benchThroughput runs BenchmarkEmitThroughput at rate, with [events]
// subscriber_buffer set to buffer when it is not 0.
func benchThroughput(b *testing.B, rate, buffer int) {
	const subscribers, publishers = 10, 4
	streamEnded.Store("")
	src := eventsNode
	if buffer > 0 {
		src = strings.Replace(src, "rate_limit = 0\n", fmt.Sprintf("rate_limit = 0\nsubscriber_buffer = %d\n", buffer), 1)
	}
	n := startNode(b, src, Options{})
	var received atomic.Int64
	for range subscribers {
		subscribeCounting(b, n, "SELFPLAY_COMPLETED", func(json.RawMessage) { received.Add(1) })
	}
	pubs := make([]*Publisher, publishers)
	for i := range pubs {
		pubs[i] = n.client.Publisher()
		defer pubs[i].Close()
	}
	data := make([]json.RawMessage, maxEmitBatch)
	for i := range data {
		data[i] = benchData
	}
	received.Store(0)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	var wg sync.WaitGroup
	for i, p := range pubs {
		count := b.N / publishers
		if i < b.N%publishers {
			count++
		}
		wg.Go(func() {
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for sent := 0; sent < count; <-tick.C {
				due := min(count, int(time.Since(start).Seconds()*float64(rate/publishers))) - sent
				for due > 0 {
					k := min(due, len(data))
					if err := p.EmitAll(b.Context(), "SELFPLAY_COMPLETED", data[:k]...); err != nil {
						b.Error(err)
						return
					}
					due -= k
					sent += k
				}
			}
		})
	}
	wg.Wait()
	waitDelivered(b, &received, int64(b.N)*subscribers)
	elapsed, cpu := time.Since(start), cpuTime(b)-cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
}

// cpuTime returns the CPU time (user and system) the process has used: the
// supervisor, its server and the benchmark's clients together.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRestartDuringEmitFlood measures B2's restart latency (SIGKILL
// to a daemon's process, until its replacement's DAEMON_STARTED) with 500
// daemons, alternating kills without and with a flood of 10,000 events a
// second (two paced publishers, one subscriber of them over the socket),
// so that a noisy machine affects both alike. Metrics: p50 and p90 of
// each, in ms, the ratio of the p50s, and the flood's achieved rate.
func BenchmarkRestartDuringEmitFlood(b *testing.B) {
	const daemons, floodRate = 500, 10000
	var src strings.Builder
	src.WriteString("[supervisor]\nlog_dir = \"logs\"\nbackoff_min = \"0s\"\n[events]\ntypes = [\"SELFPLAY_COMPLETED\"]\nrate_limit = 0\n")
	for i := range daemons {
		fmt.Fprintf(&src, "[daemons.d%03d]\ncommand = [\"/bin/sleep\", \"1000\"]\nmax_restarts = 1000000\n", i)
	}
	n := startNode(b, src.String(), Options{})
	eventually(b, 2*time.Minute, "every daemon running", func() bool {
		st, err := n.client.Status(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		for _, d := range st.Daemons {
			if d.State != supervisor.Running {
				return false
			}
		}
		return true
	})
	started, cancel, err := n.sup.SubscribeFilter(supervisor.EventFilter{Types: []supervisor.EventType{supervisor.DaemonStarted}})
	if err != nil {
		b.Fatal(err)
	}
	defer cancel()
	streamEnded.Store("")
	var delivered atomic.Int64
	subscribeCounting(b, n, "SELFPLAY_COMPLETED", func(json.RawMessage) { delivered.Add(1) })

	// The flood: paced publishers, on while flooding is set.
	var flooding atomic.Bool
	var published atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	for range 2 {
		wg.Go(func() {
			p := n.client.Publisher()
			defer p.Close()
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			next := time.Now()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if !flooding.Load() {
					next = time.Now()
					continue
				}
				// Catch up with the schedule: floodRate/2 a second each.
				for now := time.Now(); next.Before(now); next = next.Add(2 * time.Second / floodRate) {
					if err := p.Emit(context.Background(), "SELFPLAY_COMPLETED", benchData); err != nil {
						b.Error(err)
						return
					}
					published.Add(1)
				}
			}
		})
	}

	var quiet, flood []time.Duration
	var floodTime time.Duration
	i := 0
	for b.Loop() {
		on := i%2 == 1
		i++
		flooding.Store(on)
		tOn := time.Now()
		time.Sleep(100 * time.Millisecond) // the flood at speed, or over
		st, err := n.client.Status(b.Context(), fmt.Sprintf("d%03d", i%daemons))
		if err != nil {
			b.Fatal(err)
		}
		var name string
		var pid int
		for nm, d := range st.Daemons {
			name, pid = nm, d.PID
		}
		for len(started) > 0 {
			<-started
		}
		t0 := time.Now()
		syscall.Kill(pid, syscall.SIGKILL)
		for e := range started {
			if e.Daemon == name {
				break
			}
		}
		d := time.Since(t0)
		if on {
			flood = append(flood, d)
			floodTime += time.Since(tOn)
		} else {
			quiet = append(quiet, d)
		}
	}
	flooding.Store(false)
	if msg, _ := streamEnded.Load().(string); msg != "" {
		b.Fatalf("the flood's subscriber: %s", msg)
	}
	if len(quiet) == 0 || len(flood) == 0 {
		return
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
	b.ReportMetric(ms(percentile(quiet, 0.5)), "quiet-p50-ms")
	b.ReportMetric(ms(percentile(quiet, 0.9)), "quiet-p90-ms")
	b.ReportMetric(ms(percentile(flood, 0.5)), "flood-p50-ms")
	b.ReportMetric(ms(percentile(flood, 0.9)), "flood-p90-ms")
	b.ReportMetric(float64(percentile(flood, 0.5))/float64(percentile(quiet, 0.5)), "flood/quiet-p50")
	b.ReportMetric(float64(published.Load())/floodTime.Seconds(), "flood-events/s")
	b.ReportMetric(float64(delivered.Load())/floodTime.Seconds(), "delivered-events/s")
}
