package guard

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ringrift/ringsup/internal/boottime"
)

// TestRun: the guard kills at the last deadline it was given, also after
// its input ends, and not at all once released.
func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines func(now time.Duration) string
		kills bool
	}{
		{"extended, then past", func(now time.Duration) string {
			return Line(now+time.Hour) + Line(now+50*time.Millisecond)
		}, true},
		{"released", func(now time.Duration) string { return Line(now+50*time.Millisecond) + Release }, false},
		{"never armed", func(time.Duration) string { return "" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			killed := false
			start := boottime.Now()
			in := io.Reader(strings.NewReader(tc.lines(start)))
			if tc.name == "released" {
				// The release must come before the deadline: read it
				// only once the deadline line is in.
				pr, pw := io.Pipe()
				go func() {
					pw.Write([]byte(Line(start + time.Hour)))
					pw.Write([]byte(Release))
					pw.Close()
				}()
				in = pr
			}
			if code := run(in, 12345, func() { killed = true }); code != 0 {
				t.Errorf("exit %d", code)
			}
			if killed != tc.kills {
				t.Errorf("killed = %v, want %v", killed, tc.kills)
			}
			if killed && boottime.Now() < start+50*time.Millisecond {
				t.Error("killed before the deadline")
			}
		})
	}
}
