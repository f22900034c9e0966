package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// notifySink is a fake systemd notify socket: it keeps every datagram.
type notifySink struct {
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T, path string) *notifySink {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &notifySink{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	return s
}

// lifecycle returns the datagrams other than WATCHDOG=1 and bare STATUS=
// lines, and how many WATCHDOG=1 came.
func (s *notifySink) lifecycle() (msgs []string, watchdogs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		switch {
		case m == "WATCHDOG=1\n":
			watchdogs++
		case strings.HasPrefix(m, "STATUS="):
		default:
			msgs = append(msgs, m)
		}
	}
	return msgs, watchdogs
}

func (s *notifySink) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.msgs, "|")
}

// TestSdNotify: under systemd (Type=notify) ringsup says READY=1 once
// start-up is done, RELOADING=1 and READY=1 around a reload (a failed one
// included, with a STATUS that says so), STOPPING=1 at shutdown, STATUS=
// on change and WATCHDOG=1 at half WATCHDOG_USEC; its daemons do not see
// NOTIFY_SOCKET.
func TestSdNotify(t *testing.T) {
	quickRaceExit(t)
	dir := t.TempDir()
	sink := listenNotify(t, filepath.Join(dir, "notify.sock"))
	cfg := `
[supervisor]
watch = false

[daemons.web]
command = "echo \"${NOTIFY_SOCKET-unset}|${WATCHDOG_USEC-unset}\" > env.out; exec sleep 1000"
[daemons.web.health]
exec = ["test", "-f", "ready"]
interval = "100ms"
retries = 1000

[daemons.broken]
command = ["./no-such-program"]
`
	write(t, filepath.Join(dir, "ringsup.toml"), cfg)
	r := startRingsupSh(t, dir, "", map[string]string{
		"NOTIFY_SOCKET": filepath.Join(dir, "notify.sock"),
		"WATCHDOG_USEC": "400000",
	})
	eventually(t, 20*time.Second, "web started", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "env.out"))
		return strings.HasSuffix(string(b), "\n") // written whole
	})
	if b, _ := os.ReadFile(filepath.Join(dir, "env.out")); string(b) != "unset|unset\n" {
		t.Errorf("the daemon saw NOTIFY_SOCKET|WATCHDOG_USEC = %q, want them unset", b)
	}
	if msgs, _ := sink.lifecycle(); len(msgs) != 0 {
		t.Fatalf("before web is ready, ringsup said %q", msgs)
	}
	write(t, filepath.Join(dir, "ready"), "")
	eventually(t, 20*time.Second, "READY=1", func() bool {
		msgs, _ := sink.lifecycle()
		return len(msgs) == 1
	})

	syscall.Kill(r.pid, syscall.SIGHUP)
	eventually(t, 20*time.Second, "the reload's READY=1", func() bool {
		msgs, _ := sink.lifecycle()
		return len(msgs) == 3
	})
	write(t, filepath.Join(dir, "ringsup.toml"), cfg+"\n[daemons.bad\n")
	syscall.Kill(r.pid, syscall.SIGHUP)
	eventually(t, 20*time.Second, "the failed reload's READY=1", func() bool {
		msgs, _ := sink.lifecycle()
		return len(msgs) == 5
	})
	eventually(t, 20*time.Second, "WATCHDOG=1 again and again", func() bool {
		_, n := sink.lifecycle()
		return n >= 3
	})
	syscall.Kill(r.pid, syscall.SIGTERM)
	if x := r.wait(30 * time.Second); x.Code != 0 {
		t.Errorf("ringsup exit = %v\n%s", x, r.output)
	}

	msgs, watchdogs := sink.lifecycle()
	want := []*regexp.Regexp{
		regexp.MustCompile(`^READY=1\nSTATUS=1 running, 1 import_failed\n$`),
		regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=\d+\n$`),
		regexp.MustCompile(`^READY=1\nSTATUS=1 running, 1 import_failed\n$`),
		regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=\d+\n$`),
		regexp.MustCompile(`^READY=1\nSTATUS=reload failed: .*ringsup\.toml:\d+:\d+: .*; 1 running, 1 import_failed\n$`),
		regexp.MustCompile(`^STOPPING=1\n$`),
	}
	if len(msgs) != len(want) {
		t.Fatalf("ringsup said %q, want %d messages", msgs, len(want))
	}
	for i, re := range want {
		if !re.MatchString(msgs[i]) {
			t.Errorf("message %d = %q, want it to match %s", i, msgs[i], re)
		}
	}
	t.Logf("%d WATCHDOG=1 in the run", watchdogs)
	if !strings.Contains(sink.all(), "STATUS=1 starting, 1 import_failed\n") {
		t.Errorf("no STATUS while web was starting: %q", sink.all())
	}
}
