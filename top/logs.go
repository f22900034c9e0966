package top

import (
	"bytes"
	"context"
	"errors"
)

// errLogEnded ends a log that the supervisor stopped sending.
var errLogEnded = errors.New("the log ended: the supervisor stopped sending it")

// logItem is lines of a log, or the error that ended it.
type logItem struct {
	lines []string
	end   error
}

// lineWriter sends what is written to it to ch as whole lines. It keeps a
// line without its newline until the newline comes, or flush.
type lineWriter struct {
	ctx  context.Context
	ch   chan<- logItem
	part []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	var lines []string
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		w.part = append(w.part, p[:i]...)
		lines = append(lines, string(w.part))
		w.part = w.part[:0]
		p = p[i+1:]
	}
	w.part = append(w.part, p...)
	if len(lines) == 0 {
		return n, nil
	}
	select {
	case w.ch <- logItem{lines: lines}:
		return n, nil
	case <-w.ctx.Done():
		return 0, w.ctx.Err()
	}
}

// flush sends the last line if it had no newline.
func (w *lineWriter) flush() {
	if len(w.part) == 0 {
		return
	}
	select {
	case w.ch <- logItem{lines: []string{string(w.part)}}:
	case <-w.ctx.Done():
	}
	w.part = nil
}
