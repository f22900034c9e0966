package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ringrift/ringsup/config"
	"github.com/ringrift/ringsup/supervisor"
)

// requestSeeds are request lines of every kind, good and bad (those of
// TestBadRequestsChangeNothing among them); the fuzz targets start from
// them.
var requestSeeds = []string{
	`{"v":1,"cmd":"ping"}` + "\n",
	`{"v":1,"cmd":"status"}` + "\n",
	`{"v":1,"cmd":"status","names":["broken"]}` + "\n",
	`{"v":1,"cmd":"status","text":true}` + "\n",
	`{"v":1,"cmd":"status","names":["broken"],"text":true}` + "\n",
	`{"v":1,"cmd":"status","names":["nope"],"text":true}` + "\n",
	`{"v":1,"cmd":"status","names":["nope"]}` + "\n",
	`{"v":1,"cmd":"start","names":["broken"]}` + "\n",
	`{"v":1,"cmd":"stop","names":["broken","other"]}` + "\n",
	`{"v":1,"cmd":"restart","names":["broken"],"force":true}` + "\n",
	`{"v":1,"cmd":"restart"}` + "\n",
	`{"v":1,"cmd":"logs","names":["broken"],"lines":3}` + "\n",
	`{"v":1,"cmd":"logs","names":["../../etc/passwd"]}` + "\n",
	`{"v":1,"cmd":"logs","names":["broken"],"lines":-1,"follow":true}` + "\n",
	`{"v":1,"cmd":"events"}` + "\n",
	`{"v":1,"cmd":"reload"}` + "\n",
	`{"v":1,"cmd":"profile","profile":"x"}` + "\n",
	`{"v":1,"cmd":"profile"}` + "\n",
	`{"v":1,"cmd":"scale","names":["many"],"instances":3}` + "\n",
	`{"v":1,"cmd":"scale","names":["many"],"instances":0}` + "\n",
	`{"v":1,"cmd":"scale","names":["broken"],"instances":2}` + "\n",
	`{"v":1,"cmd":"scale","names":["many","broken"],"instances":2}` + "\n",
	`{"v":1,"cmd":"status","names":["many","many@1"]}` + "\n",
	`{"v":1,"cmd":"logs","names":["many"]}` + "\n",
	`{"v":1,"cmd":"shutdown"}` + "\n",
	`{"v":1,"cmd":"ping"}`, // ended by the end of the stream
	"\x00\xff\xfe\x01garbage\n",
	"[1,2,3]\n",
	`{"cmd":"status"}` + "\n",
	`{"v":2,"cmd":"status"}` + "\n",
	`{"v":1,"cmd":"dance"}` + "\n",
	`{"v":1,"cmd":"sta`,
	`{"v":1.5,"cmd":"status"}` + "\n",
	`{"v":1,"cmd":"status","names":"router"}` + "\n",
	`{"v":1,"cmd":"status","names":[1]}` + "\n",
	`{"v":1,"cmd":"logs","names":["broken"],"lines":1e99}` + "\n",
	`{"v":1,"cmd":"ping"} trailing` + "\n",
	`{"v":1,"cmd":"ping"}` + "\n" + `{"v":1,"cmd":"shutdown"}` + "\n",
	"\n",
	"",
	`null` + "\n",
	`{"v":1,"cmd":"status","names":["\ud800"]}` + "\n",
}

// readerConn is a net.Conn that reads from r; readRequest needs no more.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// FuzzReadRequest checks the decoding of a request line: no panic, a
// request is accepted only with version 1, the same request is decoded
// again from its encoding, and the answer to an error is one line of JSON.
func FuzzReadRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := readRequest(readerConn{r: bytes.NewReader(data)})
		if err != nil {
			if errors.Is(err, io.EOF) {
				if len(data) != 0 {
					t.Fatalf("readRequest(%q) = io.EOF, want it only for nothing at all", data)
				}
				return
			}
			checkLine(t, encode(errorResponse(err)))
			return
		}
		if req.V != Version {
			t.Fatalf("readRequest(%q) accepted version %d", data, req.V)
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		if !json.Valid(line) {
			t.Fatalf("readRequest(%q) accepted invalid JSON", data)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("cannot encode %+v: %v", req, err)
		}
		if ours := appendRequest(nil, req); !bytes.Equal(ours, again) {
			t.Fatalf("appendRequest(%s) = %s, want (json.Marshal) %s", requestString(req), ours, again)
		}
		req2, err := readRequest(readerConn{r: bytes.NewReader(append(again, '\n'))})
		if err != nil {
			t.Fatalf("readRequest(%s) = %v after readRequest(%q) = %+v", again, err, data, req)
		}
		if a, b := requestString(req), requestString(req2); a != b {
			t.Fatalf("decoded again: %s, want %s", b, a)
		}
	})
}

// requestString shows every field of r, the number of lines and not a
// pointer.
func requestString(r Request) string {
	lines := "absent"
	if r.Lines != nil {
		lines = fmt.Sprint(*r.Lines)
	}
	return fmt.Sprintf("v=%d cmd=%q names=%q force=%v lines=%s follow=%v profile=%q text=%v",
		r.V, r.Cmd, r.Names, r.Force, lines, r.Follow, r.Profile, r.Text)
}

// checkLine checks that line is one line of JSON, a Response of this
// protocol version.
func checkLine(t *testing.T, line []byte) {
	t.Helper()
	body, ok := bytes.CutSuffix(line, []byte("\n"))
	if !ok || bytes.Contains(body, []byte("\n")) {
		t.Fatalf("answer %q is not one line", line)
	}
	var r Response
	if err := json.Unmarshal(body, &r); err != nil || !json.Valid(body) {
		t.Fatalf("answer %q is not JSON: %v", body, err)
	}
	if r.V != Version {
		t.Fatalf("answer %q has version %d", body, r.V)
	}
}

// fuzzNode is a supervisor and its server for FuzzServe. Its daemons cannot
// be executed, so whatever a request asks, no process ever runs. A request
// may shut the supervisor down: the next input gets a new one.
type fuzzNode struct {
	dir string
	sup *supervisor.Supervisor
	srv *Server
	ran chan error
}

const fuzzConfig = `
[supervisor]
log_dir = "logs"
watch = false
default_profile = "main"

[daemons.broken]
command = ["./no-such-program"]

[daemons.other]
command = ["./no-such-program"]
depends_on = ["broken"]

# Outside the profile, so that scaling it spawns nothing.
[daemons.many]
command = ["./no-such-program", "${RINGSUP_INSTANCE}"]
instances = 2

[profiles]
main = ["broken", "other"]
`

func newFuzzNode() (*fuzzNode, error) {
	dir, err := os.MkdirTemp("", "ringsup-fuzz")
	if err != nil {
		return nil, err
	}
	n := &fuzzNode{dir: dir, ran: make(chan error, 1)}
	file := filepath.Join(dir, "ringsup.toml")
	if err := os.WriteFile(file, []byte(fuzzConfig), 0o644); err != nil {
		return nil, err
	}
	cfg, err := config.Load(file)
	if err != nil {
		return nil, err
	}
	if n.sup, err = supervisor.New(supervisor.Options{Config: cfg}); err != nil {
		return nil, err
	}
	n.srv, err = Listen(Options{Path: cfg.Supervisor.Socket, Supervisor: n.sup, LogDir: cfg.Supervisor.LogDir})
	if err != nil {
		return nil, err
	}
	go func() { n.ran <- n.sup.Run(context.Background()) }()
	return n, nil
}

func (n *fuzzNode) close() error {
	n.sup.Kill()
	err := killedAsAsked(<-n.ran)
	n.srv.Close()
	os.RemoveAll(n.dir)
	return err
}

// FuzzServe writes each input to the control socket of a real supervisor
// and server, and checks that the server answers with lines of JSON (after
// the answer to a logs request, the raw log follows) and keeps serving.
//
// Like the other tests of this package that run a supervisor, it must not
// run in parallel with them: the supervisor reaps every child of the
// process.
func FuzzServe(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	n, err := newFuzzNode()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := n.close(); err != nil {
			f.Errorf("Run = %v", err)
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		select {
		case <-n.sup.Done():
			// The previous input shut it down.
			if err := n.close(); err != nil {
				t.Fatalf("Run = %v", err)
			}
			if n, err = newFuzzNode(); err != nil {
				t.Fatal(err)
			}
		default:
		}
		out, err := exchange(n.srv.Path(), data)
		if err != nil {
			t.Fatalf("sending %q: %v", data, err)
		}
		// The last line may be cut short by a reset connection (the
		// client wrote more than the server read).
		lines := bytes.SplitAfter(out, []byte("\n"))
		if last := lines[len(lines)-1]; !bytes.HasSuffix(last, []byte("\n")) {
			lines = lines[:len(lines)-1]
		}
		req, _ := readRequest(readerConn{r: bytes.NewReader(data)})
		read := 0
		for _, line := range lines {
			checkLine(t, line)
			read += len(line)
			var r Response
			json.Unmarshal(line, &r)
			if r.OK && req.Cmd == CmdLogs {
				break // the raw log follows
			}
			if r.OK && req.Cmd == CmdStatus && req.Text {
				// The status text follows, and nothing else; a reset
				// may cut it if the client sent more than its request.
				text := out[read:]
				cut := len(text) < r.Length && bytes.IndexByte(data, '\n') < len(data)-1
				if !cut && (len(text) != r.Length || !json.Valid(text)) {
					t.Fatalf("after %s: %d bytes of text, want %d of JSON:\n%s", line, len(text), r.Length, text)
				}
				break
			}
		}
		if len(data) > 0 && len(lines) == 0 {
			t.Fatalf("no answer to %q", data)
		}
		// Still serving.
		if _, err := (&Client{Path: n.srv.Path()}).Ping(t.Context()); err != nil {
			t.Fatalf("Ping() after %q = %v", data, err)
		}
	})
}

// exchange sends data on a new connection, half-closes it (which also ends
// a stream), and returns what the server sends until it closes.
func exchange(path string, data []byte) ([]byte, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		c.Write(data) // fails if the server stops reading first
		c.CloseWrite()
	}()
	out, err := io.ReadAll(c)
	c.Close()
	<-wrote
	if errors.Is(err, syscall.ECONNRESET) {
		err = nil
	}
	return out, err
}
