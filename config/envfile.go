package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// envFiles resolves d.EnvFile against the file's directory, reads each
// file, and makes d.Env the files' variables in order, then env's.
func (p *parser) envFiles(k keyPath, d *Daemon) {
	merged := make(map[string]string)
	for i, name := range d.EnvFile {
		d.EnvFile[i] = joinDir(p.dir, name)
		data, err := os.ReadFile(d.EnvFile[i])
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is the one written, below
			}
			p.errorf(k.index(i), "cannot read env file %q: %v", name, err)
			continue
		}
		vars, err := ParseEnvFile(data)
		if err != nil {
			p.errorf(k.index(i), "%s: %v", name, err)
			continue
		}
		for key, v := range vars {
			merged[key] = v
		}
	}
	for key, v := range d.Env {
		merged[key] = v
	}
	if len(merged) > 0 {
		d.Env = merged
	}
}

// ParseEnvFile parses an env file: one KEY=VALUE a line, with an optional
// leading "export ", blank lines and lines starting with # ignored. A value
// in double quotes may hold \n, \t, \" and \\ escapes; one in single quotes
// is taken as it is; an unquoted value ends at " #" and has its trailing
// spaces removed. A later line overrides an earlier one.
func ParseEnvFile(data []byte) (map[string]string, error) {
	vars := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !validEnvName(key) {
			return nil, fmt.Errorf("line %d: want KEY=VALUE", n)
		}
		v, err := envValue(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		vars[key] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return vars, nil
}

func envValue(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, `"`):
		end := closingQuote(v)
		if end < 0 {
			return "", fmt.Errorf("unterminated double quote")
		}
		s, err := strconv.Unquote(v[:end+1])
		if err != nil {
			return "", fmt.Errorf("bad double-quoted value %s", v[:end+1])
		}
		return s, nil
	case strings.HasPrefix(v, "'"):
		end := strings.IndexByte(v[1:], '\'')
		if end < 0 {
			return "", fmt.Errorf("unterminated single quote")
		}
		return v[1 : end+1], nil
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v), nil
}

// closingQuote returns the index of the double quote that closes the one
// v starts with, or -1.
func closingQuote(v string) int {
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}
