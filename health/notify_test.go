package health

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var parseNotifyTests = []struct {
	in   string
	want NotifyMessage
	ok   bool
}{
	{"READY=1", NotifyMessage{Ready: true}, true},
	{"READY=1\nSTATUS=serving on :9000\n", NotifyMessage{Ready: true, Status: "serving on :9000"}, true},
	{"WATCHDOG=1", NotifyMessage{Watchdog: true}, true},
	{"RELOADING=1\nMONOTONIC_USEC=123", NotifyMessage{Reloading: true, Fields: map[string]string{"MONOTONIC_USEC": "123"}}, true},
	{"STOPPING=1", NotifyMessage{Stopping: true}, true},
	{"WATCHDOG=trigger", NotifyMessage{Fields: map[string]string{"WATCHDOG": "trigger"}}, true},
	{"READY=0", NotifyMessage{Fields: map[string]string{"READY": "0"}}, true},
	{"STATUS=a=b\nSTATUS=c", NotifyMessage{Status: "c"}, true},
	{"STATUS=", NotifyMessage{}, true},
	{"X_A=1\nX_A=2\nERRNO=5", NotifyMessage{Fields: map[string]string{"X_A": "2", "ERRNO": "5"}}, true},
	{"\n\nREADY=1\n\n", NotifyMessage{Ready: true}, true},
	{"", NotifyMessage{}, false},
	{"garbage\nno equals sign", NotifyMessage{}, false},
	{"=1", NotifyMessage{}, false},
}

func TestParseNotify(t *testing.T) {
	for _, tt := range parseNotifyTests {
		got, ok := ParseNotify([]byte(tt.in))
		if !reflect.DeepEqual(got, tt.want) || ok != tt.ok {
			t.Errorf("ParseNotify(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseNotify(f *testing.F) {
	for _, tt := range parseNotifyTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok := ParseNotify(b)
		if !ok && !reflect.DeepEqual(m, NotifyMessage{}) {
			t.Errorf("ParseNotify(%q) = %+v, false; want an empty message", b, m)
		}
		if strings.Contains(m.Status, "\n") {
			t.Errorf("ParseNotify(%q).Status = %q, want one line", b, m.Status)
		}
		for k, v := range m.Fields {
			if k == "" || strings.ContainsAny(k, "=\n") || strings.Contains(v, "\n") {
				t.Errorf("ParseNotify(%q).Fields has %q=%q", b, k, v)
			}
		}
	})
}

func TestNotifyMerge(t *testing.T) {
	for _, tt := range []struct {
		a, b, want NotifyMessage
	}{
		{NotifyMessage{PID: 1, Ready: true, Status: "up"}, NotifyMessage{PID: 2, Watchdog: true}, NotifyMessage{PID: 2, Ready: true, Watchdog: true, Status: "up"}},
		{NotifyMessage{Status: "a"}, NotifyMessage{Status: "b", Stopping: true}, NotifyMessage{Status: "b", Stopping: true}},
		{NotifyMessage{Reloading: true}, NotifyMessage{Ready: true}, NotifyMessage{Reloading: true, Ready: true}},
		{
			NotifyMessage{Fields: map[string]string{"A": "1", "B": "1"}},
			NotifyMessage{Fields: map[string]string{"B": "2"}},
			NotifyMessage{Fields: map[string]string{"A": "1", "B": "2"}},
		},
	} {
		if got := tt.a.Merge(tt.b); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%+v.Merge(%+v) = %+v, want %+v", tt.a, tt.b, got, tt.want)
		}
	}
}

// listenNotify listens in a fresh directory and closes the socket at the
// end of the test.
func listenNotify(t *testing.T) *NotifySocket {
	t.Helper()
	s, err := ListenNotify(filepath.Join(t.TempDir(), "web.notify"))
	if err != nil {
		t.Fatalf("ListenNotify = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// receive returns the next message of s.
func receive(t *testing.T, s *NotifySocket) NotifyMessage {
	t.Helper()
	select {
	case m, ok := <-s.Messages():
		if !ok {
			t.Fatalf("Messages() closed, want a message")
		}
		return m
	case <-time.After(waitTimeout):
		t.Fatalf("no message on %s after %v", s.Path(), waitTimeout)
	}
	panic("unreachable")
}

func TestNotifyFromChild(t *testing.T) {
	s := listenNotify(t)
	fi, err := os.Lstat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode(), fs.ModeSocket|0o600; got != want {
		t.Errorf("mode of %s = %v, want %v", s.Path(), got, want)
	}
	spec := helperSpec(t, "notify",
		"READY=1\nSTATUS=starting",
		"WATCHDOG=1",
		"big:"+strconv.Itoa(MaxNotifySize+1), // dropped whole
		"not a field",                        // nothing to deliver
		"big:"+strconv.Itoa(MaxNotifySize),   // the largest accepted
		"STATUS=serving\nX_CUSTOM=yes",
	)
	spec.Env = s.Env(0)
	spec.Env[helperEnv] = "1"
	p := start(t, spec)

	// The messages may come merged; all of them, merged, are the same.
	want := NotifyMessage{
		PID:      int32(p.PID),
		Ready:    true,
		Watchdog: true,
		Status:   "serving",
		Fields:   map[string]string{"X_CUSTOM": "yes"},
	}
	bigStatus := strings.Repeat("x", MaxNotifySize-len("STATUS="))
	var got NotifyMessage
	for !reflect.DeepEqual(got, want) {
		m := receive(t, s)
		if m.PID != int32(p.PID) {
			t.Errorf("message %+v from PID %d, want %d", m, m.PID, p.PID)
		}
		switch m.Status {
		case "", "starting", bigStatus, "serving":
		default:
			t.Fatalf("message with STATUS of %d bytes, want none bigger than %d", len(m.Status), len(bigStatus))
		}
		got = got.Merge(m)
	}
}

// TestNotifySlowConsumer: datagrams that arrive while the consumer does not
// receive are merged into one message, and the first READY=1 is not lost.
func TestNotifySlowConsumer(t *testing.T) {
	s := listenNotify(t)
	const n = 50 // the kernel queues only max_dgram_qlen (10) datagrams
	args := []string{"READY=1"}
	for i := range n {
		args = append(args, "STATUS="+strconv.Itoa(i+1))
	}
	out := newOutput()
	spec := helperSpec(t, append([]string{"notify"}, args...)...)
	spec.Env = s.Env(0)
	spec.Env[helperEnv] = "1"
	spec.Output = out
	start(t, spec)
	out.WaitFor(t, "sent\n")

	m := receive(t, s)
	if !m.Ready {
		t.Errorf("first message after %d datagrams = %+v, want Ready", n+1, m)
	}
	for m.Status != strconv.Itoa(n) {
		m = receive(t, s)
	}
}

func TestNotifyEnv(t *testing.T) {
	s := listenNotify(t)
	for _, tt := range []struct {
		watchdog time.Duration
		want     map[string]string
	}{
		{0, map[string]string{"NOTIFY_SOCKET": s.Path()}},
		{30 * time.Second, map[string]string{"NOTIFY_SOCKET": s.Path(), "WATCHDOG_USEC": "30000000"}},
	} {
		if got := s.Env(tt.watchdog); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Env(%v) = %v, want %v", tt.watchdog, got, tt.want)
		}
	}
}

func TestNotifyPathTooLong(t *testing.T) {
	dir := t.TempDir()
	fits := filepath.Join(dir, strings.Repeat("s", maxSocketPath-len(dir)-1))
	s, err := ListenNotify(fits)
	if err != nil {
		t.Errorf("ListenNotify(path of %d bytes) = %v, want nil", len(fits), err)
	} else {
		s.Close()
	}
	long := fits + "s"
	want := fmt.Sprintf("cannot listen on %s: socket path too long (108 > 107 bytes)", long)
	s, err = ListenNotify(long)
	if err == nil {
		s.Close()
	}
	if got := errText(err); got != want {
		t.Errorf("ListenNotify(path of %d bytes) = %s, want %s", len(long), got, want)
	}
}

func TestNotifyRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := ListenNotify("web.notify")
	if err != nil {
		t.Fatalf("ListenNotify(web.notify) = %v", err)
	}
	defer s.Close()
	want, _ := filepath.Abs("web.notify")
	if got := s.Path(); got != want {
		t.Errorf("Path() = %s, want %s", got, want)
	}
}

func TestNotifyClose(t *testing.T) {
	s := listenNotify(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if _, err := os.Lstat(s.Path()); !os.IsNotExist(err) {
		t.Errorf("Lstat(%s) after Close = %v, want not exist", s.Path(), err)
	}
	select {
	case m, ok := <-s.Messages():
		if ok {
			t.Errorf("Messages() after Close gave %+v, want closed", m)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Messages() not closed after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
}

func TestNotifyReplacesSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.notify")
	// A stale socket, as a killed supervisor leaves.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)

	old, err := ListenNotify(path)
	if err != nil {
		t.Fatalf("ListenNotify(%s) over a stale socket = %v", path, err)
	}
	// The socket of the next run of the daemon replaces it; closing the
	// old one afterwards leaves the new one alone.
	s, err := ListenNotify(path)
	if err != nil {
		t.Fatalf("ListenNotify(%s) over a live socket = %v", path, err)
	}
	defer s.Close()
	old.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("Lstat(%s) after closing the replaced socket = %v, want the new socket", path, err)
	}
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(c)
	if err := unix.Sendto(c, []byte("READY=1"), 0, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatalf("sendto %s = %v", path, err)
	}
	if m := receive(t, s); !m.Ready || m.PID != int32(os.Getpid()) {
		t.Errorf("message = %+v, want Ready from PID %d", m, os.Getpid())
	}
}

func TestNotifyRefusesOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.notify")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ListenNotify(path)
	if err == nil {
		s.Close()
	}
	if want := "cannot listen on " + path + ": a file that is not a socket is in the way"; errText(err) != want {
		t.Errorf("ListenNotify(regular file) = %v, want %s", err, want)
	}
}

// TestNotifyClosesPassedDescriptors: a descriptor sent with a notification
// (systemd's FDSTORE=1) is closed, not leaked.
func TestNotifyClosesPassedDescriptors(t *testing.T) {
	s := listenNotify(t)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(c)
	err = unix.Sendmsg(c, []byte("FDSTORE=1"), unix.UnixRights(p[1]), &unix.SockaddrUnix{Name: s.Path()}, 0)
	if err != nil {
		t.Fatalf("sendmsg = %v", err)
	}
	unix.Close(p[1])
	if m := receive(t, s); m.Fields["FDSTORE"] != "1" {
		t.Errorf("message = %+v, want FDSTORE=1", m)
	}
	// With every copy of the write end closed, the read end sees EOF.
	var buf [1]byte
	if n, err := unix.Read(p[0], buf[:]); n != 0 || err != nil {
		t.Errorf("read of a pipe whose write end was passed = %d, %v; want 0, nil (end of file)", n, err)
	}
}

func TestNotifyChown(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	s := listenNotify(t)
	if err := s.Chown(65534, 65534); err != nil {
		t.Fatalf("Chown(65534, 65534) = %v", err)
	}
	fi, err := os.Lstat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 65534 || st.Gid != 65534 || fi.Mode().Perm() != 0o600 {
		t.Errorf("owner and mode of %s after Chown = %d:%d %v, want 65534:65534 -rw-------", s.Path(), st.Uid, st.Gid, fi.Mode().Perm())
	}
}
