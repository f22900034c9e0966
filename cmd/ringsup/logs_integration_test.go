package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringrift/ringsup/procexec"
)

// The tests of this file run the real ringsup binary (the test binary
// impersonating it) and check daemons' output where users see it: the log
// files, `ctl logs` and the echo on ringsup's standard output.

// loadBytes is how much the writer of TestLogsUnderLoad writes.
const loadBytes = 200 << 20

// minLoadRestarts is how many restarts of its crash loops TestLogsUnderLoad
// times under load, at least.
const minLoadRestarts = 8

// TestLogsUnderLoad: one daemon writes 200 MiB as fast as it can, rotated
// into 20 MiB files, and another floods its log without end, while four
// others crash-loop with a 200ms backoff. Every byte of the first lands in
// the files, in order, and the crash loops keep their timing.
//
// The timing is judged over a window that lasts until the writer is done
// and at least minLoadRestarts restarts were seen: it used to be the
// writer's time alone, which on a slow machine was too short for the
// restarts it expected (0 in 410ms, want 4).
func TestLogsUnderLoad(t *testing.T) {
	quickRaceExit(t)
	const delay = 200 * time.Millisecond
	var sum string
	// Four crash loops, for more restarts to time while the writer writes.
	var crashers strings.Builder
	for _, name := range []string{"crash_a", "crash_b", "crash_c", "crash_d"} {
		fmt.Fprintf(&crashers, "[daemons.%s]\ncommand = \"exit 1\"\nbackoff_min = \"200ms\"\nbackoff_max = \"200ms\"\nmax_restarts = 1000000\n\n", name)
	}
	dir, _ := logNode(t, `
[supervisor]
log_dir = "logs"

[daemons.writer]
command = "echo $$ > writer.pid; read go < gate; cat data; exec sleep 100000"
log_max_size = "20MB"
log_max_files = 20

[daemons.flood]
command = "echo $$ > flood.pid; read go < flood_gate; exec yes 'a line of load for the log writer'"
log_max_size = "10MB"
log_max_files = 1

`+crashers.String(), func(dir string) {
		// The output: pseudo-random bytes, newlines among them, made
		// beforehand so that the writer writes as fast as the pipe takes
		// it, once the test opens the fifo gate.
		sum = writeRandom(t, filepath.Join(dir, "data"), loadBytes)
		mkfifo(t, filepath.Join(dir, "gate"))
		mkfifo(t, filepath.Join(dir, "flood_gate"))
	})
	gate := filepath.Join(dir, "gate")
	writer := readPID(t, filepath.Join(dir, "writer.pid"))

	// Listen to the events, and see the crash loop in them, before the load.
	ev := startCtl(t, dir, "events")
	eventually(t, 15*time.Second, "ctl events shows the crash loops", func() bool {
		return strings.Count(ev.stdout.String(), `"type":"DAEMON_STARTED","timestamp"`) >= 8
	})

	start := time.Now()
	seen := len(ev.stdout.String())
	for _, g := range []string{gate, filepath.Join(dir, "flood_gate")} {
		if err := os.WriteFile(g, []byte("go\n"), 0o600); err != nil { // the writers wait for it
			t.Fatal(err)
		}
	}
	eventually(t, time.Minute, "every byte in the log files", func() bool {
		return logSize(t, dir, "writer") >= loadBytes
	})
	written := time.Now()
	eventually(t, time.Minute, fmt.Sprintf("%d restarts under load", minLoadRestarts), func() bool {
		return strings.Count(ev.stdout.String()[seen:], `"type":"DAEMON_STARTED"`) >= minLoadRestarts+4
	})
	end := time.Now()
	if processGone(readPID(t, filepath.Join(dir, "flood.pid"))) {
		t.Errorf("the flood stopped before the end of the load")
	}
	t.Logf("%d MiB written and logged in %v", loadBytes>>20, written.Sub(start).Round(time.Millisecond))

	// Every byte, in order: the rotated files oldest first, then the log.
	files := logFiles(t, dir, "writer")
	h := sha256.New()
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 20<<20 {
			t.Errorf("%s has %d bytes, more than log_max_size", filepath.Base(f), fi.Size())
		}
		b, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(h, b)
		b.Close()
	}
	if got := fmt.Sprintf("%x %d", h.Sum(nil), logSize(t, dir, "writer")); got != sum {
		t.Errorf("the log files (%d of them) hold %s, the writer wrote %s", len(files), got, sum)
	}
	if len(files) < loadBytes/(20<<20) {
		t.Errorf("%d log files, want at least %d: rotation did not happen", len(files), loadBytes/(20<<20))
	}
	if processGone(writer) {
		t.Errorf("the writer (pid %d) is gone", writer)
	}

	// The crash loop's timing while the writer wrote: each exit is followed
	// by the next start after the backoff delay, not much later.
	syscall.Kill(ev.pid, syscall.SIGINT)
	out, _, _ := ev.wait(t, 10*time.Second)
	var gaps []time.Duration
	lastExit := map[string]float64{}
	for _, e := range parseEvents(t, out) {
		if !strings.HasPrefix(e.Daemon, "crash_") {
			continue
		}
		switch e.Type {
		case "DAEMON_EXITED":
			lastExit[e.Daemon] = e.Timestamp
		case "DAEMON_RESTARTING":
			if e.DelayS == nil || *e.DelayS != delay.Seconds() {
				t.Errorf("DAEMON_RESTARTING delay_s = %v, want %v", e.DelayS, delay.Seconds())
			}
		case "DAEMON_STARTED":
			if exit := lastExit[e.Daemon]; exit != 0 && exit >= unixSeconds(start) && e.Timestamp <= unixSeconds(end) {
				gaps = append(gaps, time.Duration((e.Timestamp-exit)*float64(time.Second)))
			}
			lastExit[e.Daemon] = 0
		}
	}
	// A loop that waited for the output would restart nothing until the
	// load is over. On a loaded machine the whole supervisor can also be
	// stalled a moment (with stress -c 2 and -race, all four crash loops
	// once waited 860ms together): the bounds allow for one such stall,
	// not for restarts that wait for the writer.
	load := end.Sub(start)
	if min := max(minLoadRestarts, 4*int(load/(4*delay))); len(gaps) < min {
		t.Errorf("%d restarts of the crash loops during the load of %v, want at least %d", len(gaps), load, min)
	}
	// An event is stamped when it is sent, after the time the restart's
	// deadline is counted from (on a loaded machine, tens of ms after): a
	// gap may look short. Half the delay still catches a restart without
	// backoff.
	slices.Sort(gaps)
	for _, g := range gaps {
		if g < delay/2 || g > delay+max(500*time.Millisecond, load) {
			t.Errorf("a restart came %v after the exit, want %v (gaps: %v)", g, delay, gaps)
			break
		}
	}
	if len(gaps) > 0 {
		if med := gaps[len(gaps)/2]; med > delay+500*time.Millisecond {
			t.Errorf("restarts came %v after the exit (median), want %v (gaps: %v)", med, delay, gaps)
		}
		t.Logf("%d restarts during the load; exit to next start: min %v, median %v, max %v",
			len(gaps), gaps[0].Round(time.Millisecond), gaps[len(gaps)/2].Round(time.Millisecond), gaps[len(gaps)-1].Round(time.Millisecond))
	}
}

// TestLogRotationBySizeAndCount: a log is cut after its last whole line
// that fits log_max_size, log_max_files rotated files are kept, and reading
// them oldest first gives the end of the output exactly.
func TestLogRotationBySizeAndCount(t *testing.T) {
	quickRaceExit(t)
	// 300 lines of 30 bytes: 9000 bytes, more than 4 files of 1 KiB.
	const script = `i=100; while [ $i -lt 400 ]; do printf 'line %d abcdefghijklmnopqrst\n' $i; i=$((i+1)); done; echo end; echo $$ > $RINGSUP_DAEMON.pid; exec sleep 1000`
	var want strings.Builder
	for i := 100; i < 400; i++ {
		fmt.Fprintf(&want, "line %d abcdefghijklmnopqrst\n", i)
	}
	want.WriteString("end\n")
	dir, _ := logNode(t, fmt.Sprintf(`
[supervisor]
log_dir = "logs"
log_max_size = "1KB"

[daemons.kept]
command = %q
log_max_files = 3

[daemons.none]
command = %q
log_max_files = 0
`, script, script), nil)
	for _, name := range []string{"kept", "none"} {
		readPID(t, filepath.Join(dir, name+".pid"))
		eventually(t, 10*time.Second, name+"'s last line in its log", func() bool {
			return strings.HasSuffix(readLog(t, dir, name+".log"), "end\n")
		})
	}

	files := logFiles(t, dir, "kept")
	if got := baseNames(files); !slices.Equal(got, []string{"kept.log.3", "kept.log.2", "kept.log.1", "kept.log"}) {
		t.Errorf("kept's files = %v, want 3 rotated and kept.log", got)
	}
	var all string
	for i, f := range files {
		b := readLog(t, dir, filepath.Base(f))
		all += b
		switch {
		case len(b) > 1024:
			t.Errorf("%s has %d bytes, more than 1KB", filepath.Base(f), len(b))
		case i < len(files)-1 && (len(b) <= 1024-30 || !strings.HasSuffix(b, "\n")):
			t.Errorf("%s has %d bytes (%q...): not cut after the last whole line that fits", filepath.Base(f), len(b), b[max(0, len(b)-10):])
		}
	}
	if !strings.HasSuffix(want.String(), all) || !strings.HasPrefix(all, "line ") || len(all) < 3*(1024-30) {
		t.Errorf("kept's files oldest first = %q..., want the end of the output, whole lines", all[:min(len(all), 40)])
	}

	if got := baseNames(logFiles(t, dir, "none")); !slices.Equal(got, []string{"none.log"}) {
		t.Errorf("none's files = %v, want none.log alone", got)
	}
	if b := readLog(t, dir, "none.log"); len(b) > 1024 || !strings.HasSuffix(want.String(), b) || !strings.HasPrefix(b, "line ") {
		t.Errorf("none.log = %d bytes %q..., want the last whole lines of at most 1KB", len(b), b[:min(len(b), 40)])
	}
}

// TestSIGUSR1ReopensLogs: after logrotate renames the logs away, output
// goes on to the renamed file; SIGUSR1 makes it go to a new file at the
// path, the supervisor's own ringsup.log included, with no line lost or
// doubled.
func TestSIGUSR1ReopensLogs(t *testing.T) {
	quickRaceExit(t)
	dir, r := logNode(t, `
[supervisor]
log_dir = "logs"
log_max_size = 0

[daemons.feeder]
command = "echo $$ > feeder.pid; exec cat feed"
`, withFeed(t))
	feed := openFeed(t, filepath.Join(dir, "feed"))
	readPID(t, filepath.Join(dir, "feeder.pid"))
	log, old := filepath.Join(dir, "logs", "feeder.log"), filepath.Join(dir, "logs", "feeder.log.1")

	sendLine(t, feed, "one")
	eventually(t, 10*time.Second, "one in the log", func() bool { return readLog(t, dir, "feeder.log") == "one\n" })
	eventually(t, 10*time.Second, "ringsup.log written", func() bool { return readLog(t, dir, "ringsup.log") != "" })
	for _, name := range []string{"feeder.log", "ringsup.log"} {
		if err := os.Rename(filepath.Join(dir, "logs", name), filepath.Join(dir, "logs", name+".1")); err != nil {
			t.Fatal(err)
		}
	}
	sendLine(t, feed, "two")
	eventually(t, 10*time.Second, "two in the renamed log", func() bool { return readLog(t, dir, "feeder.log.1") == "one\ntwo\n" })

	// The signal is handled at some point after kill returns: send lines
	// one at a time until one lands in the new file.
	syscall.Kill(r.pid, syscall.SIGUSR1)
	var sent []string
	for i := 0; ; i++ {
		line := "after " + strconv.Itoa(i)
		sent = append(sent, line)
		sendLine(t, feed, line)
		eventually(t, 10*time.Second, line+" in a log", func() bool {
			return strings.Contains(readFile(old), line+"\n") || strings.Contains(readFile(log), line+"\n")
		})
		if strings.Contains(readFile(log), line+"\n") {
			break
		}
		if i == 1000 {
			t.Fatal("SIGUSR1 did not make the output go to a new feeder.log")
		}
	}
	if got, want := readFile(old)+readFile(log), "one\ntwo\n"+strings.Join(sent, "\n")+"\n"; got != want {
		t.Errorf("feeder.log.1 + feeder.log = %q, want %q", got, want)
	}
	if strings.Contains(readFile(old), sent[len(sent)-1]) {
		t.Errorf("the line in the new file is also in the old one")
	}

	// ringsup.log too: the next line the supervisor logs goes to a new file.
	syscall.Kill(r.pid, syscall.SIGHUP)
	eventually(t, 10*time.Second, "a new ringsup.log", func() bool {
		return strings.Contains(readLog(t, dir, "ringsup.log"), "SIGHUP")
	})
	if !strings.Contains(readLog(t, dir, "ringsup.log.1"), "SIGUSR1") {
		t.Errorf("ringsup.log.1 lacks the SIGUSR1 line:\n%s", readLog(t, dir, "ringsup.log.1"))
	}
}

// TestCtlLogsFollowsRotationAndRestart: `ctl logs -f` prints every line
// once, in order, across rotations of the log and a restart of the daemon.
func TestCtlLogsFollowsRotationAndRestart(t *testing.T) {
	quickRaceExit(t)
	dir, _ := logNode(t, `
[supervisor]
log_dir = "logs"

[daemons.feeder]
command = "echo $$ > feeder.pid; exec cat feed"
log_max_size = "1KB"
log_max_files = 2
`, withFeed(t))
	feed := openFeed(t, filepath.Join(dir, "feed"))
	pid := readPID(t, filepath.Join(dir, "feeder.pid"))
	var want strings.Builder
	// batch sends n lines of 32 bytes in one write.
	batch := func(tag string, n int) {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%-9s %04d 0123456789abcdef\n", tag, i)
		}
		want.WriteString(b.String())
		if _, err := feed.WriteString(b.String()); err != nil {
			t.Fatal(err)
		}
	}
	batch("before", 5)
	eventually(t, 10*time.Second, "the first lines in the log", func() bool {
		return readLog(t, dir, "feeder.log") == want.String()
	})

	f := startCtl(t, dir, "logs", "-f", "feeder")
	following := func(what string) {
		t.Helper()
		eventually(t, 10*time.Second, "ctl logs -f prints "+what, func() bool {
			return f.stdout.String() == want.String()
		})
	}
	following("the first lines")
	// A batch of 30 lines (960 bytes) rotates the 1KB log at most once;
	// three of them at least twice.
	for i := range 3 {
		batch("rotate"+strconv.Itoa(i), 30)
		following("the lines of rotation " + strconv.Itoa(i))
	}
	if _, err := os.Stat(filepath.Join(dir, "logs", "feeder.log.2")); err != nil {
		t.Fatalf("the log did not rotate: %v", err)
	}

	ctlOK(t, dir, "restart", "feeder")
	eventually(t, 10*time.Second, "feeder restarted", func() bool {
		p, err := strconv.Atoi(strings.TrimSpace(readFile(filepath.Join(dir, "feeder.pid"))))
		return err == nil && p != pid && !processGone(p)
	})
	batch("restart", 10)
	following("the lines after the restart")
	batch("both", 30)
	following("the lines after the restart and a rotation")

	syscall.Kill(f.pid, syscall.SIGINT)
	f.wait(t, 10*time.Second)
}

// TestLongAndPartialLines: a line of 188,893 bytes and a last line without
// its newline reach the file exactly; with timestamps and in the echo the
// long line is split every 64 KiB, and the partial line is in the file at
// once but waits for its newline in the echo. The partial last line of a
// process that exited is not continued by the next one: the echo ends it,
// and with timestamps the next process's output starts a line of its own.
func TestLongAndPartialLines(t *testing.T) {
	quickRaceExit(t)
	t.Setenv("NO_COLOR", "1")
	// seq 1 40000 without its newlines, then a newline, then "partial".
	var long strings.Builder
	for i := 1; i <= 40000; i++ {
		long.WriteString(strconv.Itoa(i))
	}
	const script = `seq 1 40000 | tr -d '\n'; echo; printf partial; echo $$ > $RINGSUP_DAEMON.pid; exec sleep 1000`
	// Three runs, each printing a line without its newline and exiting once
	// it is in the log. (The line is ended when the next run starts: one
	// whose last bytes ringsup has not read by then, as with a zero
	// backoff on a loaded machine, may still run into the next one's.)
	const crash = `n=$(cat $RINGSUP_DAEMON.runs 2>/dev/null | wc -l); printf 'run %s' $n; echo >> $RINGSUP_DAEMON.runs; ` +
		`until grep -qs "run $n" logs/$RINGSUP_DAEMON.log; do sleep 0.01; done; exit 1`
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
[supervisor]
log_dir = "logs"

[daemons.plain]
command = %q

[daemons.stamped]
command = %q
log_timestamps = true

[daemons.crashing]
command = %q
backoff_min = "10ms"
max_restarts = 2

[daemons.crashing_stamped]
command = %q
backoff_min = "10ms"
max_restarts = 2
log_timestamps = true
`, script, script, crash, crash)
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// Standard error apart, so that no log line lands inside a long line.
	stderr := filepath.Join(t.TempDir(), "stderr")
	r := startRingsupSh(t, dir, `2>"$RINGSUP_TEST_STDERR"`, map[string]string{"RINGSUP_TEST_STDERR": stderr}, "--echo")
	prefix := func(name string) string { return fmt.Sprintf("%-16s | ", name) }

	want := long.String() + "\npartial"
	eventually(t, 10*time.Second, "plain's output in its log", func() bool { return readLog(t, dir, "plain.log") == want })

	// With timestamps: every 64 KiB a new line, with its own stamp.
	var pieces []string
	for s := long.String(); len(s) > 0; {
		n := min(len(s), 64<<10)
		pieces, s = append(pieces, s[:n]), s[n:]
	}
	eventually(t, 10*time.Second, "stamped's output in its log", func() bool {
		return strings.HasSuffix(readLog(t, dir, "stamped.log"), "partial")
	})
	checkStamped(t, readLog(t, dir, "stamped.log"), append(slices.Clone(pieces), "partial"))

	// The echo: the long line in pieces, each a line of its own with its
	// prefix (another daemon's lines may come between); "partial" waits.
	eventually(t, 10*time.Second, "the long line echoed", func() bool {
		out := "\n" + r.output.String()
		i := 0
		for _, p := range pieces {
			j := strings.Index(out[i:], "\n"+prefix("plain")+p+"\n")
			if j < 0 {
				return false
			}
			i += j + 1
		}
		return true
	})
	if strings.Contains(r.output.String(), "partial") {
		t.Errorf("a line without its newline was echoed while its daemon runs")
	}

	// The crash loops: three runs, one partial line each.
	waitCtlState(t, dir, "crashing", "failed")
	waitCtlState(t, dir, "crashing_stamped", "failed")
	// Without timestamps the file is the output unchanged; with them, a
	// run's unfinished line is ended when its output ends.
	if got := readLog(t, dir, "crashing.log"); got != "run 0run 1run 2" {
		t.Errorf("crashing.log = %q, want the output unchanged", got)
	}
	eventually(t, 10*time.Second, "the last run's line ended", func() bool {
		return strings.HasSuffix(readLog(t, dir, "crashing_stamped.log"), "run 2\n")
	})
	checkStamped(t, strings.TrimSuffix(readLog(t, dir, "crashing_stamped.log"), "\n"), []string{"run 0", "run 1", "run 2"})
	eventually(t, 10*time.Second, "the first two runs echoed", func() bool {
		out := r.output.String()
		return strings.Contains(out, prefix("crashing")+"run 0\n") && strings.Contains(out, prefix("crashing")+"run 1\n")
	})
	eventually(t, 10*time.Second, "the last run echoed", func() bool {
		return strings.Contains(r.output.String(), prefix("crashing")+"run 2\n")
	})
	stopRingsup(t, r)
	for _, name := range []string{"crashing", "crashing_stamped"} {
		for _, line := range []string{"run 0", "run 1", "run 2"} {
			if n := strings.Count(r.output.String(), prefix(name)+line+"\n"); n != 1 {
				t.Errorf("%q echoed %d times, want once", prefix(name)+line, n)
			}
		}
	}
}

// checkStamped checks that a log written with timestamps holds lines, each
// with a timestamp, the last one without its newline.
func checkStamped(t *testing.T, log string, lines []string) {
	t.Helper()
	got := strings.Split(log, "\n")
	if len(got) != len(lines) {
		t.Errorf("log with timestamps has %d lines, want %d: %.200q", len(got), len(lines), log)
		return
	}
	for i, line := range got {
		ts, rest, _ := strings.Cut(line, " ")
		if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", ts); err != nil || rest != lines[i] {
			t.Errorf("line %d with timestamps = %.60q..., want a timestamp and %.40q...", i+1, line, lines[i])
		}
	}
}

// TestGrandchildHoldsThePipe: a daemon crashes, leaving a process of its
// own session holding its output; what that process writes later is still
// captured and echoed, while the daemon waits to restart. (Such a process
// is killed once its daemon is stopped for good.)
func TestGrandchildHoldsThePipe(t *testing.T) {
	quickRaceExit(t)
	t.Setenv("NO_COLOR", "1")
	dir := t.TempDir()
	mkfifo(t, filepath.Join(dir, "gate"))
	cfg := `
[supervisor]
log_dir = "logs"

[daemons.parent]
command = "setsid sh -c 'echo $$ > grandchild.pid; read x < gate; echo late from the grandchild' & while [ ! -e grandchild.pid ]; do sleep 0.01; done; echo parent exits; exit 1"
backoff_min = "1h"
backoff_max = "1h"
`
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startRingsup(t, dir, "--echo")
	defer stopRingsup(t, r)
	defer func() {
		if t.Failed() {
			t.Logf("ringsup:\n%s", r.output)
		}
	}()

	gc := readPID(t, filepath.Join(dir, "grandchild.pid"))
	waitCtlState(t, dir, "parent", "restarting")
	eventually(t, 10*time.Second, "the parent's line in the log", func() bool {
		return readLog(t, dir, "parent.log") == "parent exits\n"
	})
	if processGone(gc) {
		t.Fatal("the grandchild is gone before it was let go")
	}
	if err := os.WriteFile(filepath.Join(dir, "gate"), []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the grandchild's line in the log", func() bool {
		return readLog(t, dir, "parent.log") == "parent exits\nlate from the grandchild\n"
	})
	eventually(t, 10*time.Second, "the grandchild's line echoed", func() bool {
		return strings.Contains(r.output.String(), "parent | late from the grandchild\n")
	})
	eventually(t, 10*time.Second, "the grandchild exits", func() bool { return processGone(gc) })
}

// TestUnwritableLogs: when the log cannot be written (log_dir under a
// regular file, a full disk, log_dir removed), ringsup logs one clear error,
// the daemon keeps running with the same pid, and logging resumes by itself
// once the file can be written again.
func TestUnwritableLogs(t *testing.T) {
	quickRaceExit(t)
	// node writes a config with log_dir and starts ringsup on it.
	node := func(t *testing.T, dir, logDir string) *ringsupProc {
		t.Helper()
		cfg := fmt.Sprintf(`
[supervisor]
log_dir = %q
log_max_size = 0

[daemons.feeder]
command = "echo $$ > feeder.pid; exec cat feed"
`, logDir)
		if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		mkfifo(t, filepath.Join(dir, "feed"))
		return startRingsup(t, dir)
	}
	// lost counts the errors about feeder's output in ringsup's log.
	lost := func(r *ringsupProc) int {
		return strings.Count(r.output.String(), "daemon output is being lost: daemon=feeder")
	}
	// check sends lines that cannot be written, checks the error and the
	// daemon, then calls fix and checks that the next line reaches logs.
	check := func(t *testing.T, dir string, r *ringsupProc, why string, fix func(), logs string) {
		t.Helper()
		// It once timed out waiting for the error, under stress -c 2 with
		// -race -count=3 -cpu 1, and did not again in 18 runs: show what
		// ringsup said.
		defer func() {
			if t.Failed() {
				t.Logf("ringsup's output:\n%s", r.output)
			}
		}()
		pid := readPID(t, filepath.Join(dir, "feeder.pid"))
		feed := openFeed(t, filepath.Join(dir, "feed"))
		sendLine(t, feed, "lost 1")
		// Exactly one error is checked below, with the output.
		eventually(t, 10*time.Second, "an error logged", func() bool { return lost(r) >= 1 })
		if out := r.output.String(); !strings.Contains(out, why) {
			t.Errorf("the error does not say %q:\n%s", why, out)
		}
		sendLine(t, feed, "lost 2")
		waitCtlState(t, dir, "feeder", "running")
		if p := readPID(t, filepath.Join(dir, "feeder.pid")); p != pid || processGone(pid) {
			t.Errorf("feeder pid %d, gone %v; want %d still running", p, processGone(pid), pid)
		}
		// Writable again: the next line goes to the log, and no other
		// error was logged for the line in between.
		fix()
		sendLine(t, feed, "back")
		eventually(t, 10*time.Second, "logging resumes", func() bool {
			return readFile(filepath.Join(logs, "feeder.log")) == "back\n"
		})
		if n := lost(r); n != 1 {
			t.Errorf("%d errors logged, want 1 for the episode:\n%s", n, r.output)
		}
	}
	// remake returns a fix: remove what is in the way, make the directory.
	remake := func(t *testing.T, inTheWay, path string) func() {
		return func() {
			if err := os.RemoveAll(inTheWay); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("log_dir under a file", func(t *testing.T) {
		dir := t.TempDir()
		blocker := filepath.Join(dir, "blocker")
		if err := os.WriteFile(blocker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		r := node(t, dir, "blocker/logs")
		defer stopRingsup(t, r)
		check(t, dir, r, "not a directory", remake(t, blocker, filepath.Join(blocker, "logs")), filepath.Join(blocker, "logs"))
	})

	t.Run("disk full", func(t *testing.T) {
		dir := t.TempDir()
		logs := filepath.Join(dir, "logs")
		if err := os.Mkdir(logs, 0o755); err != nil {
			t.Fatal(err)
		}
		// A /dev/full node (1:7) where the log goes: ringsup never follows
		// a symlink there, so it cannot be one.
		full := filepath.Join(logs, "feeder.log")
		if err := unix.Mknod(full, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 7))); err != nil {
			t.Skipf("cannot make a /dev/full node (needs root and a file system that allows devices): %v", err)
		}
		if f, err := os.OpenFile(full, os.O_WRONLY, 0); err != nil {
			t.Skipf("cannot open the /dev/full node (file system mounted nodev?): %v", err)
		} else {
			f.Close()
		}
		r := node(t, dir, "logs")
		defer stopRingsup(t, r)
		check(t, dir, r, "no space left on device", remake(t, logs, logs), logs)
	})

	t.Run("log_dir removed", func(t *testing.T) {
		dir := t.TempDir()
		logs := filepath.Join(dir, "logs")
		r := node(t, dir, "logs")
		defer stopRingsup(t, r)
		feed := openFeed(t, filepath.Join(dir, "feed"))
		sendLine(t, feed, "first")
		eventually(t, 10*time.Second, "first in the log", func() bool {
			return readFile(filepath.Join(logs, "feeder.log")) == "first\n"
		})
		// The open file is still written after the directory is gone;
		// SIGUSR1 closes it, and opening it again finds no directory. That
		// ringsup holds it is seen first: a wait for its closing that could
		// not see it open would race the reopen (it did while a spawner
		// thread was the main thread, whose table /proc/PID/fd shows).
		if !holdsFile(r.pid, filepath.Join(logs, "feeder.log")) {
			t.Fatalf("/proc/%d/fd does not show feeder.log, which ringsup has open", r.pid)
		}
		if err := os.RemoveAll(logs); err != nil {
			t.Fatal(err)
		}
		syscall.Kill(r.pid, syscall.SIGUSR1)
		eventually(t, 10*time.Second, "ringsup closes feeder.log", func() bool {
			return !holdsFile(r.pid, filepath.Join(logs, "feeder.log"))
		})
		check(t, dir, r, "no such file or directory", remake(t, logs, logs), logs)
	})
}

// holdsFile reports whether process pid has path open (deleted or not).
func holdsFile(pid int, path string) bool {
	fds := fmt.Sprintf("/proc/%d/fd", pid)
	entries, _ := os.ReadDir(fds)
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(fds, e.Name()))
		if err == nil && strings.TrimSuffix(target, " (deleted)") == path {
			return true
		}
	}
	return false
}

// TestEchoAligned: with --echo, daemon lines go to ringsup's standard
// output as `name | line`, the bars aligned, without colors when the output
// is not a terminal or NO_COLOR is set; on a terminal they come without
// --echo, in color unless NO_COLOR is set.
func TestEchoAligned(t *testing.T) {
	quickRaceExit(t)
	t.Setenv("TERM", "xterm")
	const cfg = `
[supervisor]
log_dir = "logs"

[daemons.a]
command = "echo hello from a; exec sleep 1000"

[daemons.long_name_daemon]
command = "echo hello from the long one; exec sleep 1000"
`
	want := []string{
		fmt.Sprintf("%-16s | hello from a", "a"),
		fmt.Sprintf("%-16s | hello from the long one", "long_name_daemon"),
	}
	// run runs ringsup with args, on a terminal or a pipe, until the
	// daemons' lines are in their logs and, when echo, on its output.
	run := func(t *testing.T, tty bool, noColor string, echo bool, args ...string) string {
		t.Helper()
		t.Setenv("NO_COLOR", noColor)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		var r *ringsupProc
		var out interface{ String() string }
		if tty {
			r, out = startRingsupOnTTY(t, dir, args...)
		} else {
			r = startRingsup(t, dir, args...)
			out = r.output
		}
		eventually(t, 10*time.Second, "both lines in the logs", func() bool {
			return readLog(t, dir, "a.log") != "" && readLog(t, dir, "long_name_daemon.log") != ""
		})
		if echo {
			eventually(t, 10*time.Second, "both lines echoed", func() bool {
				s := out.String()
				return strings.Contains(s, "hello from a") && strings.Contains(s, "hello from the long one")
			})
		}
		stopRingsup(t, r)
		return out.String()
	}
	plain := func(t *testing.T, out string) {
		t.Helper()
		if strings.Contains(out, "\x1b") {
			t.Errorf("escape codes in the echo:\n%q", out)
		}
		for _, w := range want {
			if !strings.Contains(out, w+"\n") && !strings.Contains(out, w+"\r\n") {
				t.Errorf("the echo lacks %q:\n%s", w, out)
			}
		}
	}

	t.Run("pipe", func(t *testing.T) {
		plain(t, run(t, false, "", true, "--echo"))
	})
	t.Run("pipe without --echo", func(t *testing.T) {
		if out := run(t, false, "", false); strings.Contains(out, "hello from") {
			t.Errorf("daemon lines echoed without --echo to a pipe:\n%s", out)
		}
	})
	t.Run("terminal NO_COLOR", func(t *testing.T) {
		plain(t, run(t, true, "1", true))
	})
	t.Run("terminal", func(t *testing.T) {
		out := run(t, true, "", true)
		for _, w := range want {
			name, text, _ := strings.Cut(w, " | ")
			colored := "m" + name + " |\x1b[0m " + text
			if !strings.Contains(out, colored) {
				t.Errorf("the echo lacks %q in color:\n%q", w, out)
			}
		}
	})
}

// startRingsupOnTTY runs ringsup with its standard output on a new
// pseudo-terminal (standard error stays a pipe) and returns what the
// terminal shows.
func startRingsupOnTTY(t *testing.T, dir string, args ...string) (*ringsupProc, *syncBuffer) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("cannot unlock a pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("cannot name a pseudo-terminal: %v", err)
	}
	screen := &syncBuffer{}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(screen, ptmx) // ends with EIO once every slave is closed
	}()
	t.Cleanup(func() {
		ptmx.Close()
		<-copied
	})
	tty := fmt.Sprintf("/dev/pts/%d", n)
	return startRingsupSh(t, dir, `>"$RINGSUP_TEST_TTY"`, map[string]string{"RINGSUP_TEST_TTY": tty}, args...), screen
}

// startRingsupSh runs ringsup like startRingsup, through sh with the
// redirections redir (which may use the variables of env); its output is
// what redir leaves to the pipe.
func startRingsupSh(t *testing.T, dir, redir string, env map[string]string, args ...string) *ringsupProc {
	t.Helper()
	env = maps.Clone(env)
	env["RINGSUP_TEST_AS_MAIN"] = "1"
	out := &syncBuffer{}
	p, err := spawner().Spawn(procexec.Spec{
		Argv:   append([]string{"/bin/sh", "-c", `exec "$0" "$@" ` + redir, os.Args[0]}, args...),
		Dir:    dir,
		Env:    env,
		Output: out,
	})
	if err != nil {
		t.Fatalf("cannot start ringsup: %v", err)
	}
	r := &ringsupProc{t: t, pid: p.PID, output: out}
	t.Cleanup(func() {
		if !processGone(r.pid) {
			syscall.Kill(r.pid, syscall.SIGKILL)
			r.wait(10 * time.Second)
		}
	})
	return r
}

// event is an event of `ctl events`.
type event struct {
	Type      string   `json:"type"`
	Timestamp float64  `json:"timestamp"`
	Daemon    string   `json:"daemon_type"`
	DelayS    *float64 `json:"delay_s"`
}

func parseEvents(t *testing.T, out string) []event {
	t.Helper()
	var evs []event
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("event line %q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	return evs
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// writeRandom writes n pseudo-random bytes to a new file and returns their
// "<sha256> <n>".
func writeRandom(t *testing.T, path string, n int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{'r', 'i', 'n', 'g'})
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for left := n; left > 0; left -= int64(len(buf)) {
		b := buf[:min(left, int64(len(buf)))]
		rng.Read(b)
		h.Write(b)
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x %d", h.Sum(nil), n)
}

// logFiles returns the paths of a daemon's log files, oldest first: its
// rotated files from the highest number down, then <name>.log.
func logFiles(t *testing.T, dir, name string) []string {
	t.Helper()
	base := filepath.Join(dir, "logs", name+".log")
	var files []string
	for i := 1; ; i++ {
		if _, err := os.Stat(base + "." + strconv.Itoa(i)); err != nil {
			break
		}
		files = append(files, base+"."+strconv.Itoa(i))
	}
	slices.Reverse(files)
	if _, err := os.Stat(base); err == nil {
		files = append(files, base)
	}
	return files
}

// logSize returns the total size of a daemon's log files.
func logSize(t *testing.T, dir, name string) int64 {
	t.Helper()
	var n int64
	for _, f := range logFiles(t, dir, name) {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func baseNames(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out
}

// readLog returns the content of the file name of dir/logs, "" if none.
func readLog(t *testing.T, dir, name string) string {
	t.Helper()
	return readFile(filepath.Join(dir, "logs", name))
}

// readFile returns the content of a file, "" if it cannot be read.
func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// logNode writes cfg to a new directory, calls setup (if not nil) with
// it, and runs ringsup there until the end of the test.
func logNode(t *testing.T, cfg string, setup func(dir string)) (string, *ringsupProc) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(dir)
	}
	r := startRingsup(t, dir, "--log-level", "debug")
	t.Cleanup(func() {
		syscall.Kill(r.pid, syscall.SIGTERM)
		r.wait(30 * time.Second)
	})
	return dir, r
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

// withFeed is a setup of logNode: it makes the fifo "feed", which a
// daemon must find when it starts; see openFeed.
func withFeed(t *testing.T) func(dir string) {
	return func(dir string) { mkfifo(t, filepath.Join(dir, "feed")) }
}

// openFeed opens the fifo path, which a daemon cats to its output, for
// reading and writing: the open does not wait for the daemon, and while the
// test holds it the daemon never reads its end, so what the test writes
// waits in the fifo while no daemon reads it (during a restart).
func openFeed(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// sendLine writes line and a newline to a feed.
func sendLine(t *testing.T, feed *os.File, line string) {
	t.Helper()
	if _, err := feed.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

// TestLastOutputKeptAtShutdown: what a daemon writes as it stops reaches
// its log before ringsup exits, even the part still in the pipe when the
// process is reaped. The log is a FIFO the test reads slowly, so that the
// copy of the output lags well behind the daemon.
func TestLastOutputKeptAtShutdown(t *testing.T) {
	dir := t.TempDir()
	cfg := `
[supervisor]
log_dir = "logs"

[daemons.talker]
command = "trap 'head -c 262144 /dev/zero; exit 0' TERM; echo $$ > talker.pid; while :; do sleep 0.05; done"
`
	if err := os.WriteFile(filepath.Join(dir, "ringsup.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "logs", "talker.log")
	mkfifo(t, fifo)
	got := make(chan int, 1)
	go func() {
		// Opening blocks until ringsup opens the FIFO to write.
		f, err := os.Open(fifo)
		if err != nil {
			got <- -1
			return
		}
		defer f.Close()
		n, buf := 0, make([]byte, 4096)
		for {
			m, err := f.Read(buf)
			n += m
			if err != nil {
				got <- n
				return
			}
			time.Sleep(5 * time.Millisecond) // 256 KiB in about 0.3 s
		}
	}()
	r := startRingsup(t, dir)
	readPID(t, filepath.Join(dir, "talker.pid"))
	syscall.Kill(r.pid, syscall.SIGTERM)
	if x := r.wait(30 * time.Second); x.Code != 0 {
		t.Fatalf("ringsup exit = %v, want 0\n%s", x, r.output)
	}
	select {
	case n := <-got:
		// The shell may add "Terminated" when SIGTERM cut a sleep short.
		if n < 262144 {
			t.Errorf("the log got %d bytes by the time ringsup exited, want the 262144 written at SIGTERM\n%s", n, r.output)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the log's reader did not see its end")
	}
}
