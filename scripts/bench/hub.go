package main

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// event is a child's start (its message arrived) or its death (its
// connection closed).
type event struct {
	id   uint64 // the connection's, unique in a session even if pids are reused
	pid  int
	tag  string
	at   time.Time
	exit bool
}

// hub is the unix SOCK_SEQPACKET socket every child of one session reports
// to. Each connection has one goroutine: it reads the child's "<pid> <tag>"
// message, then blocks until the kernel closes the connection at the
// child's death. Nothing polls.
type hub struct {
	ln     *net.UnixListener
	events chan event
	conns  uint64
}

func newHub(path string) (*hub, error) {
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, err
	}
	h := &hub{ln: ln, events: make(chan event, 1<<16)}
	go h.accept()
	return h, nil
}

func (h *hub) accept() {
	for {
		c, err := h.ln.AcceptUnix()
		if err != nil {
			return
		}
		h.conns++
		go h.serve(c, h.conns)
	}
}

func (h *hub) serve(c *net.UnixConn, id uint64) {
	defer c.Close()
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	at := time.Now()
	if err != nil || n == 0 {
		return
	}
	pidText, tag, _ := strings.Cut(string(buf[:n]), " ")
	pid, err := strconv.Atoi(pidText)
	if err != nil {
		return
	}
	h.events <- event{id: id, pid: pid, tag: tag, at: at}
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	h.events <- event{id: id, pid: pid, tag: tag, at: time.Now(), exit: true}
}

// close stops accepting and removes the socket file; connections of
// children still alive end when they die.
func (h *hub) close() { h.ln.Close() }
