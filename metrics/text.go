package metrics

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// The metric types of the text format.
const (
	gauge   = "gauge"
	counter = "counter"
	summary = "summary"
)

// family is one metric family of a scrape: its points share a name (a
// summary's _sum and _count have a suffix), HELP and TYPE.
type family struct {
	name, help, typ string
	points          []point
}

// point is one line of a family: a sample.
type point struct {
	suffix string  // "", or _sum and _count of a summary
	labels []label // in the order written; sorted by name by convention
	value  float64
}

type label struct{ name, value string }

// add appends a sample with labels given as name, value pairs.
func (f *family) add(v float64, labels ...string) {
	s := point{value: v}
	for i := 0; i+1 < len(labels); i += 2 {
		s.labels = append(s.labels, label{labels[i], labels[i+1]})
	}
	f.points = append(f.points, s)
}

// writeText writes fams in the Prometheus text format (version 0.0.4) as
// the official client library does: families sorted by name, the points
// of a gauge or counter sorted by their label values, HELP and label
// values escaped, values as strconv's shortest 'g' form. A family without
// points is left out.
func writeText(buf *bytes.Buffer, fams []*family) {
	slices.SortFunc(fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	for _, f := range fams {
		if len(f.points) == 0 {
			continue
		}
		if f.typ != summary {
			slices.SortStableFunc(f.points, compareLabels)
		}
		buf.WriteString("# HELP ")
		buf.WriteString(f.name)
		buf.WriteByte(' ')
		escape(buf, f.help, false)
		buf.WriteString("\n# TYPE ")
		buf.WriteString(f.name)
		buf.WriteByte(' ')
		buf.WriteString(f.typ)
		buf.WriteByte('\n')
		for _, s := range f.points {
			buf.WriteString(f.name)
			buf.WriteString(s.suffix)
			if len(s.labels) > 0 {
				buf.WriteByte('{')
				for i, l := range s.labels {
					if i > 0 {
						buf.WriteByte(',')
					}
					buf.WriteString(l.name)
					buf.WriteString(`="`)
					escape(buf, l.value, true)
					buf.WriteByte('"')
				}
				buf.WriteByte('}')
			}
			buf.WriteByte(' ')
			buf.Write(strconv.AppendFloat(buf.AvailableBuffer(), s.value, 'g', -1, 64))
			buf.WriteByte('\n')
		}
	}
}

// compareLabels orders points by their label values, in label order.
func compareLabels(a, b point) int {
	for i := range min(len(a.labels), len(b.labels)) {
		if c := cmp.Compare(a.labels[i].value, b.labels[i].value); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a.labels), len(b.labels))
}

// escape writes s with backslashes and newlines escaped, and double quotes
// too in a label value; invalid UTF-8 becomes U+FFFD.
func escape(buf *bytes.Buffer, s string, quote bool) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			buf.WriteString(`\\`)
		case c == '\n':
			buf.WriteString(`\n`)
		case c == '"' && quote:
			buf.WriteString(`\"`)
		default:
			buf.WriteByte(c)
		}
	}
}
