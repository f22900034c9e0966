// Command rawfloor is the lower measuring stick for B6: a Go program that
// links nothing of ringsup and only the standard library's net, os and
// io, sends the control socket's status request (SPEC.md's protocol, as
// `ctl status --json` sends it) and copies the answer's text to standard
// output. Its time is the floor of any `ringsup ctl status --json` written
// in Go: runtime start, one connection, one answer.
//
//	rawfloor SOCKET
package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) != 2 {
		os.Stderr.WriteString("usage: rawfloor SOCKET\n")
		os.Exit(2)
	}
	c, err := net.Dial("unix", os.Args[1])
	if err != nil {
		fail(err)
	}
	if _, err := c.Write([]byte(`{"v":1,"cmd":"status","text":true}` + "\n")); err != nil {
		fail(err)
	}
	r := bufio.NewReaderSize(c, 32<<10)
	line, err := r.ReadBytes('\n')
	if err != nil {
		fail(err)
	}
	// The answer's header is {"ok":true,...,"length":N}: N bytes of text follow.
	i := bytes.Index(line, []byte(`"length":`))
	if i < 0 {
		fail(io.ErrUnexpectedEOF)
	}
	rest := line[i+len(`"length":`):]
	j := bytes.IndexAny(rest, ",}")
	n, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil {
		fail(err)
	}
	if _, err := io.CopyN(os.Stdout, r, n); err != nil {
		fail(err)
	}
}

func fail(err error) {
	os.Stderr.WriteString("rawfloor: " + err.Error() + "\n")
	os.Exit(1)
}
