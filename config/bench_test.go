package config

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParse1000 parses the config of scripts/bench's start
// measurement: 1000 daemons of one command each.
func BenchmarkParse1000(b *testing.B) {
	var src strings.Builder
	src.WriteString("[supervisor]\nbackoff_min = \"0s\"\n")
	for i := range 1000 {
		fmt.Fprintf(&src, "\n[daemons.d%04d]\ncommand = [\"/usr/local/bin/bench-child\"]\n", i)
	}
	data := []byte(src.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("/etc/ringsup/ringsup.toml", data); err != nil {
			b.Fatal(err)
		}
	}
}
