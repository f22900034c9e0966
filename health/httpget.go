package health

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The http probe speaks HTTP/1.1 itself rather than through net/http: it
// sends one GET on a new connection, reads the status line and the headers
// and at most maxDrain bytes of body, and closes. net/http links crypto/tls
// and x509 whatever the scheme, and Go initialises every linked package in
// every process, so the lean build (which is also every `ringsup ctl`)
// would pay for TLS at each start; here TLS is linked only where https
// probes are (see tls.go).

// maxHeaderBytes is how much of a response's status line and headers a
// probe reads before giving up on it.
const maxHeaderBytes = 64 << 10

// errHeaderTooLong is a response whose head is over maxHeaderBytes.
var errHeaderTooLong = fmt.Errorf("response headers exceed %d bytes", maxHeaderBytes)

// errNoTLS is an https probe in a build without TLS.
var errNoTLS = errors.New("https is not in this build (the lean one): run ringsup-full")

// statusError is a response whose status is not 2xx.
type statusError struct{ code int }

func (e statusError) Error() string { return "status " + strconv.Itoa(e.code) }

// get sends a GET request for u on a new connection and returns the
// response's status code, after reading up to maxDrain bytes of its body.
// The connection ends with ctx.
func (p *Prober) get(ctx context.Context, u *url.URL) (int, error) {
	var port string
	switch u.Scheme {
	case "http":
		port = "80"
	case "https":
		port = "443"
	default:
		return 0, fmt.Errorf("unsupported scheme %q: want http or https", u.Scheme)
	}
	if u.Host == "" {
		return 0, errors.New("no host in URL")
	}
	if u.Scheme == "https" && !TLS {
		return 0, errNoTLS
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	conn, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close() // TLS's, if any, is over this one
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	// A cancelled ctx ends whatever read or write is under way.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if u.Scheme == "https" {
		tconn, err := clientTLS(ctx, conn, u.Hostname())
		if err != nil {
			return 0, err
		}
		conn = tconn
	}
	if _, err := conn.Write(request(u)); err != nil {
		return 0, err
	}
	return readResponse(bufio.NewReaderSize(conn, 4<<10))
}

// request returns the GET request for u: HTTP/1.1, "Connection: close", and
// the URL's user and password, if any, as basic authorization.
func request(u *url.URL) []byte {
	var b bytes.Buffer
	b.WriteString("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + strings.TrimSuffix(u.Host, ":") + "\r\n")
	b.WriteString("User-Agent: ringsup-health\r\n")
	if u.User != nil {
		password, _ := u.User.Password()
		b.WriteString("Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+password)) + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.Bytes()
}

// readResponse reads a response from r: its status line and headers
// (skipping any informational 1xx response before it), then up to maxDrain
// bytes of its body, framed as its headers say. A short body read to its
// end spares the server a reset (the kernel resets a connection closed with
// unread data); a longer one is cut, and an error while reading the body is
// ignored: the status is what was asked. It returns the status code.
func readResponse(r *bufio.Reader) (int, error) {
	budget := maxHeaderBytes
	for {
		line, err := readLine(r, &budget)
		if err != nil {
			return 0, err
		}
		code, err := parseStatusLine(line)
		if err != nil {
			return 0, err
		}
		length, chunked := int64(-1), false
		for {
			line, err := readField(r, &budget)
			if err != nil {
				return 0, err
			}
			if len(line) == 0 {
				break
			}
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				return 0, fmt.Errorf("malformed header line %q", line)
			}
			value = strings.TrimSpace(value)
			switch {
			case strings.EqualFold(name, "Content-Length"):
				if length, err = strconv.ParseInt(value, 10, 64); err != nil || length < 0 {
					return 0, fmt.Errorf("malformed Content-Length %q", value)
				}
			case strings.EqualFold(name, "Transfer-Encoding"):
				// chunked is the last coding, if it is there at all.
				codings := strings.Split(value, ",")
				chunked = strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked")
			}
		}
		switch {
		case code >= 100 && code < 200 && code != 101:
			continue // informational: the response follows
		case code < 200, code == 204, code == 304:
			// no body
		case chunked:
			drainChunked(r)
		case length >= 0:
			io.CopyN(io.Discard, r, min(length, maxDrain))
		default: // the body ends with the connection
			io.CopyN(io.Discard, r, maxDrain)
		}
		return code, nil
	}
}

// readLine reads one line of a response's head, without its line end,
// taking its length from *budget.
func readLine(r *bufio.Reader, budget *int) (string, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		if *budget -= len(frag); *budget < 0 {
			return "", errHeaderTooLong
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
			return string(line), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return "", io.ErrUnexpectedEOF
		default:
			return "", err
		}
	}
}

// readField reads one header field of a response's head, with the lines
// that continue it: a line that starts with a space or a tab continues
// the one before it (obs-fold, RFC 9112 5.2), which a client reads as one
// space. It returns "" at the head's end.
func readField(r *bufio.Reader, budget *int) (string, error) {
	line, err := readLine(r, budget)
	for err == nil && line != "" {
		if next, perr := r.Peek(1); perr != nil || (next[0] != ' ' && next[0] != '\t') {
			break
		}
		var more string
		if more, err = readLine(r, budget); err == nil {
			line += " " + strings.TrimSpace(more)
		}
	}
	return line, err
}

// parseStatusLine returns the status code of an HTTP/1.x status line, such
// as "HTTP/1.1 200 OK".
func parseStatusLine(line string) (int, error) {
	proto, rest, _ := strings.Cut(line, " ")
	codeText, _, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
	code, err := strconv.Atoi(codeText)
	if !strings.HasPrefix(proto, "HTTP/1.") || len(codeText) != 3 || err != nil || code < 100 {
		return 0, fmt.Errorf("malformed HTTP status line %q", truncate(line, 40))
	}
	return code, nil
}

// drainChunked reads a chunked body to its end, or maxDrain bytes of it.
func drainChunked(r *bufio.Reader) {
	left := int64(maxDrain)
	budget := maxHeaderBytes
	for left > 0 {
		line, err := readLine(r, &budget)
		if err != nil {
			return
		}
		sizeText, _, _ := strings.Cut(line, ";")
		size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
		if err != nil || size < 0 {
			return
		}
		if size == 0 { // the trailers, then the blank line
			for {
				if line, err := readLine(r, &budget); err != nil || line == "" {
					return
				}
			}
		}
		n, _ := io.CopyN(io.Discard, r, min(size, left))
		if left -= n; n < size || left <= 0 {
			return
		}
		if _, err := readLine(r, &budget); err != nil { // the chunk's line end
			return
		}
	}
}

// truncate returns s cut to n bytes, with "..." when it was longer.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
