package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/supervisor"
)

// The tests run a real supervisor with real processes. It makes the test
// process a child subreaper and reaps all its children, so no test here
// runs in parallel.

// waitTimeout bounds every wait of these tests.
const waitTimeout = 10 * time.Second

// fixture is a running supervisor and its exporter.
type fixture struct {
	sup  *supervisor.Supervisor
	exp  *Exporter
	path string // the config file
}

// start writes body to a config file, after a [supervisor] table with a log
// directory and backoff_min = "50ms" (body may add keys to it before its
// first table), and runs it with an exporter whose event goroutine has
// subscribed. The supervisor gets eventBuffer (0: the default) and the
// exporter hook. Cleanup shuts both down.
func start(t *testing.T, body string, eventBuffer int, hook func(supervisor.Event)) *fixture {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "ringsup.toml")
	head := fmt.Sprintf("[supervisor]\nlog_dir = %q\nbackoff_min = \"50ms\"\n", filepath.Join(dir, "logs"))
	writeFile(t, path, head+body)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	sup, err := supervisor.New(supervisor.Options{Config: cfg, EventBuffer: eventBuffer})
	if err != nil {
		t.Fatalf("supervisor.New: %v", err)
	}
	e := newExporter(sup, Options{})
	e.testHookEvent = hook
	go e.watch()

	// Subscribed before Run, the exporter sees start-up's events too.
	select {
	case <-e.subscribed:
	case <-time.After(waitTimeout):
		t.Fatalf("the exporter did not subscribe within %v", waitTimeout)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- sup.Run(t.Context()) }()
	t.Cleanup(func() {
		// t.Context is cancelled by now: Run is shutting down.
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Run did not return within %v of the context's end", waitTimeout)
		}
		select {
		case <-e.done:
		case <-time.After(waitTimeout):
			t.Errorf("the event goroutine did not end within %v of Run's return", waitTimeout)
		}
	})
	return &fixture{sup: sup, exp: e, path: path}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// scrape GETs the exporter's metrics and parses them with the client
// library's text parser, which also checks that every name is a classic
// Prometheus name.
func scrape(t *testing.T, e *Exporter) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, want 200; body:\n%s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q, want text/plain", ct)
	}
	return parse(t, rec.Body)
}

func parse(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("cannot parse the scrape: %v", err)
	}
	return fams
}

// sample is an expected sample of a scrape.
type sample struct {
	name   string
	labels []string // name, value pairs the sample has (it may have more)
	want   float64
	absent bool // want no such sample
}

func (s sample) String() string {
	var b strings.Builder
	b.WriteString(s.name + "{")
	for i := 0; i+1 < len(s.labels); i += 2 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s=%q", s.labels[i], s.labels[i+1])
	}
	b.WriteString("}")
	return b.String()
}

// check returns nil if fams holds s, or the mismatch.
func (s sample) check(fams map[string]*dto.MetricFamily) error {
	got, ok := value(fams, s.name, s.labels...)
	switch {
	case s.absent && ok:
		return fmt.Errorf("%v = %v, want no sample", s, got)
	case s.absent:
		return nil
	case !ok:
		return fmt.Errorf("%v: no sample, want %v", s, s.want)
	case got != s.want:
		return fmt.Errorf("%v = %v, want %v", s, got, s.want)
	}
	return nil
}

// value returns the value of the first sample of family name that has
// labels (name, value pairs), and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if hasLabels(m, labels) {
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue(), true
			default:
				return m.GetUntyped().GetValue(), true
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, labels []string) bool {
	have := make(map[string]string)
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for i := 0; i+1 < len(labels); i += 2 {
		if v, ok := have[labels[i]]; !ok || v != labels[i+1] {
			return false
		}
	}
	return true
}

// waitFor scrapes until the scrape holds every sample of want, and returns
// that scrape. It fails with the mismatches of the last scrape after
// waitTimeout.
func waitFor(t *testing.T, e *Exporter, want ...sample) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		fams := scrape(t, e)
		var errs []error
		for _, s := range want {
			if err := s.check(fams); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) == 0 {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v:\n%v", waitTimeout, errors.Join(errs...))
		}
		<-tick.C
	}
}

// stateSamples wants daemon's ringsup_daemon_state to be 1 for state only.
func stateSamples(daemon string, state supervisor.State) []sample {
	var out []sample
	for _, s := range supervisor.States() {
		want := 0.0
		if s == state {
			want = 1
		}
		out = append(out, sample{name: "ringsup_daemon_state", labels: []string{"daemon", daemon, "state", s.String()}, want: want})
	}
	return out
}

// healthSamples wants daemon's ringsup_daemon_health to be 1 for health only.
func healthSamples(daemon, health string) []sample {
	var out []sample
	for _, h := range healthValues() {
		want := 0.0
		if h == health {
			want = 1
		}
		out = append(out, sample{name: "ringsup_daemon_health", labels: []string{"daemon", daemon, "health", h}, want: want})
	}
	return out
}

const daemonsConf = `default_profile = "base"

[profiles]
base = ["sleeper"]

[daemons.sleeper]
command = ["/bin/sleep", "1000"]

[daemons.crasher]
command = "sleep 0.2; exit 3"
max_restarts = 1

[daemons.slow]
command = "sleep 0.2; exit 4"
backoff_min = "1h"
backoff_max = "1h"
`

func TestDaemonMetrics(t *testing.T) {
	f := start(t, daemonsConf, 0, nil)

	var want []sample
	want = append(want, stateSamples("sleeper", supervisor.Running)...)
	want = append(want, healthSamples("sleeper", "none")...)
	want = append(want, stateSamples("crasher", supervisor.Stopped)...)
	want = append(want,
		sample{name: "ringsup_info", labels: []string{"profile", "base", "config", f.path}, want: 1},
		sample{name: "ringsup_daemon_up", labels: []string{"daemon", "sleeper"}, want: 1},
		sample{name: "ringsup_daemon_up", labels: []string{"daemon", "crasher"}, want: 0},
		sample{name: "ringsup_daemon_restarts_total", labels: []string{"daemon", "sleeper"}, want: 0},
		sample{name: "ringsup_daemon_restart_count", labels: []string{"daemon", "sleeper"}, want: 0},
		sample{name: "ringsup_daemon_backoff_seconds", labels: []string{"daemon", "sleeper"}, want: 0},
		sample{name: "ringsup_daemon_last_exit_code", labels: []string{"daemon", "sleeper"}, absent: true},
		sample{name: "ringsup_daemon_uptime_seconds", labels: []string{"daemon", "crasher"}, want: 0},
	)
	fams := waitFor(t, f.exp, want...)
	if up, _ := value(fams, "ringsup_daemon_uptime_seconds", "daemon", "sleeper"); up <= 0 {
		t.Errorf("ringsup_daemon_uptime_seconds{daemon=\"sleeper\"} = %v, want > 0", up)
	}
	types := map[string]dto.MetricType{
		"ringsup_info":                   dto.MetricType_GAUGE,
		"ringsup_daemon_state":           dto.MetricType_GAUGE,
		"ringsup_daemon_up":              dto.MetricType_GAUGE,
		"ringsup_daemon_restarts_total":  dto.MetricType_COUNTER,
		"ringsup_daemon_restart_count":   dto.MetricType_GAUGE,
		"ringsup_daemon_backoff_seconds": dto.MetricType_GAUGE,
		"ringsup_daemon_health":          dto.MetricType_GAUGE,
		"ringsup_daemon_uptime_seconds":  dto.MetricType_GAUGE,
		"ringsup_reloads_total":          dto.MetricType_COUNTER,
		"ringsup_reload_failures_total":  dto.MetricType_COUNTER,
		"ringsup_events_total":           dto.MetricType_COUNTER,
		"go_goroutines":                  dto.MetricType_GAUGE,
		"process_start_time_seconds":     dto.MetricType_GAUGE,
	}
	for name, typ := range types {
		if f, ok := fams[name]; !ok {
			t.Errorf("no %s in the scrape", name)
		} else if f.GetType() != typ {
			t.Errorf("%s has type %v, want %v", name, f.GetType(), typ)
		}
	}
	for _, typ := range supervisor.EventTypes() {
		if _, ok := value(fams, "ringsup_events_total", "type", string(typ)); !ok {
			t.Errorf("ringsup_events_total{type=%q}: no sample, want one from the start", typ)
		}
	}

	// crasher exits 3 twice: one restart, then failed. slow exits 4 and
	// waits an hour to restart.
	if err := f.sup.Start("crasher", "slow"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	want = stateSamples("crasher", supervisor.Failed)
	want = append(want, stateSamples("slow", supervisor.Restarting)...)
	want = append(want,
		sample{name: "ringsup_daemon_up", labels: []string{"daemon", "crasher"}, want: 0},
		sample{name: "ringsup_daemon_restarts_total", labels: []string{"daemon", "crasher"}, want: 1},
		sample{name: "ringsup_daemon_restart_count", labels: []string{"daemon", "crasher"}, want: 1},
		sample{name: "ringsup_daemon_last_exit_code", labels: []string{"daemon", "crasher"}, want: 3},
		sample{name: "ringsup_daemon_restarts_total", labels: []string{"daemon", "slow"}, want: 1},
		sample{name: "ringsup_daemon_last_exit_code", labels: []string{"daemon", "slow"}, want: 4},
		sample{name: "ringsup_events_total", labels: []string{"type", "DAEMON_STARTED"}, want: 4}, // sleeper's at start-up, too
		sample{name: "ringsup_events_total", labels: []string{"type", "DAEMON_EXITED"}, want: 3},
		sample{name: "ringsup_events_total", labels: []string{"type", "DAEMON_RESTARTING"}, want: 2},
		sample{name: "ringsup_events_total", labels: []string{"type", "DAEMON_FAILED"}, want: 1},
	)
	want = append(want, stateSamples("sleeper", supervisor.Running)...)
	fams = waitFor(t, f.exp, want...)
	if b, _ := value(fams, "ringsup_daemon_backoff_seconds", "daemon", "slow"); b <= 0 || b > 3600 {
		t.Errorf("ringsup_daemon_backoff_seconds{daemon=\"slow\"} = %v, want in (0, 3600]", b)
	}
}

func TestReloadMetrics(t *testing.T) {
	f := start(t, "[daemons.sleeper]\ncommand = [\"/bin/sleep\", \"1000\"]\n", 0, nil)
	src, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}

	writeFile(t, f.path, string(src)+"[daemons.added]\ncommand = [\"/bin/sleep\", \"1000\"]\n")
	if _, err := f.sup.Reload(); err != nil {
		t.Fatalf("Reload of a valid file: %v", err)
	}
	want := stateSamples("added", supervisor.Running)
	want = append(want,
		sample{name: "ringsup_reloads_total", want: 1},
		sample{name: "ringsup_reload_failures_total", want: 0},
		sample{name: "ringsup_events_total", labels: []string{"type", "CONFIG_RELOADED"}, want: 1},
	)
	waitFor(t, f.exp, want...)

	writeFile(t, f.path, string(src)+"[daemons.broken]\ncommand = 5\n")
	if _, err := f.sup.Reload(); err == nil {
		t.Fatal("Reload of an invalid file succeeded")
	}
	waitFor(t, f.exp,
		sample{name: "ringsup_reloads_total", want: 1},
		sample{name: "ringsup_reload_failures_total", want: 1},
		sample{name: "ringsup_events_total", labels: []string{"type", "CONFIG_RELOAD_FAILED"}, want: 1},
	)
}

// TestEventStreamDrop: an exporter that falls behind is dropped by the
// supervisor; it subscribes again, counts the drop, and counts what comes
// after.
func TestEventStreamDrop(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	// The hook holds the first failed reload's event.
	hook := func(e supervisor.Event) {
		if e.Type == supervisor.ConfigReloadFailed {
			once.Do(func() { <-release })
		}
	}
	// No daemon: start-up publishes no event that could fill the
	// exporter's buffer of one before the test begins (a pass's events
	// are published together).
	f := start(t, "", 1, hook)
	// This test's own subscriber has a buffer of one too: it takes each
	// event before the next is published.
	// Once Status answers, Run's loop runs: this subscriber sees only what
	// comes next, not start-up's events.
	if _, err := f.sup.Status(); err != nil {
		t.Fatal(err)
	}
	events, cancel := f.sup.Subscribe()
	defer cancel()
	writeFile(t, f.path, "[daemons.broken]\ncommand = 5\n")
	failReload := func() {
		t.Helper()
		if _, err := f.sup.Reload(); err == nil {
			t.Fatal("Reload of an invalid file succeeded")
		}
	}

	// Each failed reload publishes one event. The exporter holds the first
	// in its hook and the second in its buffer: the third drops it. Once
	// this test's subscriber has the fourth, the third has been published
	// to every subscriber.
	for n := range 4 {
		failReload()
		select {
		case e, ok := <-events:
			if !ok || e.Type != supervisor.ConfigReloadFailed {
				t.Fatalf("event %d = %v (open %v), want %s", n+1, e.Type, ok, supervisor.ConfigReloadFailed)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("no event %d within %v", n+1, waitTimeout)
		}
	}
	close(release)
	waitFor(t, f.exp,
		sample{name: "ringsup_event_stream_drops_total", want: 1},
		sample{name: "ringsup_reload_failures_total", want: 2},
	)

	// Subscribed again: the next event is counted.
	failReload()
	waitFor(t, f.exp,
		sample{name: "ringsup_event_stream_drops_total", want: 1},
		sample{name: "ringsup_reload_failures_total", want: 3},
	)
}

// TestScrapeAfterShutdown: once Run has returned, a scrape still answers
// with the counters, without the status metrics.
func TestScrapeAfterShutdown(t *testing.T) {
	f := start(t, "[daemons.sleeper]\ncommand = [\"/bin/sleep\", \"1000\"]\n", 0, nil)
	if err := f.sup.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-f.sup.Done():
	case <-time.After(waitTimeout):
		t.Fatalf("Run did not return within %v of Shutdown", waitTimeout)
	}
	fams := scrape(t, f.exp)
	for _, s := range []sample{
		{name: "ringsup_info", absent: true},
		{name: "ringsup_daemon_up", absent: true},
		{name: "ringsup_reloads_total", want: 0},
	} {
		if err := s.check(fams); err != nil {
			t.Error(err)
		}
	}
}

// TestClose: Close ends the event goroutine while the supervisor runs; the
// exporter still answers scrapes.
func TestClose(t *testing.T) {
	f := start(t, "[daemons.sleeper]\ncommand = [\"/bin/sleep\", \"1000\"]\n", 0, nil)
	f.exp.Close()
	f.exp.Close()
	select {
	case <-f.exp.done:
	case <-time.After(waitTimeout):
		t.Fatalf("the event goroutine did not end within %v of Close", waitTimeout)
	}
	waitFor(t, f.exp, sample{name: "ringsup_daemon_up", labels: []string{"daemon", "sleeper"}, want: 1})
}

func TestServe(t *testing.T) {
	f := start(t, "[daemons.sleeper]\ncommand = [\"/bin/sleep\", \"1000\"]\n", 0, nil)

	// A listener of the test's own: a port freed and bound again could be
	// taken in between by another test.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- f.exp.ServeListener(ctx, l) }()

	url := "http://" + addr + "/metrics"
	deadline := time.Now().Add(waitTimeout)
	var resp *http.Response
	for {
		resp, err = http.Get(url)
		if err == nil {
			break
		}
		select {
		case err := <-served:
			t.Fatalf("Serve(%s) = %v before answering", addr, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v after %v", url, err, waitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fams := parse(t, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: status %d, want 200", url, resp.StatusCode)
	}
	if err := (sample{name: "ringsup_daemon_up", labels: []string{"daemon", "sleeper"}, want: 1}).check(fams); err != nil {
		t.Error(err)
	}
	if resp, err := http.Get("http://" + addr + "/other"); err != nil {
		t.Errorf("GET /other: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /other: status %d, want 404", resp.StatusCode)
		}
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after its context ended = %v, want nil", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Serve did not return within %v of its context's end", waitTimeout)
	}
}

func TestServeListenError(t *testing.T) {
	f := start(t, "[daemons.sleeper]\ncommand = [\"/bin/sleep\", \"1000\"]\n", 0, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	err = f.exp.Serve(t.Context(), addr)
	var opErr *net.OpError
	if !errors.As(err, &opErr) || !strings.HasPrefix(err.Error(), "cannot serve metrics on "+addr+": ") {
		t.Fatalf("Serve(%s) on a port in use = %v, want \"cannot serve metrics on %s: \" wrapping a *net.OpError", addr, err, addr)
	}
}
