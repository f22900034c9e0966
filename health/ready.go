package health

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ringrift/ringsup/procexec"
)

// The kinds of readiness notification that [ParseReady] returns.
const (
	// ReadyNotify: the daemon sends READY=1 to NOTIFY_SOCKET
	// ([NotifySocket]).
	ReadyNotify = "notify"
	// ReadyFD: the daemon writes a newline to an inherited descriptor
	// ([ReadyPipe]).
	ReadyFD = "fd"
)

// ParseReady parses the value of a daemon's ready key: "notify" gives
// ([ReadyNotify], 0), "fd:N" gives ([ReadyFD], N) for a descriptor N from 3
// to [procexec.MaxExtraFD]. Any other value is an error such as
// `invalid ready "fd:2": descriptor must be from 3 to 255`.
func ParseReady(s string) (kind string, fd int, err error) {
	if s == ReadyNotify {
		return ReadyNotify, 0, nil
	}
	n, ok := strings.CutPrefix(s, ReadyFD+":")
	if !ok {
		return "", 0, fmt.Errorf(`invalid ready %q: want "notify" or "fd:N", such as "fd:3"`, s)
	}
	fd, err = strconv.Atoi(n)
	if err != nil || n != strconv.Itoa(fd) {
		return "", 0, fmt.Errorf(`invalid ready %q: want "fd:N" with a decimal descriptor N, such as "fd:3"`, s)
	}
	if fd < 3 || fd > procexec.MaxExtraFD {
		return "", 0, fmt.Errorf("invalid ready %q: descriptor must be from 3 to %d", s, procexec.MaxExtraFD)
	}
	return ReadyFD, fd, nil
}
