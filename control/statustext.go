package control

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/ringrift/ringsup/supervisor"
)

// appendStatusText appends st to b as `ctl status --json` prints it: the
// bytes of json.MarshalIndent(st, "", "  ") and a newline. It writes them
// directly, without reflection or a second pass to indent: for 1000
// daemons that is several times faster, and the server sends it as is.
// Like json.Marshal, it fails on a NaN or infinite float.
//
// TestStatusTextMatchesMarshalIndent fills every field of the status types
// by reflection: a field added to them and not here fails it.
func appendStatusText(b []byte, st supervisor.StatusList) ([]byte, error) {
	b = append(b, "{\n  \"profile\": "...)
	b = appendJSONString(b, st.Profile)
	b = append(b, ",\n  \"config\": "...)
	b = appendJSONString(b, st.Config)
	b = append(b, ",\n  \"pid\": "...)
	b = strconv.AppendInt(b, int64(st.PID), 10)
	b = append(b, ",\n  \"daemons\": "...)
	switch {
	case st.Daemons == nil:
		b = append(b, "null"...)
	case len(st.Daemons) == 0:
		b = append(b, "{}"...)
	default:
		b = append(b, '{')
		for i := range st.Daemons {
			d := &st.Daemons[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n    "...)
			b = appendJSONString(b, d.Name)
			b = append(b, ": "...)
			var err error
			if b, err = appendDaemonText(b, &d.DaemonStatus); err != nil {
				return b, fmt.Errorf("daemon %q: %w", d.Name, err)
			}
		}
		b = append(b, "\n  }"...)
	}
	return append(b, "\n}\n"...), nil
}

// appendDaemonText appends one daemon's entry of appendStatusText, whose
// lines are indented by six spaces.
func appendDaemonText(b []byte, d *supervisor.DaemonStatus) ([]byte, error) {
	var err error
	b = append(b, "{\n      \"daemon\": "...)
	b = appendJSONString(b, d.Daemon)
	if d.Instance != nil { // omitempty
		b = append(b, ",\n      \"instance\": "...)
		b = strconv.AppendInt(b, int64(*d.Instance), 10)
	}
	b = append(b, ",\n      \"state\": "...)
	b = appendJSONString(b, d.State.String())
	b = append(b, ",\n      \"pid\": "...)
	b = strconv.AppendInt(b, int64(d.PID), 10)
	b = append(b, ",\n      \"restart_count\": "...)
	b = strconv.AppendInt(b, int64(d.RestartCount), 10)
	b = append(b, ",\n      \"uptime_s\": "...)
	if b, err = appendJSONFloat(b, d.UptimeS); err != nil {
		return b, err
	}
	b = append(b, ",\n      \"health\": "...)
	b = appendJSONString(b, d.Health)
	b = append(b, ",\n      \"health_error\": "...)
	b = appendJSONString(b, d.HealthError)
	b = append(b, ",\n      \"last_exit\": "...)
	if x := d.LastExit; x == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, "{\n        \"code\": "...)
		b = strconv.AppendInt(b, int64(x.Code), 10)
		b = append(b, ",\n        \"signal\": "...)
		b = appendJSONString(b, x.Signal)
		b = append(b, "\n      }"...)
	}
	b = append(b, ",\n      \"last_error\": "...)
	b = appendJSONString(b, d.LastError)
	b = append(b, ",\n      \"depends_on\": "...)
	switch {
	case d.DependsOn == nil:
		b = append(b, "null"...)
	case len(d.DependsOn) == 0:
		b = append(b, "[]"...)
	default:
		b = append(b, '[')
		for i, dep := range d.DependsOn {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n        "...)
			b = appendJSONString(b, dep)
		}
		b = append(b, "\n      ]"...)
	}
	b = append(b, ",\n      \"backoff_s\": "...)
	if b, err = appendJSONFloat(b, d.BackoffS); err != nil {
		return b, err
	}
	b = append(b, ",\n      \"done\": "...)
	b = strconv.AppendBool(b, d.Done)
	if len(d.Leftovers) > 0 { // omitempty
		b = append(b, ",\n      \"leftovers\": ["...)
		for i, pid := range d.Leftovers {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n        "...)
			b = strconv.AppendInt(b, int64(pid), 10)
		}
		b = append(b, "\n      ]"...)
	}
	if s := d.Singleton; s != nil { // omitempty
		b = append(b, ",\n      \"singleton\": {\n        \"owner\": "...)
		b = appendJSONString(b, s.Owner)
		b = append(b, ",\n        \"fence\": "...)
		b = strconv.AppendInt(b, s.Fence, 10)
		b = append(b, "\n      }"...)
	}
	return append(b, "\n    }"...), nil
}

// appendJSONFloat appends f as encoding/json writes a float64: like %g,
// but with exponents only below 1e-6 and from 1e21 on, not padded to two
// digits.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if f == 0 && !math.Signbit(f) { // backoff_s of all but a restarting daemon
		return append(b, '0'), nil
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, fmt.Errorf("cannot encode %v as JSON", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendJSONString appends s quoted as encoding/json quotes a string: <, >
// and & escaped for HTML, invalid UTF-8 replaced by U+FFFD, U+2028 and
// U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
