package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ringrift/ringsup/internal/tcpproxy"
	"github.com/ringrift/ringsup/procexec"
)

// node is one ringsup, started again a second after each exit until the
// run stops. It reaches each etcd member through a pausable proxy of its
// own, so its traffic can be frozen to all members or some.
type node struct {
	name    string
	dir     string
	proxies []*tcpproxy.Proxy // one per member, in member order
	starts  atomic.Int64      // ringsup processes started

	mu   sync.Mutex
	proc *proc
	quit bool
	done chan struct{} // closed when the loop has ended
}

// nodeConfig is a node's ringsup.toml: the singleton "trainer" is this
// program in tick mode, appending to ticks.
const nodeConfig = `[supervisor]
log_dir = "logs"
socket = %q

[cluster]
endpoints = [%s]
node = %q
prefix = "/chaos"
ttl = "4s"

[daemons.trainer]
command = [%q, "-tick", %q]
placement = "singleton"
stop_timeout = "1s"
backoff_min = "100ms"
`

func startNode(ps *procs, ringsup, dir, name string, members []*member, ticks string) (*node, error) {
	n := &node{name: name, dir: filepath.Join(dir, name), done: make(chan struct{})}
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return nil, err
	}
	var endpoints []string
	for _, m := range members {
		p, err := tcpproxy.Listen("127.0.0.1:0", m.client)
		if err != nil {
			return nil, err
		}
		n.proxies = append(n.proxies, p)
		endpoints = append(endpoints, strconv.Quote(p.Addr()))
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(nodeConfig, filepath.Join(n.dir, "ringsup.sock"), strings.Join(endpoints, ", "), name, self, ticks)
	if err := os.WriteFile(filepath.Join(n.dir, "ringsup.toml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	out, err := os.OpenFile(filepath.Join(n.dir, "out.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	go n.loop(ps, ringsup, out)
	return n, nil
}

// loop runs ringsup until stop. A node killed a moment ago is still
// registered until its lease expires, and ringsup refuses to start until
// then: the loop tries again every second.
func (n *node) loop(ps *procs, ringsup string, out *os.File) {
	defer close(n.done)
	defer out.Close()
	for {
		n.mu.Lock()
		if n.quit {
			n.mu.Unlock()
			return
		}
		p, err := ps.start(procexec.Spec{
			Argv:   []string{ringsup, "--config", "ringsup.toml"},
			Dir:    n.dir,
			Output: out,
		})
		n.proc = p
		n.mu.Unlock()
		if err != nil {
			fmt.Fprintf(out, "chaos: cannot start ringsup: %v\n", err)
		} else {
			n.starts.Add(1)
			e := <-p.Exited()
			fmt.Fprintf(out, "chaos: ringsup %d ended: %v\n", p.PID, e)
		}
		time.Sleep(time.Second)
	}
}

// current returns the running ringsup, or nil between two.
func (n *node) current() *proc {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// signal sends sig to the node's ringsup, and returns its PID (0 when
// there was none to receive it).
func (n *node) signal(sig syscall.Signal) int {
	if p := n.current(); p != nil && p.Signal(sig) {
		return p.PID
	}
	return 0
}

// pause freezes (or, with heal, lets flow) the node's traffic to the
// members of the given indexes.
func (n *node) pause(members []int, heal bool) {
	for _, i := range members {
		if heal {
			n.proxies[i].Resume()
		} else {
			n.proxies[i].Pause()
		}
	}
}

// stop asks the node's ringsup to shut down (SIGTERM) and the loop to
// end; the caller waits on n.done.
func (n *node) stop() {
	n.mu.Lock()
	n.quit = true
	p := n.proc
	n.mu.Unlock()
	for _, px := range n.proxies {
		px.Resume()
	}
	if p != nil {
		p.Signal(syscall.SIGCONT)
		p.Signal(syscall.SIGTERM)
	}
}

// close SIGKILLs what stop left, waits for the loop to end and closes
// the proxies.
func (n *node) close() {
	if p := n.current(); p != nil {
		p.Signal(syscall.SIGKILL)
	}
	<-n.done
	for _, px := range n.proxies {
		px.Close()
	}
}
