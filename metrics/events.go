package metrics

import "github.com/ringrift/ringsup/supervisor"

// eventTypes returns the event types whose ringsup_events_total series
// exist, at 0, from the start.
func eventTypes() []supervisor.EventType {
	return []supervisor.EventType{
		supervisor.DaemonStarted,
		supervisor.DaemonStopped,
		supervisor.DaemonExited,
		supervisor.DaemonRestarting,
		supervisor.DaemonFailed,
		supervisor.DaemonImportFailed,
		supervisor.DaemonHealthy,
		supervisor.DaemonUnhealthy,
		supervisor.ConfigReloaded,
		supervisor.ConfigReloadFailed,
	}
}

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
			e.mu.Lock()
			e.drops++
			e.mu.Unlock()
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
	e.mu.Lock()
	e.events[ev.Type]++
	switch ev.Type {
	case supervisor.ConfigReloaded:
		e.reloads++
	case supervisor.ConfigReloadFailed:
		e.reloadFailures++
	}
	e.mu.Unlock()
	switch ev.Type {
	case supervisor.DaemonRestarting:
		e.status.restarted(ev.Daemon)
	case supervisor.ConfigReloaded:
		if ev.ReloadSummary != nil {
			e.status.forget(ev.Removed)
		}
	}
}

// counters returns the families of the event counters.
func (e *Exporter) counters() []*family {
	reloads := &family{name: "ringsup_reloads_total", typ: counter,
		help: "Config reloads applied (CONFIG_RELOADED events)."}
	failures := &family{name: "ringsup_reload_failures_total", typ: counter,
		help: "Config reloads refused (CONFIG_RELOAD_FAILED events): an invalid file or an unknown profile."}
	events := &family{name: "ringsup_events_total", typ: counter,
		help: "Lifecycle events published by the supervisor, by type."}
	drops := &family{name: "ringsup_event_stream_drops_total", typ: counter,
		help: "Times the exporter fell behind the event stream and was dropped; the events missed meanwhile are not counted."}
	e.mu.Lock()
	defer e.mu.Unlock()
	reloads.add(e.reloads)
	failures.add(e.reloadFailures)
	drops.add(e.drops)
	for t, n := range e.events {
		events.add(n, "type", string(t))
	}
	return []*family{reloads, failures, events, drops}
}
