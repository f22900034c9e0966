package main

import (
	"strings"
	"testing"
)

// TestBaselineColumn: with a baseline, the table has its column and
// ringsup's ratio to it, for the flat and the DAG rows; without one, the
// table is as before.
func TestBaselineColumn(t *testing.T) {
	r := newResults()
	r.add("status_ms", "ringsup", 500, 3)
	r.add("status_ms", "ringsup-base", 500, 6)
	r.add("start_ms", "ringsup-dag", 500, 100)
	r.add("start_ms", "ringsup-dag-base", 500, 80)
	o := &options{ns: []int{500}, statusN: 500, baseline: "/tmp/base/ringsup"}
	md := r.markdown(o)
	for _, want := range []string{
		"| ringsup | ringsup-base | supervisord |",
		"| ringsup ÷ best peer | ringsup ÷ base | target |",
		"| B6 status, N=500 (ms) | — | — | 3.0 | 6.0 | — | — | — | — | — | — | 0.50× | ≤ 10 ms | yes |",
		"| B1 start, N=500, 10-level DAG (ms) | — | — | 100 | 80.0 | — | — | — | — | — | — | 1.25× |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown() has no line with %q:\n%s", want, md)
		}
	}
	o.baseline = ""
	if md := r.markdown(o); strings.Contains(md, "base") {
		t.Errorf("markdown() without a baseline mentions one:\n%s", md)
	}
}

// TestSelectedBaseline: the baseline contenders run only with a baseline,
// and come along with the ringsup contender --only names.
func TestSelectedBaseline(t *testing.T) {
	names := func(h *harness) string {
		var out []string
		for _, c := range h.selected() {
			out = append(out, c.name)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		only []string
		base string
		want string
	}{
		{nil, "", "floor,floor-2t,ringsup,ringsup-dag,supervisord,s6,runit"},
		{nil, "/b", "floor,floor-2t,ringsup,ringsup-base,ringsup-dag,ringsup-dag-base,supervisord,s6,runit"},
		{[]string{"ringsup", "runit"}, "/b", "ringsup,ringsup-base,runit"},
		{[]string{"ringsup", "runit"}, "", "ringsup,runit"},
		{[]string{"ringsup-dag-base"}, "/b", "ringsup-dag-base"},
	} {
		h := &harness{opts: &options{only: c.only}, bins: &bins{base: c.base}}
		if got := names(h); got != c.want {
			t.Errorf("selected() with --only %v, baseline %q = %s, want %s", c.only, c.base, got, c.want)
		}
	}
}

func TestOnlyBaselineNeedsBaseline(t *testing.T) {
	if _, err := parseFlags([]string{"--only", "ringsup-base"}); err == nil {
		t.Error("parseFlags(--only ringsup-base) without --baseline = nil error")
	}
	if _, err := parseFlags([]string{"--only", "ringsup-base", "--baseline", "/b/ringsup"}); err != nil {
		t.Errorf("parseFlags(--only ringsup-base --baseline /b/ringsup) = %v", err)
	}
}
