package depgraph

import "strings"

// CycleError reports a dependency cycle.
type CycleError struct {
	// Path is the cycle as Cycle returns it: it starts and ends at the same
	// node, and each node depends on the next one.
	Path []string
}

// Error returns the cycle as "dependency cycle: a -> b -> a", read as: a
// depends on b, which depends on a.
func (e *CycleError) Error() string {
	return "dependency cycle: " + strings.Join(e.Path, " -> ")
}

// Cycle returns one dependency cycle as a path that starts and ends at the
// same node: ["a", "b", "a"] means a depends on b, which depends on a, and a
// node that depends on itself gives ["a", "a"]. No other node appears twice.
// Cycle returns nil if the graph is acyclic.
//
// The cycle is the first one found by a depth-first search that starts from
// each node in name order and follows dependencies in name order; it is
// returned as found, starting at the node the search reached first.
func (g *Graph) Cycle() []string {
	if g.cycle == nil {
		return nil
	}
	return g.namesOf(g.cycle)
}

// Order returns every node in a topological order: each node after all of
// its dependencies. Among the nodes whose dependencies have all been placed,
// the one with the smallest name comes first. If the graph has a cycle,
// Order returns a *CycleError whose Path is Cycle's.
func (g *Graph) Order() ([]string, error) {
	if g.cycle != nil {
		return nil, &CycleError{Path: g.Cycle()}
	}
	return g.namesOf(g.order), nil
}

// Levels groups the nodes by depth. Level 0 holds the nodes without
// dependencies, and a node's level is 1 plus the highest level of its
// dependencies, so each level can start once the levels before it are up.
// Each level is sorted by name. If the graph has a cycle, Levels returns a
// *CycleError whose Path is Cycle's.
func (g *Graph) Levels() ([][]string, error) {
	if g.cycle != nil {
		return nil, &CycleError{Path: g.Cycle()}
	}
	level := make([]int, len(g.names))
	top := -1
	for _, i := range g.order { // dependencies come first
		l := 0
		for _, d := range g.deps[i] {
			l = max(l, level[d]+1)
		}
		level[i] = l
		top = max(top, l)
	}
	levels := make([][]string, top+1)
	for i, name := range g.names { // by name
		levels[level[i]] = append(levels[level[i]], name)
	}
	return levels, nil
}

// kahn returns the nodes in topological order, taking the smallest ready
// index (that is, name) first. On a cyclic graph the result omits the nodes
// on a cycle and everything that depends on them.
func (g *Graph) kahn() []int {
	n := len(g.names)
	waiting := make([]int, n) // dependencies not yet placed
	var ready minHeap
	for i := range n {
		waiting[i] = len(g.deps[i])
		if waiting[i] == 0 {
			ready = append(ready, i) // ascending, hence already a heap
		}
	}
	order := make([]int, 0, n)
	for len(ready) > 0 {
		i := ready.pop()
		order = append(order, i)
		for _, d := range g.rdeps[i] {
			waiting[d]--
			if waiting[d] == 0 {
				ready.push(d)
			}
		}
	}
	return order
}

// Node colours of a depth-first search.
const (
	white = iota // not visited
	grey         // on the current path
	black        // finished
)

// frame is a node on the depth-first search path and the index of the next
// dependency of it to follow.
type frame struct{ node, next int }

// findCycle returns the first cycle found by a depth-first search from every
// node in index order, following dependencies in index order, or nil.
func (g *Graph) findCycle() []int {
	color := make([]uint8, len(g.names))
	var path []frame
	for root := range g.names {
		if color[root] != white {
			continue
		}
		color[root] = grey
		path = append(path[:0], frame{node: root})
		for len(path) > 0 {
			top := &path[len(path)-1]
			if top.next == len(g.deps[top.node]) {
				color[top.node] = black
				path = path[:len(path)-1]
				continue
			}
			d := g.deps[top.node][top.next]
			top.next++
			switch color[d] {
			case white:
				color[d] = grey
				path = append(path, frame{node: d})
			case grey: // d is on the path: the cycle runs from d back to d
				start := len(path) - 1
				for path[start].node != d {
					start--
				}
				cycle := make([]int, 0, len(path)-start+1)
				for _, f := range path[start:] {
					cycle = append(cycle, f.node)
				}
				return append(cycle, d)
			}
		}
	}
	return nil
}

// postorderRank returns each node's position in the postorder of a
// depth-first search from every node in index order, following dependencies
// in index order. A node comes after its dependencies except along an edge
// back to a node still on the search path, so on a cyclic graph it is the
// nearest thing to a topological order.
func (g *Graph) postorderRank() []int {
	rank := make([]int, len(g.names))
	color := make([]uint8, len(g.names))
	next := 0
	var path []frame
	for root := range g.names {
		if color[root] != white {
			continue
		}
		color[root] = grey
		path = append(path[:0], frame{node: root})
		for len(path) > 0 {
			top := &path[len(path)-1]
			if top.next == len(g.deps[top.node]) {
				color[top.node] = black
				rank[top.node] = next
				next++
				path = path[:len(path)-1]
				continue
			}
			d := g.deps[top.node][top.next]
			top.next++
			if color[d] == white {
				color[d] = grey
				path = append(path, frame{node: d})
			}
		}
	}
	return rank
}

// minHeap is a binary min-heap of node indexes.
type minHeap []int

func (h *minHeap) push(x int) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p] <= s[i] {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *minHeap) pop() int {
	s := *h
	x := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(s) && s[l] < s[least] {
			least = l
		}
		if r < len(s) && s[r] < s[least] {
			least = r
		}
		if least == i {
			break
		}
		s[i], s[least] = s[least], s[i]
		i = least
	}
	*h = s
	return x
}
