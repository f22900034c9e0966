// Command startup breaks down the start-up cost of one process of each
// given ringsup binary: the runtime's own start, the package
// initialisation (by module, from GODEBUG=inittrace=1), and the rest (main
// and exit), as medians over interleaved runs.
//
//	go run ./scripts/startup [-runs 40] [-top 12] BINARY... [-- ARGS]
//
// ARGS default to "version". Every run forks BINARY ARGS with
// GODEBUG=inittrace=1, times it from fork to reaping, and reads the init
// lines from its standard error; the binaries take turns, run by run, so a
// busy machine slows them alike.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "startup:", err)
		os.Exit(1)
	}
}

// sample is one run of one binary.
type sample struct {
	wall     float64            // ms, fork to reap
	runtime  float64            // ms, process start to the first non-runtime init
	initEnd  float64            // ms, process start to the end of the last init
	initSum  float64            // ms, sum of every package's init clock
	byGroup  map[string]float64 // ms of init clock by group
	byPkg    map[string]float64 // ms of init clock by package
	allocs   float64            // bytes allocated by init
	packages int
}

func run(args []string) error {
	fs := flag.NewFlagSet("startup", flag.ContinueOnError)
	runs := fs.Int("runs", 40, "runs of each binary")
	top := fs.Int("top", 12, "packages to list by their median init time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var binaries, cmdArgs []string
	rest := fs.Args()
	if i := slices.Index(rest, "--"); i >= 0 {
		binaries, cmdArgs = rest[:i], rest[i+1:]
	} else {
		binaries = rest
	}
	if len(binaries) == 0 {
		return fmt.Errorf("no binary given")
	}
	if len(cmdArgs) == 0 {
		cmdArgs = []string{"version"}
	}
	samples := make([][]sample, len(binaries))
	for r := 0; r < *runs; r++ {
		for i, b := range binaries {
			s, err := measure(b, cmdArgs)
			if err != nil {
				return err
			}
			samples[i] = append(samples[i], s)
		}
	}
	fmt.Printf("%d runs each, interleaved, of `BINARY %s`; medians in ms.\n\n", *runs, strings.Join(cmdArgs, " "))
	fmt.Print("| | " + strings.Join(binaries, " | ") + " |\n|---|" + strings.Repeat("---:|", len(binaries)) + "\n")
	row := func(name string, f func(sample) float64) {
		fmt.Printf("| %s |", name)
		for _, ss := range samples {
			fmt.Printf(" %.2f |", median(ss, f))
		}
		fmt.Println()
	}
	row("whole process, fork to reap", func(s sample) float64 { return s.wall })
	row("runtime start (to the first package init)", func(s sample) float64 { return s.runtime })
	row("package init, first to last (span)", func(s sample) float64 { return s.initEnd - s.runtime })
	row("package init, sum of clocks", func(s sample) float64 { return s.initSum })
	row("main and exit (the rest)", func(s sample) float64 { return s.wall - s.initEnd })
	row("init allocations (KiB)", func(s sample) float64 { return s.allocs / 1024 })
	row("packages initialised", func(s sample) float64 { return float64(s.packages) })
	groups := map[string]bool{}
	pkgs := map[string]bool{}
	for _, ss := range samples {
		for _, s := range ss {
			for g := range s.byGroup {
				groups[g] = true
			}
			for p := range s.byPkg {
				pkgs[p] = true
			}
		}
	}
	for _, g := range sortedByMedian(groups, samples, func(s sample, k string) float64 { return s.byGroup[k] }) {
		row("init: "+g, func(s sample) float64 { return s.byGroup[g] })
	}
	fmt.Printf("\nThe %d packages with the longest init (median clock, ms):\n\n", *top)
	fmt.Print("| package | " + strings.Join(binaries, " | ") + " |\n|---|" + strings.Repeat("---:|", len(binaries)) + "\n")
	for i, p := range sortedByMedian(pkgs, samples, func(s sample, k string) float64 { return s.byPkg[k] }) {
		if i == *top {
			break
		}
		row(p, func(s sample) float64 { return s.byPkg[p] })
	}
	return nil
}

// sortedByMedian orders keys by their largest median over the binaries.
func sortedByMedian(keys map[string]bool, samples [][]sample, f func(sample, string) float64) []string {
	score := map[string]float64{}
	var out []string
	for k := range keys {
		for _, ss := range samples {
			score[k] = max(score[k], median(ss, func(s sample) float64 { return f(s, k) }))
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if score[out[i]] != score[out[j]] {
			return score[out[i]] > score[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}

func median(ss []sample, f func(sample) float64) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func measure(bin string, args []string) (sample, error) {
	// os.StartProcess, not os/exec: only procexec imports os/exec in this
	// module (procexec's TestOnlyProcexecImportsOsExec).
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		return sample{}, err
	}
	defer stdin.Close()
	stdout, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return sample{}, err
	}
	defer stdout.Close()
	errFile, err := os.CreateTemp("", "startup.*.stderr")
	if err != nil {
		return sample{}, err
	}
	defer os.Remove(errFile.Name())
	defer errFile.Close()
	attr := &os.ProcAttr{
		Env:   append(os.Environ(), "GODEBUG=inittrace=1"),
		Files: []*os.File{stdin, stdout, errFile},
	}
	start := time.Now()
	p, err := os.StartProcess(bin, append([]string{bin}, args...), attr)
	if err != nil {
		return sample{}, err
	}
	st, err := p.Wait()
	wall := time.Since(start)
	if err != nil {
		return sample{}, err
	}
	var stderr bytes.Buffer
	if _, err := errFile.Seek(0, 0); err != nil {
		return sample{}, err
	}
	if _, err := stderr.ReadFrom(errFile); err != nil {
		return sample{}, err
	}
	if !st.Success() {
		tail := stderr.Bytes()
		tail = tail[max(0, len(tail)-500):]
		return sample{}, fmt.Errorf("%s: %v: ...%s", bin, st, tail)
	}
	s := sample{wall: ms(wall), byGroup: map[string]float64{}, byPkg: map[string]float64{}, runtime: -1}
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		// init PKG @0.16 ms, 0.048 ms clock, 0 bytes, 0 allocs
		f := strings.Fields(sc.Text())
		if len(f) < 9 || f[0] != "init" || !strings.HasPrefix(f[2], "@") {
			continue
		}
		at, err1 := strconv.ParseFloat(f[2][1:], 64)
		clock, err2 := strconv.ParseFloat(f[4], 64)
		bytes, err3 := strconv.ParseFloat(f[7], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		pkg := f[1]
		if s.runtime < 0 && !isRuntime(pkg) {
			s.runtime = at
		}
		s.initEnd = max(s.initEnd, at+clock)
		s.initSum += clock
		s.allocs += bytes
		s.byGroup[group(pkg)] += clock
		s.byPkg[pkg] += clock
		s.packages++
	}
	if s.runtime < 0 {
		return sample{}, fmt.Errorf("%s: no inittrace lines on stderr", bin)
	}
	return s, nil
}

func isRuntime(pkg string) bool {
	return pkg == "runtime" || strings.HasPrefix(pkg, "internal/") || strings.HasPrefix(pkg, "runtime/")
}

// group names the family a package belongs to.
func group(pkg string) string {
	for _, g := range []struct{ prefix, name string }{
		{"google.golang.org/grpc", "gRPC"},
		{"google.golang.org/protobuf", "protobuf"},
		{"google.golang.org/genproto", "protobuf"},
		{"github.com/golang/protobuf", "protobuf"},
		{"github.com/gogo/protobuf", "protobuf"},
		{"go.etcd.io/", "etcd"},
		{"github.com/prometheus/", "client_golang"},
		{"github.com/charmbracelet/", "bubbletea, lipgloss"},
		{"github.com/muesli/", "bubbletea, lipgloss"},
		{"github.com/lucasb-eyer/", "bubbletea, lipgloss"},
		{"github.com/ringrift/ringsup", "ringsup"},
		{"github.com/urfave/", "urfave/cli"},
		{"go.uber.org/", "zap"},
		{"golang.org/x/net", "x/net"},
	} {
		if strings.HasPrefix(pkg, g.prefix) {
			return g.name
		}
	}
	if !strings.Contains(strings.SplitN(pkg, "/", 2)[0], ".") {
		if isRuntime(pkg) {
			return "runtime"
		}
		return "standard library"
	}
	return "other modules"
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
