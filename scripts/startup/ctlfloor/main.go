// Command ctlfloor is a measuring stick for B6, not a tool: the least a Go
// program linked with ringsup's control client does to print
// `ringsup ctl status --json`, with no CLI package and nothing else linked.
//
//	ctlfloor SOCKET
//
// scripts/startup/status.sh times it beside the ringsup builds; what it
// saves over `ringsup ctl` is what restructuring the ctl path could reach.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/ringrift/ringsup/control"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ctlfloor SOCKET")
		os.Exit(2)
	}
	cl := &control.Client{Path: os.Args[1]}
	if err := cl.StatusText(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ctlfloor:", err)
		os.Exit(1)
	}
}
