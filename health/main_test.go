package health

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/procexec"
	"golang.org/x/sys/unix"

	"github.com/ringrift/ringsup/internal/testproc"
)

// The test binary impersonates the daemons the tests start (the pattern of
// os/exec's exec_test.go), through procexec like every process of ringsup:
// started with helperEnv=1, it runs the helper named by its first argument.
const helperEnv = "HEALTH_TEST_HELPER"

// helpers are the commands the test binary can impersonate. Each returns the
// exit status.
var helpers = map[string]func(args []string) int{
	// sleep: sleep an hour (Pdeathsig ends it with the test process).
	"sleep": func([]string) int { time.Sleep(time.Hour); return 0 },
	// notify DATAGRAM...: send each argument as one datagram to
	// $NOTIFY_SOCKET ("big:N" is a STATUS= of N bytes), say "sent", sleep.
	"notify": func(args []string) int {
		addr := &net.UnixAddr{Name: os.Getenv("NOTIFY_SOCKET"), Net: "unixgram"}
		c, err := net.DialUnix("unixgram", nil, addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, a := range args {
			if n, ok := strings.CutPrefix(a, "big:"); ok {
				size, _ := strconv.Atoi(n)
				a = "STATUS=" + strings.Repeat("x", size-len("STATUS="))
			}
			if _, err := c.Write([]byte(a)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		fmt.Println("sent")
		time.Sleep(time.Hour)
		return 0
	},
	// write-fd N THEN TEXT...: write each TEXT to descriptor N, one write
	// each, then exit (THEN is "exit") or sleep ("sleep").
	"write-fd": func(args []string) int {
		n, _ := strconv.Atoi(args[0])
		for _, text := range args[2:] {
			if _, err := unix.Write(n, []byte(text)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		if args[1] == "sleep" {
			time.Sleep(time.Hour)
		}
		return 0
	},
	// tcp-server: listen on 127.0.0.1, say "addr HOST:PORT", accept and
	// close connections.
	"tcp-server": func([]string) int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("addr", l.Addr())
		for {
			c, err := l.Accept()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			c.Close()
		}
	},
	// http-probe URL: probe URL over http(s), say "ok" or the error.
	"http-probe": func(args []string) int {
		if err := NewProber().HTTP(context.Background(), args[0], waitTimeout); err != nil {
			fmt.Println(err)
			return 0
		}
		fmt.Println("ok")
		return 0
	},
	// http-server: listen on 127.0.0.1, say "addr HOST:PORT", answer
	// every request with 200 "ok".
	"http-server": func([]string) int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("addr", l.Addr())
		err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("ok\n"))
		}))
		fmt.Fprintln(os.Stderr, err)
		return 1
	},
}

func TestMain(m *testing.M) {
	testproc.RunIfHelper(helperEnv, helpers)
	signal.Notify(sigchld, syscall.SIGCHLD)
	spawner = procexec.NewSpawner()
	code := m.Run()
	spawner.Close()
	os.Exit(code)
}

// helperSpec is the Spec of a helper command. (A race-enabled helper that
// exits 0 would otherwise sleep a second in the race detector's exit hook.)
func helperSpec(t testing.TB, args ...string) procexec.Spec {
	return procexec.Spec{Argv: testproc.Argv(args...), Env: testproc.Env(helperEnv)}
}

// waitTimeout bounds every wait of the tests.
const waitTimeout = testproc.WaitTimeout

var (
	// spawner starts every helper.
	spawner *procexec.Spawner
	// procexec.Reap collects every child of the test process; the tests
	// run one at a time, and each waits for its own.
	sigchld = make(chan os.Signal, 1)
	exitsMu sync.Mutex
	exits   = map[int]procexec.Exit{}
)

// start spawns spec and, at the end of the test, kills its group and reaps
// it.
func start(t testing.TB, spec procexec.Spec) *procexec.Proc {
	t.Helper()
	p, err := spawner.Spawn(spec)
	if err != nil {
		t.Fatalf("Spawn(%q) = %v", spec.Argv, err)
	}
	t.Cleanup(func() {
		p.Signal(syscall.SIGKILL)
		waitExit(t, p)
	})
	return p
}

// waitExit waits until p has exited and been reaped, and returns its exit.
func waitExit(t testing.TB, p *procexec.Proc) procexec.Exit {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		reaped, err := procexec.Reap()
		if err != nil {
			t.Fatalf("Reap() = %v", err)
		}
		exitsMu.Lock()
		for _, e := range reaped {
			exits[e.PID] = e
		}
		e, ok := exits[p.PID]
		exitsMu.Unlock()
		if ok && !e.At.Before(p.Started) {
			return e
		}
		select {
		case <-sigchld:
		case <-time.After(100 * time.Millisecond): // a deadline per round, not a sleep: SIGCHLD wakes it
		case <-deadline:
			t.Fatalf("no exit of PID %d after %v", p.PID, waitTimeout)
		}
	}
}

// output is an Output that can be read while it is written and waited on.
type output = testproc.Output

func newOutput() *output { return testproc.NewOutput() }

// startServer starts a helper server and returns its address.
func startServer(t testing.TB, helper string) string {
	t.Helper()
	out := newOutput()
	spec := helperSpec(t, helper)
	spec.Output = out
	start(t, spec)
	return out.WaitFor(t, `addr (\S+)\n`)[1]
}
