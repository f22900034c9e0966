// Package watch reports when the content of a file changes, however it is
// replaced: written in place, truncated then written, renamed over by an
// editor, deleted and created again, or swapped through a symlink the way
// Kubernetes updates a mounted ConfigMap (..data pointing to a new
// directory).
//
// It watches the directory that holds the file (and, when the file is a
// symlink, the directory of its target), because a watch on the file itself
// is lost when the file is replaced. Bursts of events are debounced, and a
// change is reported only when the content differs from the last content
// seen, so one save gives one report.
package watch

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-hclog"
)

// Options configure a Watcher.
type Options struct {
	// Debounce is how long the directory must be quiet after an event
	// before the file is read. Default 20ms: a save by an editor, cp or a
	// ConfigMap update takes well under that.
	Debounce time.Duration
	// Logger receives warnings, such as the file being deleted.
	// Default: no logging.
	Logger hclog.Logger
	// AnyContent reports every change, an empty file and the file's
	// removal included, as suits a file whose every state means something
	// (an env file). By default an empty or missing file is ignored with
	// a warning, as suits a config file caught in the middle of a save.
	AnyContent bool
}

// gone is the content of a file that does not exist, unlike any a file can
// have.
const gone = "\x00gone"

// Watcher watches one file. Create it with New; receive from Changes.
type Watcher struct {
	path    string
	opts    Options
	fsw     *fsnotify.Watcher
	dirs    map[string]bool
	target  string // where path's symlinks led at the last look, or ""
	last    []byte // the content at the last look; nil until one was read
	changes chan struct{}
	done    chan struct{}
	stopped chan struct{}
}

// New starts watching path. The content it has now is the baseline: only a
// different content is reported.
func New(path string, opts Options) (*Watcher, error) {
	if opts.Debounce <= 0 {
		opts.Debounce = 20 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("cannot watch %s: %w", path, err)
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("cannot watch %s: %w", path, err)
	}
	w := &Watcher{
		path:    abs,
		opts:    opts,
		fsw:     fsw,
		dirs:    make(map[string]bool),
		changes: make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	if err := w.watchDirs(); err != nil {
		fsw.Close()
		return nil, err
	}
	if data, err := os.ReadFile(abs); err == nil {
		w.last = data
	} else if opts.AnyContent && errors.Is(err, fs.ErrNotExist) {
		w.last = []byte(gone)
	}
	go w.run()
	return w, nil
}

// Changes receives a value after the file's content has changed. Changes
// that happen before the last one was received are coalesced into it.
func (w *Watcher) Changes() <-chan struct{} { return w.changes }

// Close stops watching.
func (w *Watcher) Close() error {
	close(w.done)
	<-w.stopped
	return w.fsw.Close()
}

// watchDirs watches the file's directory and, when the file is a symlink,
// its target's directory, which can change at every swap.
func (w *Watcher) watchDirs() error {
	dirs := []string{filepath.Dir(w.path)}
	w.target = ""
	if target, err := filepath.EvalSymlinks(w.path); err == nil && target != w.path {
		w.target = target
		dirs = append(dirs, filepath.Dir(target))
	}
	for _, dir := range dirs {
		if w.dirs[dir] {
			continue
		}
		if err := w.fsw.Add(dir); err != nil {
			if len(w.dirs) == 0 {
				return fmt.Errorf("cannot watch %s: %w", dir, err)
			}
			w.opts.Logger.Warn("cannot watch directory", "dir", dir, "error", err)
			continue
		}
		w.dirs[dir] = true
	}
	return nil
}

// relevant reports whether an event on name may change what path reads:
// the file itself, a ..name entry (a ConfigMap's ..data swap), or, when
// path is a symlink, its target's directory. It makes no system call, so
// busy neighbours of the config file (a log written beside it) cost little.
func (w *Watcher) relevant(name string) bool {
	base := filepath.Base(name)
	if base == filepath.Base(w.path) || strings.HasPrefix(base, "..") {
		return true
	}
	return w.target != "" && (name == w.target || filepath.Dir(name) == filepath.Dir(w.target))
}

func (w *Watcher) run() {
	defer close(w.stopped)
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case <-w.done:
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			if w.relevant(ev.Name) {
				debounce.Reset(w.opts.Debounce)
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.opts.Logger.Warn("file watch error", "error", err)
			debounce.Reset(w.opts.Debounce)
		case <-debounce.C:
			w.check()
		}
	}
}

// check reads the file and reports a change of content.
func (w *Watcher) check() {
	if err := w.watchDirs(); err != nil {
		w.opts.Logger.Warn("cannot watch", "error", err)
	}
	data, err := os.ReadFile(w.path)
	if w.opts.AnyContent && errors.Is(err, fs.ErrNotExist) {
		// Gone is a content of its own, unlike any a file can have.
		data, err = []byte(gone), nil
	}
	switch {
	case err == nil && w.opts.AnyContent:
	case errors.Is(err, fs.ErrNotExist):
		w.opts.Logger.Warn("config file is gone; keeping the running config", "path", w.path)
		return
	case err != nil:
		w.opts.Logger.Warn("cannot read config file; keeping the running config", "path", w.path, "error", err)
		return
	case len(bytes.TrimSpace(data)) == 0:
		// Most likely truncated and not yet written; an empty config is
		// never worth stopping every daemon for without being asked.
		w.opts.Logger.Debug("config file is empty; waiting for content", "path", w.path)
		return
	}
	// The content itself is kept, not a hash of it: a config file is small,
	// and no change can go unseen.
	if w.last != nil && bytes.Equal(data, w.last) {
		return
	}
	w.last = data
	select {
	case w.changes <- struct{}{}:
	default:
	}
}
