package control

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/supervisor"
)

// The tests run a real supervisor with real processes, in this process. Its
// reaper collects every child of the process, so tests that run one do not
// run in parallel and start no other process.

// node is the config most tests run: two real daemons, one depending on
// the other, and one whose command does not exist.
const node = `
[supervisor]
log_dir = "logs"
stop_timeout = "2s"

[daemons.router]
command = ["sleep", "1000"]

[daemons.worker]
command = ["sleep", "1000"]
depends_on = ["router"]

[daemons.broken]
command = ["./no-such-program"]
`

// testNode is a running supervisor with its control server.
type testNode struct {
	dir    string
	cfg    *config.Config
	sup    *supervisor.Supervisor
	srv    *Server
	client *Client
	log    *logBuffer
}

// startNode writes src as dir/ringsup.toml, runs its supervisor and serves
// its socket with opts (Path, Supervisor, LogDir and Logger are filled in).
// The supervisor and server stop when the test ends.
func startNode(t testing.TB, src string, opts Options) *testNode {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "ringsup.toml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	sup, err := supervisor.New(supervisor.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{dir: dir, cfg: cfg, sup: sup, log: &logBuffer{}}
	opts.Path = cfg.Supervisor.Socket
	opts.Supervisor = sup
	opts.LogDir = cfg.Supervisor.LogDir
	opts.Logger = hclog.New(&hclog.LoggerOptions{Output: n.log, Level: hclog.Debug})
	if n.srv, err = Listen(opts); err != nil {
		t.Fatal(err)
	}
	n.client = &Client{Path: opts.Path}
	ran := make(chan error, 1)
	go func() { ran <- sup.Run(context.Background()) }()
	t.Cleanup(func() {
		sup.Kill()
		select {
		case err := <-ran:
			if err := killedAsAsked(err); err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("the supervisor did not stop")
		}
		n.srv.Close()
	})
	return n
}

// waitState polls the status until daemon name is in state want.
func (n *testNode) waitState(t testing.TB, name string, want supervisor.State) supervisor.DaemonStatus {
	t.Helper()
	var d supervisor.DaemonStatus
	eventually(t, 10*time.Second, name+" "+want.String(), func() bool {
		st, err := n.client.Status(t.Context(), name)
		if err != nil {
			t.Fatalf("Status(%s) = %v", name, err)
		}
		d = st.Daemons[name]
		return d.State == want
	})
	return d
}

// pids returns the pid of every daemon.
func (n *testNode) pids(t testing.TB) map[string]int {
	t.Helper()
	st, err := n.client.Status(t.Context())
	if err != nil {
		t.Fatalf("Status() = %v", err)
	}
	out := map[string]int{}
	for name, d := range st.Daemons {
		out[name] = d.PID
	}
	return out
}

// eventually polls cond every 10ms until it holds, or fails the test after
// timeout.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// remoteError returns the message of err if it is a *RemoteError.
func remoteError(err error) string {
	var re *RemoteError
	if errors.As(err, &re) {
		return re.Msg
	}
	return ""
}

// logBuffer collects a logger's output; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// killedAsAsked returns err, unless it is the unclean shutdown that Kill,
// which the tests use to end quickly, makes by design.
func killedAsAsked(err error) error {
	var unclean *supervisor.UncleanShutdownError
	if errors.As(err, &unclean) && unclean.KilledAll && len(unclean.Killed) == 0 && unclean.Left == 0 {
		return nil
	}
	return err
}
