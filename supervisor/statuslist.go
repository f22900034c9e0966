package supervisor

import (
	"slices"
	"strings"
)

// StatusList is a Status with its daemons in a slice, sorted by name in
// byte order (the order of the keys of Status.Daemons in its JSON): what
// `ctl status` prints, in the order it prints it. The loop makes it
// without building a map, and a printer walks it without sorting.
type StatusList struct {
	Profile string
	Config  string
	PID     int
	// Daemons is nil for a Status whose Daemons is nil, which prints as
	// null rather than {}.
	Daemons []NamedDaemonStatus
}

// NamedDaemonStatus is one daemon's entry in a StatusList.
type NamedDaemonStatus struct {
	Name string
	DaemonStatus
}

// List returns st as a StatusList.
func (st Status) List() StatusList {
	l := StatusList{Profile: st.Profile, Config: st.Config, PID: st.PID}
	if st.Daemons != nil {
		l.Daemons = make([]NamedDaemonStatus, 0, len(st.Daemons))
		for _, name := range st.Names() {
			l.Daemons = append(l.Daemons, NamedDaemonStatus{Name: name, DaemonStatus: st.Daemons[name]})
		}
	}
	return l
}

// Status returns l as a Status.
func (l StatusList) Status() Status {
	st := Status{Profile: l.Profile, Config: l.Config, PID: l.PID}
	if l.Daemons != nil {
		st.Daemons = make(map[string]DaemonStatus, len(l.Daemons))
		for _, d := range l.Daemons {
			st.Daemons[d.Name] = d.DaemonStatus
		}
	}
	return st
}

// sortedByName sorts ds by name, in place, and drops a daemon named twice
// (`ctl status web web@1`). The start order it is usually given is in
// name order already where no dependency reorders it: that is checked
// first, in one pass.
func sortedByName(ds []*daemon) []*daemon {
	byName := func(a, b *daemon) int { return strings.Compare(a.name, b.name) }
	if !slices.IsSortedFunc(ds, byName) {
		slices.SortFunc(ds, byName)
	}
	return slices.CompactFunc(ds, func(a, b *daemon) bool { return a == b })
}
