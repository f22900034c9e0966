package config

import (
	"strconv"
	"strings"
)

// The TOML decoder does not say where each key is, so Parse finds out with
// the small scanner below. Parse runs it beside the decoder, on every
// document, but uses its result only for documents the decoder accepted, so
// it can skip values without checking them; on anything else it still
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

// id returns k as a map key: its elements joined by 0 bytes.
func (k keyPath) id() string { return string(k.appendID(nil)) }

// appendID appends k.id() to b.
func (k keyPath) appendID(b []byte) []byte {
	for i, e := range k {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, e...)
	}
	return b
}

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
	// Most keys, tables and array elements start after one of these bytes,
	// so their count is a close guess of the size of the result.
	n := strings.Count(src, "=") + strings.Count(src, "[") + strings.Count(src, ",")
	s := &scanner{
		src:    src,
		pos:    make(map[string]Position, n+1),
		arrays: make(map[string]int),
	}
	s.document()
	return s.pos
}

type scanner struct {
	src    string
	i      int                 // offset of the next byte to read
	pos    map[string]Position // the result
	arrays map[string]int      // [[x]] by keyPath.id -> index of its last element

	// path is the keyPath being read: each name or index preceded by a 0
	// byte, so that path[1:] is its keyPath.id.
	path []byte
	segs []segment // the names of the last key read

	// line is the 0-based line at offset at, which starts at offset start.
	line, start, at int
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

// push appends a name to s.path.
func (s *scanner) push(name string) {
	s.path = append(s.path, 0)
	s.path = append(s.path, name...)
}

// pushIndex appends an array index to s.path.
func (s *scanner) pushIndex(i int) {
	s.path = append(s.path, 0)
	s.path = append(s.path, indexMark...)
	s.path = strconv.AppendInt(s.path, int64(i), 10)
}

// id returns s.path as a keyPath.id, in bytes: a map index by string(s.id())
// copies nothing.
func (s *scanner) id() []byte {
	if len(s.path) == 0 {
		return s.path
	}
	return s.path[1:]
}

// record records off as the position of s.path, unless it has one.
func (s *scanner) record(off int) {
	if _, ok := s.pos[string(s.id())]; ok {
		return
	}
	s.pos[string(s.id())] = s.position(off)
}

// position returns the line and column of offset off. Offsets come in
// increasing order, so it counts the lines from the previous one only; it
// starts over from the top for one that does not.
func (s *scanner) position(off int) Position {
	if off < s.at {
		s.line, s.start, s.at = 0, 0, 0
	}
	if seen := s.src[s.at:min(off, len(s.src))]; len(seen) > 0 {
		if n := strings.Count(seen, "\n"); n > 0 {
			s.line += n
			s.start = s.at + strings.LastIndexByte(seen, '\n') + 1
		}
		s.at += len(seen)
	}
	return Position{Line: s.line + 1, Col: off - s.start + 1}
}

func (s *scanner) document() {
	for !s.eof() {
		start := s.i
		s.skipSpace(true)
		switch {
		case s.eof():
		case s.src[s.i] == '[' && s.peek(1) == '[':
			s.i += 2
			s.header(true)
		case s.src[s.i] == '[':
			s.i++
			s.header(false)
		default:
			s.keyValue()
		}
		if s.i == start {
			s.i++
		}
	}
}

// header reads the rest of a [table] or [[array]] header and leaves the
// table's path in s.path.
func (s *scanner) header(array bool) {
	s.key()
	s.skipSpace(false)
	for n := 0; n < 2 && !s.eof() && s.src[s.i] == ']'; n++ {
		s.i++
	}
	s.path = s.path[:0]
	for j, seg := range s.segs {
		s.push(seg.name)
		s.record(seg.off)
		if array && j == len(s.segs)-1 {
			i := 0
			if last, ok := s.arrays[string(s.id())]; ok {
				i = last + 1
			}
			s.arrays[string(s.id())] = i
			s.pushIndex(i)
			s.record(seg.off)
		} else if i, ok := s.arrays[string(s.id())]; ok {
			s.pushIndex(i)
		}
	}
}

// keyValue reads `key = value` in the table at s.path, and leaves s.path as
// it found it.
func (s *scanner) keyValue() {
	s.key()
	if len(s.segs) == 0 {
		return
	}
	table := len(s.path)
	for _, seg := range s.segs {
		s.push(seg.name)
		s.record(seg.off)
	}
	s.skipSpace(false)
	if !s.eof() && s.src[s.i] == '=' {
		s.i++
	}
	s.skipSpace(false)
	s.value()
	s.path = s.path[:table]
}

// key reads a key, dotted or not, into s.segs.
func (s *scanner) key() {
	s.segs = s.segs[:0]
	for {
		s.skipSpace(false)
		off := s.i
		name, ok := s.keyName()
		if !ok {
			return
		}
		s.segs = append(s.segs, segment{name, off})
		s.skipSpace(false)
		if s.eof() || s.src[s.i] != '.' {
			return
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
// of arrays under s.path.
func (s *scanner) value() {
	if s.eof() {
		return
	}
	switch s.src[s.i] {
	case '"':
		s.basicString()
	case '\'':
		s.literalString()
	case '[':
		s.array()
	case '{':
		s.inlineTable()
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

func (s *scanner) array() {
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
		array := len(s.path)
		s.pushIndex(n)
		s.record(start)
		s.value()
		s.path = s.path[:array]
		n++
		if s.i == start {
			s.i++
		}
	}
}

func (s *scanner) inlineTable() {
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
		s.keyValue()
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
