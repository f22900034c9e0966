package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/urfave/cli/v2"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version: the module version, or the commit and its date",
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintf(c.App.Writer, "ringsup %s (%s)\n", version(), runtime.Version())
			return err
		},
	}
}

// Set by scripts/build.sh with -ldflags -X when the build has no VCS stamp
// of its own (a build outside a git checkout, such as in a container
// build whose context leaves out .git): the commit and its date.
var (
	buildCommit string
	buildDate   string
)

// version says which build this is: the module version of a `go install
// ...@v1.2.3`; else the commit and its date, from the build's VCS stamp or
// from buildCommit and buildDate, "+dirty" when the checkout had changes;
// else "devel".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return describeCommit(buildCommit, buildDate, false)
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	commit, date, dirty := buildCommit, buildDate, false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.time":
			date = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	return describeCommit(commit, date, dirty)
}

// describeCommit writes "devel 3223823 2026-12-07", "+dirty" after the
// commit when it had changes; just "devel" without a commit.
func describeCommit(commit, date string, dirty bool) string {
	if commit == "" {
		return "devel"
	}
	if len(commit) > 12 {
		commit = commit[:12]
	}
	s := "devel " + commit
	if dirty {
		s += "+dirty"
	}
	if t, err := time.Parse(time.RFC3339, date); err == nil {
		s += " " + t.UTC().Format("2006-01-02T15:04:05Z")
	} else if date != "" {
		s += " " + date
	}
	return s
}
