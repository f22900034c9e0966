package control

import (
	"context"
	"encoding/json"
	"errors"
	"io"
)

// EventStream is a subscription to a supervisor's events, open from the
// moment Client.Subscribe returns: no event published after that is
// missed. One goroutine reads it at a time.
type EventStream struct {
	ctx context.Context
	c   *conn
}

// Subscribe subscribes to the supervisor's events. The caller closes the
// stream.
func (cl *Client) Subscribe(ctx context.Context) (*EventStream, error) {
	return cl.subscribe(ctx, Request{V: Version, Cmd: CmdEvents})
}

// subscribe makes the events request req.
func (cl *Client) subscribe(ctx context.Context, req Request) (*EventStream, error) {
	c, _, err := cl.call(ctx, req)
	if err != nil {
		return nil, err
	}
	return &EventStream{ctx: ctx, c: c}, nil
}

// Next returns the next event, as the JSON the supervisor sent. It returns
// io.EOF when the supervisor shut down, ctx.Err() once ctx is done, and a
// *RemoteError when the supervisor dropped a client that fell behind.
func (s *EventStream) Next() (json.RawMessage, error) {
	for {
		rp, err := s.c.read()
		switch {
		case s.ctx.Err() != nil:
			return nil, s.ctx.Err()
		case errors.Is(err, io.EOF):
			return nil, errors.New("the supervisor closed the event stream")
		case err != nil:
			return nil, err
		case !rp.OK:
			return nil, &RemoteError{Msg: rp.Error}
		case rp.End != "":
			return nil, io.EOF
		case len(rp.Event) > 0:
			return rp.Event, nil
		}
	}
}

// Close ends the subscription.
func (s *EventStream) Close() { s.c.close() }
