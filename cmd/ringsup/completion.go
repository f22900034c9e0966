package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/control"
	"github.com/ringrift/ringsup/eventtype"
)

// Shell completion: the scripts `ringsup completion SHELL` prints ask
// `ringsup __complete WORD...` for the candidates of the last word, which
// come from the command line's own definition (commands and flags), from
// the config (profiles, daemons) and from the running supervisor (the
// daemons ctl acts on).

// completionScripts are the scripts, by shell.
var completionScripts = map[string]string{
	"bash": `# bash completion for ringsup. Load it with
#   source <(ringsup completion bash)
# or install it: ringsup completion bash > /etc/bash_completion.d/ringsup
_ringsup() {
    local IFS=$'\n'
    COMPREPLY=($(ringsup __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _ringsup ringsup
`,
	"zsh": `#compdef ringsup
# zsh completion for ringsup. Load it with
#   source <(ringsup completion zsh)
# or install it as _ringsup in a directory of $fpath.
_ringsup() {
    local -a candidates
    candidates=("${(@f)$(ringsup __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    candidates=(${candidates:#})
    if (( ${#candidates} )); then
        compadd -a candidates
    else
        _files
    fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _ringsup "$@"
else
    compdef _ringsup ringsup
fi
`,
	"fish": `# fish completion for ringsup. Load it with
#   ringsup completion fish | source
# or install it: ringsup completion fish > ~/.config/fish/completions/ringsup.fish
function __ringsup_complete
    set -l words (commandline -opc) (commandline -ct)
    ringsup __complete $words[2..-1] 2>/dev/null
end
complete -c ringsup -a '(__ringsup_complete)'
`,
}

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		UsageText: "ringsup completion bash|zsh|fish",
		Action: func(c *cli.Context) error {
			script, ok := completionScripts[c.Args().First()]
			if c.NArg() != 1 || !ok {
				return errors.New("completion needs one shell: bash, zsh or fish")
			}
			_, err := fmt.Fprint(c.App.Writer, script)
			return err
		},
	}
}

// completeCommand answers the completion scripts: the candidates for the
// last of its arguments, one a line.
func completeCommand() *cli.Command {
	return &cli.Command{
		Name:            "__complete",
		Hidden:          true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			for _, w := range complete(c.Context, c.App, c.Args().Slice()) {
				fmt.Fprintln(c.App.Writer, w)
			}
			return nil
		},
	}
}

// complete returns the candidates for the last of words, the arguments
// after the program's name.
func complete(ctx context.Context, app *cli.App, words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	var (
		path       []string // the commands so far: "ctl", "start"
		cmds       = app.Commands
		flags      = app.Flags
		positional int
		values     = map[string]string{} // flag values given so far
		wantValue  cli.Flag              // the flag the current word is the value of
	)
	for i := 0; i < len(words)-1; i++ {
		w := words[i]
		if strings.HasPrefix(w, "-") && len(w) > 1 {
			name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			f := findFlag(flags, name)
			if f == nil || !takesValue(f) || hasValue {
				if hasValue && f != nil {
					values[f.Names()[0]] = value
				}
				continue
			}
			if i+1 == len(words)-1 {
				wantValue = f
				break
			}
			values[f.Names()[0]] = words[i+1]
			i++
			continue
		}
		if sub := findCommand(cmds, w); sub != nil && positional == 0 {
			path = append(path, sub.Name)
			cmds, flags = sub.Subcommands, sub.Flags
			continue
		}
		positional++
	}
	var out []string
	switch {
	case wantValue != nil:
		out = flagValues(ctx, wantValue.Names()[0], values)
	case strings.HasPrefix(cur, "-"):
		for _, f := range append(slices.Clone(flags), cli.HelpFlag) {
			for _, n := range f.Names() {
				if len(n) == 1 {
					out = append(out, "-"+n)
				} else {
					out = append(out, "--"+n)
				}
			}
		}
	case len(cmds) > 0 && positional == 0:
		for _, cmd := range cmds {
			if !cmd.Hidden {
				out = append(out, cmd.Name)
			}
		}
	default:
		out = positionalValues(ctx, strings.Join(path, " "), positional, values)
	}
	out = slices.DeleteFunc(out, func(s string) bool { return !strings.HasPrefix(s, cur) })
	slices.Sort(out)
	return slices.Compact(out)
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}

// takesValue reports whether f is followed by a value (all but booleans).
func takesValue(f cli.Flag) bool {
	_, isBool := f.(*cli.BoolFlag)
	return !isBool
}

// flagValues are the candidates for the value of flag name.
func flagValues(ctx context.Context, name string, values map[string]string) []string {
	switch name {
	case "profile":
		return profileNames(values)
	case "log-level":
		return []string{"trace", "debug", "info", "warn", "error"}
	case "log-format":
		return []string{"text", "json"}
	case "type": // ctl events --type
		return append(eventtype.All(), customEventTypes(values)...)
	case "daemon", "as": // ctl events --daemon, ctl emit --as
		return daemonNames(ctx, values)
	}
	return nil // files, durations: the shell's own completion
}

// positionalValues are the candidates for the n-th argument (from 0) of
// the command at path.
func positionalValues(ctx context.Context, path string, n int, values map[string]string) []string {
	switch path {
	case "ctl start", "ctl stop", "ctl restart", "ctl status":
		return daemonNames(ctx, values)
	case "ctl logs":
		if n == 0 {
			return daemonNames(ctx, values)
		}
	case "ctl profile":
		if n == 0 {
			return profileNames(values)
		}
	case "ctl scale":
		if n == 0 {
			return scalableNames(ctx, values)
		}
	case "ctl emit":
		if n == 0 {
			return customEventTypes(values)
		}
	case "completion":
		if n == 0 {
			return []string{"bash", "fish", "zsh"}
		}
	}
	return nil
}

// completionConfigPath is the config the command line names.
func completionConfigPath(values map[string]string) string {
	for _, path := range []string{values["config"], os.Getenv("RINGSUP_CONFIG")} {
		if path != "" {
			return path
		}
	}
	return "ringsup.toml"
}

// completionConfig loads the config the command line names, or nil.
func completionConfig(values map[string]string) *config.Config {
	cfg, err := config.Load(completionConfigPath(values))
	if err != nil {
		return nil
	}
	return cfg
}

// customEventTypes are the config's own event types ([events] types),
// which ctl emit publishes.
func customEventTypes(values map[string]string) []string {
	if cfg := completionConfig(values); cfg != nil {
		return cfg.Events.Types
	}
	return nil
}

func profileNames(values map[string]string) []string {
	if cfg := completionConfig(values); cfg != nil {
		return slices.Collect(maps.Keys(cfg.Profiles))
	}
	return nil
}

// daemonNames asks the running supervisor for its daemons, and falls back
// on the config's: every daemon and instance (NAME@n), and the name of
// each daemon with instances, which stands for all of them.
func daemonNames(ctx context.Context, values map[string]string) []string {
	names, templates := runningNames(ctx, values)
	return append(names, templates...)
}

// scalableNames are the daemons with instances, which ctl scale takes.
func scalableNames(ctx context.Context, values map[string]string) []string {
	_, templates := runningNames(ctx, values)
	return templates
}

// runningNames returns the daemons and instances of the running
// supervisor, or else of the config, and the names of the daemons with
// instances.
func runningNames(ctx context.Context, values map[string]string) (names, templates []string) {
	cfg := completionConfig(values)
	sock := values["socket"]
	if sock == "" {
		sock = os.Getenv("RINGSUP_SOCKET")
	}
	if sock == "" && cfg != nil {
		sock = cfg.Supervisor.Socket
	}
	if abs, err := filepath.Abs(completionConfigPath(values)); sock == "" && err == nil {
		sock = filepath.Join(filepath.Dir(abs), "ringsup.sock")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if st, err := (&control.Client{Path: sock, Timeout: time.Second}).Status(ctx); err == nil {
		seen := make(map[string]bool)
		for name, d := range st.Daemons {
			if d.Instance != nil && !seen[d.Daemon] {
				seen[d.Daemon] = true
				templates = append(templates, d.Daemon)
			}
			names = append(names, name)
		}
		return names, templates
	}
	if cfg != nil {
		return slices.Collect(maps.Keys(cfg.Daemons)), slices.Collect(maps.Keys(cfg.Templates))
	}
	return nil, nil
}
