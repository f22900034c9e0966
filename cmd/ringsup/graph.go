package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/config"
)

func graphCommand() *cli.Command {
	return &cli.Command{
		Name:      "graph",
		Usage:     "print the dependency graph as Graphviz DOT",
		UsageText: "ringsup graph [--config FILE] [--profile NAME] | dot -Tsvg > graph.svg",
		Flags:     []cli.Flag{configFlag(), profileFlag()},
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			_, active, err := selectProfile(c, cfg)
			if err != nil {
				return err
			}
			return writeDOT(c.App.Writer, cfg, active)
		},
	}
}

// writeDOT writes the graph of the active daemons: an edge "a" -> "b" for
// each a that depends on b. A daemon with instances is one node, labelled
// with its count ("selfplay ×8").
func writeDOT(w io.Writer, cfg *config.Config, active []string) error {
	names := cfg.TablesOf(active)
	slices.Sort(names)
	if _, err := fmt.Fprintln(w, "digraph ringsup {"); err != nil {
		return err
	}
	for _, name := range names {
		if label := tableLabel(cfg, name); label != name {
			fmt.Fprintf(w, "  %q [label=%q];\n", name, label)
			continue
		}
		fmt.Fprintf(w, "  %q;\n", name)
	}
	for _, name := range names {
		for _, dep := range cfg.Table(name).DependsOn {
			fmt.Fprintf(w, "  %q -> %q;\n", name, dep)
		}
	}
	_, err := fmt.Fprintln(w, "}")
	return err
}
