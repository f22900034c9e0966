package guard

import (
	"io"
	"testing"
	"time"

	"github.com/ringrift/ringsup/internal/boottime"
)

// TestRun: the guard kills at the last deadline it was given, at once
// when its input ends without a release, and not at all once released.
func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines func(now time.Duration) []string
		end   bool // close the input after the lines
		kills bool
		// before: the kill must not come before this long after start.
		before time.Duration
	}{
		{"extended, then past", func(now time.Duration) []string {
			return []string{Line(now + time.Hour), Line(now + 50*time.Millisecond)}
		}, false, true, 50 * time.Millisecond},
		{"released", func(now time.Duration) []string { return []string{Line(now + time.Hour), Release} }, false, false, 0},
		{"supervisor gone", func(now time.Duration) []string { return []string{Line(now + time.Hour)} }, true, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			killed := make(chan struct{})
			start := boottime.Now()
			pr, pw := io.Pipe()
			go func() {
				for _, l := range tc.lines(start) {
					pw.Write([]byte(l))
				}
				if tc.end {
					pw.Close()
				}
			}()
			done := make(chan int)
			go func() { done <- run(pr, func() { close(killed) }) }()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("exit %d", code)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the guard neither killed nor exited")
			}
			select {
			case <-killed:
				if !tc.kills {
					t.Error("killed, want released")
				}
				if boottime.Now() < start+tc.before {
					t.Error("killed before the deadline")
				}
			default:
				if tc.kills {
					t.Error("not killed")
				}
			}
			pw.Close()
		})
	}
}
