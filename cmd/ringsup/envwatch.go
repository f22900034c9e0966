package main

import (
	"slices"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/watch"
)

// envWatch watches the env files of the running config and asks for a
// reload when one changes, is emptied or is removed, as the config file's
// own watcher does for it. Only the reloader goroutine calls sync.
type envWatch struct {
	log     hclog.Logger
	reloads chan<- struct{}
	files   map[string]*envWatcher
}

type envWatcher struct {
	w    *watch.Watcher
	done chan struct{}
}

func newEnvWatch(reloads chan<- struct{}, log hclog.Logger) *envWatch {
	return &envWatch{log: log, reloads: reloads, files: make(map[string]*envWatcher)}
}

// envFiles lists the env files cfg reads, each once, sorted.
func envFiles(cfg *config.Config) []string {
	var files []string
	for _, d := range cfg.Daemons {
		files = append(files, d.EnvFile...)
	}
	slices.Sort(files)
	return slices.Compact(files)
}

// sync watches exactly files.
func (e *envWatch) sync(files []string) {
	for path, ew := range e.files {
		if !slices.Contains(files, path) {
			ew.close()
			delete(e.files, path)
		}
	}
	for _, path := range files {
		if e.files[path] != nil {
			continue
		}
		w, err := watch.New(path, watch.Options{Logger: e.log, AnyContent: true})
		if err != nil {
			e.log.Warn("cannot watch env file; reload with SIGHUP or ringsup ctl reload", "path", path, "error", err)
			continue
		}
		ew := &envWatcher{w: w, done: make(chan struct{})}
		e.files[path] = ew
		go func() {
			for {
				select {
				case <-ew.done:
					return
				case <-w.Changes():
					e.log.Debug("env file changed; reloading", "path", path)
					requestReload(e.reloads)
				}
			}
		}()
	}
}

func (ew *envWatcher) close() {
	close(ew.done)
	ew.w.Close()
}

// close stops every watch.
func (e *envWatch) close() {
	for path, ew := range e.files {
		ew.close()
		delete(e.files, path)
	}
}
