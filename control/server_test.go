package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/supervisor"
)

func TestOperations(t *testing.T) {
	n := startNode(t, node, Options{})
	ctx := t.Context()
	n.waitState(t, "worker", supervisor.Running)
	n.waitState(t, "broken", supervisor.ImportFailed)

	st, err := n.client.Status(ctx, "worker")
	if err != nil || len(st.Daemons) != 1 || st.Daemons["worker"].DependsOn[0] != "router" {
		t.Fatalf("Status(worker) = %+v, %v; want worker only", st, err)
	}
	if st.PID != os.Getpid() || st.Config != n.cfg.Path {
		t.Errorf("Status() pid, config = %d, %q; want %d, %q", st.PID, st.Config, os.Getpid(), n.cfg.Path)
	}
	if _, err := n.client.Status(ctx, "worker", "nope"); remoteError(err) != `unknown daemon "nope"` {
		t.Errorf("Status(nope) = %v, want unknown daemon", err)
	}

	// stop router: worker, its dependent, stops too, and both stay down.
	if err := n.client.Stop(ctx, "router"); err != nil {
		t.Fatalf("Stop(router) = %v", err)
	}
	n.waitState(t, "worker", supervisor.Stopped)
	n.waitState(t, "router", supervisor.Stopped)

	// start worker: router, its dependency, starts first.
	if err := n.client.Start(ctx, "worker"); err != nil {
		t.Fatalf("Start(worker) = %v", err)
	}
	router := n.waitState(t, "router", supervisor.Running).PID
	worker := n.waitState(t, "worker", supervisor.Running).PID

	// restart router: both come back with new pids.
	if err := n.client.Restart(ctx, false, "router"); err != nil {
		t.Fatalf("Restart(router) = %v", err)
	}
	eventually(t, 10*time.Second, "new pids for router and worker", func() bool {
		p := n.pids(t)
		return p["router"] != 0 && p["router"] != router && p["worker"] != 0 && p["worker"] != worker
	})

	// import_failed needs --force.
	err = n.client.Restart(ctx, false, "broken")
	if msg := remoteError(err); !strings.Contains(msg, "--force") {
		t.Errorf("Restart(broken) = %v, want a refusal naming --force", err)
	}
	if err := n.client.Start(ctx, "broken"); !strings.Contains(remoteError(err), "--force") {
		t.Errorf("Start(broken) = %v, want a refusal naming --force", err)
	}
	if err := n.client.Restart(ctx, true, "broken"); err != nil {
		t.Errorf("Restart(force, broken) = %v", err)
	}
	for _, cmd := range []string{CmdStart, CmdStop, CmdRestart} {
		if _, err := n.client.do(ctx, Request{V: Version, Cmd: cmd}); remoteError(err) != cmd+" needs at least one daemon name" {
			t.Errorf("%s without names = %v", cmd, err)
		}
	}
	if pid, err := n.client.Ping(ctx); pid != os.Getpid() || err != nil {
		t.Errorf("Ping() = %d, %v; want %d", pid, err, os.Getpid())
	}
}

// idleSupervisor returns a supervisor that is never run: enough for a
// server that is only pinged.
func idleSupervisor(t *testing.T) *supervisor.Supervisor {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "ringsup.toml"), []byte("[daemons.a]\ncommand = [\"true\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	sup, err := supervisor.New(supervisor.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return sup
}

func listenIdle(t *testing.T, path string) (*Server, error) {
	t.Helper()
	srv, err := Listen(Options{Path: path, Supervisor: idleSupervisor(t)})
	if err == nil {
		t.Cleanup(func() { srv.Close() })
	}
	return srv, err
}

func TestListenRefusesSecondSupervisor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ringsup.sock")
	if _, err := listenIdle(t, path); err != nil {
		t.Fatal(err)
	}
	_, err := listenIdle(t, path)
	var running *AlreadyRunningError
	if !errors.As(err, &running) || running.PID != os.Getpid() {
		t.Fatalf("second Listen = %v, want AlreadyRunningError with pid %d", err, os.Getpid())
	}
	if !strings.Contains(err.Error(), "already running, pid") {
		t.Errorf("error = %q, want it to say already running", err)
	}
	// The first one still answers.
	if _, err := (&Client{Path: path}).Ping(t.Context()); err != nil {
		t.Errorf("Ping() after a refused second Listen = %v", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ringsup.sock")
	staleSocket(t, path)
	if _, err := (&Client{Path: path}).Ping(t.Context()); !errors.As(err, new(*NotListeningError)) {
		t.Fatalf("Ping() on a stale socket = %v, want NotListeningError", err)
	}
	if _, err := listenIdle(t, path); err != nil {
		t.Fatalf("Listen on a stale socket = %v", err)
	}
	if _, err := (&Client{Path: path}).Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v", err)
	}
}

func TestListenLeavesOtherFilesAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ringsup.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := listenIdle(t, path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a regular file = %v, want an error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Errorf("the file was changed to %q", b)
	}
}

func TestListenPathTooLong(t *testing.T) {
	path := filepath.Join(t.TempDir(), strings.Repeat("x", 120), "ringsup.sock")
	_, err := listenIdle(t, path)
	if !errors.As(err, new(*PathTooLongError)) || !strings.Contains(err.Error(), "longer than the 107") {
		t.Fatalf("Listen(%d bytes) = %v, want PathTooLongError", len(path), err)
	}
	if _, err := (&Client{Path: path}).Ping(t.Context()); !errors.As(err, new(*PathTooLongError)) {
		t.Errorf("Ping(%d bytes) = %v, want PathTooLongError", len(path), err)
	}
}

func TestSocketModesAndRemoval(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "ringsup")
	path := filepath.Join(dir, "ringsup.sock")
	srv, err := listenIdle(t, path)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{
		path:              os.ModeSocket | 0o600,
		dir:               os.ModeDir | 0o700,
		filepath.Dir(dir): os.ModeDir | 0o700,
	} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
			t.Errorf("mode of %s = %v, %v; want %v", p, fi.Mode(), err, want)
		}
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
	if _, err := (&Client{Path: path}).Ping(t.Context()); !errors.As(err, new(*NotListeningError)) {
		t.Errorf("Ping() after Close = %v, want NotListeningError", err)
	}
}

// rawExchange sends data on a new connection and returns everything the
// server sends back until it closes the connection. The write may fail
// when the server closes first; that is not an error here.
func rawExchange(t *testing.T, path string, data []byte) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go c.Write(data)
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reading the answer to %.40q: %v", data, err)
	}
	return string(b)
}

func TestBadRequestsChangeNothing(t *testing.T) {
	n := startNode(t, node, Options{ReadTimeout: 300 * time.Millisecond})
	n.waitState(t, "worker", supervisor.Running)
	before := n.pids(t)

	// A client that connects and never writes holds nothing up meanwhile.
	idle, err := net.Dial("unix", n.srv.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	huge := append(bytes.Repeat([]byte("x"), 2<<20), '\n')
	for _, tc := range []struct {
		name, send, want string
	}{
		{"garbage", "\x00\xff\xfe\x01garbage\n", "malformed request"},
		{"not an object", "[1,2,3]\n", "malformed request"},
		{"no version", `{"cmd":"status"}` + "\n", "unsupported protocol version 0"},
		{"future version", `{"v":2,"cmd":"status"}` + "\n", "unsupported protocol version 2"},
		{"unknown command", `{"v":1,"cmd":"dance"}` + "\n", `unknown command \"dance\"`},
		{"no newline, then silence", `{"v":1,"cmd":"sta`, "timed out waiting for a request"},
		{"2 MiB line", string(huge), "request too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rawExchange(t, n.srv.Path(), []byte(tc.send))
			// The 2 MiB writer may see the connection closed before it
			// can read the answer; a closed connection is enough.
			if !strings.Contains(got, tc.want) && !(tc.name == "2 MiB line" && got == "") {
				t.Errorf("answer = %q, want it to contain %q", got, tc.want)
			}
		})
	}
	// The idle client is answered with a timeout and closed.
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(idle)
	if err != nil || !strings.Contains(string(b), "timed out waiting for a request") {
		t.Errorf("idle client got %q, %v; want a timeout and EOF", b, err)
	}
	// A request ended by the end of the stream, not a newline, is fine.
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: n.srv.Path(), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte(`{"v":1,"cmd":"ping"}`))
	c.CloseWrite()
	if got, err := io.ReadAll(c); err != nil || !strings.Contains(string(got), `"ok":true`) {
		t.Errorf("ping ended by shutdown(SHUT_WR) = %q, %v", got, err)
	}
	if after := n.pids(t); !mapsEqual(before, after) {
		t.Errorf("pids changed: before %v, after %v", before, after)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestTooManyClients(t *testing.T) {
	n := startNode(t, node, Options{MaxClients: 2, QueueWait: 50 * time.Millisecond, ReadTimeout: 5 * time.Second})
	var idle []net.Conn
	for range 2 {
		c, err := net.Dial("unix", n.srv.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	// The kernel queues connections in order: the two idle ones hold both
	// slots before this one is accepted.
	if _, err := n.client.Status(t.Context()); !strings.Contains(remoteError(err), "too many clients (2 at once)") {
		t.Fatalf("Status() with 2 idle clients = %v, want too many clients", err)
	}
	idle[0].Close()
	eventually(t, 5*time.Second, "a slot is free again", func() bool {
		_, err := n.client.Status(t.Context())
		return err == nil
	})
}

func TestConcurrentStatusClients(t *testing.T) {
	n := startNode(t, node, Options{})
	n.waitState(t, "worker", supervisor.Running)
	const clients = 100
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range clients {
		wg.Go(func() {
			<-start
			st, err := n.client.Status(t.Context())
			if err == nil && len(st.Daemons) != 3 {
				err = errors.New("incomplete status")
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a status client got %v", err)
		}
	}
}

func TestEventsStream(t *testing.T) {
	n := startNode(t, node, Options{})
	n.waitState(t, "worker", supervisor.Running)
	// The answer comes once the server has subscribed: nothing after it is
	// missed.
	c, _, err := n.client.call(t.Context(), Request{V: Version, Cmd: CmdEvents})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if err := n.client.Stop(t.Context(), "worker"); err != nil {
		t.Fatal(err)
	}
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		rp, err := c.read()
		if err != nil {
			t.Fatalf("reading events: %v", err)
		}
		var e supervisor.Event
		if err := json.Unmarshal(rp.Event, &e); err != nil {
			t.Fatalf("event %s: %v", rp.Event, err)
		}
		if e.Type == supervisor.DaemonStopped && e.Daemon == "worker" {
			break
		}
	}
	// A shutdown ends the stream with "end".
	n.sup.Shutdown()
	for {
		rp, err := c.read()
		if err != nil {
			t.Fatalf("reading to the end of the stream: %v", err)
		}
		if rp.End != "" {
			if rp.End != "shutdown" || !rp.OK {
				t.Errorf("last line = %+v, want end shutdown", rp)
			}
			break
		}
	}
}

func TestEventsClient(t *testing.T) {
	n := startNode(t, node, Options{})
	n.waitState(t, "worker", supervisor.Running)
	got := make(chan supervisor.Event, 1024)
	ended := make(chan error, 1)
	go func() {
		ended <- n.client.Events(t.Context(), func(raw json.RawMessage) error {
			var e supervisor.Event
			err := json.Unmarshal(raw, &e)
			got <- e
			return err
		})
	}()
	// Events cannot tell us when it has subscribed: restart worker until
	// an event shows up.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case e := <-got:
			if e.Daemon == "worker" {
				break wait
			}
		case <-tick.C:
			n.client.Restart(t.Context(), false, "worker")
		case <-deadline:
			t.Fatal("no event for worker")
		}
	}
	n.sup.Shutdown()
	select {
	case err := <-ended:
		if err != nil {
			t.Errorf("Events() after shutdown = %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Events() did not return after shutdown")
	}
}

// flapping is a daemon that exits at once and restarts after 1ms, for ever:
// a flood of events.
const flapping = `
[daemons.flap]
command = ["false"]
backoff_min = "1ms"
backoff_max = "1ms"
max_restarts = 1000000000

[daemons.steady]
command = ["sleep", "1000"]
`

// TestSlowEventsClientDropped: a client that asks for events and never reads
// them is dropped, while the supervisor keeps working and answering.
func TestSlowEventsClientDropped(t *testing.T) {
	// The write timeout applies to the Status calls below too: short enough
	// to drop the stuck client soon, long enough for a loaded CI machine.
	n := startNode(t, flapping, Options{WriteTimeout: time.Second})
	steady := n.waitState(t, "steady", supervisor.Running).PID
	c, err := net.Dial("unix", n.srv.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(`{"v":1,"cmd":"events"}` + "\n"))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.Contains(line, `"ok":true`) {
		t.Fatalf("events answer = %q, %v", line, err)
	}
	// Not reading: the socket's buffer fills, then the server drops us.
	eventually(t, 60*time.Second, "the slow client is dropped", func() bool {
		start := time.Now()
		st, err := n.client.Status(t.Context())
		if err != nil {
			t.Fatalf("Status() while an events client is stuck = %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Status() took %v while an events client is stuck", d)
		}
		if st.Daemons["steady"].PID != steady {
			t.Fatalf("steady's pid changed")
		}
		return n.srv.clients() == 0
	})
	// What was sent before is there to read, then the end.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	events := 0
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the rest of the stream: %v", err)
		}
		var rp reply
		if err := json.Unmarshal([]byte(line), &rp); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if len(rp.Event) == 0 && !strings.Contains(rp.Error, "fell behind") {
			t.Errorf("unexpected line %q", line)
		}
		events++
	}
	if events == 0 {
		t.Errorf("no event was sent before the drop")
	}
	t.Logf("%d lines sent before the client was dropped", events)
}

// TestSocketAppearsReady: a client that sees the socket file can connect
// at once, and the file is never open to others: it is bound, restricted
// and listening before it has its name (a client polling for the file
// while the supervisor starts would otherwise meet a refused connection
// or the umask's mode). Run many times, with a watcher polling the path
// while Listen creates it.
func TestSocketAppearsReady(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ringsup.sock")
	for i := range 300 {
		seen := make(chan error, 1)
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					seen <- nil
					return
				default:
				}
				fi, err := os.Lstat(path)
				if err != nil {
					continue
				}
				if fi.Mode() != os.ModeSocket|0o600 {
					seen <- fmt.Errorf("the socket appeared with mode %v", fi.Mode())
					return
				}
				c, err := net.Dial("unix", path)
				if err != nil {
					seen <- fmt.Errorf("the socket appeared refusing connections: %w", err)
					return
				}
				c.Close()
				seen <- nil
				return
			}
		}()
		srv, err := listenIdle(t, path)
		if err != nil {
			close(stop)
			t.Fatal(err)
		}
		if err := <-seen; err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		close(stop)
		srv.Close()
		if names, _ := os.ReadDir(dir); len(names) != 1 { // the lock
			t.Fatalf("round %d: %d files left in the socket's directory, want the lock only", i, len(names))
		}
	}
}
