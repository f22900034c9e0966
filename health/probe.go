package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// maxDrain is how much of a response body a probe reads before closing it. A
// short body read to its end spares the server a reset (the kernel resets a
// connection closed with unread data); a longer one is cut.
const maxDrain = 4 << 10

// Prober runs http and tcp probes. One Prober serves every daemon: it holds
// one http.Client, whose connections are never kept alive or pooled, so that
// probes leave no idle connection behind however many daemons there are.
//
// Its methods are safe for concurrent use. Each blocks for at most its
// timeout, so the caller runs it on a goroutine of its own and sends the
// result to its loop.
type Prober struct {
	dialer net.Dialer
	client http.Client
}

// NewProber returns a Prober. Its http.Client sends every request on a new
// connection, without TCP keep-alive probes, with "Connection: close", and
// closes it after the response (DisableKeepAlives: no connection is ever
// idle, so MaxIdleConns, 0 for no limit, limits nothing). It ignores the
// HTTP_PROXY variables (a health check talks to the daemon, not to a
// proxy), does not follow redirects, and verifies https certificates
// against the system's roots.
func NewProber() *Prober {
	p := &Prober{dialer: net.Dialer{KeepAlive: -1}}
	p.client = http.Client{
		Transport: &http.Transport{
			DialContext:            p.dialer.DialContext,
			DisableKeepAlives:      true,
			MaxIdleConns:           0,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return p
}

// HTTP sends a GET request to url and returns nil if the response status is
// 2xx (a redirect is not followed, and fails). The whole exchange, from
// connecting to reading the status and up to 4 KiB of body, must end within
// timeout and before ctx is done. The error names url and says why, briefly:
// `http://127.0.0.1:9000/health: status 503`,
// `http://127.0.0.1:9000/health: connection refused`,
// `http://127.0.0.1:9000/health: timed out after 5s`. A timeout matches
// errors.Is(err, context.DeadlineExceeded), a refusal
// errors.Is(err, syscall.ECONNREFUSED).
func (p *Prober) HTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	req.Header.Set("User-Agent", "ringsup-health")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", url, brief(ctx, err, timeout))
	}
	io.CopyN(io.Discard, resp.Body, maxDrain)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	return nil
}

// TCP connects to addr ("host:port") and resets the connection at once; it
// returns nil if the connection was established within timeout and before
// ctx is done. A host name is resolved first, and its addresses are tried
// in turn. The connection is closed with a reset (SO_LINGER 0) rather than
// a FIN: the supervisor keeps no TIME_WAIT socket per probe, and the kernel
// does less work; the daemon may see its accepted connection reset. Errors
// read like those of [Prober.HTTP]: `127.0.0.1:9000: connection refused`.
func (p *Prober) TCP(ctx context.Context, addr string, timeout time.Duration) error {
	finish, err := p.StartTCP(ctx, addr, timeout)
	if finish != nil {
		return finish()
	}
	return err
}

// StartTCP begins the probe [Prober.TCP] makes, without waiting. When its
// outcome is known at once, as it usually is over loopback (connected, or
// refused), StartTCP returns a nil finish and that outcome. Otherwise
// finish completes the probe, blocking for at most what is left of timeout,
// and must be called once. A host name is resolved in finish.
//
// A caller with many probes to run starts them all on one goroutine and
// gives a goroutine of its own only to each finish.
func (p *Prober) StartTCP(ctx context.Context, addr string, timeout time.Duration) (finish func() error, err error) {
	deadline := time.Now().Add(timeout)
	wrap := func(ctx context.Context, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", addr, brief(ctx, err, timeout))
		}
		return nil
	}
	ap, perr := netip.ParseAddrPort(addr)
	if perr != nil { // a host name
		return func() error {
			ctx, cancel := context.WithDeadline(ctx, deadline)
			defer cancel()
			return wrap(ctx, connectReset(ctx, addr))
		}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap(ctx, err)
	}
	if !time.Now().Before(deadline) {
		return nil, fmt.Errorf("%s: %w", addr, timeoutError{timeout})
	}
	fd, over, err := startConnect(ap)
	if over {
		return nil, wrap(ctx, err)
	}
	return func() error {
		ctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		return wrap(ctx, awaitConnect(ctx, fd))
	}, nil
}

// timeoutError is a probe that ran out of time.
type timeoutError struct{ d time.Duration }

func (e timeoutError) Error() string { return fmt.Sprintf("timed out after %v", e.d) }
func (e timeoutError) Timeout() bool { return true }
func (e timeoutError) Unwrap() error { return context.DeadlineExceeded }

// brief returns the part of a probe's error worth showing: the errno of a
// failed connect ("connection refused") rather than the whole chain of
// `Get "http://...": dial tcp 127.0.0.1:9000: connect: connection refused`.
// ctx is the probe's context, with its timeout.
func brief(ctx context.Context, err error, timeout time.Duration) error {
	switch cerr := ctx.Err(); {
	case errors.Is(cerr, context.DeadlineExceeded):
		return timeoutError{timeout}
	case cerr != nil:
		return cerr // the caller's context was cancelled
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return timeoutError{timeout}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
