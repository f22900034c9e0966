package procexec

import (
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// childInfo is the siginfo_t that waitid fills in for a child: its
// signal number, errno and code, then, in the union that starts at the
// first multiple of the pointer size (16 on 64-bit Linux, 12 on 32-bit),
// the child's PID, UID and status.
type childInfo struct {
	raw [128]byte
}

// The si_code of a child's exit (linux/signal.h).
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

// childUnion is where siginfo_t's union starts.
const childUnion = (12 + unsafe.Sizeof(uintptr(0)) - 1) &^ (unsafe.Sizeof(uintptr(0)) - 1)

func (c *childInfo) siginfo() *unix.Siginfo { return (*unix.Siginfo)(unsafe.Pointer(&c.raw)) }

func (c *childInfo) field(off uintptr) int32 {
	return *(*int32)(unsafe.Pointer(&c.raw[childUnion+off]))
}

// pid is the child's PID: 0 when waitid found no child in the state
// asked for (WNOHANG).
func (c *childInfo) pid() int { return int(c.field(0)) }

// exit is the child's Exit; ok is false when it has not exited.
func (c *childInfo) exit() (e Exit, ok bool) {
	e = Exit{PID: c.pid(), At: time.Now()}
	status := int(c.field(8))
	switch c.siginfo().Code {
	case cldExited:
		e.Code = status
	case cldKilled, cldDumped:
		e.Code, e.Signal = -1, syscall.Signal(status)
	default:
		return Exit{}, false
	}
	return e, true
}
