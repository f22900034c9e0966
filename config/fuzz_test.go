package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse checks that any input gives a config or an ErrorList of
// positioned messages, and never a panic.
func FuzzParse(f *testing.F) {
	for _, file := range testFiles(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tt := range scanTests {
		f.Add([]byte(tt.src))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		if err == nil {
			if c == nil {
				t.Fatalf("Parse(%q) = nil, nil", data)
			}
			if _, _, err := c.Select(""); err != nil {
				t.Fatalf("Parse(%q).Select(\"\") = %v", data, err)
			}
			return
		}
		if c != nil {
			t.Errorf("Parse(%q) = %v, %v, want nil *Config with the error", data, c, err)
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("Parse(%q) = %T %v, want a non-empty ErrorList", data, err, err)
		}
		for _, e := range list {
			if e.Line < 1 || e.Col < 1 || e.Msg == "" || e.File != "fuzz.toml" {
				t.Errorf("Parse(%q): bad error %#v", data, e)
			}
		}
	})
}
