package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ringrift/ringsup/internal/tcpproxy"
	"github.com/ringrift/ringsup/procexec"
)

// member is one etcd process. Its peers reach it through its front, the
// peer URL it advertises: the front finds which member dialed (owner_linux.go)
// and hands the connection to the pausable proxy of that pair, which
// forwards it to the member's real peer port. A TCP connection between
// two members carries messages both ways, so cutting member a from b
// takes pausing pair a→b (connections a dialed to b) and pair b→a.
type member struct {
	name   string
	client string // real client address, 127.0.0.1:PORT
	peer   string // real peer address
	front  net.Listener
	args   []string
	log    *os.File

	mu   sync.Mutex
	proc *proc
}

// etcdCluster is three members and the proxies between them.
type etcdCluster struct {
	procs   *procs
	members []*member
	pairs   map[[2]int]*tcpproxy.Proxy // [from, to]
	// strays counts the peer connections whose dialer the fronts could
	// not tell; they are closed (the dialer retries).
	strays atomic.Int64
}

// freeAddr returns a 127.0.0.1 address that nothing listened on a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startEtcd(ps *procs, dir string, n int) (*etcdCluster, error) {
	c := &etcdCluster{procs: ps, pairs: make(map[[2]int]*tcpproxy.Proxy)}
	var initial []string
	for i := range n {
		m := &member{name: fmt.Sprintf("m%d", i)}
		var err error
		if m.client, err = freeAddr(); err != nil {
			return c, err
		}
		if m.peer, err = freeAddr(); err != nil {
			return c, err
		}
		if m.front, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return c, err
		}
		c.members = append(c.members, m)
		initial = append(initial, fmt.Sprintf("%s=http://%s", m.name, m.front.Addr()))
	}
	for i, m := range c.members {
		for j, to := range c.members {
			if i == j {
				continue
			}
			p, err := tcpproxy.Listen("127.0.0.1:0", to.peer)
			if err != nil {
				return c, err
			}
			c.pairs[[2]int{i, j}] = p
		}
		go c.serveFront(i)
		log, err := os.OpenFile(filepath.Join(dir, m.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return c, err
		}
		m.log = log
		m.args = []string{"etcd",
			"--name", m.name,
			"--data-dir", filepath.Join(dir, m.name),
			"--listen-client-urls", "http://" + m.client, "--advertise-client-urls", "http://" + m.client,
			"--listen-peer-urls", "http://" + m.peer, "--initial-advertise-peer-urls", "http://" + m.front.Addr().String(),
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new", "--initial-cluster-token", "chaos",
			// As internal/etcdtest: a loaded machine misses heartbeats.
			"--heartbeat-interval", "200", "--election-timeout", "2000",
		}
		if err := c.start(i); err != nil {
			return c, err
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, m := range c.members {
		for !m.healthy() {
			if time.Now().After(deadline) {
				return c, fmt.Errorf("etcd member %s is not healthy after 60s (see %s)", m.name, m.log.Name())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c, nil
}

// start starts member i's process (again), with the same data.
func (c *etcdCluster) start(i int) error {
	m := c.members[i]
	p, err := c.procs.start(procexec.Spec{Argv: m.args, Output: m.log})
	if err != nil {
		return fmt.Errorf("cannot start etcd member %s: %w", m.name, err)
	}
	m.mu.Lock()
	m.proc = p
	m.mu.Unlock()
	return nil
}

func (m *member) current() *proc {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

// kill SIGKILLs member i's process and waits for its exit.
func (c *etcdCluster) kill(i int) {
	if p := c.members[i].current(); p != nil && p.Signal(syscall.SIGKILL) {
		<-p.Exited()
	}
}

func (c *etcdCluster) signal(i int, sig syscall.Signal) {
	if p := c.members[i].current(); p != nil {
		p.Signal(sig)
	}
}

// healthy reports whether the member answers /health with true.
func (m *member) healthy() bool {
	cl := http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Get("http://" + m.client + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	return resp.StatusCode == 200 && strings.Contains(string(b), `"health":"true"`)
}

// serveFront accepts the peer connections to member to and relays each
// through the proxy of its pair.
func (c *etcdCluster) serveFront(to int) {
	for {
		conn, err := c.members[to].front.Accept()
		if err != nil {
			return
		}
		go c.relay(conn, to)
	}
}

func (c *etcdCluster) relay(conn net.Conn, to int) {
	pids := make(map[int]int)
	for i, m := range c.members {
		if p := m.current(); i != to && p != nil {
			pids[i] = p.PID
		}
	}
	from, ok := connOwner(conn, pids)
	if !ok {
		c.strays.Add(1)
		conn.Close()
		return
	}
	out, err := net.Dial("tcp", c.pairs[[2]int{from, to}].Addr())
	if err != nil {
		conn.Close()
		return
	}
	splice(conn, out)
}

// splice copies a to b and b to a until either ends, then closes both.
func splice(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
	<-done
}

// partition pauses (or, with heal, resumes) the traffic between members a
// and b, both ways.
func (c *etcdCluster) partition(a, b int, heal bool) {
	for _, p := range []*tcpproxy.Proxy{c.pairs[[2]int{a, b}], c.pairs[[2]int{b, a}]} {
		if heal {
			p.Resume()
		} else {
			p.Pause()
		}
	}
}

// stop ends every member and proxy.
func (c *etcdCluster) stop() {
	for _, p := range c.pairs {
		p.Resume()
	}
	for i, m := range c.members {
		c.signal(i, syscall.SIGCONT)
		c.kill(i)
		m.front.Close()
		if m.log != nil {
			m.log.Close()
		}
	}
	for _, p := range c.pairs {
		p.Close()
	}
}
