package supervisor

import (
	"path/filepath"

	"github.com/ringrift/ringsup/logfile"
)

// logWriter returns the writer of d's log file for a new process: the one
// it had, or a new one when it has none or its log settings changed (a
// reload's log changes take effect at the next start). The file itself is
// opened at the first write, so silent daemons hold no file open. A line
// the last process left unfinished is ended: the new process's first line
// is a line of its own.
func (s *Supervisor) logWriter(d *daemon) *logfile.Writer {
	opts := logfile.Options{
		MaxSize:    d.cfg.LogMaxSize,
		MaxFiles:   d.cfg.LogMaxFiles,
		Timestamps: d.cfg.LogTimestamps,
	}
	same := d.outOpts.MaxSize == opts.MaxSize && d.outOpts.MaxFiles == opts.MaxFiles &&
		d.outOpts.Timestamps == opts.Timestamps
	if d.out != nil && same {
		d.out.EndLine()
		return d.out
	}
	if d.out != nil {
		d.out.Close()
	}
	log := s.log.With("daemon", d.name)
	d.out, d.outOpts = s.newLog(d.name+".log", d.name, opts, func(err error) {
		log.Error("daemon output is being lost", "error", err)
	}), opts
	return d.out
}

// newLog returns a writer of the file name in the log directory, echoed
// with the prefix of echoName when echo is on.
func (s *Supervisor) newLog(name, echoName string, opts logfile.Options, onError func(error)) *logfile.Writer {
	opts.OnError = onError
	if s.opts.Echo != nil {
		opts.Echo = s.opts.Echo
		opts.EchoPrefix = s.opts.Echo.Prefix(echoName, s.echoWidth())
	}
	w, err := logfile.Open(filepath.Join(s.cfg.Supervisor.LogDir, name), opts)
	if err != nil {
		// Open fails only on invalid options, which config rules out.
		panic("supervisor: " + err.Error())
	}
	return w
}

// openHookLog returns the writer of hooks.log.
func (s *Supervisor) openHookLog() *logfile.Writer {
	opts := logfile.Options{MaxSize: s.cfg.Supervisor.LogMaxSize, MaxFiles: s.cfg.Supervisor.LogMaxFiles}
	return s.newLog("hooks.log", "hooks", opts, func(err error) {
		s.log.Error("hook output is being lost", "error", err)
	})
}

// echoWidth is the width of the echo prefixes: the longest daemon name.
func (s *Supervisor) echoWidth() int {
	width := len("hooks")
	for _, d := range s.order {
		width = max(width, len(d.name))
	}
	return width
}

// logWriters returns every open log writer, for ReopenLogs.
func (s *Supervisor) logWriters() []*logfile.Writer {
	var ws []*logfile.Writer
	for _, d := range s.order {
		if d.out != nil {
			ws = append(ws, d.out)
		}
	}
	if s.hooks.out != nil {
		ws = append(ws, s.hooks.out)
	}
	return ws
}

type logsRequest struct{ reply chan []*logfile.Writer }

func (r *logsRequest) handle(s *Supervisor) { r.reply <- s.logWriters() }

// ReopenLogs closes every daemon's log file so that the next output opens
// the file at its path again: after logrotate renamed or removed it (its
// create mode), output goes to the new file. The loop only lists the
// writers; they are reopened in the caller's goroutine.
func (s *Supervisor) ReopenLogs() error {
	r := &logsRequest{reply: make(chan []*logfile.Writer, 1)}
	if err := s.call(r); err != nil {
		return err
	}
	var first error
	for _, w := range <-r.reply {
		if err := w.Reopen(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
