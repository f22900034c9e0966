package depgraph_test

import (
	"fmt"

	"github.com/ringrift/ringsup/depgraph"
)

func ExampleGraph_Order() {
	g := depgraph.New(map[string][]string{
		"training":     {"event_router", "selfplay"},
		"selfplay":     {"event_router"},
		"event_router": nil,
	})
	order, _ := g.Order()
	fmt.Println(order)
	fmt.Println(g.StopOrder(order))
	// Output:
	// [event_router selfplay training]
	// [training selfplay event_router]
}

func ExampleGraph_Levels() {
	g := depgraph.New(map[string][]string{
		"api":    {"db", "cache"},
		"worker": {"db"},
		"db":     nil,
		"cache":  nil,
	})
	levels, _ := g.Levels()
	for i, level := range levels {
		fmt.Println(i, level)
	}
	// Output:
	// 0 [cache db]
	// 1 [api worker]
}

func ExampleCycleError() {
	g := depgraph.New(map[string][]string{
		"a": {"b"},
		"b": {"a"},
	})
	_, err := g.Order()
	fmt.Println(err)
	// Output: dependency cycle: a -> b -> a
}
