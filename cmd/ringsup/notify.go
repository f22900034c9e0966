package main

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/sdnotify"
)

// notifyManager tells systemd (Type=notify) about ringsup through
// sd_notify: READY=1 once start-up is done, RELOADING=1 and READY=1 around
// a reload, STOPPING=1 at shutdown, STATUS= on change, WATCHDOG=1 from the
// supervisor's loop. It implements supervisor.Manager.
type notifyManager struct {
	n        *sdnotify.Notifier
	log      hclog.Logger
	ready    atomic.Bool // READY=1 was sent for start-up
	stopping atomic.Bool // STOPPING=1 was sent: no READY=1 or RELOADING=1 after
	warn     sync.Once
}

func (m *notifyManager) send(lines ...string) {
	if err := m.n.Send(lines...); err != nil {
		m.warn.Do(func() { m.log.Warn("cannot notify the service manager", "error", err) })
	}
}

func (m *notifyManager) Ready(status string) {
	if m.stopping.Load() {
		return
	}
	m.ready.Store(true)
	m.send("READY=1", "STATUS="+status)
}

func (m *notifyManager) Reloading() {
	if !m.stopping.Load() {
		m.send("RELOADING=1", sdnotify.MonotonicUsec())
	}
}

// Reloaded says READY=1 again, but only once start-up was: a reload during
// start-up must not make the manager think start-up is over.
func (m *notifyManager) Reloaded(status string, err error) {
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		status = "reload failed: " + msg + "; " + status
	}
	switch {
	case m.stopping.Load():
	case m.ready.Load():
		m.send("READY=1", "STATUS="+status)
	default:
		m.send("STATUS=" + status)
	}
}

func (m *notifyManager) Stopping() {
	m.stopping.Store(true)
	m.send("STOPPING=1")
}

// Status goes on during the shutdown: systemctl status shows the daemons
// going down.
func (m *notifyManager) Status(status string) { m.send("STATUS=" + status) }

func (m *notifyManager) Watchdog() { m.send("WATCHDOG=1") }
