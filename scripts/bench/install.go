package main

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

//go:embed c/child.c c/floor.c
var csrc embed.FS

// tools maps each program the bench runs to the Debian package that has it.
var tools = []struct{ program, pkg string }{
	{"/usr/bin/supervisord", "supervisor"},
	{"/usr/bin/supervisorctl", "supervisor"},
	{"/usr/bin/s6-svscan", "s6"},
	{"/usr/bin/s6-svstat", "s6"},
	{"/usr/bin/runsvdir", "runit"},
	{"/usr/bin/sv", "runit"},
	{"/usr/bin/gcc", "gcc"},
}

// ensureTools installs the Debian packages of the missing programs (with
// apt-get, as root) unless install is false, in which case it only reports
// them. It runs before the harness starts any other process.
func ensureTools(install bool) error {
	var missing []string
	for _, t := range tools {
		if _, err := os.Stat(t.program); err != nil && !containsString(missing, t.pkg) {
			missing = append(missing, t.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if containsString(missing, "gcc") {
		missing = append(missing, "libc6-dev")
	}
	if !install {
		return fmt.Errorf("missing packages %s (run without --no-install, as root, to install them)", strings.Join(missing, " "))
	}
	fmt.Fprintf(os.Stderr, "bench: installing %s\n", strings.Join(missing, " "))
	for _, argv := range [][]string{
		{"apt-get", "update", "-qq"},
		append([]string{"apt-get", "install", "-y", "-qq", "--no-install-recommends"}, missing...),
	} {
		err := runCommand("", map[string]string{"DEBIAN_FRONTEND": "noninteractive"}, os.Stderr, argv...)
		if err != nil {
			return fmt.Errorf("cannot install %s: %s: %w", strings.Join(missing, " "), strings.Join(argv, " "), err)
		}
	}
	return nil
}

func containsString(list []string, s string) bool { return slices.Contains(list, s) }

// buildC compiles the child and the floor spawner into dir, statically when
// the C library allows it (no dynamic loader on every start).
func buildC(dir string) (child, floor string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	build := func(name string) (string, error) {
		src, err := csrc.ReadFile("c/" + name + ".c")
		if err != nil {
			return "", err
		}
		srcPath := filepath.Join(dir, name+".c")
		if err := os.WriteFile(srcPath, src, 0o644); err != nil {
			return "", err
		}
		bin := filepath.Join(dir, "bench-"+name)
		var out []byte
		for _, static := range []bool{true, false} {
			args := []string{"-O2", "-Wall", "-pthread", "-o", bin, srcPath}
			if static {
				args = append([]string{"-static"}, args...)
			}
			var buf bytes.Buffer
			if err = runCommand("", nil, &buf, append([]string{"gcc"}, args...)...); err == nil {
				return bin, nil
			}
			out = buf.Bytes()
		}
		return "", fmt.Errorf("cannot compile %s: %w\n%s", name, err, out)
	}
	if child, err = build("child"); err != nil {
		return "", "", err
	}
	if floor, err = build("floor"); err != nil {
		return "", "", err
	}
	return child, floor, nil
}

// buildRingsup builds the release binary of the module around the working
// directory (scripts/build.sh) into dir.
func buildRingsup(dir string) (string, error) {
	bin := filepath.Join(dir, "ringsup")
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	if err := runCommand(root, nil, os.Stderr, "sh", "scripts/build.sh", bin); err != nil {
		return "", fmt.Errorf("cannot build ringsup (or pass --ringsup): %w", err)
	}
	return bin, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/ringrift/ringsup\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("cannot find the ringsup module above the working directory (or pass --ringsup)")
		}
		dir = parent
	}
}

// output runs a command for the machine description and returns its first
// line, or "?".
func output(name string, args ...string) string {
	var buf bytes.Buffer
	if err := runCommand("", nil, &buf, append([]string{name}, args...)...); err != nil {
		return "?"
	}
	out := buf.Bytes()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// runCommand runs argv in dir (or the working directory) with env added,
// its output (stdout and stderr) to out, and waits for it. Like every
// process of ringsup's module, it is started with procexec; it is used
// before the harness starts any other child, so the exit it reaps is its.
func runCommand(dir string, env map[string]string, out io.Writer, argv ...string) error {
	sp := procexec.NewSpawner()
	defer sp.Close()
	p, err := sp.Spawn(procexec.Spec{Argv: argv, Dir: dir, Env: env, Output: out})
	if err != nil {
		return err
	}
	for {
		exits, err := procexec.Reap()
		if err != nil {
			return err
		}
		for _, x := range exits {
			if x.PID == p.PID {
				<-p.OutputDone()
				if !x.Success() {
					return fmt.Errorf("%s: %s", argv[0], x)
				}
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}
