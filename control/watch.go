package control

import (
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-hclog"
)

// pollInterval is how often a follower re-reads its log when the directory
// cannot be watched (no inotify instance left, or no directory yet).
const pollInterval = 100 * time.Millisecond

// watcher tells followers of log files when their file changes. One
// fsnotify watch on the log directory, made when the first follower comes,
// serves them all; it watches the directory rather than the files, so that
// a file that is created, rotated or replaced is seen too.
type watcher struct {
	dir string
	log hclog.Logger

	mu     sync.Mutex
	w      *fsnotify.Watcher // nil until a follower needs it, or if unavailable
	closed bool
	subs   map[string]map[chan struct{}]struct{} // by file name
	done   chan struct{}                         // closed when the event goroutine ends
}

func newWatcher(dir string, log hclog.Logger) *watcher {
	return &watcher{dir: dir, log: log, subs: make(map[string]map[chan struct{}]struct{})}
}

// watch returns a channel that receives a value when one of the files
// names in the directory may have changed (several changes may give one
// value), and a function to stop watching. When the directory cannot be
// watched, the channel ticks every pollInterval instead.
func (w *watcher) watch(names ...string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || !w.startLocked() {
		t := time.NewTicker(pollInterval)
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-t.C:
					notify(ch)
				case <-stop:
					t.Stop()
					return
				}
			}
		}()
		return ch, sync.OnceFunc(func() { close(stop) })
	}
	for _, name := range names {
		if w.subs[name] == nil {
			w.subs[name] = make(map[chan struct{}]struct{})
		}
		w.subs[name][ch] = struct{}{}
	}
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, name := range names {
			delete(w.subs[name], ch)
			if len(w.subs[name]) == 0 {
				delete(w.subs, name)
			}
		}
	}
}

// startLocked starts the fsnotify watch if it is not running; it reports
// whether it runs.
func (w *watcher) startLocked() bool {
	if w.w != nil {
		return true
	}
	fw, err := fsnotify.NewWatcher()
	if err == nil {
		err = fw.Add(w.dir)
		if err != nil {
			fw.Close()
		}
	}
	if err != nil {
		w.log.Warn("cannot watch the log directory; following logs by polling", "dir", w.dir, "error", err)
		return false
	}
	w.w = fw
	w.done = make(chan struct{})
	go w.run(fw, w.done)
	return true
}

// run hands fsnotify's events to the followers of the files they name.
func (w *watcher) run(fw *fsnotify.Watcher, done chan struct{}) {
	defer close(done)
	for {
		select {
		case ev, ok := <-fw.Events:
			if !ok {
				return
			}
			w.mu.Lock()
			for ch := range w.subs[filepath.Base(ev.Name)] {
				notify(ch)
			}
			w.mu.Unlock()
		case err, ok := <-fw.Errors:
			if !ok {
				return
			}
			// Events may have been lost (queue overflow): everyone looks.
			w.log.Warn("log directory watch", "error", err)
			w.mu.Lock()
			for _, subs := range w.subs {
				for ch := range subs {
					notify(ch)
				}
			}
			w.mu.Unlock()
		}
	}
}

// close ends the watch. Followers must have stopped.
func (w *watcher) close() {
	w.mu.Lock()
	w.closed = true
	fw, done := w.w, w.done
	w.w = nil
	w.mu.Unlock()
	if fw != nil {
		fw.Close()
		<-done
	}
}

// notify sends on ch unless a value is already waiting there.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
