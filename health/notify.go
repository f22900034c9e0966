package health

import (
	"bytes"
	"maps"
)

// MaxNotifySize is the largest notification datagram a [NotifySocket]
// accepts, as systemd does; a larger one is dropped whole.
const MaxNotifySize = 4096

// NotifyMessage is what a daemon said on its notification socket, in the
// format of sd_notify(3): lines of KEY=VALUE.
//
// When the consumer of [NotifySocket.Messages] is slower than the daemon,
// the datagrams received meanwhile are merged into one message (see
// [NotifyMessage.Merge]), so a message may stand for several datagrams.
type NotifyMessage struct {
	// PID is the process that sent the (latest) datagram, from the
	// credentials the kernel attached to it, or 0 if there were none.
	PID int32
	// Ready is READY=1: the daemon has finished starting up (or
	// reloading).
	Ready bool
	// Reloading is RELOADING=1: the daemon is reloading its
	// configuration.
	Reloading bool
	// Stopping is STOPPING=1: the daemon is shutting down.
	Stopping bool
	// Watchdog is WATCHDOG=1: the daemon is alive, and the watchdog timer
	// starts again.
	Watchdog bool
	// Status is the value of the latest STATUS=, a free-form line for
	// humans. An empty STATUS= is the same as none.
	Status string
	// Fields holds every other KEY=VALUE (MAINPID, ERRNO, WATCHDOG=trigger,
	// X_FOO, ...), or is nil when there is none. A key given twice keeps
	// its latest value.
	Fields map[string]string
}

// ParseNotify parses one notification datagram. Lines without '=' and empty
// lines are ignored, as systemd does; ok is false when nothing is left. PID
// is 0: it comes from the datagram's credentials, not its text.
func ParseNotify(b []byte) (m NotifyMessage, ok bool) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		key, value, found := bytes.Cut(line, []byte{'='})
		if !found || len(key) == 0 {
			continue
		}
		ok = true
		switch v := string(value); {
		case v == "1" && string(key) == "READY":
			m.Ready = true
		case v == "1" && string(key) == "RELOADING":
			m.Reloading = true
		case v == "1" && string(key) == "STOPPING":
			m.Stopping = true
		case v == "1" && string(key) == "WATCHDOG":
			m.Watchdog = true
		case string(key) == "STATUS":
			if v != "" {
				m.Status = v
			}
		default:
			if m.Fields == nil {
				m.Fields = make(map[string]string)
			}
			m.Fields[string(key)] = v
		}
	}
	return m, ok
}

// Merge returns m followed by next, as one message: the flags of either,
// the PID of next, the latest Status, and the Fields of both (next's value
// for a key in both). Nothing a daemon said is lost but the order of its
// flags: a merged message that is both Ready and Reloading may have
// reloaded before or after it was ready.
func (m NotifyMessage) Merge(next NotifyMessage) NotifyMessage {
	m.PID = next.PID
	m.Ready = m.Ready || next.Ready
	m.Reloading = m.Reloading || next.Reloading
	m.Stopping = m.Stopping || next.Stopping
	m.Watchdog = m.Watchdog || next.Watchdog
	if next.Status != "" {
		m.Status = next.Status
	}
	if len(next.Fields) > 0 {
		fields := make(map[string]string, len(m.Fields)+len(next.Fields))
		maps.Copy(fields, m.Fields)
		maps.Copy(fields, next.Fields)
		m.Fields = fields
	}
	return m
}
