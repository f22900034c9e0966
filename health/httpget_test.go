package health

import (
	"bufio"
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawServer listens on 127.0.0.1 and answers each connection with
// response, as bytes, after reading the request's head, which it sends on
// the returned channel. With keepOpen it then leaves the connection open
// until the test ends, as a server that keeps connections alive would: a
// probe must know the end of the response from its framing, not from the
// connection's end.
func rawServer(t *testing.T, response string, keepOpen bool) (addr string, requests <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reqs := make(chan string, 16)
	var open []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			var head strings.Builder
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				head.WriteString(line)
				if err != nil || line == "\r\n" {
					break
				}
			}
			reqs <- head.String()
			c.Write([]byte(response))
			if keepOpen {
				open = append(open, c)
			} else {
				c.Close()
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range open {
			c.Close()
		}
	})
	return l.Addr().String(), reqs
}

// probeHTTP runs p.HTTP with a timeout of an hour, so that a probe waiting
// for the connection's end would never return by itself, and fails the test
// if it has not returned within waitTimeout.
func probeHTTP(t *testing.T, p *Prober, url string) error {
	t.Helper()
	result := make(chan error, 1)
	go func() { result <- p.HTTP(t.Context(), url, time.Hour) }()
	select {
	case err := <-result:
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("HTTP(%s) has not returned after %v", url, waitTimeout)
		return nil
	}
}

// TestHTTPResponses: the probe reads the status and as much of the body as
// its framing says (up to 4 KiB), so a server that keeps the connection
// open after its response is answered at once; what is not HTTP fails with
// a short reason.
func TestHTTPResponses(t *testing.T) {
	p := NewProber()
	for _, tt := range []struct {
		name, response string
		keepOpen       bool
		want           string // the error after the URL and ": ", or "" for healthy
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true, ""},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nTrailer: 1\r\n\r\n", true, ""},
		{"chunked last of codings", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", true, ""},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", true, ""},
		{"continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true, ""},
		{"body over 4 KiB", "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("x", 5000), true, ""},
		{"chunks over 4 KiB", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n" + strings.Repeat("x", 5000), true, ""},
		{"until the end", "HTTP/1.0 200 OK\r\n\r\nbody", false, ""},
		{"bare line ends", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", true, ""},
		{"folded header", "HTTP/1.1 200 OK\r\nX-Note: a\r\n b\r\n\tc\r\nContent-Length: 2\r\n\r\nok", true, ""},
		{"folded framing", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", true, ""},
		{"spaces before the code", "HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n", true, ""},
		{"unavailable", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy", true, "status 503"},
		{"switching", "HTTP/1.1 101 Switching Protocols\r\n\r\n", true, "status 101"},
		{"not http", "SSH-2.0-OpenSSH_9.2\r\n", false, `malformed HTTP status line "SSH-2.0-OpenSSH_9.2"`},
		{"no code", "HTTP/1.1 OK\r\n\r\n", false, `malformed HTTP status line "HTTP/1.1 OK"`},
		{"bad header", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false, `malformed header line "no colon"`},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, `malformed Content-Length "-1"`},
		{"head too long", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("x", 70<<10) + "\r\n\r\n", false, "response headers exceed 65536 bytes"},
		{"closed in the head", "HTTP/1.1 200 OK\r\nContent-Len", false, "unexpected EOF"},
		{"closed at once", "", false, "unexpected EOF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := rawServer(t, tt.response, tt.keepOpen)
			url := "http://" + addr + "/health"
			err := probeHTTP(t, p, url)
			want := ""
			if tt.want != "" {
				want = url + ": " + tt.want
			}
			if got := errText(err); got != orNil(want) {
				t.Errorf("HTTP(%s) = %s, want %s", url, got, orNil(want))
			}
		})
	}
}

// TestHTTPCancelledMidResponse: a probe whose context is cancelled while
// it waits for the rest of a response returns at once, and says so, however
// long its timeout: HTTP ends "before ctx is done", as it promises.
func TestHTTPCancelledMidResponse(t *testing.T) {
	for name, response := range map[string]string{
		"no answer":    "",
		"in the head":  "HTTP/1.1 200 OK\r\nContent-Le",
		"the 1xx only": "HTTP/1.1 100 Continue\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			addr, requests := rawServer(t, response, true)
			url := "http://" + addr + "/health"
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			result := make(chan error, 1)
			go func() { result <- NewProber().HTTP(ctx, url, time.Hour) }()
			select {
			case <-requests:
			case <-time.After(waitTimeout):
				t.Fatalf("HTTP(%s) sent no request within %v", url, waitTimeout)
			}
			cancel()
			select {
			case err := <-result:
				if got, want := errText(err), url+": context canceled"; got != want || !errors.Is(err, context.Canceled) {
					t.Errorf("HTTP(%s), cancelled = %s, want %s (errors.Is context.Canceled)", url, got, want)
				}
			case <-time.After(waitTimeout):
				t.Fatalf("HTTP(%s) has not returned %v after its context was cancelled", url, waitTimeout)
			}
		})
	}
}

// TestHTTPRequest: the request is a GET of the URL's path and query, with
// its host, "Connection: close", and its user and password as basic
// authorization.
func TestHTTPRequest(t *testing.T) {
	addr, requests := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true)
	for _, tt := range []struct{ url, want string }{
		{"http://" + addr + "/health?deep=1", "GET /health?deep=1 HTTP/1.1\r\nHost: " + addr + "\r\n" +
			"User-Agent: ringsup-health\r\nConnection: close\r\n\r\n"},
		{"http://" + addr, "GET / HTTP/1.1\r\nHost: " + addr + "\r\n" +
			"User-Agent: ringsup-health\r\nConnection: close\r\n\r\n"},
		{"http://probe:s%20cret@" + addr + "/a%20b", "GET /a%20b HTTP/1.1\r\nHost: " + addr + "\r\n" +
			"User-Agent: ringsup-health\r\nAuthorization: Basic cHJvYmU6cyBjcmV0\r\nConnection: close\r\n\r\n"},
	} {
		if err := probeHTTP(t, NewProber(), tt.url); err != nil {
			t.Fatalf("HTTP(%s) = %v, want nil", tt.url, err)
		}
		if got := <-requests; got != tt.want {
			t.Errorf("HTTP(%s) sent %q, want %q", tt.url, got, tt.want)
		}
	}
}

// TestHTTPBadURL: a URL the probe cannot use fails at once, with the
// reason.
func TestHTTPBadURL(t *testing.T) {
	for url, want := range map[string]string{
		"ftp://127.0.0.1/x": `ftp://127.0.0.1/x: unsupported scheme "ftp": want http or https`,
		"http:///x":         "http:///x: no host in URL",
		"http://[::1/x":     `http://[::1/x: missing ']' in host`,
	} {
		if got := errText(NewProber().HTTP(t.Context(), url, time.Minute)); got != want {
			t.Errorf("HTTP(%s) = %s, want %s", url, got, want)
		}
	}
}

// TestHTTPS: in a build with TLS, an https probe verifies the server's
// certificate against the system's roots: a server whose certificate they
// do not hold fails, and the same server passes in a process whose roots
// ($SSL_CERT_FILE) hold it. In the lean build an https probe fails at once
// and says why.
func TestHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	defer srv.Close()
	err := NewProber().HTTP(t.Context(), srv.URL, time.Minute)
	if !TLS {
		if got, want := errText(err), srv.URL+": "+errNoTLS.Error(); got != want {
			t.Fatalf("HTTP(%s) = %s, want %s", srv.URL, got, want)
		}
		return
	}
	if got, want := errText(err), "certificate signed by unknown authority"; !strings.Contains(got, want) {
		t.Errorf("HTTP(%s), certificate not among the roots = %s, want an error with %q", srv.URL, got, want)
	}

	roots := filepath.Join(t.TempDir(), "roots.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(roots, cert, 0o644); err != nil {
		t.Fatal(err)
	}
	out := newOutput()
	spec := helperSpec(t, "http-probe", srv.URL)
	spec.Env["SSL_CERT_FILE"] = roots
	spec.Env["SSL_CERT_DIR"] = t.TempDir()
	spec.Output = out
	p := start(t, spec)
	waitExit(t, p)
	select { // the exit can come before the output's last bytes are read
	case <-p.OutputDone():
	case <-time.After(waitTimeout):
		t.Fatalf("the output of the http-probe helper did not end after %v", waitTimeout)
	}
	if got := out.String(); got != "ok\n" {
		t.Errorf("HTTP(%s), certificate among the roots: %q, want %q", srv.URL, got, "ok\n")
	}
}

// endless is a server that never stops sending: after head, it repeats
// rep without end. It counts what was read, and fails a read past
// readLimit, so that a reader without a limit ends.
type endless struct {
	head, rep []byte
	n         int64
}

func (r *endless) Read(p []byte) (int, error) {
	if r.n > readLimit {
		return 0, errors.New("read past the limit")
	}
	for i := range p {
		if at := r.n + int64(i); at < int64(len(r.head)) {
			p[i] = r.head[at]
		} else {
			p[i] = r.rep[(at-int64(len(r.head)))%int64(len(r.rep))]
		}
	}
	r.n += int64(len(p))
	return len(p), nil
}

// readLimit is the most readResponse may take from a connection: the head's
// budget and the chunk lines' each, the body it drains, and a buffer of
// read-ahead and of the line that goes over a budget.
const readLimit = 2*maxHeaderBytes + maxDrain + 2*(4<<10)

// FuzzReadResponse: no response, however malformed, makes the probe panic,
// and a status it returns has three digits; a response that never ends
// (head, then rep repeated) is read only up to readLimit.
func FuzzReadResponse(f *testing.F) {
	for _, seed := range []struct{ head, rep string }{
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", ""},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", ""},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", ""},
		{"HTTP/1.0 503 x\r\n\r\n", ""},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", ""},
		{"HTTP/1.1 200 OK\r\nX: a\r\n", " b\r\n"},
		{"", "HTTP/1.1 100 Continue\r\n\r\n"},
		{"HTTP/1.1 200 OK\r\n", "X: y\r\n"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "1\r\nx\r\n"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", "T: x\r\n"},
		{"HTTP/1.1 200 OK\r\n\r\n", "x"},
	} {
		f.Add([]byte(seed.head), []byte(seed.rep))
	}
	f.Fuzz(func(t *testing.T, head, rep []byte) {
		data := append(head[:len(head):len(head)], rep...)
		code, err := readResponse(bufio.NewReaderSize(bytes.NewReader(data), 4<<10))
		if err == nil && (code < 100 || code > 999) {
			t.Errorf("readResponse(%q) = %d, nil", data, code)
		}
		if len(rep) == 0 {
			return
		}
		r := &endless{head: head, rep: rep}
		readResponse(bufio.NewReaderSize(r, 4<<10))
		if r.n > readLimit {
			t.Errorf("readResponse(%q, then %q without end) read %d bytes, want at most %d", head, rep, r.n, readLimit)
		}
	})
}
