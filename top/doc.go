// Package top is the live terminal view of `ringsup ctl top`: a table of
// every daemon (state, pid, uptime, restarts, health, CPU and memory of its
// process group, last event) kept current by the supervisor's event
// stream, and steered from the keyboard (restart, stop, start, logs,
// events, profile).
//
// The view reads its data through a [Source]: [Local] is one supervisor
// reached through its control socket; [Cluster] is every node of a
// cluster read from etcd, grouped by node, with singleton owners marked. CPU and memory come from /proc of the
// machine the view runs on, sampled once a second while the view is open.
//
// The view is a Bubble Tea model ([Model]); [Run] runs it on a terminal.
package top
