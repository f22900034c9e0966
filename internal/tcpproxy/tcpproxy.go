// Package tcpproxy is a TCP proxy on loopback for fault tests: it forwards
// every connection it accepts to one target address, and can freeze the
// traffic (Pause), as a network that drops packets would, or reset it
// (Cut), as a crashed peer would, and then let it flow again (Resume).
//
// It has no dependency on package testing, so a test and a standalone
// program (a chaos script) can both use it.
package tcpproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Proxy forwards the connections accepted on its 127.0.0.1 address to a
// target. Its methods may be called from any goroutine.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	state   state
	resumed chan struct{} // closed while running; a new one is made on Pause or Cut
	links   map[*link]struct{}
	closed  bool
	wg      sync.WaitGroup
}

type state int

const (
	running state = iota
	paused
	cut
)

// link is one proxied connection: the accepted client side and the dialed
// target side. done is closed when the link is closed.
type link struct {
	client net.Conn
	done   chan struct{}

	mu     sync.Mutex
	server net.Conn // nil until dialed
	closed bool
}

// Listen listens on addr, which must be a 127.0.0.1 address ("127.0.0.1:0"
// picks a free port), and forwards every connection to target, dialed
// when the connection is accepted (or, while paused, when Resume is
// called).
func Listen(addr, target string) (*Proxy, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		return nil, fmt.Errorf("cannot listen on %q: not a 127.0.0.1 address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %q: %w", addr, err)
	}
	p := &Proxy{
		ln:      ln,
		target:  target,
		resumed: make(chan struct{}),
		links:   make(map[*link]struct{}),
	}
	close(p.resumed) // running: the gate is open
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the address the proxy listens on, as host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Pause freezes the traffic: from its return on, no byte is forwarded in
// either direction on any connection, and connections accepted meanwhile
// are held without dialing the target. Nothing is closed: the peers see a
// silent network, as when packets are dropped, until Resume. The one
// exception is a write that had already started when Pause was called.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == running {
		p.resumed = make(chan struct{})
	}
	p.state = paused
}

// Cut resets every connection (the peers read ECONNRESET) and, until
// Resume, resets every new connection as soon as it is accepted.
func (p *Proxy) Cut() {
	p.mu.Lock()
	if p.state == running {
		p.resumed = make(chan struct{})
	}
	p.state = cut
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.reset()
	}
}

// Resume lets the traffic flow again after Pause or Cut: held bytes and
// held connections go through.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != running {
		close(p.resumed)
	}
	p.state = running
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines to end. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
	return err
}

// gate returns a channel that is closed while the proxy is running, and
// whether the proxy is cut.
func (p *Proxy) gate() (<-chan struct{}, state) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resumed, p.state
}

// wait blocks until the proxy runs, and reports false if the link ended
// or the proxy was cut meanwhile.
func (p *Proxy) wait(l *link) bool {
	for {
		resumed, st := p.gate()
		if st == cut {
			return false
		}
		if st == running {
			return true
		}
		select {
		case <-resumed:
		case <-l.done:
			return false
		}
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a transient accept error (such as EMFILE) ends only that connection
		}
		l := &link{client: c, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

// serve dials the target for one accepted connection, once the proxy
// runs, and copies both directions until either ends.
func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
		l.close()
	}()
	if !p.wait(l) {
		l.reset()
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		l.reset()
		return
	}
	if !l.setServer(s) { // closed or cut while dialing
		return
	}
	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); p.copy(l, s, l.client) }()
	go func() { defer both.Done(); p.copy(l, l.client, s) }()
	both.Wait()
}

// copy forwards bytes from src to dst, holding them while the proxy is
// paused. At src's end of stream it half-closes dst; on any other end it
// closes the whole link.
func (p *Proxy) copy(l *link, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		if !p.wait(l) {
			l.reset()
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait(l) {
				l.reset()
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				l.close()
				return
			}
		}
		if err == io.EOF {
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
				return
			}
		}
		if err != nil {
			l.close()
			return
		}
	}
}

// setServer records the dialed target side, or closes it and reports
// false if the link was closed meanwhile.
func (l *link) setServer(s net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		s.Close()
		return false
	}
	l.server = s
	return true
}

// close closes both sides of the link.
func (l *link) close() { l.end(false) }

// reset closes both sides of the link with an RST rather than a FIN.
func (l *link) reset() { l.end(true) }

func (l *link) end(rst bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	close(l.done)
	for _, c := range []net.Conn{l.client, l.server} {
		if c == nil {
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok && rst {
			tc.SetLinger(0)
		}
		c.Close()
	}
}
