package control

import (
	"bytes"
	"strings"
	"testing"
)

func TestLinePrefixer(t *testing.T) {
	var out bytes.Buffer
	a := &linePrefixer{w: &out, prefix: []byte("a | ")}
	b := &linePrefixer{w: &out, prefix: []byte("b | ")}
	// A line written in pieces comes out whole, after a line of another
	// file that was complete first.
	a.Write([]byte("one\ntw"))
	b.Write([]byte("x\n"))
	a.Write([]byte("o\nthr"))
	if got, want := out.String(), "a | one\nb | x\na | two\n"; got != want {
		t.Fatalf("prefixed = %q, want %q", got, want)
	}
	// flush ends the line held back.
	if err := a.flush(); err != nil {
		t.Fatal(err)
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "a | one\nb | x\na | two\na | thr\n"; got != want {
		t.Fatalf("after flush = %q, want %q", got, want)
	}
	// Of a line longer than tailBlock, what came is written once
	// tailBlock bytes are held, and the rest as a line of its own.
	out.Reset()
	long := strings.Repeat("z", tailBlock+10)
	a.Write([]byte(long[:tailBlock-5]))
	if out.Len() != 0 {
		t.Fatalf("%d bytes written of a line shorter than tailBlock, want none yet", out.Len())
	}
	a.Write([]byte(long[tailBlock-5 : tailBlock+5]))
	a.Write([]byte(long[tailBlock+5:] + "\n"))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	total := 0
	for _, l := range lines {
		if !strings.HasPrefix(l, "a | ") {
			t.Fatalf("line without its prefix: %.20q...", l)
		}
		total += len(l) - len("a | ")
	}
	if len(lines) != 2 || total != len(long) {
		t.Errorf("a %d-byte line came out as %d lines of %d bytes in all, want 2 and %d", len(long), len(lines), total, len(long))
	}
	// A cut exactly before the newline leaves no empty line.
	out.Reset()
	a.Write([]byte(long[:tailBlock]))
	a.Write([]byte("\nnext\n"))
	if got := strings.Count(out.String(), "\n"); got != 2 || !strings.HasSuffix(out.String(), "a | next\n") {
		t.Errorf("cut before its newline: %d lines, ending %q; want 2, the second next", got, out.String()[max(0, out.Len()-12):])
	}
}
