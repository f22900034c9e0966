package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ringrift/ringsup/config"
)

// The man pages are made from the command line's definition (ringsup(1))
// and from the config's schema, with the meaning of each key taken from the
// README's configuration reference (ringsup.toml(5)):
//
//	go run ./cmd/ringsup man --out docs
//
// TestManPagesUpToDate fails when docs/ holds other pages than that makes.

func manCommand() *cli.Command {
	return &cli.Command{
		Name:      "man",
		Hidden:    true,
		Usage:     "write the man pages ringsup.1 and ringsup.toml.5",
		UsageText: "ringsup man [--out DIR] [--readme FILE]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "write DIR/ringsup.1 and DIR/ringsup.toml.5 (default: ringsup.1 on stdout)"},
			&cli.StringFlag{Name: "readme", Value: "README.md", Usage: "the README whose configuration reference gives the keys' meanings"},
		},
		Action: func(c *cli.Context) error {
			var page1, page5 bytes.Buffer
			writeMan1(&page1, newApp(io.Discard, io.Discard))
			if c.String("out") == "" {
				_, err := page1.WriteTo(c.App.Writer)
				return err
			}
			readme, err := os.ReadFile(c.String("readme"))
			if err != nil {
				return fmt.Errorf("cannot read the configuration reference: %w", err)
			}
			if err := writeMan5(&page5, readme); err != nil {
				return err
			}
			for name, b := range map[string][]byte{"ringsup.1": page1.Bytes(), "ringsup.toml.5": page5.Bytes()} {
				if err := os.WriteFile(filepath.Join(c.String("out"), name), b, 0o644); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// roff escapes s for the body of a man page, with `code` in bold,
// *emphasis* in italics and [links](to) as their text.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(s, "$1")
	s = regexp.MustCompile("`([^`]*)`").ReplaceAllString(s, `\fB$1\fR`)
	s = regexp.MustCompile(`\*\*([^*]+)\*\*`).ReplaceAllString(s, `\fB$1\fR`)
	s = regexp.MustCompile(`\*([^*]+)\*`).ReplaceAllString(s, `\fI$1\fR`)
	s = strings.ReplaceAll(s, "-", `\-`)
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
			b.WriteString(`\&`)
		}
		b.WriteString(line)
		b.WriteString("\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// writeMan1 writes ringsup(1) from app.
func writeMan1(w io.Writer, app *cli.App) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p(`.TH RINGSUP 1 "" "ringsup" "ringsup manual"`)
	p(".SH NAME")
	p(`ringsup \- %s`, roff(app.Usage))
	p(".SH SYNOPSIS")
	for _, line := range strings.Split(app.UsageText, "\n") {
		p(".B %s", roff(strings.TrimSpace(line)))
		p(".br")
	}
	p(".SH DESCRIPTION")
	p("%s", roff("ringsup runs the daemons listed in one TOML file (ringsup.toml(5)) as child processes, in dependency order, each in its own process group; restarts them with exponential backoff, taking their dependents down and up with them; gates dependents on health checks and readiness notification; reloads the file on SIGHUP, `ringsup ctl reload` and any change of it; and stops them dependents first. `ringsup ctl` steers a running supervisor through its unix socket."))
	p(".SH OPTIONS")
	writeManFlags(w, app.Flags)
	p(".SH COMMANDS")
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			if cmd.Hidden {
				continue
			}
			p(".SS %s", roff(prefix+" "+cmd.Name))
			if cmd.UsageText != "" {
				p(".B %s", roff(cmd.UsageText))
				p(".PP")
			}
			p("%s", roff(sentence(cmd.Usage)))
			if len(cmd.Flags) > 0 {
				writeManFlags(w, cmd.Flags)
			}
			walk(prefix+" "+cmd.Name, cmd.Subcommands)
		}
	}
	walk("ringsup", app.Commands)
	p(".SH SIGNALS")
	p("%s", roff("SIGTERM or SIGINT shut down gracefully, dependents first; a second SIGINT kills every daemon's process group at once. SIGHUP reloads the config. SIGUSR1 reopens every log file."))
	p(".SH EXIT STATUS")
	p("%s", roff("0 after a clean shutdown or a successful command; 1 on any error, with one line on stderr (one per config error), after an unclean shutdown (a daemon killed after its stop_timeout, or processes left), and from a waiting `ctl` verb when a daemon did not reach its goal or the wait timed out."))
	p(".SH ENVIRONMENT")
	p(".TP\n.B RINGSUP_CONFIG, RINGSUP_PROFILE, RINGSUP_SOCKET\n%s", roff("Defaults of --config, --profile and --socket."))
	p(".TP\n.B NOTIFY_SOCKET, WATCHDOG_USEC\n%s", roff("Set by systemd (Type=notify): ringsup says READY=1, RELOADING=1, STOPPING=1, STATUS= and WATCHDOG=1 there, and removes them from its daemons' environment."))
	p(".TP\n.B NO_COLOR\n%s", roff("Turns off the colours of `ctl status` and of the echoed daemon output."))
	p(".SH FILES")
	p(".TP\n.B ringsup.toml\n%s", roff("The config (ringsup.toml(5)); relative paths in it are relative to its directory."))
	p(".TP\n.B ringsup.sock\n%s", roff("The control socket, beside the config unless [supervisor] socket says otherwise; ringsup.sock.lock beside it is held while a supervisor runs."))
	p(".TP\n.B <log_dir>/<name>.log\n%s", roff("Each daemon's output, rotated into <name>.log.1 ...; ringsup.log is the supervisor's own log, hooks.log the hooks' output."))
	p(".SH SEE ALSO")
	p(`\fBringsup.toml\fR(5), \fBsystemd.service\fR(5), \fBsd_notify\fR(3)`)
}

// sentence makes a usage line a sentence: capitalised, with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// writeManFlags writes a .TP paragraph per visible flag.
func writeManFlags(w io.Writer, flags []cli.Flag) {
	for _, f := range flags {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		d, ok := f.(cli.DocGenerationFlag)
		if !ok {
			continue
		}
		placeholder, usage := unquoteUsage(d.GetUsage())
		if placeholder == "" && d.TakesValue() {
			placeholder = "value"
		}
		var names []string
		for _, n := range f.Names() {
			dash := "--"
			if len(n) == 1 {
				dash = "-"
			}
			name := `\fB` + roff(dash+n) + `\fR`
			if placeholder != "" {
				name += ` \fI` + roff(placeholder) + `\fR`
			}
			names = append(names, name)
		}
		fmt.Fprintf(w, ".TP\n%s\n%s", strings.Join(names, ", "), roff(sentence(usage)))
		if def := d.GetDefaultText(); def != "" && def != "false" {
			fmt.Fprintf(w, " Default: %s.", roff(strings.Trim(def, `"`)))
		}
		if env := d.GetEnvVars(); len(env) > 0 {
			fmt.Fprintf(w, " Environment: %s.", roff(strings.Join(env, ", ")))
		}
		fmt.Fprintln(w)
	}
}

// unquoteUsage takes the `PLACEHOLDER` out of a flag's usage, as urfave/cli
// does for its help.
func unquoteUsage(usage string) (placeholder, text string) {
	i := strings.Index(usage, "`")
	j := -1
	if i >= 0 {
		j = strings.Index(usage[i+1:], "`")
	}
	if i < 0 || j < 0 {
		return "", usage
	}
	placeholder = usage[i+1 : i+1+j]
	return placeholder, usage[:i] + placeholder + usage[i+1+j+1:]
}

// referenceSection is what the README says about one table of the config:
// its prose, and the default and meaning of each key in its table.
type referenceSection struct {
	prose   []string
	keys    map[string][2]string // key -> default, meaning
	ordered []string
}

// tableName finds the table in a heading such as "### `[supervisor]` (...)".
var tableName = regexp.MustCompile("`\\[+([^\\]]+)\\]+`")

// readReference reads the README's "## Configuration reference": its
// introduction (under "") and each "### `[table]`" section; and the key
// table of a "### `[table]`" section elsewhere, as `[cluster]` has in
// Cluster mode.
func readReference(readme []byte) (map[string]*referenceSection, error) {
	sections := map[string]*referenceSection{}
	var cur *referenceSection
	in, keysOnly := false, false
	sc := bufio.NewScanner(bytes.NewReader(readme))
	var para []string
	flush := func() {
		if cur != nil && len(para) > 0 {
			cur.prose = append(cur.prose, strings.Join(para, " "))
		}
		para = nil
	}
	cell := regexp.MustCompile("`([^`]+)`")
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "## Configuration reference":
			in = true
			cur = &referenceSection{keys: map[string][2]string{}}
			sections[""] = cur
			continue
		case !in && strings.HasPrefix(line, "### "):
			keysOnly = false
			if m := tableName.FindStringSubmatch(strings.TrimPrefix(line, "### ")); m != nil {
				cur = &referenceSection{keys: map[string][2]string{}}
				sections[m[1]] = cur
				keysOnly = true
			}
			continue
		case !in && strings.HasPrefix(line, "#"):
			keysOnly = false
			continue
		case !in && !(keysOnly && strings.HasPrefix(line, "|")):
			continue
		case strings.HasPrefix(line, "## "):
			flush()
			in = false
			continue
		case strings.HasPrefix(line, "### "):
			flush()
			name := strings.TrimPrefix(line, "### ")
			if m := tableName.FindStringSubmatch(name); m != nil {
				name = m[1]
			}
			cur = &referenceSection{keys: map[string][2]string{}}
			sections[name] = cur
			continue
		case strings.HasPrefix(line, "|"):
			flush()
			cells := strings.Split(strings.Trim(line, "|"), " | ")
			if len(cells) != 3 || strings.HasPrefix(cells[0], "---") || strings.TrimSpace(cells[0]) == "key" {
				continue
			}
			for _, m := range cell.FindAllStringSubmatch(cells[0], -1) {
				cur.keys[m[1]] = [2]string{strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2])}
				cur.ordered = append(cur.ordered, m[1])
			}
			continue
		case strings.TrimSpace(line) == "":
			flush()
			continue
		}
		para = append(para, strings.TrimSpace(line))
	}
	flush()
	if sections[""] == nil {
		return nil, errors.New(`cannot find "## Configuration reference" in the README`)
	}
	return sections, sc.Err()
}

// writeMan5 writes ringsup.toml(5): every key of the schema, table by
// table, with what the README's reference says of it.
func writeMan5(w io.Writer, readme []byte) error {
	ref, err := readReference(readme)
	if err != nil {
		return err
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p(`.TH RINGSUP.TOML 5 "" "ringsup" "ringsup manual"`)
	p(".SH NAME")
	p(`ringsup.toml \- the config file of ringsup(1)`)
	p(".SH DESCRIPTION")
	for _, para := range ref[""].prose {
		p("%s\n.PP", roff(para))
	}
	var table string
	for _, k := range config.Keys() {
		if k.Table != table {
			if table == "supervisor" {
				// [profiles] has no keys of its own: its prose comes next.
				if sec := ref["profiles"]; sec != nil {
					p(".SH [profiles]")
					for _, para := range sec.prose {
						p("%s\n.PP", roff(para))
					}
				}
			}
			table = k.Table
			heading := "[" + table + "]"
			if table == "hooks" {
				heading = "[[hooks]]"
			}
			p(".SH %s", roff(heading))
			if sec := ref[table]; sec != nil {
				for _, para := range sec.prose {
					p("%s\n.PP", roff(para))
				}
			}
		}
		p(".TP")
		kind := k.Type
		if k.Required {
			kind += ", required"
		}
		p(`\fB%s\fR (%s)`, roff(k.Name), roff(kind))
		var meaning, def string
		if sec := ref[table]; sec != nil {
			if v, ok := sec.keys[k.Name]; ok {
				def, meaning = v[0], v[1]
			}
		}
		text := sentence(meaning)
		if def != "" && def != "required" {
			text += " Default: " + def + "."
		}
		p("%s", roff(strings.TrimSpace(text)))
	}
	p(".SH SEE ALSO")
	p(`\fBringsup\fR(1)`)
	return nil
}
