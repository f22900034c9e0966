package logfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzWrite writes data in chunks whose sizes come from cuts, rotating at
// maxSize (0: never), and checks that the files hold data exactly, oldest
// first, none larger than maxSize, and that the echo holds data's lines,
// each prefixed and whole.
func FuzzWrite(f *testing.F) {
	for _, tt := range rotationTests {
		if tt.before != nil || tt.stamps {
			continue
		}
		var cuts []byte
		for _, c := range tt.chunks {
			cuts = append(cuts, byte(min(len(c), 255)))
		}
		f.Add([]byte(strings.Join(tt.chunks, "")), uint8(min(tt.maxSize, 255)), cuts)
	}
	f.Fuzz(func(t *testing.T, data []byte, maxSize uint8, cuts []byte) {
		// Every rotation renames every kept file, so n files cost about
		// n*n/2 renames. Bound the input to about 64 files' worth (at most
		// 1 KiB) so that no input takes seconds.
		limit := 1024
		if maxSize > 0 {
			limit = min(limit, 64*int(maxSize))
		}
		if len(data) > limit {
			data = data[:limit]
		}
		dir := t.TempDir()
		rec := &echoRecorder{}
		path := filepath.Join(dir, "a.log")
		opts := Options{MaxSize: int64(maxSize), MaxFiles: len(data) + 1, Echo: rec, EchoPrefix: "> "}
		w := mustOpen(t, path, opts)
		rest := data
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(cuts) > 0 {
				n = min(n, int(cuts[i%len(cuts)])+1)
			}
			if m, err := w.Write(rest[:n]); m != n || err != nil {
				t.Fatalf("Write(%q) = %d, %v", rest[:n], m, err)
			}
			rest = rest[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}

		files := concatFiles(t, dir, "a.log")
		if got := strings.Join(files, ""); got != string(data) {
			t.Errorf("files hold %q, want %q", got, data)
		}
		for i, content := range files {
			if maxSize > 0 && len(content) > int(maxSize) {
				t.Errorf("file %d of %d holds %d bytes, more than MaxSize %d", i+1, len(files), len(content), maxSize)
			}
		}
		if len(data) == 0 {
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("Stat(%q) after no output = %v, want no file", path, err)
			}
		}

		var want strings.Builder
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if line != "" {
				want.WriteString("> " + strings.TrimSuffix(line, "\n") + "\n")
			}
		}
		var got strings.Builder
		for _, call := range rec.calls {
			if !strings.HasSuffix(call, "\n") {
				t.Errorf("echo Write(%q) does not end a line", call)
			}
			got.WriteString(call)
		}
		if got.String() != want.String() {
			t.Errorf("echo = %q, want %q", got.String(), want.String())
		}
	})
}
