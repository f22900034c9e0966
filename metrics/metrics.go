// Package metrics exports a supervisor's state in the Prometheus text format,
// with the official client library.
//
// An [Exporter] has its own registry (never the library's global one)
// holding three kinds of metrics:
//
//   - gauges read from [supervisor.Supervisor.Status] at each scrape: every
//     daemon's state, health, restart count, backoff, last exit code and
//     uptime;
//   - counters fed by the supervisor's event stream: restarts, reloads,
//     reload failures and events by type;
//   - the library's Go runtime and process collectors.
//
// docs/metrics.md lists every metric with an example scrape.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ringrift/ringsup/supervisor"
)

// shutdownTimeout bounds how long Serve waits for scrapes in flight once
// its context is done.
const shutdownTimeout = 5 * time.Second

// Options configure an Exporter.
type Options struct {
	// Logger receives the exporter's own log: dropped event
	// subscriptions, failed scrapes. Default: no logging.
	Logger hclog.Logger
}

// Exporter serves the metrics of one supervisor. Create it with New; its
// methods may be called from any goroutine.
type Exporter struct {
	sup     *supervisor.Supervisor
	log     hclog.Logger
	reg     *prometheus.Registry
	handler http.Handler
	status  *statusCollector

	reloads        prometheus.Counter
	reloadFailures prometheus.Counter
	events         *prometheus.CounterVec
	drops          prometheus.Counter

	stop      chan struct{} // closed by Close
	closeOnce sync.Once
	// subscribed is closed once the first subscription is in place: the
	// events published from then on are counted.
	subscribed chan struct{}
	// done is closed when the event goroutine has returned.
	done chan struct{}

	// testHookEvent, if not nil, is called before each event is counted.
	testHookEvent func(supervisor.Event)
}

// New returns an exporter of sup's metrics and starts the goroutine that
// counts its events; that goroutine ends when sup's Run returns or Close is
// called.
//
// The counters count the events published after the goroutine has
// subscribed, which happens once Run's loop answers: events of the first
// start-up, which Run publishes before its loop answers anything, are not
// counted. Scrapes likewise wait until Run has started.
func New(sup *supervisor.Supervisor, opts Options) *Exporter {
	e := newExporter(sup, opts)
	go e.watch()
	return e
}

// newExporter builds an exporter without starting its event goroutine.
func newExporter(sup *supervisor.Supervisor, opts Options) *Exporter {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	e := &Exporter{
		sup:    sup,
		log:    log,
		reg:    prometheus.NewRegistry(),
		status: newStatusCollector(sup),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringsup_reloads_total",
			Help: "Config reloads applied (CONFIG_RELOADED events).",
		}),
		reloadFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringsup_reload_failures_total",
			Help: "Config reloads refused (CONFIG_RELOAD_FAILED events): an invalid file or an unknown profile.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringsup_events_total",
			Help: "Lifecycle events published by the supervisor, by type.",
		}, []string{"type"}),
		drops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringsup_event_stream_drops_total",
			Help: "Times the exporter fell behind the event stream and was dropped; the events missed meanwhile are not counted.",
		}),
		stop:       make(chan struct{}),
		subscribed: make(chan struct{}),
		done:       make(chan struct{}),
	}
	for _, t := range supervisor.EventTypes() {
		e.events.WithLabelValues(string(t))
	}
	e.reg.MustRegister(
		e.status, e.reloads, e.reloadFailures, e.events, e.drops,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	e.handler = promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{
		ErrorLog:      e.log.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      e.reg,
	})
	return e
}

// Handler returns the handler that answers a scrape with the exporter's
// metrics, whatever the request's path.
func (e *Exporter) Handler() http.Handler { return e.handler }

// Serve serves the metrics on /metrics of an HTTP server listening on addr
// (host:port) until ctx is done; it then shuts the server down, waiting
// up to 5s for scrapes in flight, and returns nil. It returns an error at
// once if it cannot listen on addr, or if the server fails.
func (e *Exporter) Serve(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot serve metrics on %s: %w", addr, err)
	}
	return e.ServeListener(ctx, ln)
}

// ServeListener is Serve on a listener the caller made; it closes ln.
func (e *Exporter) ServeListener(ctx context.Context, ln net.Listener) error {
	addr := ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/metrics", e.handler)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          e.log.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	e.log.Info("serving metrics", "addr", ln.Addr().String())
	select {
	case err := <-served:
		return fmt.Errorf("cannot serve metrics on %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		e.log.Warn("scrapes still in flight at shutdown", "error", err)
		srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("cannot serve metrics on %s: %w", addr, err)
	}
	return nil
}

// Close stops counting events: the event goroutine ends its subscription
// and returns. Close does not wait for it. The exporter still answers
// scrapes, with the counters as they were. Close may be called more than
// once.
func (e *Exporter) Close() {
	e.closeOnce.Do(func() { close(e.stop) })
}
