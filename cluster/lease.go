package cluster

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Lease is the node's etcd lease as the node last renewed it.
type Lease struct {
	// ID is the lease every key of the node is attached to; 0 while the
	// node holds none.
	ID clientv3.LeaseID
	// TTL is the time to live etcd granted.
	TTL time.Duration
	// Deadline is on the CLOCK_BOOTTIME of Now: the time the last
	// successful renewal (or the grant) was sent, plus TTL. etcd cannot
	// have let the lease expire before it; past it, the lease may be gone
	// and another node may hold what this one held.
	Deadline time.Duration
}

// Valid reports whether the lease exists and its deadline is after now
// (a reading of Now).
func (l Lease) Valid(now time.Duration) bool { return l.ID != 0 && now < l.Deadline }

// errLeaseGone says that etcd no longer knows the lease.
var errLeaseGone = errors.New("the node's lease expired")

// hedgeDelay is how long a renewal waits for one endpoint before it sends
// the same renewal to the next. A member frozen with SIGSTOP keeps its TCP
// connections open, so gRPC would keep routing to it for many seconds.
const hedgeDelay = 150 * time.Millisecond

// renewer renews one lease through one client per endpoint, so that a
// renewal can go to a chosen member. The keeper and the singletons'
// heartbeats (singleton.go) use it at once.
type renewer struct {
	clients []*clientv3.Client
	first   atomic.Int32 // the endpoint that answered last; tried first
}

// renew sends KeepAliveOnce for id through hedge. It returns the deadline
// the first success gives, errLeaseGone when etcd says the lease does not
// exist, or the last error when every endpoint failed within timeout.
func (r *renewer) renew(ctx context.Context, id clientv3.LeaseID, timeout time.Duration) (Lease, error) {
	return hedge(ctx, r, timeout, func(ctx context.Context, c *clientv3.Client) (Lease, error) {
		sent := Now()
		resp, err := c.KeepAliveOnce(ctx, id)
		if err != nil {
			return Lease{}, err
		}
		ttl := time.Duration(resp.TTL) * time.Second
		return Lease{ID: id, TTL: ttl, Deadline: sent + ttl}, nil
	})
}

// hedge calls op with one endpoint's client after another: the next gets
// it when the ones before have failed or have not answered within
// hedgeDelay. It returns the first success, errLeaseGone when etcd says
// the lease does not exist, or the last error when every endpoint failed
// within timeout. op may run on several endpoints: it must be safe to
// apply more than once.
func hedge[T any](ctx context.Context, r *renewer, timeout time.Duration, op func(context.Context, *clientv3.Client) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		at  int
		val T
		err error
	}
	n := len(r.clients)
	results := make(chan result, n)
	hedge := time.NewTimer(0)
	defer hedge.Stop()
	first := int(r.first.Load())
	launched, pending := 0, 0
	var zero T
	var last error
	for {
		select {
		case <-hedge.C:
			if launched == n {
				continue
			}
			i := (first + launched) % n
			launched++
			pending++
			go func() {
				v, err := op(ctx, r.clients[i])
				results <- result{at: i, val: v, err: err}
			}()
			if launched < n {
				hedge.Reset(hedgeDelay)
			}
		case res := <-results:
			pending--
			if res.err == nil {
				r.first.Store(int32(res.at))
				return res.val, nil
			}
			if errors.Is(res.err, rpctypes.ErrLeaseNotFound) {
				return zero, errLeaseGone
			}
			last = res.err
			if launched < n {
				hedge.Reset(0) // this one failed at once: try the next now
			} else if pending == 0 {
				return zero, last
			}
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return zero, last
		}
	}
}
