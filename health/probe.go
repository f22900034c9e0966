package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// maxDrain is how much of a response body a probe reads before closing it. A
// short body read to its end spares the server a reset (the kernel resets a
// connection closed with unread data); a longer one is cut.
const maxDrain = 4 << 10

// Prober runs http and tcp probes. One Prober serves every daemon. Each
// probe makes a connection of its own and closes it when done, so that
// probes leave no idle connection behind however many daemons there are.
//
// Its methods are safe for concurrent use. Each blocks for at most its
// timeout, so the caller runs it on a goroutine of its own and sends the
// result to its loop.
type Prober struct {
	dialer net.Dialer
}

// NewProber returns a Prober. An http probe sends its request on a new
// connection, without TCP keep-alive probes, with "Connection: close", and
// closes it after the response. It ignores the HTTP_PROXY variables (a
// health check talks to the daemon, not to a proxy), does not follow
// redirects, and verifies https certificates against the system's roots
// (in a build with [TLS]).
func NewProber() *Prober {
	return &Prober{dialer: net.Dialer{KeepAlive: -1}}
}

// HTTP sends a GET request to rawURL and returns nil if the response status is
// 2xx (a redirect is not followed, and fails). The whole exchange, from
// connecting to reading the status and up to 4 KiB of body, must end within
// timeout and before ctx is done. The error names rawURL and says why, briefly:
// `http://127.0.0.1:9000/health: status 503`,
// `http://127.0.0.1:9000/health: connection refused`,
// `http://127.0.0.1:9000/health: timed out after 5s`. A timeout matches
// errors.Is(err, context.DeadlineExceeded), a refusal
// errors.Is(err, syscall.ECONNREFUSED). An https URL in a build without
// [TLS] fails at once.
func (p *Prober) HTTP(ctx context.Context, rawURL string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("%s: %w", rawURL, brief(ctx, err, timeout))
	}
	code, err := p.get(ctx, u)
	if err != nil {
		return fmt.Errorf("%s: %w", rawURL, brief(ctx, err, timeout))
	}
	if code < 200 || code > 299 {
		return fmt.Errorf("%s: %w", rawURL, statusError{code})
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
// `dial tcp 127.0.0.1:9000: connect: connection refused`.
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
