package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// contender is one supervisor under test, set up for n identical children.
type contender struct {
	name string
	// peer: one of the alternatives users would pick instead of ringsup.
	peer bool
	// setup writes the configuration for n children into dir and returns
	// the command that runs the supervisor in the foreground.
	setup func(b *bins, dir string, n int) ([]string, error)
	// stopSignal is what a user sends to stop everything.
	stopSignal syscall.Signal
	// env is added to the supervisor's environment (and so its children's).
	env []string
	// status, if not nil, is the command a user runs to see every
	// service's state; up counts the services its output shows up.
	status func(b *bins, dir string, n int) []string
	up     func(out []byte) int
	// baseline: a ringsup contender that runs the --baseline binary; it
	// takes part only when there is one.
	baseline bool
}

// bins are the programs the contenders run.
type bins struct {
	ringsup string
	base    string // the --baseline ringsup, or ""
	child   string
	floor   string
}

// baseSuffix names a baseline contender after its ringsup contender:
// ringsup-base, ringsup-dag-base.
const baseSuffix = "-base"

// asBase returns b with the baseline in place of ringsup.
func (b *bins) asBase() *bins {
	c := *b
	c.ringsup = b.base
	return &c
}

// baseContender returns a contender like c that runs the baseline binary.
func baseContender(c *contender) *contender {
	base := *c
	base.name = c.name + baseSuffix
	base.baseline = true
	base.setup = func(b *bins, dir string, n int) ([]string, error) { return c.setup(b.asBase(), dir, n) }
	if c.status != nil {
		base.status = func(b *bins, dir string, n int) []string { return c.status(b.asBase(), dir, n) }
	}
	return &base
}

func serviceName(i int) string { return fmt.Sprintf("d%04d", i) }

func contenders() []*contender {
	ringsup := &contender{
		name:       "ringsup",
		setup:      func(b *bins, dir string, n int) ([]string, error) { return setupRingsup(b, dir, n, ringsupFlat) },
		stopSignal: syscall.SIGTERM,
		status:     ringsupStatus,
		up:         ringsupUp,
	}
	dag := &contender{
		name:       "ringsup-dag",
		setup:      func(b *bins, dir string, n int) ([]string, error) { return setupRingsup(b, dir, n, ringsupDAG) },
		stopSignal: syscall.SIGTERM,
	}
	return []*contender{
		{
			name:       "floor",
			setup:      setupFloor,
			stopSignal: syscall.SIGTERM,
		},
		{
			name:       "floor-2t",
			setup:      setupFloor2,
			stopSignal: syscall.SIGTERM,
		},
		ringsup,
		baseContender(ringsup),
		dag,
		baseContender(dag),
		{
			name:       "supervisord",
			peer:       true,
			setup:      setupSupervisord,
			stopSignal: syscall.SIGTERM,
			status: func(b *bins, dir string, n int) []string {
				return []string{"/usr/bin/supervisorctl", "-c", filepath.Join(dir, "supervisord.conf"), "status"}
			},
			up: func(out []byte) int {
				return countLines(out, func(l string) bool { return strings.Contains(l, " RUNNING ") })
			},
		},
		{
			name:       "s6",
			peer:       true,
			setup:      setupS6,
			stopSignal: syscall.SIGTERM,
			// s6-supervise restarts at once only a service that has been
			// ready for a second; without notification it waits 1 s.
			env: []string{"BENCH_NOTIFY_FD=3"},
			status: func(b *bins, dir string, n int) []string {
				return []string{"/bin/sh", "-c", `for d in "$1"/*; do s6-svstat "$d"; done`, "sh", filepath.Join(dir, "scan")}
			},
			up: func(out []byte) int {
				return countLines(out, func(l string) bool { return strings.HasPrefix(l, "up ") })
			},
		},
		{
			name:  "runit",
			peer:  true,
			setup: setupRunit,
			// runsvdir exits at once on SIGTERM, leaving its runsv and
			// their services; SIGHUP is its documented "TERM every runsv,
			// then exit", and runsv stops its service on TERM.
			stopSignal: syscall.SIGHUP,
			status: func(b *bins, dir string, n int) []string {
				argv := []string{"/usr/bin/sv", "status"}
				for i := range n {
					argv = append(argv, filepath.Join(dir, "sv", serviceName(i)))
				}
				return argv
			},
			up: func(out []byte) int {
				return countLines(out, func(l string) bool { return strings.HasPrefix(l, "run: ") })
			},
		},
	}
}

func countLines(out []byte, ok func(string) bool) int {
	n := 0
	for l := range strings.SplitSeq(string(out), "\n") {
		if ok(l) {
			n++
		}
	}
	return n
}

func setupFloor(b *bins, dir string, n int) ([]string, error) {
	return []string{b.floor, fmt.Sprint(n), b.child}, nil
}

// setupFloor2 is the floor spawning from two threads at once, one per core
// of the machine the targets are set on, as ringsup's spawner does.
func setupFloor2(b *bins, dir string, n int) ([]string, error) {
	return []string{b.floor, "-t", "2", fmt.Sprint(n), b.child}, nil
}

type ringsupShape int

const (
	ringsupFlat ringsupShape = iota
	ringsupDAG               // 10 levels, each daemon depending on two of the level before
)

// ringsupConfig is the TOML for n children. Backoff starts at 0s, the
// fastest legitimate restart; health, if not nil, returns TOML appended
// after daemon i's table; tag, when not empty, is the argument of d0000's
// child.
func ringsupConfig(b *bins, dir string, n int, shape ringsupShape, tag string, health func(i int) string) string {
	var src strings.Builder
	fmt.Fprintf(&src, "[supervisor]\nsocket = %q\nlog_dir = %q\nbackoff_min = \"0s\"\n\n",
		filepath.Join(dir, "ringsup.sock"), filepath.Join(dir, "logs"))
	const levels = 10
	per := max(n/levels, 1)
	for i := range n {
		fmt.Fprintf(&src, "[daemons.%s]\n", serviceName(i))
		if i == 0 && tag != "" {
			fmt.Fprintf(&src, "command = [%q, %q]\n", b.child, tag)
		} else {
			fmt.Fprintf(&src, "command = [%q]\n", b.child)
		}
		if level := i / per; shape == ringsupDAG && level > 0 && level < levels {
			a, c := (level-1)*per+i%per, (level-1)*per+(i+1)%per
			if a == c {
				fmt.Fprintf(&src, "depends_on = [%q]\n", serviceName(a))
			} else {
				fmt.Fprintf(&src, "depends_on = [%q, %q]\n", serviceName(a), serviceName(c))
			}
		}
		if health != nil {
			src.WriteString(health(i))
		}
	}
	return src.String()
}

// ringsupConfigPath is where ringsup's config goes: a directory of its own,
// so that ringsup's file watcher sees only the config's changes, not the
// output and sockets of the session.
func ringsupConfigPath(dir string) string { return filepath.Join(dir, "conf", "ringsup.toml") }

func setupRingsup(b *bins, dir string, n int, shape ringsupShape) ([]string, error) {
	path := ringsupConfigPath(dir)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(ringsupConfig(b, dir, n, shape, "", nil)), 0o644); err != nil {
		return nil, err
	}
	return ringsupArgv(b, path), nil
}

func ringsupArgv(b *bins, config string) []string {
	return []string{b.ringsup, "--config", config, "--log-level", "warn"}
}

func ringsupStatus(b *bins, dir string, n int) []string {
	return []string{b.ringsup, "ctl", "--socket", filepath.Join(dir, "ringsup.sock"), "status", "--json"}
}

func ringsupUp(out []byte) int {
	var st struct {
		Daemons map[string]struct {
			State string `json:"state"`
		} `json:"daemons"`
	}
	if json.Unmarshal(out, &st) != nil {
		return -1
	}
	n := 0
	for _, d := range st.Daemons {
		if d.State == "running" {
			n++
		}
	}
	return n
}

// setupSupervisord: one [program] per child, startsecs=0 (RUNNING at once,
// so a crash right after start is still restarted) and output discarded
// (stdout_logfile=NONE: no log file per program), the fastest settings.
func setupSupervisord(b *bins, dir string, n int) ([]string, error) {
	var src strings.Builder
	fmt.Fprintf(&src, `[supervisord]
nodaemon=true
logfile=%[1]s/supervisord.log
pidfile=%[1]s/supervisord.pid
childlogdir=%[1]s
loglevel=warn

[unix_http_server]
file=%[1]s/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%[1]s/supervisor.sock

`, dir)
	for i := range n {
		fmt.Fprintf(&src, "[program:%s]\ncommand=%s\nstartsecs=0\nautorestart=true\nstartretries=1000\nredirect_stderr=true\nstdout_logfile=NONE\n\n", serviceName(i), b.child)
	}
	path := filepath.Join(dir, "supervisord.conf")
	if err := os.WriteFile(path, []byte(src.String()), 0o644); err != nil {
		return nil, err
	}
	return []string{"/usr/bin/supervisord", "-c", path}, nil
}

// serviceDirs makes n service directories under root whose run is a symlink
// to the child: no shell, no logger, nothing between the supervise process
// and the child. extra files (name → content) are added to each.
func serviceDirs(b *bins, root string, n int, extra map[string]string) error {
	for i := range n {
		d := filepath.Join(root, serviceName(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Symlink(b.child, filepath.Join(d, "run")); err != nil {
			return err
		}
		for name, content := range extra {
			if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// setupS6: s6-svscan over n service directories (-c raises its default
// limit of 500 services), each with readiness notification on fd 3, which
// the child writes to once it has reported.
func setupS6(b *bins, dir string, n int) ([]string, error) {
	scan := filepath.Join(dir, "scan")
	if err := serviceDirs(b, scan, n, map[string]string{"notification-fd": "3\n"}); err != nil {
		return nil, err
	}
	return []string{"/usr/bin/s6-svscan", "-c", fmt.Sprint(n + 16), scan}, nil
}

// setupRunit: runsvdir over n service directories.
func setupRunit(b *bins, dir string, n int) ([]string, error) {
	sv := filepath.Join(dir, "sv")
	if err := serviceDirs(b, sv, n, nil); err != nil {
		return nil, err
	}
	return []string{"/usr/bin/runsvdir", sv}, nil
}
