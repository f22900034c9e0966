package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManPagesUpToDate fails when docs/ringsup.1 or docs/ringsup.toml.5 is
// not what the command line, the config schema and the README make now: a
// command, flag or key was added or changed without regenerating them.
func TestManPagesUpToDate(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var page1, page5 bytes.Buffer
	writeMan1(&page1, newApp(io.Discard, io.Discard))
	if err := writeMan5(&page5, readme); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"ringsup.1": page1.Bytes(), "ringsup.toml.5": page5.Bytes()} {
		got, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("docs/%s is stale (%v): regenerate it with `go run ./cmd/ringsup man --out docs`", name, err)
		}
	}
	// Every visible command and every key is in them.
	for _, s := range []string{`ringsup ctl start`, `ringsup completion`, `\-\-no\-block`, `\-\-timeout`} {
		if !strings.Contains(page1.String(), s) {
			t.Errorf("ringsup.1 does not mention %s", s)
		}
	}
	for _, s := range []string{`\fBenv_file\fR`, `\fBon_unhealthy\fR`, `\fBlog_max_size\fR`, `.SH [profiles]`} {
		if !strings.Contains(page5.String(), s) {
			t.Errorf("ringsup.toml.5 does not mention %s", s)
		}
	}
	if strings.Contains(page1.String(), "__complete") || strings.Contains(page1.String(), ".SS ringsup man\n") {
		t.Errorf("ringsup.1 shows a hidden command")
	}
}
