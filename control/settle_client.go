package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ringrift/ringsup/supervisor"
)

// ErrStoppedWaiting is returned by the waiting calls when the supervisor
// shut down before every daemon settled.
var ErrStoppedWaiting = errors.New("the supervisor shut down before every daemon settled")

// StartWait is Start, then fn with each named daemon's outcome as it
// settles (running and ready, done, or given up), until every one has
// (nil), the supervisor shuts down first (ErrStoppedWaiting), or ctx is
// done (ctx.Err(): the caller's timeout). It returns the names it waited
// for, those fn did not see still pending.
func (cl *Client) StartWait(ctx context.Context, fn func(supervisor.Settled), names ...string) (waiting []string, err error) {
	rp, err := cl.settle(ctx, Request{V: Version, Cmd: CmdStart, Names: names, Wait: true}, fn)
	return rp.Waiting, err
}

// StopWait is Stop, then fn with each named daemon's outcome, as StartWait.
func (cl *Client) StopWait(ctx context.Context, fn func(supervisor.Settled), names ...string) (waiting []string, err error) {
	rp, err := cl.settle(ctx, Request{V: Version, Cmd: CmdStop, Names: names, Wait: true}, fn)
	return rp.Waiting, err
}

// RestartWait is Restart, then fn with each named daemon's outcome, as
// StartWait.
func (cl *Client) RestartWait(ctx context.Context, force bool, fn func(supervisor.Settled), names ...string) (waiting []string, err error) {
	rp, err := cl.settle(ctx, Request{V: Version, Cmd: CmdRestart, Names: names, Force: force, Wait: true}, fn)
	return rp.Waiting, err
}

// SetProfileWait is SetProfile, then fn with the outcome of each daemon
// that joins the profile (to be up) or leaves it (to be down), as
// StartWait.
func (cl *Client) SetProfileWait(ctx context.Context, profile string, fn func(supervisor.Settled)) (waiting []string, err error) {
	rp, err := cl.settle(ctx, Request{V: Version, Cmd: CmdProfile, Profile: profile, Wait: true}, fn)
	return rp.Waiting, err
}

// ReloadWait is Reload, then onSummary with what changed as soon as that
// is known, then fn with the outcome of each daemon the reload restarted
// (to be up), added (to settle) or removed (to be gone), as StartWait.
func (cl *Client) ReloadWait(ctx context.Context, onSummary func(supervisor.ReloadSummary) error, fn func(supervisor.Settled)) (waiting []string, err error) {
	return cl.changeConfigWait(ctx, Request{V: Version, Cmd: CmdReload, Wait: true}, onSummary, fn)
}

// ScaleWait is Scale, then onSummary and fn as for ReloadWait: the new
// instances settle, the ones stopped are gone.
func (cl *Client) ScaleWait(ctx context.Context, name string, n int, onSummary func(supervisor.ReloadSummary) error, fn func(supervisor.Settled)) (waiting []string, err error) {
	req := Request{V: Version, Cmd: CmdScale, Names: []string{name}, Instances: n, Wait: true}
	return cl.changeConfigWait(ctx, req, onSummary, fn)
}

// changeConfigWait is changeConfig with Wait: it may wait for
// ReloadTimeout for the answer, gives its summary to onSummary, then reads
// the daemons' outcomes.
func (cl *Client) changeConfigWait(ctx context.Context, req Request, onSummary func(supervisor.ReloadSummary) error, fn func(supervisor.Settled)) (waiting []string, err error) {
	long := *cl
	long.Timeout = max(cl.Timeout, ReloadTimeout)
	rp, err := long.settle(ctx, req, fn, func(rp reply) error {
		var sum supervisor.ReloadSummary
		if err := json.Unmarshal(rp.Reload, &sum); err != nil {
			return fmt.Errorf("cannot decode the %s summary: %w", req.Cmd, err)
		}
		return onSummary(sum)
	})
	return rp.Waiting, err
}

// settle sends req, a request with Wait, gives its answer to onAnswer, and
// reads the Settled lines that follow until the end line.
func (cl *Client) settle(ctx context.Context, req Request, fn func(supervisor.Settled), onAnswer ...func(reply) error) (reply, error) {
	c, answer, err := cl.call(ctx, req)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("the supervisor closed the connection without answering")
		}
		return answer, err
	}
	defer c.close()
	for _, f := range onAnswer {
		if err := f(answer); err != nil {
			return answer, err
		}
	}
	for {
		rp, err := c.read()
		switch {
		case ctx.Err() != nil:
			return answer, ctx.Err()
		case errors.Is(err, io.EOF):
			return answer, ErrStoppedWaiting
		case err != nil:
			return answer, err
		case !rp.OK:
			return answer, &RemoteError{Msg: rp.Error}
		case rp.End == "settled":
			return answer, nil
		case rp.End != "":
			return answer, ErrStoppedWaiting
		case rp.Settled != nil:
			fn(*rp.Settled)
		}
	}
}
