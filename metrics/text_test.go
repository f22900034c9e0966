package metrics

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func TestWriteText(t *testing.T) {
	g := &family{name: "b_gauge", typ: gauge, help: "Help with \\ and\nnewline."}
	g.add(2, "daemon", "z")
	g.add(1.5e-7, "daemon", "a\"q\\\n\xff")
	g.add(math.Inf(1), "daemon", "m")
	s := &family{name: "a_summary", typ: summary, help: "S."}
	s.add(0.5, "quantile", "0.5")
	s.add(0.25, "quantile", "0.25") // kept in the order given
	s.points = append(s.points, point{suffix: "_sum", value: 12345678}, point{suffix: "_count", value: 3})
	empty := &family{name: "c_empty", typ: counter, help: "Left out."}
	c := &family{name: "d_counter", typ: counter, help: "C."}
	c.add(-0.0)

	var buf bytes.Buffer
	writeText(&buf, []*family{g, empty, c, s})
	want := `# HELP a_summary S.
# TYPE a_summary summary
a_summary{quantile="0.5"} 0.5
a_summary{quantile="0.25"} 0.25
a_summary_sum 1.2345678e+07
a_summary_count 3
# HELP b_gauge Help with \\ and\nnewline.
# TYPE b_gauge gauge
b_gauge{daemon="a\"q\\\n` + "\uFFFD" + `"} 1.5e-07
b_gauge{daemon="m"} +Inf
b_gauge{daemon="z"} 2
# HELP d_counter C.
# TYPE d_counter counter
d_counter 0
`
	if buf.String() != want {
		t.Fatalf("writeText =\n%s\nwant\n%s", &buf, want)
	}
	fams := parse(t, &buf)
	if got, _ := value(fams, "b_gauge", "daemon", "a\"q\\\n\uFFFD"); got != 1.5e-7 {
		t.Errorf("b_gauge parsed back = %v, want 1.5e-7", got)
	}
	if got := fams["a_summary"].GetMetric()[0].GetSummary().GetSampleCount(); got != 3 {
		t.Errorf("a_summary count parsed back = %v, want 3", got)
	}
}

// TestRuntimeMetrics: a scrape has every go_* and process_* series of the
// official client library's collectors, with its type and a sane value.
func TestRuntimeMetrics(t *testing.T) {
	f := start(t, "[daemons.sleeper]\ncommand = [\"/bin/sleep\", \"1000\"]\n", 0, nil)
	fams := waitFor(t, f.exp, sample{name: "ringsup_daemon_up", labels: []string{"daemon", "sleeper"}, want: 1})
	gauges := []string{
		"go_gc_gogc_percent", "go_gc_gomemlimit_bytes", "go_goroutines", "go_info",
		"go_memstats_alloc_bytes", "go_memstats_buck_hash_sys_bytes", "go_memstats_gc_sys_bytes",
		"go_memstats_heap_alloc_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_inuse_bytes",
		"go_memstats_heap_objects", "go_memstats_heap_released_bytes", "go_memstats_heap_sys_bytes",
		"go_memstats_last_gc_time_seconds", "go_memstats_mcache_inuse_bytes", "go_memstats_mcache_sys_bytes",
		"go_memstats_mspan_inuse_bytes", "go_memstats_mspan_sys_bytes", "go_memstats_next_gc_bytes",
		"go_memstats_other_sys_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_stack_sys_bytes",
		"go_memstats_sys_bytes", "go_sched_gomaxprocs_threads", "go_threads",
		"process_max_fds", "process_open_fds", "process_resident_memory_bytes",
		"process_start_time_seconds", "process_virtual_memory_bytes", "process_virtual_memory_max_bytes",
	}
	counters := []string{
		"go_memstats_alloc_bytes_total", "go_memstats_frees_total", "go_memstats_mallocs_total",
		"process_cpu_seconds_total", "process_network_receive_bytes_total", "process_network_transmit_bytes_total",
	}
	types := map[string]dto.MetricType{"go_gc_duration_seconds": dto.MetricType_SUMMARY}
	for _, n := range gauges {
		types[n] = dto.MetricType_GAUGE
	}
	for _, n := range counters {
		types[n] = dto.MetricType_COUNTER
	}
	for name, typ := range types {
		if f, ok := fams[name]; !ok {
			t.Errorf("no %s in the scrape", name)
		} else if f.GetType() != typ {
			t.Errorf("%s has type %v, want %v", name, f.GetType(), typ)
		}
	}
	if s := fams["go_gc_duration_seconds"].GetMetric()[0].GetSummary(); len(s.GetQuantile()) != 5 {
		t.Errorf("go_gc_duration_seconds has %d quantiles, want 5", len(s.GetQuantile()))
	}
	if _, ok := value(fams, "go_info", "version", runtime.Version()); !ok {
		t.Errorf("no go_info{version=%q}", runtime.Version())
	}
	at := func(name string) float64 {
		v, _ := value(fams, name)
		return v
	}
	now := float64(time.Now().UnixNano()) / 1e9
	for _, c := range []struct {
		name     string
		min, max float64
	}{
		{"go_goroutines", 2, 1e6},
		{"go_threads", 1, 1e6},
		{"go_memstats_sys_bytes", 1 << 20, 1 << 40},
		{"process_open_fds", 3, 1e7},
		{"process_max_fds", 3, math.Inf(1)},
		{"process_resident_memory_bytes", 1 << 20, 1 << 40},
		{"process_cpu_seconds_total", 0.001, 1e6},
		// This test process started before the test, at most hours ago.
		{"process_start_time_seconds", now - 6*3600, now + 1},
	} {
		if v := at(c.name); v < c.min || v > c.max {
			t.Errorf("%s = %v, want in [%v, %v]", c.name, v, c.min, c.max)
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		if v := at("process_open_fds"); math.Abs(v-float64(len(fds)-1)) > 20 {
			t.Errorf("process_open_fds = %v, want about %d", v, len(fds)-1)
		}
	}
}

func TestScrapeGzip(t *testing.T) {
	f := start(t, "[daemons.sleeper]\ncommand = [\"/bin/sleep\", \"1000\"]\n", 0, nil)
	for _, accept := range []string{"gzip", "deflate, gzip;q=1.0, *;q=0.5", "identity, gzip;q=0", ""} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		rec := httptest.NewRecorder()
		f.exp.Handler().ServeHTTP(rec, req)
		wantGzip := accept != "" && accept != "identity, gzip;q=0"
		var body io.Reader = rec.Body
		if got := rec.Header().Get("Content-Encoding"); (got == "gzip") != wantGzip {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want gzip: %v", accept, got, wantGzip)
			continue
		}
		if wantGzip {
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatalf("Accept-Encoding %q: %v", accept, err)
			}
			body = zr
		}
		if _, ok := value(parse(t, body), "ringsup_reloads_total"); !ok {
			t.Errorf("Accept-Encoding %q: no ringsup_reloads_total in the scrape", accept)
		}
	}
}
