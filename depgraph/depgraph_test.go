package depgraph

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// parseSpec decodes a graph written as "a:b,c;b:c;c:" into the map New
// takes: entries are separated by ';', a node from its dependencies by ':',
// and dependencies by ','. An entry without ':' is a node without
// dependencies, empty entries are skipped, and repeated entries for a node
// add to its list.
func parseSpec(spec string) map[string][]string {
	deps := make(map[string][]string)
	for entry := range strings.SplitSeq(spec, ";") {
		if entry == "" {
			continue
		}
		name, list, _ := strings.Cut(entry, ":")
		ds := deps[name]
		if list != "" {
			ds = append(ds, strings.Split(list, ",")...)
		}
		deps[name] = ds
	}
	return deps
}

// graphTests are whole graphs with their order, levels and cycle. They also
// seed FuzzOrder.
var graphTests = []struct {
	name   string
	spec   string
	order  []string // nil when cyclic
	levels [][]string
	cycle  []string // nil when acyclic
}{
	{name: "empty", spec: "", order: []string{}, levels: [][]string{}},
	{name: "single", spec: "a:", order: []string{"a"}, levels: [][]string{{"a"}}},
	{
		name:   "chain",
		spec:   "a:b;b:c;c:",
		order:  []string{"c", "b", "a"},
		levels: [][]string{{"c"}, {"b"}, {"a"}},
	},
	{
		name:   "diamond",
		spec:   "top:left,right;left:base;right:base;base:",
		order:  []string{"base", "left", "right", "top"},
		levels: [][]string{{"base"}, {"left", "right"}, {"top"}},
	},
	{
		name:   "independent nodes by name",
		spec:   "c:;a:;b:",
		order:  []string{"a", "b", "c"},
		levels: [][]string{{"a", "b", "c"}},
	},
	{
		// a is the smallest name but is ready only after z.
		name:   "ties broken among ready nodes",
		spec:   "z:;a:z;m:",
		order:  []string{"m", "z", "a"},
		levels: [][]string{{"m", "z"}, {"a"}},
	},
	{
		// b becomes ready before d is placed and wins on name.
		name:   "order is not level by level",
		spec:   "a:b,d;b:c;c:;d:",
		order:  []string{"c", "b", "d", "a"},
		levels: [][]string{{"c", "d"}, {"b"}, {"a"}},
	},
	{
		name:   "unknown dependencies ignored",
		spec:   "a:b,ghost;b:;c:ghost",
		order:  []string{"b", "a", "c"},
		levels: [][]string{{"b", "c"}, {"a"}},
	},
	{
		name:   "duplicates ignored",
		spec:   "a:b,b,c,b;b:c,c;c:",
		order:  []string{"c", "b", "a"},
		levels: [][]string{{"c"}, {"b"}, {"a"}},
	},
	{name: "self-loop", spec: "a:a", cycle: []string{"a", "a"}},
	{name: "self-loop among others", spec: "a:;b:b;c:b", cycle: []string{"b", "b"}},
	{name: "two-node cycle", spec: "a:b;b:a", cycle: []string{"a", "b", "a"}},
	{name: "three-node cycle", spec: "a:c;b:a;c:b", cycle: []string{"a", "c", "b", "a"}},
	{name: "cycle behind a prefix", spec: "x:a;a:b;b:a", cycle: []string{"a", "b", "a"}},
	{
		// The search enters at a, but the cycle starts where it closes.
		name:  "cycle behind a smaller prefix",
		spec:  "a:x;x:y;y:x",
		cycle: []string{"x", "y", "x"},
	},
	{
		name:  "first cycle found wins",
		spec:  "a:b,c;b:;c:a;d:d",
		cycle: []string{"a", "c", "a"},
	},
	{
		name:  "cycle after a finished subtree",
		spec:  "a:b;b:c;c:;d:e;e:d",
		cycle: []string{"d", "e", "d"},
	},
	{
		name:  "cycle through a node reached twice",
		spec:  "a:b,c;b:d;c:d;d:c",
		cycle: []string{"d", "c", "d"},
	},
}

func TestCycle(t *testing.T) {
	for _, tt := range graphTests {
		t.Run(tt.name, func(t *testing.T) {
			got := New(parseSpec(tt.spec)).Cycle()
			if !slices.Equal(got, tt.cycle) || (got == nil) != (tt.cycle == nil) {
				t.Errorf("New(%q).Cycle() = %#v, want %#v", tt.spec, got, tt.cycle)
			}
		})
	}
}

func TestOrder(t *testing.T) {
	for _, tt := range graphTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := New(parseSpec(tt.spec)).Order()
			if tt.cycle != nil {
				checkCycleError(t, fmt.Sprintf("New(%q).Order()", tt.spec), err, tt.cycle)
				if got != nil {
					t.Errorf("New(%q).Order() = %q, want nil with the error", tt.spec, got)
				}
				return
			}
			if err != nil || got == nil || !slices.Equal(got, tt.order) {
				t.Errorf("New(%q).Order() = %#v, %v; want %#v, nil", tt.spec, got, err, tt.order)
			}
		})
	}
}

func TestLevels(t *testing.T) {
	for _, tt := range graphTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := New(parseSpec(tt.spec)).Levels()
			if tt.cycle != nil {
				checkCycleError(t, fmt.Sprintf("New(%q).Levels()", tt.spec), err, tt.cycle)
				return
			}
			if err != nil || got == nil || !slices.EqualFunc(got, tt.levels, slices.Equal) {
				t.Errorf("New(%q).Levels() = %q, %v; want %q, nil", tt.spec, got, err, tt.levels)
			}
		})
	}
}

// checkCycleError checks that err, returned by call, is a *CycleError with
// the given path.
func checkCycleError(t *testing.T, call string, err error, path []string) {
	t.Helper()
	var ce *CycleError
	if !errors.As(err, &ce) {
		t.Fatalf("%s error = %v, want a *CycleError", call, err)
	}
	if !slices.Equal(ce.Path, path) {
		t.Errorf("%s error Path = %q, want %q", call, ce.Path, path)
	}
}

func TestCycleErrorError(t *testing.T) {
	tests := []struct {
		path []string
		want string
	}{
		{[]string{"a", "a"}, "dependency cycle: a -> a"},
		{[]string{"a", "b", "a"}, "dependency cycle: a -> b -> a"},
		{[]string{"web", "db", "cache", "web"}, "dependency cycle: web -> db -> cache -> web"},
	}
	for _, tt := range tests {
		err := &CycleError{Path: tt.path}
		if got := err.Error(); got != tt.want {
			t.Errorf("(&CycleError{Path: %q}).Error() = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestNodes(t *testing.T) {
	tests := []struct {
		spec string
		want []string
	}{
		{"", []string{}},
		{"a:", []string{"a"}},
		{"b:;a:x;c:a", []string{"a", "b", "c"}}, // x is not a node
		{"a:a", []string{"a"}},
	}
	for _, tt := range tests {
		got := New(parseSpec(tt.spec)).Nodes()
		if got == nil || !slices.Equal(got, tt.want) {
			t.Errorf("New(%q).Nodes() = %#v, want %#v", tt.spec, got, tt.want)
		}
	}
}

const (
	diamond = "top:left,right;left:base;right:base;base:"
	uneven  = "a:b,d;b:c;c:;d:"
	prefix  = "x:a;a:b;b:a"
)

func TestDependsOn(t *testing.T) {
	tests := []struct {
		spec, name string
		want       []string
	}{
		{"", "a", []string{}},
		{diamond, "top", []string{"left", "right"}},
		{diamond, "base", []string{}},
		{diamond, "ghost", []string{}},
		{"c:b,a;a:;b:", "c", []string{"a", "b"}},
		{"a:b,ghost,b;b:", "a", []string{"b"}},
		{"a:a", "a", []string{"a"}},
	}
	for _, tt := range tests {
		got := New(parseSpec(tt.spec)).DependsOn(tt.name)
		if got == nil || !slices.Equal(got, tt.want) {
			t.Errorf("New(%q).DependsOn(%q) = %#v, want %#v", tt.spec, tt.name, got, tt.want)
		}
	}
}

func TestDirectDependents(t *testing.T) {
	tests := []struct {
		spec, name string
		want       []string
	}{
		{"", "a", []string{}},
		{diamond, "base", []string{"left", "right"}},
		{diamond, "left", []string{"top"}},
		{diamond, "top", []string{}},
		{"a:b,ghost;b:", "ghost", []string{}},
		{"a:b,b;c:b;b:", "b", []string{"a", "c"}},
		{"b:a;a:a", "a", []string{"a", "b"}},
	}
	for _, tt := range tests {
		got := New(parseSpec(tt.spec)).DirectDependents(tt.name)
		if got == nil || !slices.Equal(got, tt.want) {
			t.Errorf("New(%q).DirectDependents(%q) = %#v, want %#v", tt.spec, tt.name, got, tt.want)
		}
	}
}

// namesTests are calls of Closure or StopOrder with their expected results.
type namesTest struct {
	spec  string
	names []string
	want  []string
}

var closureTests = []namesTest{
	{"", []string{"a"}, []string{}},
	{diamond, nil, []string{}},
	{diamond, []string{"ghost"}, []string{}},
	{diamond, []string{"base", "base"}, []string{"base"}},
	{diamond, []string{"left"}, []string{"base", "left"}},
	{diamond, []string{"right", "left"}, []string{"base", "left", "right"}},
	{diamond, []string{"top"}, []string{"base", "left", "right", "top"}},
	{uneven, []string{"a"}, []string{"c", "b", "d", "a"}},
	{uneven, []string{"d", "b"}, []string{"c", "b", "d"}},
	{"a:b,ghost;b:", []string{"a", "ghost"}, []string{"b", "a"}},
	// Cyclic graphs: the set is right and the call terminates.
	{"a:a", []string{"a"}, []string{"a"}},
	{prefix, []string{"x"}, []string{"b", "a", "x"}},
	{prefix, []string{"b"}, []string{"b", "a"}},
}

func TestClosure(t *testing.T) {
	for _, tt := range closureTests {
		got := New(parseSpec(tt.spec)).Closure(tt.names)
		if got == nil || !slices.Equal(got, tt.want) {
			t.Errorf("New(%q).Closure(%q) = %#v, want %#v", tt.spec, tt.names, got, tt.want)
		}
	}
}

var stopOrderTests = []namesTest{
	{"", nil, []string{}},
	{diamond, nil, []string{}},
	{diamond, []string{"base", "left", "right", "top"}, []string{"top", "right", "left", "base"}},
	{diamond, []string{"base", "left"}, []string{"left", "base"}},
	{diamond, []string{"left", "base"}, []string{"left", "base"}},
	{diamond, []string{"ghost", "base", "base"}, []string{"base"}},
	{uneven, []string{"c", "a", "b", "d"}, []string{"a", "d", "b", "c"}},
	// Cyclic graphs: every known name once, and the call terminates.
	{prefix, []string{"a", "b", "x"}, []string{"x", "a", "b"}},
	{"a:a", []string{"a", "a"}, []string{"a"}},
}

func TestStopOrder(t *testing.T) {
	for _, tt := range stopOrderTests {
		got := New(parseSpec(tt.spec)).StopOrder(tt.names)
		if got == nil || !slices.Equal(got, tt.want) {
			t.Errorf("New(%q).StopOrder(%q) = %#v, want %#v", tt.spec, tt.names, got, tt.want)
		}
	}
}

var dependentsTests = []struct {
	spec, name string
	want       []string
}{
	{"", "a", []string{}},
	{diamond, "ghost", []string{}},
	{diamond, "top", []string{}},
	{diamond, "left", []string{"top"}},
	{diamond, "base", []string{"top", "right", "left"}},
	{"a:b;b:c;c:", "c", []string{"a", "b"}},
	{uneven, "c", []string{"a", "b"}},
	{uneven, "d", []string{"a"}},
	// Cyclic graphs: the set is right, name is excluded, and the call
	// terminates.
	{"a:a", "a", []string{}},
	{prefix, "b", []string{"x", "a"}},
	{prefix, "a", []string{"x", "b"}},
}

func TestDependents(t *testing.T) {
	for _, tt := range dependentsTests {
		got := New(parseSpec(tt.spec)).Dependents(tt.name)
		if got == nil || !slices.Equal(got, tt.want) {
			t.Errorf("New(%q).Dependents(%q) = %#v, want %#v", tt.spec, tt.name, got, tt.want)
		}
	}
}

func TestResultsAreCopies(t *testing.T) {
	deps := parseSpec(diamond)
	g := New(deps)
	deps["top"][0] = "base"
	deps["extra"] = nil

	clobber := func(s []string) {
		for i := range s {
			s[i] = "clobbered"
		}
	}
	clobber(g.Nodes())
	clobber(g.DependsOn("top"))
	clobber(g.DirectDependents("base"))
	clobber(g.Closure([]string{"top"}))
	clobber(g.Dependents("base"))
	clobber(g.StopOrder([]string{"top", "base"}))
	order, _ := g.Order()
	clobber(order)
	levels, _ := g.Levels()
	for _, l := range levels {
		clobber(l)
	}

	if got, want := g.Nodes(), []string{"base", "left", "right", "top"}; !slices.Equal(got, want) {
		t.Errorf("Nodes() = %q, want %q", got, want)
	}
	if got, want := g.DependsOn("top"), []string{"left", "right"}; !slices.Equal(got, want) {
		t.Errorf("DependsOn(%q) = %q, want %q", "top", got, want)
	}
	if got, err := g.Order(); !slices.Equal(got, []string{"base", "left", "right", "top"}) {
		t.Errorf("Order() = %q, %v; want [base left right top], nil", got, err)
	}
	wantLevels := [][]string{{"base"}, {"left", "right"}, {"top"}}
	if got, _ := g.Levels(); !slices.EqualFunc(got, wantLevels, slices.Equal) {
		t.Errorf("Levels() = %q, want %q", got, wantLevels)
	}

	c := New(parseSpec("a:b;b:a"))
	clobber(c.Cycle())
	if got, want := c.Cycle(), []string{"a", "b", "a"}; !slices.Equal(got, want) {
		t.Errorf("Cycle() = %q, want %q", got, want)
	}
}

func TestConcurrentReads(t *testing.T) {
	g := New(randomDAG(rand.New(rand.NewPCG(1, 2)), 200, 0.05))
	nodes := g.Nodes()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(nodes); i += 8 {
				g.Order()
				g.Levels()
				g.Cycle()
				g.Closure(nodes[i : i+1])
				g.Dependents(nodes[i])
				g.StopOrder(nodes[:i])
			}
		})
	}
	wg.Wait()
}

// randomDAG returns a graph of n nodes in which the node built i-th may only
// depend on nodes built before it, each with probability p, under names
// shuffled so that build order and name order disagree. Some dependency
// lists also name unknown nodes and repeat entries.
func randomDAG(rng *rand.Rand, n int, p float64) map[string][]string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("n%03d", i)
	}
	rng.Shuffle(n, func(i, j int) { names[i], names[j] = names[j], names[i] })
	deps := make(map[string][]string, n)
	for i, name := range names {
		var ds []string
		for j := range i {
			if rng.Float64() < p {
				ds = append(ds, names[j])
			}
		}
		if len(ds) > 0 && rng.IntN(8) == 0 {
			ds = append(ds, ds[rng.IntN(len(ds))], "ghost")
		}
		deps[name] = ds
	}
	return deps
}

// kept returns deps without the names New ignores: unknown and repeated
// dependencies.
func kept(deps map[string][]string) map[string][]string {
	out := make(map[string][]string, len(deps))
	for name, ds := range deps {
		var k []string
		for _, d := range ds {
			if _, ok := deps[d]; ok && !slices.Contains(k, d) {
				k = append(k, d)
			}
		}
		out[name] = k
	}
	return out
}

// naiveOrder is Order by definition: repeatedly place the smallest name
// whose dependencies are all placed.
func naiveOrder(deps map[string][]string) []string {
	placed := make(map[string]bool)
	var order []string
	for len(order) < len(deps) {
		next := ""
		found := false
		for name, ds := range deps {
			if placed[name] || (found && name >= next) {
				continue
			}
			if !slices.ContainsFunc(ds, func(d string) bool { return !placed[d] }) {
				next, found = name, true
			}
		}
		if !found {
			return nil
		}
		placed[next] = true
		order = append(order, next)
	}
	return order
}

// reach returns the names reachable from start by following next, start
// included.
func reach(next map[string][]string, start ...string) map[string]bool {
	seen := make(map[string]bool)
	stack := slices.Clone(start)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		stack = append(stack, next[n]...)
	}
	return seen
}

// restrict returns the elements of order that are in set, in order.
func restrict(order []string, set map[string]bool) []string {
	var out []string
	for _, n := range order {
		if set[n] {
			out = append(out, n)
		}
	}
	return out
}

func TestRandomDAGs(t *testing.T) {
	rng := rand.New(rand.NewPCG(2024, 7))
	for round := range 300 {
		n := 1 + rng.IntN(200)
		p := []float64{0, 0.01, 0.05, 0.2, 0.6}[rng.IntN(5)]
		raw := randomDAG(rng, n, p)
		deps := kept(raw)
		rdeps := make(map[string][]string)
		for name, ds := range deps {
			for _, d := range ds {
				rdeps[d] = append(rdeps[d], name)
			}
		}
		g := New(raw)
		where := fmt.Sprintf("round %d (%d nodes, p=%v)", round, n, p)

		if c := g.Cycle(); c != nil {
			t.Fatalf("%s: Cycle() = %q, want nil", where, c)
		}
		order, err := g.Order()
		if err != nil {
			t.Fatalf("%s: Order() error = %v", where, err)
		}
		if want := naiveOrder(deps); !slices.Equal(order, want) {
			t.Fatalf("%s: Order() = %q, want %q", where, order, want)
		}
		pos := make(map[string]int, n)
		for i, name := range order {
			pos[name] = i
		}
		for name, ds := range deps {
			for _, d := range ds {
				if pos[d] >= pos[name] {
					t.Fatalf("%s: Order() puts %q before its dependency %q", where, name, d)
				}
			}
		}

		levels, err := g.Levels()
		if err != nil {
			t.Fatalf("%s: Levels() error = %v", where, err)
		}
		level := make(map[string]int, n)
		for l, names := range levels {
			if len(names) == 0 || !slices.IsSorted(names) {
				t.Fatalf("%s: Levels()[%d] = %q, want a non-empty sorted level", where, l, names)
			}
			for _, name := range names {
				level[name] = l
			}
		}
		if len(level) != n {
			t.Fatalf("%s: Levels() holds %d distinct nodes, want %d", where, len(level), n)
		}
		for name, ds := range deps {
			want := 0
			for _, d := range ds {
				want = max(want, level[d]+1)
			}
			if level[name] != want {
				t.Fatalf("%s: Levels() puts %q at level %d, want %d", where, name, level[name], want)
			}
		}

		var pick []string
		for _, name := range order {
			if rng.IntN(10) == 0 {
				pick = append(pick, name)
			}
		}
		rng.Shuffle(len(pick), func(i, j int) { pick[i], pick[j] = pick[j], pick[i] })

		closure := g.Closure(append(pick, "ghost"))
		want := restrict(order, reach(deps, pick...))
		if !slices.Equal(closure, want) {
			t.Fatalf("%s: Closure(%q) = %q, want %q", where, pick, closure, want)
		}
		in := make(map[string]bool)
		for _, name := range closure {
			in[name] = true
		}
		for _, name := range closure {
			for _, d := range deps[name] {
				if !in[d] {
					t.Fatalf("%s: Closure(%q) holds %q but not its dependency %q", where, pick, name, d)
				}
			}
		}

		stop := g.StopOrder(pick)
		want = restrict(order, setOf(pick))
		slices.Reverse(want)
		if !slices.Equal(stop, want) {
			t.Fatalf("%s: StopOrder(%q) = %q, want %q", where, pick, stop, want)
		}

		name := order[rng.IntN(n)]
		up := reach(rdeps, name)
		delete(up, name)
		want = restrict(order, up)
		slices.Reverse(want)
		if got := g.Dependents(name); !slices.Equal(got, want) {
			t.Fatalf("%s: Dependents(%q) = %q, want %q", where, name, got, want)
		}
	}
}

// setOf returns the set of names.
func setOf(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}

func FuzzOrder(f *testing.F) {
	for _, tt := range graphTests {
		f.Add(tt.spec)
	}
	for _, tt := range closureTests {
		f.Add(tt.spec)
	}
	for _, tt := range stopOrderTests {
		f.Add(tt.spec)
	}
	for _, tt := range dependentsTests {
		f.Add(tt.spec)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		raw := parseSpec(spec)
		deps := kept(raw)
		g := New(raw)
		nodes := g.Nodes()
		if len(nodes) != len(deps) {
			t.Fatalf("New(%q).Nodes() = %q, want %d nodes", spec, nodes, len(deps))
		}

		order, err := g.Order()
		_, lerr := g.Levels()
		if cycle := g.Cycle(); cycle != nil {
			if len(cycle) < 2 || cycle[0] != cycle[len(cycle)-1] {
				t.Fatalf("New(%q).Cycle() = %q, want a path from a node back to it", spec, cycle)
			}
			for i := range len(cycle) - 1 {
				if !slices.Contains(deps[cycle[i]], cycle[i+1]) {
					t.Fatalf("New(%q).Cycle() = %q, but %q does not depend on %q", spec, cycle, cycle[i], cycle[i+1])
				}
				if slices.Contains(cycle[i+1:len(cycle)-1], cycle[i]) {
					t.Fatalf("New(%q).Cycle() = %q, want no node twice", spec, cycle)
				}
			}
			checkCycleError(t, fmt.Sprintf("New(%q).Order()", spec), err, cycle)
			checkCycleError(t, fmt.Sprintf("New(%q).Levels()", spec), lerr, cycle)
		} else {
			if err != nil || lerr != nil {
				t.Fatalf("New(%q): Cycle() = nil but Order() error = %v, Levels() error = %v", spec, err, lerr)
			}
			if want := naiveOrder(deps); !slices.Equal(order, want) {
				t.Fatalf("New(%q).Order() = %q, want %q", spec, order, want)
			}
			pos := make(map[string]int, len(order))
			for i, name := range order {
				pos[name] = i
			}
			for name, ds := range deps {
				for _, d := range ds {
					if pos[d] >= pos[name] {
						t.Fatalf("New(%q).Order() = %q, puts %q before its dependency %q", spec, order, name, d)
					}
				}
			}
		}

		// Whatever the graph, the set queries terminate with the right sets.
		for _, name := range nodes {
			got := g.Closure([]string{name})
			if want := reach(deps, name); len(got) != len(want) || !maps.Equal(setOf(got), want) {
				t.Fatalf("New(%q).Closure([%q]) = %q, want the %d nodes of %v", spec, name, got, len(want), want)
			}
		}
		if got := g.StopOrder(nodes); len(got) != len(nodes) {
			t.Fatalf("New(%q).StopOrder(Nodes()) = %q, want all %d nodes", spec, got, len(nodes))
		}
		if len(nodes) > 0 {
			g.Dependents(nodes[0])
		}
	})
}

// BenchmarkOrder1000 measures New and Order on a DAG of 1000 nodes in 10
// levels of 100, each node depending on 3 nodes of the level below. New does
// the sorting; Order then copies its result.
func BenchmarkOrder1000(b *testing.B) {
	rng := rand.New(rand.NewPCG(10, 100))
	deps := make(map[string][]string, 1000)
	name := func(level, k int) string { return fmt.Sprintf("d%02d_%03d", level, k) }
	for level := range 10 {
		for k := range 100 {
			var ds []string
			if level > 0 {
				for range 3 {
					ds = append(ds, name(level-1, rng.IntN(100)))
				}
			}
			deps[name(level, k)] = ds
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(deps).Order(); err != nil {
			b.Fatal(err)
		}
	}
}
