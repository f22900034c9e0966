package metrics

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"
)

// goFamilies returns the metrics of the Go runtime, the go_* families the
// official client library's Go collector has, with the same names, types
// and meanings.
func goFamilies() []*family {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g := func(name, help string, v float64) *family {
		f := &family{name: name, help: help, typ: gauge}
		f.add(v)
		return f
	}
	c := func(name, help string, v float64) *family {
		f := &family{name: name, help: help, typ: counter}
		f.add(v)
		return f
	}
	threads, _ := runtime.ThreadCreateProfile(nil)
	info := &family{name: "go_info", typ: gauge, help: "Information about the Go environment."}
	info.add(1, "version", runtime.Version())
	fams := []*family{
		gcPauses(),
		g("go_gc_gogc_percent", "Heap size target percentage configured by the user, otherwise 100. This value is set by the GOGC environment variable.", gogc()),
		g("go_gc_gomemlimit_bytes", "Go runtime memory limit configured by the user, otherwise math.MaxInt64. This value is set by the GOMEMLIMIT environment variable.", float64(debug.SetMemoryLimit(-1))),
		g("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine())),
		info,
		g("go_memstats_alloc_bytes", "Number of bytes allocated in heap and currently in use.", float64(ms.Alloc)),
		c("go_memstats_alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already.", float64(ms.TotalAlloc)),
		g("go_memstats_buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table.", float64(ms.BuckHashSys)),
		c("go_memstats_frees_total", "Total number of heap objects frees.", float64(ms.Frees)),
		g("go_memstats_gc_sys_bytes", "Number of bytes used for garbage collection system metadata.", float64(ms.GCSys)),
		g("go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes.", float64(ms.HeapAlloc)),
		g("go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used.", float64(ms.HeapIdle)),
		g("go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", float64(ms.HeapInuse)),
		g("go_memstats_heap_objects", "Number of currently allocated objects.", float64(ms.HeapObjects)),
		g("go_memstats_heap_released_bytes", "Number of heap bytes released to OS.", float64(ms.HeapReleased)),
		g("go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system.", float64(ms.HeapSys)),
		g("go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", float64(ms.LastGC)/1e9),
		c("go_memstats_mallocs_total", "Total number of heap objects allocated, both live and gc-ed.", float64(ms.Mallocs)),
		g("go_memstats_mcache_inuse_bytes", "Number of bytes in use by mcache structures.", float64(ms.MCacheInuse)),
		g("go_memstats_mcache_sys_bytes", "Number of bytes used for mcache structures obtained from system.", float64(ms.MCacheSys)),
		g("go_memstats_mspan_inuse_bytes", "Number of bytes in use by mspan structures.", float64(ms.MSpanInuse)),
		g("go_memstats_mspan_sys_bytes", "Number of bytes used for mspan structures obtained from system.", float64(ms.MSpanSys)),
		g("go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place.", float64(ms.NextGC)),
		g("go_memstats_other_sys_bytes", "Number of bytes used for other system allocations.", float64(ms.OtherSys)),
		g("go_memstats_stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments.", float64(ms.StackInuse)),
		g("go_memstats_stack_sys_bytes", "Number of bytes obtained from system for stack allocator.", float64(ms.StackSys)),
		g("go_memstats_sys_bytes", "Number of bytes obtained from system.", float64(ms.Sys)),
		g("go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting, or the number of operating system threads that can execute user-level Go code simultaneously.", float64(runtime.GOMAXPROCS(0))),
		g("go_threads", "Number of OS threads created.", float64(threads)),
	}
	return fams
}

// gcPauses returns go_gc_duration_seconds: the quantiles of the recent
// stop-the-world pauses of the garbage collector, their sum and count.
func gcPauses() *family {
	f := &family{name: "go_gc_duration_seconds", typ: summary,
		help: "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles."}
	stats := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
	debug.ReadGCStats(&stats)
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		f.add(stats.PauseQuantiles[i].Seconds(), "quantile", q)
	}
	f.points = append(f.points,
		point{suffix: "_sum", value: stats.PauseTotal.Seconds()},
		point{suffix: "_count", value: float64(stats.NumGC)})
	return f
}

// gogc returns the GC percentage the runtime took from GOGC at start-up
// (ringsup never changes it): 100 by default, -1 for "off".
func gogc() float64 {
	switch v := os.Getenv("GOGC"); v {
	case "":
		return 100
	case "off":
		return -1
	default:
		if n, err := strconv.Atoi(v); err == nil {
			return float64(n)
		}
		return 100
	}
}
