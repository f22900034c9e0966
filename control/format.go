package control

import (
	"fmt"
	"time"
)

// FormatUptime writes d with its two largest units, in at most 6
// characters: 42s, 5m03s, 2h07m, 3d04h. `ctl status` and `ctl top` show
// uptimes so.
func FormatUptime(d time.Duration) string {
	s := int64(max(0, d/time.Second))
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	}
}
