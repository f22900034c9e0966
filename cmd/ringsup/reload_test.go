package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reloadNode has a daemon that a reload leaves alone and one whose command
// the tests change; each writes its pid, and "changed" also its version.
func reloadNode(watch bool, version string) string {
	return fmt.Sprintf(`
[supervisor]
watch = %v

[daemons.steady]
command = "echo $$ > steady.pid; exec sleep 1000"

[daemons.changed]
command = "echo %s > changed.version; echo $$ > changed.pid; exec sleep 1000"
`, watch, version)
}

// startReloadNode runs ringsup on reloadNode(watch, "v1") in dir/real/, with
// dir/ringsup.toml a symlink to it when viaSymlink (as in a ConfigMap).
func startReloadNode(t *testing.T, watch bool) (dir string, r *ringsupProc, steady int) {
	t.Helper()
	dir, r = runNode(t, reloadNode(watch, "v1"))
	steady = readPID(t, filepath.Join(dir, "steady.pid"))
	readPID(t, filepath.Join(dir, "changed.pid"))
	return dir, r, steady
}

// wantReloaded waits for "changed" to run version want, and checks that
// "steady" kept its pid.
func wantReloaded(t *testing.T, dir, want string, steady int, _ *ringsupProc) {
	t.Helper()
	eventually(t, 10*time.Second, "changed runs "+want, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "changed.version"))
		return strings.TrimSpace(string(b)) == want
	})
	if got := readPID(t, filepath.Join(dir, "steady.pid")); got != steady || processGone(steady) {
		t.Errorf("steady pid %d -> %d: a reload restarted an unchanged daemon", steady, got)
	}
}

func TestReloadOnSIGHUP(t *testing.T) {
	dir, r, steady := startReloadNode(t, false)
	before := len(r.output.String())
	write(t, filepath.Join(dir, "ringsup.toml"), reloadNode(false, "v2"))
	syscall.Kill(r.pid, syscall.SIGHUP)
	wantReloaded(t, dir, "v2", steady, r)
	// A reload used to log three lines before anything restarted; now one
	// line says what it does, then come the lifecycle events.
	eventually(t, 10*time.Second, "changed is started again", func() bool {
		return strings.Contains(r.output.String()[before:], "event=DAEMON_STARTED daemon=changed")
	})
	var lines []string
	for _, l := range strings.Split(r.output.String()[before:], "\n") {
		if strings.Contains(l, "[INFO]") || strings.Contains(l, "[WARN]") || strings.Contains(l, "[ERROR]") {
			lines = append(lines, l)
		}
	}
	// (The start-up's last events may come first.)
	var reloadLines []int
	for i, l := range lines {
		if strings.Contains(strings.ToLower(l), "reload") {
			reloadLines = append(reloadLines, i)
		}
	}
	if len(reloadLines) != 1 || !strings.Contains(lines[reloadLines[0]], "event=CONFIG_RELOADED restarted=changed") ||
		reloadLines[0]+1 >= len(lines) || !strings.Contains(lines[reloadLines[0]+1], "event=DAEMON_STOPPED daemon=changed") {
		t.Errorf("log of the reload:\n%s\nwant one line, CONFIG_RELOADED restarted=changed, then the stop", strings.Join(lines, "\n"))
	}
}

func TestReloadOnFileChange(t *testing.T) {
	for name, save := range map[string]func(t *testing.T, path, content string){
		"write in place": write,
		"editor rename": func(t *testing.T, path, content string) {
			tmp := path + ".tmp"
			write(t, tmp, content)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		},
		"truncate then write": func(t *testing.T, path, content string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // longer than the debounce
			write(t, path, content)
		},
		"delete and recreate": func(t *testing.T, path, content string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			write(t, path, content)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir, r, steady := startReloadNode(t, true)
			save(t, filepath.Join(dir, "ringsup.toml"), reloadNode(true, "v2"))
			wantReloaded(t, dir, "v2", steady, r)
		})
	}
}

// TestReloadOnConfigMapSwap updates the config the way the kubelet updates
// a mounted ConfigMap: a new directory, and the ..data symlink swapped.
func TestReloadOnConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	mkdir := func(p string) {
		if err := os.Mkdir(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(old, new string) {
		if err := os.Symlink(old, filepath.Join(dir, new)); err != nil {
			t.Fatal(err)
		}
	}
	mkdir("..v1")
	write(t, filepath.Join(dir, "..v1", "ringsup.toml"), reloadNode(true, "v1"))
	symlink("..v1", "..data")
	symlink("..data/ringsup.toml", "ringsup.toml")
	r := startRingsup(t, dir)
	t.Cleanup(func() {
		syscall.Kill(r.pid, syscall.SIGTERM)
		r.wait(30 * time.Second)
	})
	// Relative paths resolve against the directory of the path given.
	steady := readPID(t, filepath.Join(dir, "steady.pid"))

	mkdir("..v2")
	write(t, filepath.Join(dir, "..v2", "ringsup.toml"), reloadNode(true, "v2"))
	symlink("..v2", "..data_tmp")
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	wantReloaded(t, dir, "v2", steady, r)
}

func TestInvalidReloadKeepsRunning(t *testing.T) {
	dir, r, steady := startReloadNode(t, true)
	changed := readPID(t, filepath.Join(dir, "changed.pid"))
	write(t, filepath.Join(dir, "ringsup.toml"), reloadNode(true, "v2")+"\n[daemons.broken\n")
	eventually(t, 10*time.Second, "the reload fails", func() bool {
		return strings.Contains(r.output.String(), "event=CONFIG_RELOAD_FAILED")
	})
	if !regexp.MustCompile(`ringsup\.toml:12:16: expected`).MatchString(r.output.String()) {
		t.Errorf("reload error without the line:\n%s", r.output)
	}
	for name, pid := range map[string]int{"steady": steady, "changed": changed} {
		if processGone(pid) {
			t.Errorf("%s died in a failed reload", name)
		}
	}
	// A good file afterwards is applied.
	write(t, filepath.Join(dir, "ringsup.toml"), reloadNode(true, "v3"))
	wantReloaded(t, dir, "v3", steady, r)
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
