package procexec

import (
	"io"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var sleepArgv = []string{"/bin/sleep", "1000"}

// BenchmarkSpawn1000 starts 1000 sleeping processes through a Spawner per
// iteration (kill and reap are not timed).
func BenchmarkSpawn1000(b *testing.B) {
	for _, bb := range []struct {
		name   string
		output io.Writer
	}{{"devnull", nil}, {"pipe", io.Discard}} {
		b.Run(bb.name, func(b *testing.B) {
			s := NewSpawner()
			defer s.Close()
			var heap int64
			for range b.N {
				since := time.Now()
				before := int64(0)
				if bb.output != nil {
					b.StopTimer()
					before = heapInUse()
					b.StartTimer()
				}
				pids := make([]int, 0, 1000)
				for range 1000 {
					p, err := s.Spawn(Spec{Argv: sleepArgv, Output: bb.output})
					if err != nil {
						b.Fatal(err)
					}
					pids = append(pids, p.PID)
				}
				b.StopTimer()
				if bb.output != nil {
					heap += heapInUse() - before
				}
				killAll(b, pids, since)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*1000), "µs/spawn")
			if bb.output != nil {
				b.ReportMetric(float64(heap)/float64(b.N*1000), "heapB/proc")
			}
		})
	}
}

// BenchmarkSpawnAll1000 starts 1000 sleeping processes with output pipes
// in one call to SpawnAll per iteration, as the supervisor starts a flat
// config (kill and reap are not timed).
func BenchmarkSpawnAll1000(b *testing.B) {
	s := NewSpawner()
	defer s.Close()
	specs := make([]Spec, 1000)
	for i := range specs {
		specs[i] = Spec{Argv: sleepArgv, Output: io.Discard}
	}
	for range b.N {
		since := time.Now()
		procs, errs := s.SpawnAll(specs)
		b.StopTimer()
		pids := make([]int, 0, len(procs))
		for i, p := range procs {
			if errs[i] != nil {
				b.Fatal(errs[i])
			}
			pids = append(pids, p.PID)
		}
		killAll(b, pids, since)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*1000), "µs/spawn")
}

// BenchmarkForkExecBare is BenchmarkSpawn1000/devnull with bare
// syscall.ForkExec, to show the overhead of procexec.
func BenchmarkForkExecBare(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	null, err := os.Open(os.DevNull)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	fd := null.Fd()
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{fd, fd, fd},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	for range b.N {
		since := time.Now()
		pids := make([]int, 0, 1000)
		for range 1000 {
			pid, err := syscall.ForkExec(sleepArgv[0], sleepArgv, attr)
			if err != nil {
				b.Fatal(err)
			}
			pids = append(pids, pid)
		}
		b.StopTimer()
		killAll(b, pids, since)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*1000), "µs/spawn")
}

func killAll(b *testing.B, pids []int, since time.Time) {
	for _, pid := range pids {
		unix.Kill(-pid, syscall.SIGKILL)
	}
	for _, pid := range pids {
		waitExit(b, pid, since)
	}
}

// BenchmarkReap500 times the reap of one exit among 500 children: Reap,
// which confirms that no other exit is ready; ReapUpTo(1), which returns
// with the first; and a Watcher's Reap(1), which reaps the exit its pidfd
// reported without walking the children. Each iteration kills a child and
// waits until its exit is ready (not timed), reaps it (timed) and replaces
// it (not timed). The cold cases pause 20 ms before each kill (not timed),
// as between two crashes, so that the walk reads the children's kernel
// tasks from memory rather than from the cache.
func BenchmarkReap500(b *testing.B) {
	s := NewSpawner()
	defer s.Close()
	pids := sleepers(b, s, 500)
	defer func() { killAll(b, pids, time.Time{}) }()
	reported, notify := notifier()
	w, err := NewWatcher(notify)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	for _, bb := range []struct {
		name    string
		max     int
		watched bool
		pause   time.Duration
	}{
		{"all", 0, false, 0}, {"one", 1, false, 0}, {"watched", 1, true, 0},
		{"one/cold", 1, false, 20 * time.Millisecond}, {"watched/cold", 1, true, 20 * time.Millisecond},
	} {
		b.Run(bb.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				b.StopTimer()
				i = (i + 7) % len(pids) // anywhere in the list of children
				if bb.watched {
					if err := w.Watch(pids[i]); err != nil {
						b.Fatal(err)
					}
				}
				time.Sleep(bb.pause)
				unix.Kill(pids[i], syscall.SIGKILL)
				if bb.watched {
					<-reported
				}
				for {
					var info unix.Siginfo
					if err := unix.Waitid(unix.P_PID, pids[i], &info, unix.WEXITED|unix.WNOWAIT, nil); err != unix.EINTR {
						break
					}
				}
				reap := ReapUpTo
				if bb.watched {
					reap = w.Reap
				}
				b.StartTimer()
				exits, err := reap(bb.max)
				b.StopTimer()
				if err != nil || len(exits) != 1 || exits[0].PID != pids[i] {
					b.Fatalf("reap(%d) = %v, %v; want the exit of PID %d", bb.max, exits, err, pids[i])
				}
				p, err := s.Spawn(Spec{Argv: sleepArgv})
				if err != nil {
					b.Fatal(err)
				}
				pids[i] = p.PID
				b.StartTimer()
			}
		})
	}
}

// BenchmarkWatch500 times what watching costs a start: Watch of 500
// running processes (pidfd_open and epoll_ctl each), per process.
func BenchmarkWatch500(b *testing.B) {
	s := NewSpawner()
	defer s.Close()
	pids := sleepers(b, s, 500)
	defer func() { killAll(b, pids, time.Time{}) }()
	for b.Loop() {
		w, err := NewWatcher(func() {})
		if err != nil {
			b.Fatal(err)
		}
		for _, pid := range pids {
			if err := w.Watch(pid); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		w.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pids))/1e3, "µs/proc")
}

// sleepers starts n sleeping processes from s and returns their PIDs.
func sleepers(b *testing.B, s *Spawner, n int) []int {
	specs := make([]Spec, n)
	for i := range specs {
		specs[i] = Spec{Argv: sleepArgv}
	}
	procs, errs := s.SpawnAll(specs)
	pids := make([]int, len(procs))
	for i, p := range procs {
		if errs[i] != nil {
			b.Fatal(errs[i])
		}
		pids[i] = p.PID
	}
	return pids
}
