// Package etcdtest runs real etcd members for tests: one or three `etcd`
// processes on 127.0.0.1, on free ports, with their data in a temporary
// directory, and lets a test kill, stop and continue any of them.
//
// The etcd binary is found in PATH (Debian's etcd-server package). When it
// is missing, Start skips the test with the reason, or fails it when the
// environment sets RINGSUP_REQUIRE_ETCD=1, as CI does.
package etcdtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Cluster is a running etcd cluster of one or more members.
type Cluster struct {
	t       testing.TB
	Members []*Member
}

// spawnRequest asks the cluster's spawner thread to start a process.
type spawnRequest struct {
	argv  []string
	attr  *os.ProcAttr
	reply chan spawnReply
}

type spawnReply struct {
	p   *os.Process
	err error
}

// spawner starts the members' processes from one thread, locked and kept
// until the cluster's end: a member gets SIGKILL (PR_SET_PDEATHSIG) when
// the thread that started it exits, and the Go runtime ends a thread
// when a goroutine locked to it returns; any thread could have become
// such a goroutine's, such as a supervisor's spawner in an in-process
// test.
func spawner(requests <-chan spawnRequest) {
	runtime.LockOSThread()
	for r := range requests {
		p, err := os.StartProcess(r.argv[0], r.argv, r.attr)
		r.reply <- spawnReply{p, err}
	}
}

// Member is one etcd process of a Cluster.
type Member struct {
	t testing.TB
	// Name is the member's name: m0, m1, ...
	Name string
	// Endpoint is the member's client address, "127.0.0.1:PORT".
	Endpoint string
	args     []string
	logFile  string
	spawn    chan<- spawnRequest

	mu   sync.Mutex
	proc *os.Process
	done chan struct{} // closed when proc has exited
}

// Binary returns the path of etcd, or skips t (fails it under
// RINGSUP_REQUIRE_ETCD=1) when there is none.
func Binary(t testing.TB) string {
	t.Helper()
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, "etcd")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	const why = "no etcd in PATH (install Debian's etcd-server)"
	if os.Getenv("RINGSUP_REQUIRE_ETCD") == "1" {
		t.Fatal(why + ", and RINGSUP_REQUIRE_ETCD=1")
	}
	t.Skip(why)
	return ""
}

// Options tune the members of a cluster.
type Options struct {
	// Heartbeat and ElectionTimeout are the members' raft timings
	// (--heartbeat-interval, --election-timeout). Defaults: 200ms and 2s,
	// twice etcd's own, so that a loaded test machine does not miss
	// heartbeats into spurious elections; a test that measures failover
	// times through an election sets etcd's defaults, 100ms and 1s.
	Heartbeat, ElectionTimeout time.Duration
	// PreVote runs raft's pre-vote phase (--pre-vote, the default from
	// etcd 3.5 on): a member that rejoins does not depose the leader.
	PreVote bool
}

// Start starts an n-member cluster with the default Options and waits
// until every member is healthy. The members are killed when the test
// ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	return StartWith(t, n, Options{})
}

// StartWith is Start with opts.
func StartWith(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 200 * time.Millisecond
	}
	if opts.ElectionTimeout <= 0 {
		opts.ElectionTimeout = 2 * time.Second
	}
	bin := Binary(t)
	dir := t.TempDir()
	c := &Cluster{t: t}
	spawn := make(chan spawnRequest)
	go spawner(spawn)
	var initial []string
	type ports struct{ client, peer int }
	ps := make([]ports, n)
	for i := range ps {
		ps[i] = ports{freePort(t), freePort(t)}
		initial = append(initial, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, ps[i].peer))
	}
	for i, p := range ps {
		name := fmt.Sprintf("m%d", i)
		client := fmt.Sprintf("http://127.0.0.1:%d", p.client)
		peer := fmt.Sprintf("http://127.0.0.1:%d", p.peer)
		m := &Member{
			t:        t,
			spawn:    spawn,
			Name:     name,
			Endpoint: fmt.Sprintf("127.0.0.1:%d", p.client),
			logFile:  filepath.Join(dir, name+".log"),
			args: []string{bin,
				"--name", name,
				"--data-dir", filepath.Join(dir, name),
				"--listen-client-urls", client, "--advertise-client-urls", client,
				"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
				"--initial-cluster", strings.Join(initial, ","),
				"--initial-cluster-state", "new",
				"--initial-cluster-token", "etcdtest",
				"--heartbeat-interval", fmt.Sprint(opts.Heartbeat.Milliseconds()),
				"--election-timeout", fmt.Sprint(opts.ElectionTimeout.Milliseconds()),
				fmt.Sprintf("--pre-vote=%t", opts.PreVote),
			},
		}
		c.Members = append(c.Members, m)
	}
	t.Cleanup(func() {
		for _, m := range c.Members {
			m.Cont()
			m.Kill()
		}
		close(spawn)
	})
	for _, m := range c.Members {
		m.Restart()
	}
	c.WaitHealthy(60 * time.Second)
	return c
}

// freePort returns a TCP port of 127.0.0.1 that nothing listened on a
// moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Endpoints returns every member's client address.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.Members))
	for i, m := range c.Members {
		eps[i] = m.Endpoint
	}
	return eps
}

// WaitHealthy waits until every running member reports itself healthy
// (it has a leader), for at most timeout.
func (c *Cluster) WaitHealthy(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for _, m := range c.Members {
		if !m.Running() {
			continue
		}
		for !m.Healthy() {
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(m.logFile)
				c.t.Fatalf("etcd member %s is not healthy after %v; its log ends:\n%s", m.Name, timeout, tail(log, 3000))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Healthy reports whether the member answers /health with true.
func (m *Member) Healthy() bool {
	cl := http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Get("http://" + m.Endpoint + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var buf [256]byte
	n, _ := resp.Body.Read(buf[:])
	return resp.StatusCode == 200 && strings.Contains(string(buf[:n]), `"health":"true"`)
}

// Leader returns the member that leads the cluster, asking the running
// members until one knows, for at most 30 seconds.
func (c *Cluster) Leader() *Member {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.Members {
			if !m.Running() {
				continue
			}
			id, leader, ok := m.status()
			if ok && leader != 0 {
				if id == leader {
					return m
				}
				for _, o := range c.Members {
					if oid, _, ok := o.status(); ok && oid == leader {
						return o
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("no etcd member knows a leader after 30s")
	return nil
}

// status returns the member's id and the id of the leader it knows.
func (m *Member) status() (id, leader uint64, ok bool) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.Endpoint}, Logger: zap.NewNop()})
	if err != nil {
		return 0, 0, false
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := cli.Status(ctx, m.Endpoint)
	if err != nil {
		return 0, 0, false
	}
	return st.Header.MemberId, st.Leader, true
}

// Restart starts the member's process again (or the first time) with
// the same data; it does not wait for it to be healthy.
func (m *Member) Restart() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc != nil {
		select {
		case <-m.done:
		default:
			m.t.Fatalf("etcd member %s is already running", m.Name)
		}
	}
	log, err := os.OpenFile(m.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		m.t.Fatal(err)
	}
	defer log.Close()
	reply := make(chan spawnReply)
	m.spawn <- spawnRequest{argv: m.args, attr: &os.ProcAttr{
		Files: []*os.File{nil, log, log},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}, reply: reply}
	r := <-reply
	p, err := r.p, r.err
	if err != nil {
		m.t.Fatalf("cannot start etcd member %s: %v", m.Name, err)
	}
	done := make(chan struct{})
	m.proc, m.done = p, done
	// The test's own reaper may collect the exit first; Wait then fails,
	// and the process is gone all the same.
	go func() {
		_, _ = p.Wait()
		close(done)
	}()
}

// Running reports whether the member's process is up (stopped counts).
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// PID returns the member's process id, or 0 when it is not running.
func (m *Member) PID() int {
	if !m.Running() {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc.Pid
}

// Kill sends SIGKILL to the member and waits until it is gone.
func (m *Member) Kill() {
	m.signal(syscall.SIGKILL)
	m.mu.Lock()
	done := m.done
	m.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Stop freezes the member with SIGSTOP: its connections stay open and
// nothing answers on them.
func (m *Member) Stop() { m.signal(syscall.SIGSTOP) }

// Cont thaws a member frozen by Stop.
func (m *Member) Cont() { m.signal(syscall.SIGCONT) }

func (m *Member) signal(sig syscall.Signal) {
	if pid := m.PID(); pid != 0 {
		_ = syscall.Kill(pid, sig)
	}
}

// MoveLeader makes to the cluster's leader, if it is not already, with
// etcd's leadership transfer, and waits until the members agree.
func (c *Cluster) MoveLeader(to *Member) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		leader := c.Leader()
		if leader == to {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("etcd member %s did not take the lead from %s within 30s", to.Name, leader.Name)
		}
		if id, _, ok := to.status(); ok {
			leader.moveLeader(id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// moveLeader asks the member, the leader, to hand the lead to member id.
func (m *Member) moveLeader(id uint64) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.Endpoint}, Logger: zap.NewNop()})
	if err != nil {
		return
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = cli.MoveLeader(ctx, id) // checked by the caller's next look at the leader
}
