package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// refusedAddr returns a local address where nothing listens.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestHTTP(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/no-content":
			w.WriteHeader(http.StatusNoContent)
		case "/unavailable":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
		case "/big":
			w.Write(make([]byte, 1<<20))
		case "/hang":
			<-release
		}
	}))
	defer srv.Close()
	defer close(release) // before srv.Close, which waits for the handlers
	refused := "http://" + refusedAddr(t) + "/health"

	p := NewProber()
	for _, tt := range []struct {
		url     string
		timeout time.Duration
		want    string // "" for healthy
		is      error
	}{
		{srv.URL + "/ok", time.Minute, "", nil},
		{srv.URL + "/no-content", time.Minute, "", nil},
		{srv.URL + "/big", time.Minute, "", nil},
		{srv.URL + "/unavailable", time.Minute, srv.URL + "/unavailable: status 503", nil},
		{srv.URL + "/moved", time.Minute, srv.URL + "/moved: status 301", nil},
		{srv.URL + "/hang", 100 * time.Millisecond, srv.URL + "/hang: timed out after 100ms", context.DeadlineExceeded},
		{srv.URL + "/ok", time.Nanosecond, srv.URL + "/ok: timed out after 1ns", context.DeadlineExceeded},
		{refused, time.Minute, refused + ": connection refused", syscall.ECONNREFUSED},
	} {
		started := time.Now()
		err := p.HTTP(t.Context(), tt.url, tt.timeout)
		if got := errText(err); got != orNil(tt.want) {
			t.Errorf("HTTP(%s, %v) = %s, want %s", tt.url, tt.timeout, got, orNil(tt.want))
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("errors.Is(HTTP(%s, %v), %v) = false, want true", tt.url, tt.timeout, tt.is)
		}
		if took := time.Since(started); took > tt.timeout+5*time.Second {
			t.Errorf("HTTP(%s, %v) took %v", tt.url, tt.timeout, took)
		}
	}
}

func TestHTTPCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	url := "http://" + refusedAddr(t) + "/"
	err := NewProber().HTTP(ctx, url, time.Minute)
	if got, want := errText(err), url+": context canceled"; got != want {
		t.Errorf("HTTP(cancelled, %s) = %s, want %s", url, got, want)
	}
}

// TestHTTPNoIdleConnections: every probe's connection is closed once it is
// done, none is kept alive for the next.
func TestHTTPNoIdleConnections(t *testing.T) {
	var open, total atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.Close {
			w.WriteHeader(http.StatusBadRequest) // no "Connection: close"
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
			total.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()
	p := NewProber()
	const probes = 20
	for range probes {
		if err := p.HTTP(t.Context(), srv.URL, time.Minute); err != nil {
			t.Fatalf("HTTP(%s) = %v, want nil", srv.URL, err)
		}
	}
	deadline := time.Now().Add(waitTimeout)
	for open.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got, want := open.Load(), int64(0); got != want {
		t.Errorf("open connections after %d probes = %d, want %d", probes, got, want)
	}
	if got, want := total.Load(), int64(probes); got != want {
		t.Errorf("connections for %d probes = %d, want %d", probes, got, want)
	}
}

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := l.Addr().String()
	_, port, _ := net.SplitHostPort(open)
	refused := refusedAddr(t)
	full := fullListener(t)

	p := NewProber()
	for _, tt := range []struct {
		addr    string
		timeout time.Duration
		want    string
		is      error
	}{
		{open, time.Minute, "", nil},
		{"localhost:" + port, time.Minute, "", nil},
		{open, time.Nanosecond, open + ": timed out after 1ns", context.DeadlineExceeded},
		{refused, time.Minute, refused + ": connection refused", syscall.ECONNREFUSED},
		{full, 200 * time.Millisecond, full + ": timed out after 200ms", context.DeadlineExceeded},
		{"127.0.0.1", time.Minute, "127.0.0.1: address 127.0.0.1: missing port in address", nil},
	} {
		started := time.Now()
		err := p.TCP(t.Context(), tt.addr, tt.timeout)
		if got := errText(err); got != orNil(tt.want) {
			t.Errorf("TCP(%s, %v) = %s, want %s", tt.addr, tt.timeout, got, orNil(tt.want))
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("errors.Is(TCP(%s, %v), %v) = false, want true", tt.addr, tt.timeout, tt.is)
		}
		if took := time.Since(started); took > tt.timeout+5*time.Second {
			t.Errorf("TCP(%s, %v) took %v", tt.addr, tt.timeout, took)
		}
	}
}

// fullListener returns the address of a listener whose accept queue is full,
// so that the kernel drops further SYNs and connecting times out. It
// listens with a backlog of 0 and is connected to (never accepting) until a
// connection attempt times out.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*unix.SockaddrInet4).Port}).String()
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return addr
			}
			t.Fatalf("filling the accept queue of %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatalf("the accept queue of %s (backlog 0) is not full after 16 connections", addr)
	return ""
}

// errText is err's text, or "nil".
func errText(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// orNil is want, or "nil" when it is empty.
func orNil(want string) string {
	if want == "" {
		return "nil"
	}
	return want
}

func TestTCPCancelled(t *testing.T) {
	full := fullListener(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel) // while the probe waits for a handshake that will not come
	started := time.Now()
	err := NewProber().TCP(ctx, full, time.Minute)
	if got, want := errText(err), full+": context canceled"; got != want {
		t.Errorf("TCP(%s) cancelled = %s, want %s", full, got, want)
	}
	if took := time.Since(started); took > 10*time.Second {
		t.Errorf("TCP(%s) cancelled took %v", full, took)
	}
}
