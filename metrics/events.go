package metrics

import "github.com/ringrift/ringsup/supervisor"

// watch counts the supervisor's events until its Run returns or Close is
// called. When the supervisor drops the subscription because watch fell
// behind, it subscribes again and counts the drop.
func (e *Exporter) watch() {
	defer close(e.done)
	first := true
	for {
		events, cancel := e.sup.Subscribe()
		select {
		case <-e.sup.Done():
			// Subscribe gave up, or Run returned just after.
			cancel()
			return
		default:
		}
		if first {
			close(e.subscribed)
			first = false
		} else {
			e.drops.Inc()
			e.log.Warn("fell behind the event stream; events were not counted")
		}
		stopped := e.count(events)
		cancel()
		if stopped {
			return
		}
	}
}

// count counts the events of one subscription. It returns true when Close
// was called, and false when the channel was closed: the subscriber was
// dropped, or Run returned (watch tells them apart).
func (e *Exporter) count(events <-chan supervisor.Event) (stopped bool) {
	for {
		select {
		case <-e.stop:
			return true
		case ev, ok := <-events:
			if !ok {
				return false
			}
			if e.testHookEvent != nil {
				e.testHookEvent(ev)
			}
			e.record(ev)
		}
	}
}

// record updates the counters for one event.
func (e *Exporter) record(ev supervisor.Event) {
	e.events.WithLabelValues(string(ev.Type)).Inc()
	switch ev.Type {
	case supervisor.DaemonRestarting:
		e.status.restarted(ev.Daemon)
	case supervisor.ConfigReloaded:
		e.reloads.Inc()
		if ev.ReloadSummary != nil {
			e.status.forget(ev.Removed)
		}
	case supervisor.ConfigReloadFailed:
		e.reloadFailures.Inc()
	}
}
