// Package depgraph orders daemons by their dependencies: which start first,
// which stop first, and which daemons a profile or a stop pulls in.
//
// A Graph is built once by New from each daemon's depends_on list and never
// changes afterwards, so any number of goroutines may query it at once. An
// edge a -> b means a depends on b: b starts before a and stops after it.
//
// Every result is deterministic. Ties are broken by name, never by map
// iteration order, and a cycle is reported as the first one a depth-first
// search finds when it visits nodes and their dependencies in name order.
//
// The package does no I/O. For V nodes and E edges, New takes
// O((V+E) log V) time and computes the order and any cycle up front; Order,
// Levels and Cycle then take O(V+E), and Closure, Dependents and StopOrder
// O(V+E) plus sorting what they return.
package depgraph

import (
	"cmp"
	"maps"
	"slices"
)

// Graph is an immutable dependency graph. Its nodes are the keys of the map
// given to New; an edge a -> b means a depends on b. A Graph is safe for
// concurrent use. Methods that return a slice return a new one each call,
// which the caller may modify.
type Graph struct {
	names []string       // sorted; a node is its index in names
	index map[string]int // name -> index
	deps  [][]int        // deps[i]: direct dependencies of i, ascending, unique
	rdeps [][]int        // rdeps[i]: nodes that directly depend on i, ascending

	// order is a topological order (Kahn, ties by name), complete only if
	// the graph is acyclic; cycle is nil if and only if it is complete.
	order []int
	cycle []int

	// rank[i] is i's position in order; on a cyclic graph it is i's
	// position in a depth-first postorder instead, which still puts a
	// node's dependencies first for every edge that does not close a cycle.
	rank []int
}

// New builds a graph. deps maps every node to the nodes it depends on.
// Names in a dependency list that are not keys of deps are ignored (the
// config package reports them as errors), and so are repeated names. A node
// that lists itself depends on itself, which is a cycle. New does not fail
// on cycles: Cycle reports them, and Order and Levels return a *CycleError.
// New does not retain deps.
func New(deps map[string][]string) *Graph {
	names := slices.Sorted(maps.Keys(deps))
	n := len(names)
	g := &Graph{
		names: names,
		index: make(map[string]int, n),
		deps:  make([][]int, n),
		rdeps: make([][]int, n),
	}
	for i, name := range names {
		g.index[name] = i
	}
	// All dependency lists share one array, and all dependent lists another.
	total := 0
	for _, ds := range deps {
		total += len(ds)
	}
	edges := make([]int, 0, total)
	count := make([]int, n+1) // count[j+1]: how many nodes depend on j
	for i, name := range names {
		start := len(edges)
		for _, d := range deps[name] {
			if j, ok := g.index[d]; ok {
				edges = append(edges, j)
			}
		}
		slices.Sort(edges[start:])
		edges = edges[:start+len(slices.Compact(edges[start:]))]
		g.deps[i] = edges[start:len(edges):len(edges)]
		for _, j := range g.deps[i] {
			count[j+1]++
		}
	}
	for j := range n {
		count[j+1] += count[j] // now count[j]: where j's dependents start
	}
	redges := make([]int, len(edges))
	for j := range n {
		g.rdeps[j] = redges[count[j]:count[j]:count[j+1]]
	}
	for i := range n {
		for _, j := range g.deps[i] {
			// i ascends, so each list of dependents comes out sorted.
			g.rdeps[j] = append(g.rdeps[j], i)
		}
	}

	g.order = g.kahn()
	if len(g.order) == n {
		g.rank = make([]int, n)
		for pos, i := range g.order {
			g.rank[i] = pos
		}
	} else {
		g.cycle = g.findCycle()
		g.rank = g.postorderRank()
	}
	return g
}

// Nodes returns every node, sorted by name.
func (g *Graph) Nodes() []string {
	return append(make([]string, 0, len(g.names)), g.names...)
}

// DependsOn returns the direct dependencies of name, sorted by name, without
// the ones New ignored. It returns an empty slice if name is not a node.
func (g *Graph) DependsOn(name string) []string {
	i, ok := g.index[name]
	if !ok {
		return []string{}
	}
	return g.namesOf(g.deps[i])
}

// DirectDependents returns the nodes that directly depend on name, sorted by
// name. It returns an empty slice if name is not a node.
func (g *Graph) DirectDependents(name string) []string {
	i, ok := g.index[name]
	if !ok {
		return []string{}
	}
	return g.namesOf(g.rdeps[i])
}

// Closure returns names and every node they transitively depend on, each
// once, in Order's order: dependencies before their dependents. Names that
// are not nodes are ignored. This is how a profile pulls in the
// dependencies of its daemons.
//
// On a cyclic graph Closure still returns the same set, with dependencies
// first except along the edges that close a cycle.
func (g *Graph) Closure(names []string) []string {
	seen := make([]bool, len(g.names))
	var stack, set []int
	for _, name := range names {
		if i, ok := g.index[name]; ok && !seen[i] {
			seen[i] = true
			stack = append(stack, i)
		}
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		set = append(set, i)
		for _, d := range g.deps[i] {
			if !seen[d] {
				seen[d] = true
				stack = append(stack, d)
			}
		}
	}
	g.sortByRank(set, false)
	return g.namesOf(set)
}

// Dependents returns every node that transitively depends on name, name
// itself excluded, in stop order: dependents before their dependencies,
// which is the reverse of Order restricted to that set. It returns an empty
// slice if name is not a node or nothing depends on it.
//
// On a cyclic graph Dependents still returns the same set, with dependents
// first except along the edges that close a cycle.
func (g *Graph) Dependents(name string) []string {
	start, ok := g.index[name]
	if !ok {
		return []string{}
	}
	seen := make([]bool, len(g.names))
	seen[start] = true
	stack := []int{start}
	var set []int
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, d := range g.rdeps[i] {
			if !seen[d] {
				seen[d] = true
				stack = append(stack, d)
				set = append(set, d)
			}
		}
	}
	g.sortByRank(set, true)
	return g.namesOf(set)
}

// StopOrder returns the nodes among names, each once, in reverse
// topological order: dependents before their dependencies, the reverse of
// Order restricted to names. Names that are not nodes are ignored. This is
// the order in which to stop daemons at shutdown.
//
// On a cyclic graph StopOrder still returns every node among names, with
// dependents first except along the edges that close a cycle.
func (g *Graph) StopOrder(names []string) []string {
	seen := make(map[int]bool, len(names))
	var set []int
	for _, name := range names {
		if i, ok := g.index[name]; ok && !seen[i] {
			seen[i] = true
			set = append(set, i)
		}
	}
	g.sortByRank(set, true)
	return g.namesOf(set)
}

// namesOf returns the names of the nodes in idx, in the same order. The
// result is never nil.
func (g *Graph) namesOf(idx []int) []string {
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = g.names[i]
	}
	return out
}

// sortByRank sorts idx by rank, ascending or, if reverse is set, descending.
func (g *Graph) sortByRank(idx []int, reverse bool) {
	slices.SortFunc(idx, func(a, b int) int {
		if reverse {
			a, b = b, a
		}
		return cmp.Compare(g.rank[a], g.rank[b])
	})
}
