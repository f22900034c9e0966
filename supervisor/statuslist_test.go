package supervisor

import (
	"reflect"
	"slices"
	"testing"
	"testing/synctest"
)

// listNames returns the names of st's daemons, in its order.
func listNames(st StatusList) []string {
	var names []string
	for _, d := range st.Daemons {
		names = append(names, d.Name)
	}
	return names
}

// StatusList is in name order whatever the start order (chain starts a,
// solo, b, c), names a daemon once however often it was asked for, and
// is Status's content.
func TestStatusListIsSortedByName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, chain+instancesBase, "")
		defer h.stop()
		for _, tc := range []struct {
			ask  []string
			want []string
		}{
			{nil, []string{"a", "b", "c", "d", "solo", "w@0", "w@1", "w@2"}},
			{[]string{"solo", "c", "a", "c"}, []string{"a", "c", "solo"}},
			{[]string{"w@2", "w", "d"}, []string{"d", "w@0", "w@1", "w@2"}},
		} {
			st, err := h.sup.StatusList(tc.ask...)
			if err != nil {
				t.Fatalf("StatusList(%q): %v", tc.ask, err)
			}
			if got := listNames(st); !slices.Equal(got, tc.want) {
				t.Errorf("StatusList(%q) names = %q, want %q", tc.ask, got, tc.want)
			}
			full, err := h.sup.Status(tc.ask...)
			if err != nil {
				t.Fatalf("Status(%q): %v", tc.ask, err)
			}
			// The bubble's clock stands still: the uptimes are the same.
			if !reflect.DeepEqual(st.Status(), full) || !reflect.DeepEqual(full.List(), st) {
				t.Errorf("StatusList(%q) = %+v, Status = %+v: not the same daemons", tc.ask, st, full)
			}
		}
		if _, err := h.sup.StatusList("a", "nope"); err == nil {
			t.Error(`StatusList("a", "nope") = nil error, want the unknown daemon`)
		}
	})
}
