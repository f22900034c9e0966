package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ringrift/ringsup/supervisor"
)

// TestStatusText: the text the client copies is what it printed when it
// indented StatusJSON itself.
func TestStatusText(t *testing.T) {
	n := startNode(t, node, Options{})
	ctx := t.Context()
	n.waitState(t, "worker", supervisor.Running)
	n.waitState(t, "broken", supervisor.ImportFailed)

	// broken does not change between the two requests: byte for byte.
	var got bytes.Buffer
	if err := n.client.StatusText(ctx, &got, "broken"); err != nil {
		t.Fatalf("StatusText(broken) = %v", err)
	}
	raw, err := n.client.StatusJSON(ctx, "broken")
	if err != nil {
		t.Fatalf("StatusJSON(broken) = %v", err)
	}
	var want bytes.Buffer
	json.Indent(&want, raw, "", "  ")
	want.WriteByte('\n')
	if got.String() != want.String() {
		t.Fatalf("StatusText(broken) =\n%s\nwant (StatusJSON indented)\n%s", &got, &want)
	}

	// Every daemon: the same status, uptimes aside.
	got.Reset()
	if err := n.client.StatusText(ctx, &got); err != nil {
		t.Fatalf("StatusText() = %v", err)
	}
	var st supervisor.Status
	if err := json.Unmarshal(got.Bytes(), &st); err != nil {
		t.Fatalf("StatusText() is not JSON: %v\n%s", err, &got)
	}
	if len(st.Daemons) != 3 || st.Daemons["worker"].DependsOn[0] != "router" || !strings.HasSuffix(got.String(), "}\n") {
		t.Errorf("StatusText() =\n%s\nwant the three daemons", &got)
	}

	got.Reset()
	if err := n.client.StatusText(ctx, &got, "worker", "nope"); remoteError(err) != `unknown daemon "nope"` || got.Len() != 0 {
		t.Errorf("StatusText(nope) = %v, output %q; want unknown daemon and no output", err, &got)
	}
}

// fakeServer answers one connection on a new socket with answer, whatever
// the request, and closes it. It returns the socket's path.
func fakeServer(t *testing.T, answer string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		bufio.NewReader(c).ReadBytes('\n')
		c.Write([]byte(answer))
	}()
	return path
}

// TestStatusTextFromOlderSupervisor: a supervisor that does not know the
// text request answers with the status in its line; the client indents it.
func TestStatusTextFromOlderSupervisor(t *testing.T) {
	st := `{"profile":"","config":"/a<b>.toml","pid":7,"daemons":{"x":{"state":"running","depends_on":[]}}}`
	path := fakeServer(t, `{"v":1,"ok":true,"status":`+st+"}\n")
	var got bytes.Buffer
	if err := (&Client{Path: path}).StatusText(t.Context(), &got); err != nil {
		t.Fatalf("StatusText() = %v", err)
	}
	var want bytes.Buffer
	json.Indent(&want, []byte(st), "", "  ")
	want.WriteByte('\n')
	if got.String() != want.String() {
		t.Errorf("StatusText() =\n%s\nwant\n%s", &got, &want)
	}
}

func TestStatusTextCutShort(t *testing.T) {
	for _, tc := range []struct{ name, answer, want string }{
		{"text cut short", `{"v":1,"ok":true,"length":100}` + "\n{\n  \"pro", "the supervisor closed the connection in the middle of an answer"},
		{"no text", `{"v":1,"ok":true}` + "\n", "the supervisor's answer holds no status"},
		{"no answer", "", "the supervisor closed the connection without answering"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := fakeServer(t, tc.answer)
			var out bytes.Buffer
			err := (&Client{Path: path}).StatusText(t.Context(), &out)
			if err == nil || err.Error() != tc.want {
				t.Errorf("StatusText() = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestTextAnswer: the client's shortcut decodes the server's answer line to
// a text status, and only lines that json.Unmarshal decodes the same.
func TestTextAnswer(t *testing.T) {
	line := encode(Response{V: Version, OK: true, Length: 145531})
	if rp, ok := textAnswer(line); !ok || !reflect.DeepEqual(rp, reply{V: Version, OK: true, Length: 145531}) {
		t.Errorf("textAnswer(%q) = %+v, %v; want length 145531", line, rp, ok)
	}
	for _, line := range []string{
		`{"v":1,"ok":true,"length":0}` + "\n",
		`{"v":1,"ok":true,"length":-1}` + "\n",
		`{"v":1,"ok":true,"length":+1}` + "\n",
		`{"v":1,"ok":true,"length":01}` + "\n",
		`{"v":1,"ok":true,"length":1e3}` + "\n",
		`{"v":1,"ok":true,"length":99999999999999999999}` + "\n",
		`{"v":1,"ok":true,"length":1,"status":{}}` + "\n",
		`{"v":1,"ok":true,"length":1}`,
		`{"v":1,"ok":false,"length":1}` + "\n",
	} {
		if rp, ok := textAnswer([]byte(line)); ok {
			t.Errorf("textAnswer(%q) = %+v, want it left to json.Unmarshal", line, rp)
		}
	}
}
