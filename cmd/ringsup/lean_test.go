package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/procexec"
)

// heavyModules are what the lean build must not link: the etcd client,
// gRPC, protobuf, client_golang and Bubble Tea. Their package init is
// what made every `ringsup ctl` slow to start.
var heavyModules = []string{
	"go.etcd.io/",
	"google.golang.org/grpc",
	"google.golang.org/protobuf",
	"github.com/prometheus/",
	"github.com/charmbracelet/",
}

// releaseBuild runs scripts/build.sh into a new directory and returns the
// paths of its two binaries: ringsup (lean) and ringsup-full.
func releaseBuild(t *testing.T) (lean, full string) {
	t.Helper()
	dir := t.TempDir()
	script, err := filepath.Abs("../../scripts/build.sh")
	if err != nil {
		t.Fatal(err)
	}
	lean = filepath.Join(dir, "ringsup")
	if out, code := runBinary(t, "", 10*time.Minute, nil, "/bin/sh", script, lean); code != 0 {
		t.Fatalf("scripts/build.sh: exit %d\n%s", code, out)
	}
	return lean, filepath.Join(dir, "ringsup-full")
}

// runBinary runs argv in dir with env added and returns its output
// (stdout and stderr) and exit code.
func runBinary(t *testing.T, dir string, timeout time.Duration, env map[string]string, argv ...string) (string, int) {
	t.Helper()
	out := &syncBuffer{}
	p, err := spawner().Spawn(procexec.Spec{Argv: argv, Dir: dir, Env: env, Output: out})
	if err != nil {
		t.Fatalf("cannot run %s: %v", argv[0], err)
	}
	x := waitExit(t, p.PID, timeout)
	select {
	case <-p.OutputDone():
	case <-time.After(timeout):
		t.Fatalf("the output of %s did not end", argv[0])
	}
	return out.String(), x.Code
}

// TestLeanBuild checks scripts/build.sh's two binaries: the lean ringsup
// links none of the heavy modules, and hands over to ringsup-full, in the
// same process, exactly what needs them.
func TestLeanBuild(t *testing.T) {
	goTool := lookPath("go")
	if goTool == "" {
		t.Skip("the go command is not in $PATH; scripts/test.sh has it")
	}
	lean, full := releaseBuild(t)

	t.Run("links", func(t *testing.T) {
		for _, c := range []struct {
			bin  string
			want bool
		}{{lean, false}, {full, true}} {
			mods, code := runBinary(t, "", time.Minute, nil, goTool, "version", "-m", c.bin)
			if code != 0 {
				t.Fatalf("go version -m %s: exit %d\n%s", c.bin, code, mods)
			}
			for _, m := range heavyModules {
				if got := strings.Contains(mods, "\tdep\t"+m); got != c.want {
					t.Errorf("%s links %s = %v, want %v", filepath.Base(c.bin), m, got, c.want)
				}
			}
		}
		// ringsup's own packages that import them: one module, so go list.
		pkgs, code := runBinary(t, "", 5*time.Minute, nil, goTool, "list", "-deps", "-tags", "ringsup_lean,urfave_cli_no_docs", ".")
		if code != 0 {
			t.Fatalf("go list -deps: exit %d\n%s", code, pkgs)
		}
		for _, p := range []string{"cluster", "metrics", "top"} {
			if strings.Contains(pkgs, "\ngithub.com/ringrift/ringsup/"+p+"\n") {
				t.Errorf("the lean build imports github.com/ringrift/ringsup/%s", p)
			}
		}
		// Nor TLS, net/http or a hash from crypto: their package init
		// (x509, the FIPS tables) would be every ctl command's.
		for _, p := range []string{"crypto/tls", "crypto/sha256", "net/http"} {
			if strings.Contains(pkgs, "\n"+p+"\n") {
				t.Errorf("the lean build imports %s", p)
			}
		}
	})

	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	daemon := "[daemons.a]\ncommand = [\"/bin/sleep\", \"1000\"]\n"
	sock := filepath.Join(dir, "ringsup.sock")
	clusterCfg := write("cluster.toml", "[cluster]\nendpoints = [\"127.0.0.1:9\"]\nnode = \"n1\"\n"+daemon)
	metricsAddr := freePort(t)
	metricsCfg := write("metrics.toml", fmt.Sprintf("[supervisor]\nmetrics = %q\n", metricsAddr)+daemon)
	plainCfg := write("plain.toml", daemon)
	httpsCheck := "[daemons.a.health]\nhttp = \"https://127.0.0.1:9/health\"\n"
	httpsCfg := write("https.toml", daemon+httpsCheck)
	httpsUpperCfg := write("https-upper.toml", daemon+strings.Replace(httpsCheck, "https://", "HTTPS://", 1))

	// With a stand-in ringsup-full that writes down its pid and arguments:
	// the hand-over is an exec, same pid, same arguments.
	t.Run("hands over", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "ringsup")
		copyFile(t, lean, bin)
		stand := filepath.Join(filepath.Dir(bin), "ringsup-full")
		if err := os.WriteFile(stand, []byte("#!/bin/sh\necho \"$$ $*\" >\"$RINGSUP_TEST_HANDOVER\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			args []string
			want bool
		}{
			{[]string{"--config", clusterCfg}, true},
			{[]string{"--config", metricsCfg, "--log-level", "warn"}, true},
			{[]string{"--config", httpsCfg}, true},
			{[]string{"--config", httpsUpperCfg}, true},
			{[]string{"ctl", "--socket", sock, "top"}, true},
			{[]string{"ctl", "--cluster", "--etcd", "127.0.0.1:9", "status", "--json"}, true},
			{[]string{"ctl", "--config", clusterCfg, "--cluster", "events"}, true},
			{[]string{"check", "--config", clusterCfg}, false},
			{[]string{"check", "--config", httpsCfg}, false},
			{[]string{"ctl", "--socket", sock, "status", "--json"}, false},
			{[]string{"version"}, false},
		} {
			record := filepath.Join(t.TempDir(), "handover")
			out := &syncBuffer{}
			p, err := spawner().Spawn(procexec.Spec{
				Argv:   append([]string{bin}, c.args...),
				Env:    map[string]string{"RINGSUP_TEST_HANDOVER": record},
				Output: out,
			})
			if err != nil {
				t.Fatal(err)
			}
			waitExit(t, p.PID, 30*time.Second)
			<-p.OutputDone()
			got, err := os.ReadFile(record)
			switch {
			case !c.want && err == nil:
				t.Errorf("ringsup %s handed over to ringsup-full (%q), want it run by the lean build", strings.Join(c.args, " "), got)
			case c.want && err != nil:
				t.Errorf("ringsup %s did not hand over to ringsup-full: %v\noutput: %s", strings.Join(c.args, " "), err, out)
			case c.want:
				if want := fmt.Sprintf("%d %s\n", p.PID, strings.Join(c.args, " ")); string(got) != want {
					t.Errorf("ringsup %s: ringsup-full ran as %q, want %q (same pid, same arguments)", strings.Join(c.args, " "), got, want)
				}
			}
		}
	})

	t.Run("without ringsup-full", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "ringsup")
		copyFile(t, lean, bin)
		for _, args := range [][]string{
			{"--config", metricsCfg},
			{"--config", clusterCfg},
			{"ctl", "--socket", sock, "top"},
			{"ctl", "--cluster", "--etcd", "127.0.0.1:9", "status"},
		} {
			out, code := runBinary(t, dir, 30*time.Second, nil, append([]string{bin}, args...)...)
			want := "install ringsup-full beside " + bin
			if code != 1 || !strings.Contains(out, want) || strings.Count(out, "\n") != 1 {
				t.Errorf("ringsup %s without ringsup-full: exit %d, output %q; want exit 1 and one line saying %q", strings.Join(args, " "), code, out, want)
			}
		}
	})

	// The real ringsup-full: a config with metrics runs as it, in the
	// process started as the lean ringsup, and serves them.
	t.Run("metrics served", func(t *testing.T) {
		r := startBinary(t, dir, lean, "--config", metricsCfg, "--log-level", "warn")
		waitListening(t, r, sock)
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", r.pid)); exe != full {
			t.Errorf("the supervisor runs %s, want %s", exe, full)
		}
		body := scrape(t, metricsAddr, 30*time.Second, func(string) bool { return true })
		if !strings.Contains(body, `daemon="a"`) {
			t.Errorf("/metrics has no series of daemon a:\n%.2000s", body)
		}
		syscall.Kill(r.pid, syscall.SIGTERM)
		if x := r.wait(30 * time.Second); x.Code != 0 {
			t.Errorf("ringsup-full exited %v after SIGTERM:\n%s", x, r.output)
		}
	})

	// A config without them runs in the lean build itself.
	t.Run("plain config stays", func(t *testing.T) {
		r := startBinary(t, dir, lean, "--config", plainCfg, "--log-level", "warn")
		waitListening(t, r, sock)
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", r.pid)); exe != lean {
			t.Errorf("the supervisor runs %s, want %s", exe, lean)
		}
		out, code := runBinary(t, dir, 30*time.Second, nil, lean, "ctl", "--socket", sock, "status", "--json")
		if code != 0 || !strings.Contains(out, `"daemon": "a"`) {
			t.Errorf("ctl status --json: exit %d, output %q", code, out)
		}
		syscall.Kill(r.pid, syscall.SIGTERM)
		if x := r.wait(30 * time.Second); x.Code != 0 {
			t.Errorf("ringsup exited %v after SIGTERM:\n%s", x, r.output)
		}
	})

	// The lean build has no TLS: a reload that brings in an https:// health
	// check is refused, and changes nothing, until a restart hands the
	// config to ringsup-full.
	t.Run("https check needs a restart", func(t *testing.T) {
		cfg := write("grows-https.toml", daemon)
		r := startBinary(t, dir, lean, "--config", cfg, "--log-level", "warn")
		waitListening(t, r, sock)
		status := func() map[string]any {
			out, code := runBinary(t, dir, 30*time.Second, nil, lean, "ctl", "--socket", sock, "status", "--json")
			var st map[string]any
			if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
				t.Fatalf("ctl status --json: exit %d, %v, output %q", code, err, out)
			}
			return st
		}
		before := status()
		write("grows-https.toml", daemon+httpsCheck)
		out, code := runBinary(t, dir, 30*time.Second, nil, lean, "ctl", "--socket", sock, "reload")
		want := cfg + `:1:10: daemons.a.health.http: an https:// health check needs TLS, which this build of ringsup leaves out: restart ringsup to run the config as ringsup-full`
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("ctl reload with an https:// check: exit %d, output %q; want exit 1 and %q", code, out, want)
		}
		after := status()
		for _, field := range []string{"pid", "health"} {
			if b, a := daemonField(before, "a", field), daemonField(after, "a", field); b == nil || a != b {
				t.Errorf("daemon a's %s was %v before the refused reload, %v after", field, b, a)
			}
		}
		syscall.Kill(r.pid, syscall.SIGTERM)
		if x := r.wait(30 * time.Second); x.Code != 0 {
			t.Errorf("ringsup exited %v after SIGTERM:\n%s", x, r.output)
		}
	})
}
