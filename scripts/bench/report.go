package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// series is every sample of one metric for one contender at one N.
type series struct {
	Metric    string    `json:"metric"`
	Contender string    `json:"contender"`
	N         int       `json:"n"`
	Values    []float64 `json:"values"`
	Median    float64   `json:"median"`
	P90       float64   `json:"p90"`
	Max       float64   `json:"max"`
}

type results struct {
	Machine map[string]string `json:"machine"`
	Options map[string]string `json:"options"`
	Units   map[string]string `json:"units"`
	Series  []*series         `json:"series"`
	Notes   []string          `json:"errors"`
	index   map[string]*series
}

var units = map[string]string{
	"start_ms":            "ms from launching the supervisor to the last child's report",
	"first_ms":            "ms from launching the supervisor to the first child's report",
	"start_cpu_ms":        "ms of CPU the supervisor's own processes had used when the last child reported",
	"restart_ms":          "ms from SIGKILL of one child to its replacement's report",
	"restart_cpu_ms":      "ms of CPU the supervisor's own processes used per restart",
	"idle_cpu_pct":        "% of one core used by the supervisor's own processes while idle",
	"idle_wakeups_per_s":  "times per second a thread of the supervisor's own processes ran",
	"pss_mib":             "MiB, PSS (smaps_rollup) of the supervisor's own processes",
	"stop_ms":             "ms from the stop signal to the last child's death",
	"stop_exit_ms":        "ms from the stop signal to the supervisor's exit",
	"status_ms":           "ms, wall time of the whole status command",
	"reload_ms":           "ms from renaming the new config into place to the changed daemon's report",
	"probe_cpu_pct":       "% of one core used by ringsup with a tcp probe per daemon every second",
	"probe_wakeups_per_s": "thread runs per second of ringsup with those probes",
	"probes_per_s":        "tcp connections per second the harness accepted from the probes",
}

func newResults() *results {
	return &results{index: map[string]*series{}, Units: units}
}

func key(metric, contender string, n int) string {
	return fmt.Sprintf("%s/%s/%d", metric, contender, n)
}

func (r *results) add(metric, contender string, n int, v float64) {
	k := key(metric, contender, n)
	s := r.index[k]
	if s == nil {
		s = &series{Metric: metric, Contender: contender, N: n}
		r.index[k] = s
		r.Series = append(r.Series, s)
	}
	s.Values = append(s.Values, v)
	s.Median, s.P90, s.Max = median(s.Values), percentile(s.Values, 90), slices.Max(s.Values)
}

// stat returns the median (or "p90", "max") of a series, NaN when absent.
func (r *results) stat(metric, contender string, n int, stat string) float64 {
	s := r.index[key(metric, contender, n)]
	if s == nil {
		return math.NaN()
	}
	switch stat {
	case "p90":
		return s.P90
	case "max":
		return s.Max
	}
	return s.Median
}

func median(v []float64) float64 { return percentile(v, 50) }

// percentile is the nearest-rank percentile; the median of an even count
// is the mean of the middle two.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if p == 50 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// row is one line of the table.
type row struct {
	label   string
	metric  string
	n       int
	stat    string
	ringsup string // contender in the ringsup column; default "ringsup"
	digits  int
	// target, if set, is the target's text and whether ringsup's value
	// (v, with the floor's f) meets it.
	target string
	meets  func(v, f float64) bool
}

func (r *results) rows(o *options) []row {
	var rows []row
	nmax := slices.Max(o.ns)
	for _, n := range o.ns {
		rw := row{label: fmt.Sprintf("B1 start, N=%d (ms)", n), metric: "start_ms", n: n}
		if n == 1000 {
			rw.target, rw.meets = "≤ 1.25× floor", func(v, f float64) bool { return v <= 1.25*f }
		}
		rows = append(rows, rw)
	}
	for _, n := range o.ns {
		rw := row{label: fmt.Sprintf("B1 start, N=%d, 10-level DAG (ms)", n), metric: "start_ms", n: n, ringsup: "ringsup-dag"}
		if n == 1000 {
			rw.target, rw.meets = "≤ 1.5× floor", func(v, f float64) bool { return v <= 1.5*f }
		}
		rows = append(rows, rw)
	}
	rn := o.restartN
	rows = append(rows,
		row{label: fmt.Sprintf("B2 restart p50, N=%d (ms)", rn), metric: "restart_ms", n: rn, stat: "median", digits: 2,
			target: "≤ 2 ms", meets: func(v, f float64) bool { return v <= 2 }},
		row{label: fmt.Sprintf("B2 restart p90, N=%d (ms)", rn), metric: "restart_ms", n: rn, stat: "p90", digits: 2,
			target: "≤ 4 ms", meets: func(v, f float64) bool { return v <= 4 }},
		row{label: fmt.Sprintf("B2 restart max, N=%d (ms)", rn), metric: "restart_ms", n: rn, stat: "max", digits: 2},
		row{label: fmt.Sprintf("B3 idle CPU, N=%d (%% of a core)", o.idleN), metric: "idle_cpu_pct", n: o.idleN, digits: 3,
			target: "0.00%", meets: func(v, f float64) bool { return v < 0.005 }},
		row{label: fmt.Sprintf("B3 idle wake-ups, N=%d (per s)", o.idleN), metric: "idle_wakeups_per_s", n: o.idleN, digits: 1},
	)
	for _, n := range o.ns {
		rw := row{label: fmt.Sprintf("B4 PSS, N=%d (MiB)", n), metric: "pss_mib", n: n, digits: 1}
		if n == 500 {
			rw.target, rw.meets = "≤ 24 MiB", func(v, f float64) bool { return v <= 24 }
		}
		rows = append(rows, rw)
	}
	if len(o.ns) > 1 {
		rows = append(rows, row{label: fmt.Sprintf("B4 PSS per added daemon, N=%d→%d (KiB)", slices.Min(o.ns), nmax),
			metric: "marginal", digits: 1, target: "≤ 20 KiB", meets: func(v, f float64) bool { return v <= 20 }})
	}
	for _, n := range o.ns {
		rw := row{label: fmt.Sprintf("B5 stop, N=%d (ms)", n), metric: "stop_ms", n: n}
		if n == 1000 {
			rw.target, rw.meets = "≤ 70 ms", func(v, f float64) bool { return v <= 70 }
		}
		rows = append(rows, rw)
	}
	// Issue 19's B5: the stop with the supervisor's own exit.
	for _, n := range o.ns {
		rw := row{label: fmt.Sprintf("B5 stop and supervisor exit, N=%d (ms)", n), metric: "stop_exit_ms", n: n}
		if n == 1000 {
			rw.target, rw.meets = "≤ 1.2× floor", func(v, f float64) bool { return v <= 1.2*f }
		}
		rows = append(rows, rw)
	}
	rows = append(rows,
		row{label: fmt.Sprintf("B5 stop, N=%d, 10-level DAG (ms)", nmax), metric: "stop_ms", n: nmax, ringsup: "ringsup-dag"},
		row{label: fmt.Sprintf("B5 stop and supervisor exit, N=%d, 10-level DAG (ms)", nmax), metric: "stop_exit_ms", n: nmax, ringsup: "ringsup-dag"},
		statusRow(o.statusN),
		row{label: fmt.Sprintf("reload, N=%d, one command changed (ms)", o.reloadN), metric: "reload_ms", n: o.reloadN, digits: 1},
		row{label: fmt.Sprintf("CPU with %d tcp probes/s (%% of a core)", o.probeN), metric: "probe_cpu_pct", n: o.probeN, digits: 2},
	)
	return rows
}

// statusRow is B6's row: issue 7's target at N=500, issue 19's at 10,000.
func statusRow(n int) row {
	limit := 10.0
	if n >= 10000 {
		limit = 100
	}
	return row{label: fmt.Sprintf("B6 status, N=%d (ms)", n), metric: "status_ms", n: n, digits: 1,
		target: fmt.Sprintf("≤ %g ms", limit), meets: func(v, f float64) bool { return v <= limit }}
}

// value is a contender's figure for a row.
func (r *results) value(rw row, contender string, o *options) float64 {
	if rw.metric == "marginal" {
		lo, hi := slices.Min(o.ns), slices.Max(o.ns)
		a, b := r.stat("pss_mib", contender, lo, ""), r.stat("pss_mib", contender, hi, "")
		return (b - a) * 1024 / float64(hi-lo)
	}
	return r.stat(rw.metric, contender, rw.n, rw.stat)
}

var peers = []string{"supervisord", "s6", "runit"}

func format(v float64, digits int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	if digits == 0 {
		switch {
		case math.Abs(v) >= 100:
			digits = 0
		case math.Abs(v) >= 10:
			digits = 1
		default:
			digits = 2
		}
	}
	return fmt.Sprintf("%.*f", digits, v)
}

// ratio is a/b, or "—" when either is missing or b shows as zero at the
// row's precision (the floor's memory per daemon, say).
func ratio(a, b float64, digits int) string {
	if math.IsNaN(a) || math.IsNaN(b) || a < 0 || format(b, digits) == format(0, digits) || b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// markdown renders the table: medians (B2: percentiles over every kill),
// ringsup's ratios to the floor and to the best peer, and the targets;
// with a baseline, its column and ringsup's ratio to it.
func (r *results) markdown(o *options) string {
	var b strings.Builder
	base := o.baseline != ""
	head := []string{"measurement", "floor", "floor, 2 threads", "ringsup"}
	align := []string{"---", "---:", "---:", "---:"}
	if base {
		head = append(head, "ringsup-base")
		align = append(align, "---:")
	}
	head = append(head, "supervisord", "s6", "runit", "ringsup ÷ floor", "ringsup ÷ 2-thread floor", "ringsup ÷ best peer")
	align = append(align, "---:", "---:", "---:", "---:", "---:", "---:")
	if base {
		head = append(head, "ringsup ÷ base")
		align = append(align, "---:")
	}
	head = append(head, "target", "met")
	align = append(align, "---", "---")
	b.WriteString("| " + strings.Join(head, " | ") + " |\n")
	b.WriteString("|" + strings.Join(align, "|") + "|\n")
	for _, rw := range r.rows(o) {
		rs := rw.ringsup
		if rs == "" {
			rs = "ringsup"
		}
		floor := r.value(rw, "floor", o)
		floor2 := r.value(rw, "floor-2t", o)
		v := r.value(rw, rs, o)
		bv := r.value(rw, rs+baseSuffix, o)
		best := math.NaN()
		cells := []string{rw.label, format(floor, rw.digits), format(floor2, rw.digits), format(v, rw.digits)}
		if base {
			cells = append(cells, format(bv, rw.digits))
		}
		for _, p := range peers {
			pv := math.NaN()
			if rw.ringsup == "" {
				pv = r.value(rw, p, o)
			}
			if !math.IsNaN(pv) && (math.IsNaN(best) || pv < best) {
				best = pv
			}
			cells = append(cells, format(pv, rw.digits))
		}
		cells = append(cells, ratio(v, floor, rw.digits), ratio(v, floor2, rw.digits), ratio(v, best, rw.digits))
		if base {
			cells = append(cells, ratio(v, bv, rw.digits))
		}
		cells = append(cells, rw.target)
		met := ""
		if rw.meets != nil && !math.IsNaN(v) {
			met = "yes"
			if !rw.meets(v, floor) {
				met = "**no**"
			}
		}
		cells = append(cells, met)
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

func (r *results) machineText() string {
	m := r.Machine
	base := ""
	if v := m["ringsup_base"]; v != "" {
		base = ", baseline " + v
	}
	return fmt.Sprintf("Machine: %s, %s cores, %s memory, Linux %s; load average %s before, %s after; %s.\n"+
		"Versions: ringsup %s (%s)%s, supervisor %s, s6 %s, runit %s, %s. Run took %s.\n",
		m["cpu"], m["cores"], m["memory"], m["kernel"], m["load_before"], m["load_after"], m["go"],
		m["ringsup"], m["ringsup_commit"], base, m["supervisor"], m["s6"], m["runit"], m["gcc"], m["duration"])
}

// write saves results.json and results.md in dir and prints the table.
func (r *results) write(dir string, log io.Writer) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), data, 0o644); err != nil {
		return err
	}
	o := optionsFromResults(r)
	md := r.markdown(o) + "\n" + r.machineText()
	if len(r.Notes) > 0 {
		md += "\nErrors during the run:\n"
		for _, n := range r.Notes {
			md += "- " + strings.ReplaceAll(n, "\n", " ") + "\n"
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(log, "\n%s\nwrote %s and %s\n", md, filepath.Join(dir, "results.md"), filepath.Join(dir, "results.json"))
	return nil
}

// optionsFromResults recovers what the table needs from the recorded
// options, so a table can be rebuilt from results.json alone.
func optionsFromResults(r *results) *options {
	o := &options{}
	atoi := func(k string) int {
		var n int
		fmt.Sscan(r.Options[k], &n)
		return n
	}
	for f := range strings.FieldsSeq(strings.Trim(r.Options["n"], "[]")) {
		var n int
		fmt.Sscan(f, &n)
		o.ns = append(o.ns, n)
	}
	o.restartN, o.idleN, o.statusN = atoi("restart_n"), atoi("idle_n"), atoi("status_n")
	o.reloadN, o.probeN = atoi("reload_n"), atoi("probe_n")
	o.baseline = r.Options["baseline"]
	return o
}

// describeMachine records the machine and the versions under test.
func describeMachine(b *bins) map[string]string {
	m := map[string]string{
		"cores":       fmt.Sprint(runtime.NumCPU()),
		"go":          runtime.Version(),
		"load_before": loadavg(),
		"ringsup":     output(b.ringsup, "version"),
		"gcc":         output("gcc", "--version"),
		"kernel":      strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
		"cpu":         "?",
		"memory":      "?",
	}
	if b.base != "" {
		m["ringsup_base"] = output(b.base, "version")
	}
	if root, err := moduleRoot(); err == nil {
		m["ringsup_commit"] = output("git", "-C", root, "describe", "--always", "--dirty")
	}
	for line := range strings.SplitSeq(readFile("/proc/cpuinfo"), "\n") {
		if rest, ok := strings.CutPrefix(line, "model name"); ok {
			m["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
			break
		}
	}
	for line := range strings.SplitSeq(readFile("/proc/meminfo"), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(rest), &kb)
			m["memory"] = fmt.Sprintf("%.0f GiB", kb/(1<<20))
		}
	}
	for _, pkg := range []string{"supervisor", "s6", "runit"} {
		m[pkg] = output("dpkg-query", "-W", "-f", "${Version}", pkg)
	}
	return m
}

func readFile(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// printTable prints the table and the machine of a results.json.
func printTable(path string, w io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	r := newResults()
	if err := json.Unmarshal(data, r); err != nil {
		return fmt.Errorf("cannot read %s: %w", path, err)
	}
	for _, s := range r.Series {
		r.index[key(s.Metric, s.Contender, s.N)] = s
	}
	_, err = fmt.Fprint(w, r.markdown(optionsFromResults(r))+"\n"+r.machineText())
	return err
}
