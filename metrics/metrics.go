// Package metrics exports a supervisor's state in the Prometheus text format
// (version 0.0.4), which it writes itself.
//
// An [Exporter] answers each scrape with three kinds of metrics:
//
//   - gauges read from [supervisor.Supervisor.Status] at each scrape: every
//     daemon's state, health, restart count, backoff, last exit code and
//     uptime;
//   - counters fed by the supervisor's event stream: restarts, reloads,
//     reload failures and events by type;
//   - the Go runtime's and the process's own metrics (go_*, process_*),
//     named as the official client library names them.
//
// The package does not use the official client library: linked into the
// ringsup binary, that library and its protobuf dependency run their
// package initialisation in every process, and added about 2 ms to each
// `ringsup ctl` command. docs/metrics.md lists every metric with an
// example scrape.
package metrics

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/supervisor"
)

// contentType is the Content-Type of a scrape's answer.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

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
	handler http.Handler
	status  *statusCollector

	mu             sync.Mutex // guards the counters below
	reloads        float64
	reloadFailures float64
	drops          float64
	events         map[supervisor.EventType]float64

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
		sup:        sup,
		log:        log,
		status:     newStatusCollector(sup),
		events:     make(map[supervisor.EventType]float64),
		stop:       make(chan struct{}),
		subscribed: make(chan struct{}),
		done:       make(chan struct{}),
	}
	for _, t := range eventTypes() {
		e.events[t] = 0
	}
	e.handler = http.HandlerFunc(e.serveHTTP)
	return e
}

// serveHTTP answers a scrape, gzipped when the client accepts it. When
// the supervisor does not answer (its Run has returned), the scrape has
// every metric but those read from its status.
func (e *Exporter) serveHTTP(w http.ResponseWriter, r *http.Request) {
	fams := e.counters()
	if st, err := e.status.collect(); err != nil {
		e.log.Error("cannot read the supervisor's status for a scrape", "error", err)
	} else {
		fams = append(fams, st...)
	}
	fams = append(fams, goFamilies()...)
	fams = append(fams, processFamilies(e.log)...)
	var buf bytes.Buffer
	writeText(&buf, fams)

	w.Header().Set("Content-Type", contentType)
	if !acceptsGzip(r) {
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		buf.WriteTo(w)
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Add("Vary", "Accept-Encoding")
	gz := gzip.NewWriter(w)
	buf.WriteTo(gz)
	gz.Close()
}

// acceptsGzip tells whether r's Accept-Encoding lists gzip.
func acceptsGzip(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(h, ",") {
			coding, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
				if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
					return false // "gzip;q=0": anything but gzip
				}
			}
			return true
		}
	}
	return false
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
