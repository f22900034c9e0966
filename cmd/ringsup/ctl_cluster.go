//go:build !ringsup_lean

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ringrift/ringsup/cluster"
	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/supervisor"
)

// ctlClusterAction runs the ctl command c names against the cluster.
func ctlClusterAction(c *cli.Context) error {
	cc, err := ctlClusterConfig(c)
	if err != nil {
		return err
	}
	keys := cluster.Keys{Prefix: cc.Prefix}
	cli, err := cluster.DialFirst(c.Context, cc, keys)
	if err != nil {
		return err
	}
	defer cli.Close()
	switch name := c.Command.Name; name {
	case "status":
		return ctlClusterStatus(c, cli, keys)
	case "events":
		f := ctlEventFilter(c)
		return cluster.Events(c.Context, cli, keys, c.String("node"), c.Int64("since"), func(b []byte) error {
			if !f.Match(b) {
				return nil
			}
			_, err := c.App.Writer.Write(append(b, '\n'))
			return err
		})
	case "start", "stop", "restart":
		if err := ctlNeedNames(c); err != nil {
			return err
		}
		req := cluster.Request{Op: name, Force: c.Bool("force")}
		byNode := make(map[string][]string)
		for _, arg := range c.Args().Slice() {
			node, daemon, ok := strings.Cut(arg, "/")
			if !ok || node == "" || daemon == "" {
				return fmt.Errorf("%s --cluster needs NODE/DAEMON, got %q", name, arg)
			}
			byNode[node] = append(byNode[node], daemon)
		}
		for _, node := range slices.Sorted(maps.Keys(byNode)) {
			req.Names = byNode[node]
			if err := cluster.Send(c.Context, cli, keys, node, req, c.Duration("cluster-timeout")); err != nil {
				return err
			}
		}
		return nil
	case "top":
		return ctlClusterTop(c, cli, keys)
	default:
		return fmt.Errorf("%s does not work with --cluster (have: status, events, start, stop, restart, top)", name)
	}
}

// ctlClusterConfig returns the etcd settings: --etcd and --prefix, else
// the config's [cluster] table.
func ctlClusterConfig(c *cli.Context) (*config.Cluster, error) {
	cfg, err := config.Load(c.String("config"))
	var cc config.Cluster
	switch {
	case err == nil && cfg.Cluster != nil:
		cc = *cfg.Cluster
	case c.String("etcd") == "" && err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("cannot find the etcd endpoints in the config (give --etcd): %w", oneLine(err))
	case c.String("etcd") == "":
		return nil, fmt.Errorf("no [cluster] table in %s: give --etcd", c.String("config"))
	default:
		cc = config.Cluster{Prefix: config.DefaultClusterPrefix, DialTimeout: 2 * time.Second}
	}
	if eps := c.String("etcd"); eps != "" {
		cc.Endpoints = strings.Split(eps, ",")
	}
	if p := c.String("prefix"); p != "" {
		cc.Prefix = strings.TrimRight(p, "/")
	}
	return &cc, nil
}

// oneLine shortens a config error list to its first error.
func oneLine(err error) error {
	var list config.ErrorList
	if errors.As(err, &list) && len(list) > 1 {
		return fmt.Errorf("%v (and %d more errors)", list[0], len(list)-1)
	}
	return err
}

func ctlClusterStatus(c *cli.Context, cli *clientv3.Client, keys cluster.Keys) error {
	// A short command that reads every key of the cluster: collecting
	// its garbage as it goes cost a quarter of its time over 10,000
	// daemons. It collects only past 256 MiB.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(256 << 20))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	st, err := cluster.Read(c.Context, cli, keys)
	if err != nil {
		return err
	}
	if err := st.Filter(c.Args().Slice()); err != nil {
		return err
	}
	if c.Bool("json") {
		return st.WriteJSON(c.App.Writer)
	}
	return writeClusterTables(c, st)
}

// writeClusterTables prints the node table and the daemon table.
func writeClusterTables(c *cli.Context, st *cluster.State) error {
	bw := bufio.NewWriter(c.App.Writer)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tVERSION\tPROFILE\tLABELS\tLAST_SEEN")
	now := time.Now()
	for _, name := range st.Names() {
		ns := st.Nodes[name]
		state, lastSeen := "up", "-"
		if !ns.Up {
			state = "down"
			if ns.Member != nil {
				lastSeen = control.FormatUptime(now.Sub(ns.Member.LastSeen)) + " ago"
			}
		}
		var labels []string
		for _, k := range slices.Sorted(maps.Keys(ns.Labels)) {
			labels = append(labels, k+"="+ns.Labels[k])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, state, dash(ns.Version), dash(ns.Profile), dash(strings.Join(labels, ",")), lastSeen)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(bw)
	tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tDAEMON\tSTATE\tPID\tUPTIME\tRESTARTS\tHEALTH\tOWNER")
	for _, name := range st.Names() {
		ds := st.Nodes[name].Daemons
		for _, d := range slices.Sorted(maps.Keys(ds)) {
			var s struct {
				supervisor.DaemonStatus
				Since float64 `json:"since"`
			}
			if err := json.Unmarshal(ds[d], &s); err != nil {
				fmt.Fprintf(tw, "%s\t%s\t?\t-\t-\t-\t-\t-\n", name, d)
				continue
			}
			pid, uptime, state := "-", "-", s.State.String()
			if s.PID != 0 {
				pid = strconv.Itoa(s.PID)
			}
			if s.State == supervisor.Running && s.Since > 0 {
				uptime = control.FormatUptime(now.Sub(time.UnixMilli(int64(s.Since * 1000))))
			}
			if s.Done {
				state = "done"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", name, d, state, pid, uptime, s.RestartCount, s.Health, dash(control.SingletonOwner(s.DaemonStatus)))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
