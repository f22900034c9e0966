package logfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// rotate closes the file and moves it out of the way: path becomes path.1
// after every path.N has become path.N+1, or, with MaxFiles 0, path is
// removed. The next write opens a new file. When a rename or removal fails,
// rotate stops there and returns the error; the next write then opens path
// again and appends to it.
func (w *Writer) rotate() error {
	w.closeFile()
	n := w.opts.MaxFiles
	// Files beyond MaxFiles, left by a larger MaxFiles, are the oldest.
	for i := n + 1; os.Remove(w.rotated(i)) == nil; i++ {
	}
	if n == 0 {
		if err := os.Remove(w.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cannot rotate log: %w", err)
		}
		return nil
	}
	// Remove the oldest, then rename each file to a free name: renaming
	// onto an existing file would make ext4 (auto_da_alloc) flush the
	// renamed file to disk first, which halves the throughput.
	if err := os.Remove(w.rotated(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot rotate log: %w", err)
	}
	for i := n - 1; i >= 0; i-- {
		err := os.Rename(w.rotated(i), w.rotated(i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cannot rotate log: %w", err)
		}
	}
	return nil
}

// rotated returns the name of the i-th rotated file, path.i, or path for 0.
func (w *Writer) rotated(i int) string {
	if i == 0 {
		return w.path
	}
	return w.path + "." + strconv.Itoa(i)
}
