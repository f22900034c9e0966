package supervisor

import "sync"

// subscriber is one reader of the event stream.
type subscriber struct {
	ch     chan Event
	filter EventFilter
}

// eventHub is the event stream: its subscribers, and the events of the
// loop's current pass, published at its end.
type eventHub struct {
	subs    map[*subscriber]struct{}
	pending []Event
	// early holds the subscribers made before Run started; its lock is
	// taken only by Subscribe and once by Run.
	early struct {
		sync.Mutex
		started bool
		subs    []*subscriber
	}
}
