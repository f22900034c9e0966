package config

import (
	"sort"
	"strconv"
	"strings"
)

// The TOML decoder does not say where each key is, so Parse finds out with
// the small scanner below. It runs only on documents the decoder accepted,
// so it can skip values without checking them; on anything else it still
// terminates and never panics.

// keyPath is the path of a key or value: table and key names, and array
// indexes made by keyPath.index.
type keyPath []string

// indexMark starts a keyPath element that is an array index.
const indexMark = "\x01"

func (k keyPath) key(name string) keyPath { return append(k[:len(k):len(k)], name) }

func (k keyPath) index(i int) keyPath {
	return append(k[:len(k):len(k)], indexMark+strconv.Itoa(i))
}

// id returns k as a map key.
func (k keyPath) id() string { return strings.Join(k, "\x00") }

// String returns k as written in messages: daemons.web.command,
// daemons."a b".env, hooks[0].events.
func (k keyPath) String() string {
	var b strings.Builder
	for i, e := range k {
		if strings.HasPrefix(e, indexMark) {
			b.WriteString("[" + e[len(indexMark):] + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if isBareKey(e) {
			b.WriteString(e)
		} else {
			b.WriteString(strconv.Quote(e))
		}
	}
	return b.String()
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBareKeyByte(s[i]) {
			return false
		}
	}
	return true
}

func isBareKeyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// scanPositions returns, by keyPath.id, where each key, table and array
// element of src first appears: at the key's name (the last name in a
// dotted key or table header), or at the first byte of an array element.
func scanPositions(src string) map[string]Position {
	// Skip a byte order mark, as the TOML decoder does.
	if strings.HasPrefix(src, "\xff\xfe") || strings.HasPrefix(src, "\xfe\xff") {
		src = src[2:]
	} else if strings.HasPrefix(src, "\xef\xbb\xbf") {
		src = src[3:]
	}
	s := &scanner{
		src:    src,
		lines:  []int{0},
		pos:    make(map[string]Position),
		arrays: make(map[string]int),
	}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			s.lines = append(s.lines, i+1)
		}
	}
	s.document()
	return s.pos
}

type scanner struct {
	src    string
	i      int                 // offset of the next byte to read
	lines  []int               // offsets at which lines start
	pos    map[string]Position // the result
	arrays map[string]int      // [[x]] by keyPath.id -> index of its last element
}

// segment is one name of a key, and where it starts.
type segment struct {
	name string
	off  int
}

func (s *scanner) eof() bool { return s.i >= len(s.src) }

// peek returns the byte n bytes ahead, or 0 past the end.
func (s *scanner) peek(n int) byte {
	if s.i+n < len(s.src) {
		return s.src[s.i+n]
	}
	return 0
}

func (s *scanner) record(k keyPath, off int) {
	id := k.id()
	if _, ok := s.pos[id]; ok {
		return
	}
	line := sort.SearchInts(s.lines, off+1) - 1
	s.pos[id] = Position{Line: line + 1, Col: off - s.lines[line] + 1}
}

func (s *scanner) document() {
	var table keyPath
	for !s.eof() {
		start := s.i
		s.skipSpace(true)
		switch {
		case s.eof():
		case s.src[s.i] == '[' && s.peek(1) == '[':
			s.i += 2
			table = s.header(true)
		case s.src[s.i] == '[':
			s.i++
			table = s.header(false)
		default:
			s.keyValue(table)
		}
		if s.i == start {
			s.i++
		}
	}
}

// header reads the rest of a [table] or [[array]] header and returns the
// table's path.
func (s *scanner) header(array bool) keyPath {
	segs := s.key()
	s.skipSpace(false)
	for n := 0; n < 2 && !s.eof() && s.src[s.i] == ']'; n++ {
		s.i++
	}
	var k keyPath
	for j, seg := range segs {
		k = k.key(seg.name)
		s.record(k, seg.off)
		id := k.id()
		if array && j == len(segs)-1 {
			i := 0
			if last, ok := s.arrays[id]; ok {
				i = last + 1
			}
			s.arrays[id] = i
			k = k.index(i)
			s.record(k, seg.off)
		} else if i, ok := s.arrays[id]; ok {
			k = k.index(i)
		}
	}
	return k
}

// keyValue reads `key = value` in table.
func (s *scanner) keyValue(table keyPath) {
	segs := s.key()
	if len(segs) == 0 {
		return
	}
	k := table
	for _, seg := range segs {
		k = k.key(seg.name)
		s.record(k, seg.off)
	}
	s.skipSpace(false)
	if !s.eof() && s.src[s.i] == '=' {
		s.i++
	}
	s.skipSpace(false)
	s.value(k)
}

// key reads a key, dotted or not, and returns its names.
func (s *scanner) key() []segment {
	var segs []segment
	for {
		s.skipSpace(false)
		off := s.i
		name, ok := s.keyName()
		if !ok {
			return segs
		}
		segs = append(segs, segment{name, off})
		s.skipSpace(false)
		if s.eof() || s.src[s.i] != '.' {
			return segs
		}
		s.i++
	}
}

// keyName reads one bare or quoted name of a key.
func (s *scanner) keyName() (string, bool) {
	if s.eof() {
		return "", false
	}
	start := s.i
	switch s.src[s.i] {
	case '"':
		s.basicString()
		raw := s.src[start:s.i]
		if name, err := strconv.Unquote(raw); err == nil {
			return name, true
		}
		return strings.Trim(raw, `"`), true
	case '\'':
		s.literalString()
		return strings.Trim(s.src[start:s.i], "'"), true
	}
	for !s.eof() && isBareKeyByte(s.src[s.i]) {
		s.i++
	}
	return s.src[start:s.i], s.i > start
}

// value skips a value, recording the keys of inline tables and the elements
// of arrays under k.
func (s *scanner) value(k keyPath) {
	if s.eof() {
		return
	}
	switch s.src[s.i] {
	case '"':
		s.basicString()
	case '\'':
		s.literalString()
	case '[':
		s.array(k)
	case '{':
		s.inlineTable(k)
	default:
		start := s.i
		for !s.eof() && !strings.ContainsRune(",]}#\r\n", rune(s.src[s.i])) {
			s.i++
		}
		if s.i == start {
			s.i++
		}
	}
}

func (s *scanner) array(k keyPath) {
	s.i++ // [
	for n := 0; !s.eof(); {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		switch s.src[s.i] {
		case ']':
			s.i++
			return
		case ',':
			s.i++
			continue
		}
		start := s.i
		e := k.index(n)
		s.record(e, start)
		s.value(e)
		n++
		if s.i == start {
			s.i++
		}
	}
}

func (s *scanner) inlineTable(k keyPath) {
	s.i++ // {
	for !s.eof() {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		switch s.src[s.i] {
		case '}':
			s.i++
			return
		case ',':
			s.i++
			continue
		}
		start := s.i
		s.keyValue(k)
		if s.i == start {
			s.i++
		}
	}
}

// basicString skips a basic string, on one line or multi-line.
func (s *scanner) basicString() {
	multi := strings.HasPrefix(s.src[s.i:], `"""`)
	if multi {
		s.i += 3
	} else {
		s.i++
	}
	for !s.eof() {
		switch c := s.src[s.i]; {
		case c == '\\':
			s.i += 2
		case c == '"' && !multi:
			s.i++
			return
		case c == '"':
			// A closing """ may follow up to two quotes of the content.
			n := 0
			for !s.eof() && s.src[s.i] == '"' {
				s.i++
				n++
			}
			if n >= 3 {
				return
			}
		case c == '\n' && !multi:
			return
		default:
			s.i++
		}
	}
	s.i = min(s.i, len(s.src))
}

// literalString skips a literal string, on one line or multi-line.
func (s *scanner) literalString() {
	multi := strings.HasPrefix(s.src[s.i:], `'''`)
	if multi {
		s.i += 3
	} else {
		s.i++
	}
	for !s.eof() {
		switch c := s.src[s.i]; {
		case c == '\'' && !multi:
			s.i++
			return
		case c == '\'':
			n := 0
			for !s.eof() && s.src[s.i] == '\'' {
				s.i++
				n++
			}
			if n >= 3 {
				return
			}
		case c == '\n' && !multi:
			return
		default:
			s.i++
		}
	}
}

// skipSpace skips blanks and comments, and newlines if newlines is set.
func (s *scanner) skipSpace(newlines bool) {
	for !s.eof() {
		switch s.src[s.i] {
		case ' ', '\t':
			s.i++
		case '\r', '\n':
			if !newlines {
				return
			}
			s.i++
		case '#':
			for !s.eof() && s.src[s.i] != '\n' {
				s.i++
			}
		default:
			return
		}
	}
}
