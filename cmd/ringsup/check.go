package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/depgraph"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "validate the config and print the start order",
		UsageText: "ringsup check [--config FILE] [--profile NAME]",
		Flags:     []cli.Flag{configFlag(), profileFlag()},
		Action:    checkAction,
	}
}

func checkAction(c *cli.Context) error {
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	profile, active, err := selectProfile(c, cfg)
	if err != nil {
		return err
	}
	// Each daemon with instances is one node, shown with its count.
	g := depgraph.New(cfg.TableDeps())
	levels, err := g.Levels()
	if err != nil {
		return err // validation rejects cycles; this is a bug guard
	}
	for _, level := range levels {
		tableLabels(cfg, level)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "%s: ok, %d daemons\n", cfg.Path, len(cfg.Tables()))
	writeStartOrder(w, profile, tableLabels(cfg, cfg.TablesOf(active)), levels)
	writeProfiles(w, cfg, g)
	return nil
}

// tableLabel returns how check and graph show the daemon name: with its
// number of instances, "selfplay ×8", when it has an instances key.
func tableLabel(cfg *config.Config, name string) string {
	if t, ok := cfg.Templates[name]; ok {
		return fmt.Sprintf("%s ×%d", name, t.Instances)
	}
	return name
}

// tableLabels replaces each daemon name of names with its tableLabel, and
// returns names.
func tableLabels(cfg *config.Config, names []string) []string {
	for i, name := range names {
		names[i] = tableLabel(cfg, name)
	}
	return names
}

// writeStartOrder prints the active daemons grouped by dependency level:
// each level starts once the one before it is running.
func writeStartOrder(w io.Writer, profile string, active []string, levels [][]string) {
	if profile == "" {
		fmt.Fprintf(w, "start order (all daemons, no profile):\n")
	} else {
		fmt.Fprintf(w, "start order (profile %q):\n", profile)
	}
	n := 0
	for _, level := range levels {
		var in []string
		for _, name := range level {
			if slices.Contains(active, name) {
				in = append(in, name)
			}
		}
		if len(in) > 0 {
			n++
			fmt.Fprintf(w, "  %d. %s\n", n, strings.Join(in, ", "))
		}
	}
}

// writeProfiles prints each profile's members and the dependencies it pulls in.
func writeProfiles(w io.Writer, cfg *config.Config, g *depgraph.Graph) {
	names := cfg.ProfileNames()
	if len(names) == 0 {
		return
	}
	fmt.Fprintln(w, "profiles:")
	width := 0
	for _, p := range names {
		width = max(width, len(p))
	}
	for _, p := range names {
		members := cfg.Profiles[p]
		var pulled []string
		for _, name := range g.Closure(members) {
			if !slices.Contains(members, name) {
				pulled = append(pulled, name)
			}
		}
		line := fmt.Sprintf("  %-*s  %s", width+1, p+":", strings.Join(tableLabels(cfg, slices.Clone(members)), ", "))
		if len(pulled) > 0 {
			line += fmt.Sprintf(" (pulls in %s)", strings.Join(tableLabels(cfg, pulled), ", "))
		}
		if p == cfg.Supervisor.DefaultProfile {
			line += " [default]"
		}
		fmt.Fprintln(w, line)
	}
}
