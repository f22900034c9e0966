package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SocketPath returns the control socket that the config file at path names,
// as Load would set Supervisor.Socket: its [supervisor] socket, resolved
// against the file's directory, or ringsup.sock beside the file. It is what
// every `ringsup ctl` needs from the config, and it reads only that: the
// file is scanned line by line for the [supervisor] table's socket key, in
// a small fraction of Load's time (Load decodes and checks every daemon:
// about 3 ms for 500). It does not check the rest of the file.
//
// A file holding what that scan cannot be sure of (multi-line strings,
// quoted or dotted keys where the [supervisor] table could be, a value with
// escapes, a key it cannot read) is loaded whole: the result is then
// Load's, errors included. A file that cannot be read gives Load's error,
// which wraps the cause (errors.Is(err, fs.ErrNotExist)).
func SocketPath(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	if sock, ok := socketOf(filepath.Dir(abs), string(data)); ok {
		return sock, nil
	}
	cfg, err := Parse(path, data)
	if err != nil {
		return "", err
	}
	return cfg.Supervisor.Socket, nil
}

// socketOf finds the socket of the config src whose directory is dir, as
// SocketPath says; ok is false when src holds what it cannot be sure of.
// For every src that Parse accepts, a socket it returns with ok is the
// Supervisor.Socket that Parse sets (FuzzSocketOf).
func socketOf(dir, src string) (sock string, ok bool) {
	src = strings.TrimPrefix(src, "\xef\xbb\xbf")
	if strings.HasPrefix(src, "\xff\xfe") || strings.HasPrefix(src, "\xfe\xff") {
		return "", false
	}
	const (
		top = iota // before any table header
		supervisor
		other
	)
	table := top
	found := false
	for i := 0; i < len(src); {
		end := strings.IndexByte(src[i:], '\n')
		if end < 0 {
			end = len(src)
		} else {
			end += i
		}
		line := strings.TrimRight(src[i:end], "\r")
		t := strings.TrimLeft(line, " \t")
		next := end + 1
		switch {
		case t == "" || t[0] == '#':
		case t[0] == '[':
			name, ok := headerTable(t)
			if !ok {
				return "", false
			}
			table = other
			if name == "supervisor" {
				table = supervisor
			}
		default:
			key, value, ok := strings.Cut(t, "=")
			if !ok {
				return "", false
			}
			key = strings.TrimRight(key, " \t")
			if !isBareKey(key) && (table != other || !isDottedBareKey(key)) {
				return "", false
			}
			switch {
			case table == top && key == "supervisor":
				return "", false // an inline table
			case table == supervisor && key == "socket":
				if found {
					return "", false
				}
				if sock, ok = stringValue(value); !ok || sock == "" {
					return "", false
				}
				found = true
			}
			// The value may go on over lines: skip it, then the
			// rest of its last line.
			after, ok := skipValue(src, i+len(line)-len(value))
			if !ok {
				return "", false
			}
			rest := strings.IndexByte(src[after:], '\n')
			if rest < 0 {
				rest = len(src) - after
			}
			if r := strings.Trim(src[after:after+rest], " \t\r"); r != "" && r[0] != '#' {
				return "", false
			}
			next = after + rest + 1
		}
		i = next
	}
	if !found {
		sock = "ringsup.sock"
	}
	return joinDir(dir, sock), true
}

// headerTable returns the first name of the table header t ("[a.b]" or
// "[[a.b]]"): "supervisor" only for the header [supervisor] itself. ok is
// false when that name is quoted or the header is not one it can read.
func headerTable(t string) (name string, ok bool) {
	array := strings.HasPrefix(t, "[[")
	rest := strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(t, "["), "["), " \t")
	n := 0
	for n < len(rest) && isBareKeyByte(rest[n]) {
		n++
	}
	if n == 0 {
		return "", false
	}
	name, rest = rest[:n], strings.TrimLeft(rest[n:], " \t")
	switch {
	case name != "supervisor":
		return name, true
	case strings.HasPrefix(rest, "."):
		return "supervisor.", true // a table inside [supervisor]
	case array || !strings.HasPrefix(rest, "]"):
		return "", false
	}
	rest = strings.TrimLeft(rest[1:], " \t")
	if rest != "" && rest[0] != '#' {
		return "", false
	}
	return name, true
}

// isDottedBareKey reports whether k is bare keys joined by dots, with
// blanks around the dots.
func isDottedBareKey(k string) bool {
	for part := range strings.SplitSeq(k, ".") {
		if !isBareKey(strings.Trim(part, " \t")) {
			return false
		}
	}
	return true
}

// stringValue returns the string that v, the rest of a line after "=",
// holds: a basic string without escapes or a literal string, then at most
// a comment.
func stringValue(v string) (string, bool) {
	v = strings.TrimLeft(v, " \t")
	if v == "" || v[0] != '"' && v[0] != '\'' {
		return "", false
	}
	end := strings.IndexByte(v[1:], v[0])
	if end < 0 {
		return "", false
	}
	s, rest := v[1:1+end], strings.TrimLeft(v[2+end:], " \t")
	if strings.ContainsAny(s, "\\\x00\x7f") || rest != "" && rest[0] != '#' {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 && s[i] != '\t' {
			return "", false
		}
	}
	return s, true
}

// skipValue returns the offset just past the value that starts at or
// after offset i of src (blanks first): a string, single- or multi-line,
// an array or inline table over any number of lines, or a scalar up to a
// comment or the end of the line. ok is false when the value does not end.
func skipValue(src string, i int) (int, bool) {
	for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
		i++
	}
	if i >= len(src) {
		return i, false
	}
	switch src[i] {
	case '"', '\'':
		return skipString(src, i)
	case '[', '{':
		depth := 0
		for i < len(src) {
			switch c := src[i]; c {
			case '"', '\'':
				var ok bool
				if i, ok = skipString(src, i); !ok {
					return i, false
				}
				continue
			case '#':
				for i < len(src) && src[i] != '\n' {
					i++
				}
				continue
			case '[', '{':
				depth++
			case ']', '}':
				if depth--; depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return i, false
	}
	for i < len(src) && src[i] != '\n' && src[i] != '#' {
		i++
	}
	return i, true
}

// skipString returns the offset just past the string that starts at
// offset i of src: basic or literal, single- or multi-line.
func skipString(src string, i int) (int, bool) {
	q := src[i]
	if strings.HasPrefix(src[i:], strings.Repeat(string(q), 3)) {
		for j := i + 3; j < len(src); j++ {
			switch {
			case q == '"' && src[j] == '\\':
				j++
			case strings.HasPrefix(src[j:], strings.Repeat(string(q), 3)):
				// Up to two more quotes are the string's own.
				end := j + 3
				for n := 0; n < 2 && end < len(src) && src[end] == q; n++ {
					end++
				}
				return end, true
			}
		}
		return len(src), false
	}
	for j := i + 1; j < len(src) && src[j] != '\n'; j++ {
		switch {
		case q == '"' && src[j] == '\\':
			j++
		case src[j] == q:
			return j + 1, true
		}
	}
	return len(src), false
}
