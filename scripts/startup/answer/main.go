// Command answer times the supervisor's side of B6: the round trip of
// `ctl status --json` (connect, request, the whole text read) from a
// client already running, so without a process's start, over the given
// control sockets in turn, and prints the quartiles of each.
//
//	go run ./scripts/startup/answer [-n 400] [-names d0000,...] SOCKET...
//
// With -names, only those daemons are asked for: the answer of one
// daemon, against that of all, is what the rows cost.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ringrift/ringsup/control"
)

func main() {
	n := flag.Int("n", 400, "requests to each socket")
	list := flag.String("names", "", "comma-separated daemons to ask for (default: all)")
	flag.Parse()
	var names []string
	if *list != "" {
		names = strings.Split(*list, ",")
	}
	socks := flag.Args()
	times := make([][]time.Duration, len(socks))
	for range *n {
		for i, s := range socks {
			start := time.Now()
			if err := (&control.Client{Path: s}).StatusText(context.Background(), io.Discard, names...); err != nil {
				fmt.Fprintln(os.Stderr, "answer:", err)
				os.Exit(1)
			}
			times[i] = append(times[i], time.Since(start))
		}
	}
	for i, s := range socks {
		t := times[i]
		slices.Sort(t)
		fmt.Printf("%s: p25 %v, p50 %v, p75 %v\n", s, t[len(t)/4], t[len(t)/2], t[3*len(t)/4])
	}
}
