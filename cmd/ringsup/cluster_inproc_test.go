package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/internal/etcdtest"
)

// runInProcess runs ringsup with cfg in the test's own process until the
// returned stop is called; stop waits for run to return and gives its
// error.
func runInProcess(t *testing.T, cfg string) (dir string, stop func() error) {
	return runInProcessLog(t, cfg, io.Discard)
}

func runInProcessLog(t *testing.T, cfg string, log io.Writer) (dir string, stop func() error) {
	t.Helper()
	dir = t.TempDir()
	path := filepath.Join(dir, "ringsup.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"ringsup", "--config", path}, io.Discard, log) }()
	client := &control.Client{Path: filepath.Join(dir, "ringsup.sock")}
	eventually(t, 30*time.Second, "the in-process ringsup runs its daemon", func() bool {
		select {
		case err := <-errc:
			t.Fatalf("ringsup returned: %v", err)
		default:
		}
		st, err := client.Status(context.Background())
		return err == nil && st.Daemons["web"].State.String() == "running"
	})
	return dir, func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("the in-process ringsup did not return 30s after its context ended")
			return nil
		}
	}
}

// clusterGoroutines returns the first line of each goroutine's stack
// that runs code of the cluster package, the etcd client or gRPC.
func clusterGoroutines() []string {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	var found []string
	for _, g := range strings.Split(b.String(), "\n\n") {
		for _, pkg := range []string{"ringsup/cluster.", "go.etcd.io/", "google.golang.org/grpc"} {
			if strings.Contains(g, pkg) {
				found = append(found, strings.SplitN(g, "\n", 3)[1])
				break
			}
		}
	}
	return found
}

// tcpSockets returns the inodes of the TCP sockets the process has open.
// It reads the descriptor table of its own thread: /proc/self is the main
// thread's, and a supervisor's spawner thread (the main thread, if it
// was the one locked) has a table of its own.
func tcpSockets(t *testing.T) []string {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	inodes := make(map[string]bool)
	for _, f := range []string{"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) > 9 && fields[0] != "sl" {
				inodes[fields[9]] = true
			}
		}
		fh.Close()
	}
	fds, _ := os.ReadDir("/proc/thread-self/fd")
	var out []string
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/thread-self/fd", fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok && inodes[strings.TrimSuffix(inode, "]")] {
			out = append(out, inode)
		}
	}
	return out
}

const webOnly = `
[daemons.web]
command = ["sleep", "1000"]
`

// TestNoClusterNoEtcd: test 1. Without [cluster], ringsup runs no code of
// the cluster package or of the etcd client and opens no TCP socket.
// With it, the same checks see both, so they can fail.
func TestNoClusterNoEtcd(t *testing.T) {
	// The etcd clients of earlier tests may take a moment to wind down.
	eventually(t, 10*time.Second, "no cluster goroutine before the test", func() bool {
		return len(clusterGoroutines()) == 0
	})
	before := tcpSockets(t)
	// newSockets counts the TCP sockets opened since the test began.
	newSockets := func() int {
		n := 0
		for _, s := range tcpSockets(t) {
			if !slices.Contains(before, s) {
				n++
			}
		}
		return n
	}
	_, stop := runInProcess(t, "[supervisor]\nlog_dir = \"logs\"\n"+webOnly)
	if g := clusterGoroutines(); len(g) > 0 {
		t.Errorf("without [cluster], goroutines of the cluster or etcd client run: %v", g)
	}
	if n := newSockets(); n != 0 {
		t.Errorf("without [cluster], ringsup opened %d TCP sockets", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	t.Run("with [cluster]", func(t *testing.T) {
		etcd := etcdtest.Start(t, 1)
		log := &syncBuffer{}
		_, stop := runInProcessLog(t, nodeConfig(etcd.Endpoints(), "n1", "", webOnly), log)
		defer func() {
			if t.Failed() {
				t.Log(log)
			}
		}()
		if g := clusterGoroutines(); len(g) == 0 {
			t.Error("with [cluster], no goroutine of the cluster package: the check above cannot fail")
		}
		// The cluster's connections are made as it needs them: wait.
		deadline := time.Now().Add(10 * time.Second)
		for newSockets() == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if newSockets() == 0 {
			t.Error("with [cluster], no TCP socket: the check above cannot fail")
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestClusterShutdownLeavesNothing: test 10. A graceful shutdown ends
// every goroutine of the cluster package, the etcd client and gRPC, and
// leaves no key under the prefix but the node's lease-less member record.
func TestClusterShutdownLeavesNothing(t *testing.T) {
	etcd := etcdtest.Start(t, 3)
	_, stop := runInProcess(t, nodeConfig(etcd.Endpoints(), "n1", "", webOnly))
	cli := etcdClient(t, etcd.Endpoints())
	eventually(t, 10*time.Second, "n1's keys in etcd", func() bool {
		return len(keysUnder(t, cli, testPrefix+"/status/n1/")) == 1
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if keys := keysUnder(t, cli, testPrefix); len(keys) != 1 || keys[0] != testPrefix+"/members/n1" {
		t.Errorf("keys after shutdown = %v, want only %s/members/n1", keys, testPrefix)
	}
	cli.Close()
	var left []string
	deadline := time.Now().Add(10 * time.Second)
	for left = clusterGoroutines(); len(left) > 0 && time.Now().Before(deadline); left = clusterGoroutines() {
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("goroutines left after shutdown: %v", left)
	}
}
