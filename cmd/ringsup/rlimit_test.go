package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestRefusedRlimitIsReported: a resource limit the kernel refuses used to
// show as a crash loop of exit 126; the daemon is now import_failed with
// the limit and the reason in its error, its event and the status table.
func TestRefusedRlimitIsReported(t *testing.T) {
	quickRaceExit(t)
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		t.Fatal(err)
	}
	nrOpen, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	// Above fs.nr_open: refused whatever the capabilities.
	over := nrOpen + 1
	dir, r := runNode(t, fmt.Sprintf(`
[daemons.big]
command = ["sleep", "1000"]
rlimits = { nofile = %d }
`, over))
	want := fmt.Sprintf("cannot set rlimit nofile=%d: operation not permitted", over)
	st := waitCtlState(t, dir, "big", "import_failed")
	if got, _ := daemonField(st, "big", "last_error").(string); !strings.HasSuffix(got, want) {
		t.Errorf("last_error = %q, want it to end with %q", got, want)
	}
	if table := ctlOK(t, dir, "status"); !strings.Contains(table, want) {
		t.Errorf("status table does not say %q:\n%s", want, table)
	}
	if out := r.output.String(); !strings.Contains(out, "event=DAEMON_IMPORT_FAILED daemon=big") || !strings.Contains(out, want) {
		t.Errorf("log has no DAEMON_IMPORT_FAILED saying %q:\n%s", want, out)
	}
}
