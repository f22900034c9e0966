package tcpproxy

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// quiet is how long a test watches for bytes that must not arrive. A
// loaded machine can only make such a check pass more easily, never fail.
const quiet = 300 * time.Millisecond

// patience bounds every wait for something that must happen.
const patience = 10 * time.Second

// target is a listener whose accepted connections the test receives.
type target struct {
	ln    net.Listener
	conns chan net.Conn
}

func newTarget(t *testing.T) *target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{ln: ln, conns: make(chan net.Conn, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tg.conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-tg.conns:
				c.Close()
			default:
				return
			}
		}
	})
	return tg
}

// accepted returns the target's next connection, or fails the test.
func (tg *target) accepted(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-tg.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(patience):
		t.Fatal("the target accepted no connection")
		return nil
	}
}

func listen(t *testing.T, tg *target) *Proxy {
	t.Helper()
	p, err := Listen("127.0.0.1:0", tg.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), patience)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c net.Conn, s string) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(patience))
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write %q: %v", s, err)
	}
}

// expect reads len(want) bytes from c and fails unless they are want.
func expect(t *testing.T, c net.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(patience))
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read: %v, want %q", err, want)
	}
	if string(buf) != want {
		t.Fatalf("read %q, want %q", buf, want)
	}
}

// silent fails if c yields a byte or ends within quiet.
func silent(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(quiet))
	buf := make([]byte, 1)
	n, err := c.Read(buf)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: read = %d bytes, %v; want nothing until the deadline", what, n, err)
	}
}

// broken fails unless reading c ends with an error other than a timeout
// within patience.
func broken(t *testing.T, c net.Conn) error {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(patience))
	buf := make([]byte, 64)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the connection still stands")
		}
		return err
	}
}

func TestForward(t *testing.T) {
	tg := newTarget(t)
	p := listen(t, tg)
	if p.Target() != tg.ln.Addr().String() {
		t.Errorf("Target() = %q, want %q", p.Target(), tg.ln.Addr())
	}
	c := dial(t, p)
	s := tg.accepted(t)
	send(t, c, "ping")
	expect(t, s, "ping")
	send(t, s, "pong")
	expect(t, c, "pong")

	// A half-close reaches the other side, which can still answer.
	c.(*net.TCPConn).CloseWrite()
	if err := broken(t, s); err != io.EOF {
		t.Fatalf("target read after the client's half-close = %v, want EOF", err)
	}
	send(t, s, "bye")
	expect(t, c, "bye")
}

func TestPauseFreezesBothDirections(t *testing.T) {
	tg := newTarget(t)
	p := listen(t, tg)
	c := dial(t, p)
	s := tg.accepted(t)
	send(t, c, "a")
	expect(t, s, "a")

	p.Pause()
	p.Pause() // a second Pause changes nothing
	send(t, c, "to-target")
	send(t, s, "to-client")
	silent(t, s, "target while paused")
	silent(t, c, "client while paused")

	p.Resume()
	expect(t, s, "to-target")
	expect(t, c, "to-client")
	p.Resume() // a second Resume changes nothing
	send(t, c, "b")
	expect(t, s, "b")
}

func TestPauseHoldsNewConnections(t *testing.T) {
	tg := newTarget(t)
	p := listen(t, tg)
	p.Pause()
	c := dial(t, p)
	send(t, c, "early")
	select {
	case s := <-tg.conns:
		s.Close()
		t.Fatal("the target accepted a connection while the proxy was paused")
	case <-time.After(quiet):
	}
	silent(t, c, "client while paused")

	p.Resume()
	s := tg.accepted(t)
	expect(t, s, "early")
	send(t, s, "late")
	expect(t, c, "late")
}

func TestCutResetsAndRefuses(t *testing.T) {
	tg := newTarget(t)
	p := listen(t, tg)
	c := dial(t, p)
	s := tg.accepted(t)
	send(t, c, "a")
	expect(t, s, "a")

	p.Cut()
	if err := broken(t, c); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client read after Cut = %v, want ECONNRESET", err)
	}
	if err := broken(t, s); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("target read after Cut = %v, want ECONNRESET", err)
	}

	// A connection made while cut is reset (so fast that connect can see
	// it) and never reaches the target.
	c2, err := net.DialTimeout("tcp", p.Addr(), patience)
	if err == nil {
		defer c2.Close()
		err = broken(t, c2)
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("a connection made while cut ended with %v, want ECONNRESET", err)
	}
	select {
	case s := <-tg.conns:
		s.Close()
		t.Fatal("the target accepted a connection while the proxy was cut")
	default:
	}

	p.Resume()
	c3 := dial(t, p)
	s3 := tg.accepted(t)
	send(t, c3, "again")
	expect(t, s3, "again")
}

func TestCutWhilePaused(t *testing.T) {
	tg := newTarget(t)
	p := listen(t, tg)
	c := dial(t, p)
	s := tg.accepted(t)
	p.Pause()
	send(t, c, "held")
	p.Cut()
	broken(t, c)
	broken(t, s)
	p.Resume()
	c2 := dial(t, p)
	s2 := tg.accepted(t)
	send(t, c2, "x")
	expect(t, s2, "x")
}

func TestClose(t *testing.T) {
	tg := newTarget(t)
	p := listen(t, tg)
	c := dial(t, p)
	s := tg.accepted(t)
	p.Pause()
	held := dial(t, p) // never dialed through: the proxy is paused
	if err := p.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	broken(t, c)
	broken(t, s)
	broken(t, held)
	if err := p.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), patience); err == nil {
		c.Close()
		t.Error("Dial after Close succeeded, want refused")
	}
}

func TestListenOnlyOnLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "localhost:0", "[::1]:0", "nonsense"} {
		if p, err := Listen(addr, "127.0.0.1:1"); err == nil {
			p.Close()
			t.Errorf("Listen(%q) = nil error, want a refusal", addr)
		}
	}
}
