package procexec

import (
	"io"
	"os"
	"time"
)

// Spec describes one process to start.
type Spec struct {
	// Name is the daemon's name. When it is not empty the process gets
	// RINGSUP_DAEMON=<Name> in its environment, after Env.
	Name string
	// Argv is the command and its arguments. An Argv[0] without a '/' is
	// looked up in the supervisor's PATH (exec.LookPath: not the PATH of
	// Env, and never a relative result such as "./x" from a "." entry);
	// one with a '/' is used as is, relative to Dir when it is relative.
	Argv []string
	// Dir is the working directory; "" inherits the supervisor's. One
	// that does not exist, or is not a directory, is an [ExecError] of
	// kind [ExecBadDir].
	Dir string
	// Env is added to the supervisor's environment (os.Environ()),
	// replacing variables of the same name; RINGSUP_DAEMON comes last. The
	// child gets each variable exactly once.
	Env map[string]string
	// User runs the process as another user: a user name or a numeric
	// uid, with its primary group and supplementary groups (a numeric uid
	// unknown to the passwd database gets gid = uid and no supplementary
	// groups). "" keeps the supervisor's user. Only root may set it; any
	// other supervisor gets an [ExecError] of kind [ExecBadUser] that reads
	// `cannot run as user "x": supervisor is not root`.
	User string
	// Output receives everything the process writes to its standard
	// output and standard error: both are one pipe, so the order is the
	// order of the writes. It is called from a goroutine of procexec, one
	// per process, with chunks of up to 32 KiB, until the last process
	// holding the pipe (the daemon or anything it started) closes it; see
	// [Proc.OutputDone]. A Write error does not stop the reading: the
	// chunk is lost, later chunks are written again, and the process is
	// never blocked by a broken Output. nil sends both to /dev/null.
	Output io.Writer
	// OnOutputError, if not nil, is called once, from the same goroutine
	// as Output, with the first error Output returned.
	OnOutputError func(error)
	// OnOutputEnd, if not nil, is called once, from the same goroutine as
	// Output, when the output has ended: every holder of the pipe (the
	// process and whatever inherited it) closed it or exited.
	OnOutputEnd func()
	// ExtraFiles are more open descriptors for the process: each file is
	// duplicated to exactly the descriptor number of its key, from 3 to
	// [MaxExtraFD] (s6's notification-fd, for one). The descriptors between
	// 3 and the highest key that are not in the map are closed in the
	// child, as are the descriptors the supervisor opened (Go opens them
	// close-on-exec; one it inherited without that flag is passed on).
	// Spawn calls each file's Fd method, which puts it in blocking mode;
	// the caller keeps the files and closes its copies after Spawn. A key
	// out of range, a nil or a closed file is an [ExecError] of kind
	// [ExecOther].
	ExtraFiles map[int]*os.File
	// Rlimits, keyed by resource (unix.RLIMIT_NOFILE, ...), and Umask, when set, are
	// applied in the process before the command is executed. Such a
	// process is started through a trampoline (see MaybeTrampoline), so a
	// failure to apply them shows as an exit with status 126 and a message
	// on its output rather than as an ExecError.
	Rlimits map[int]Rlimit
	Umask   *uint32
	// Stdin, if not nil, is the process's standard input instead of
	// /dev/null. Spawn calls its Fd method; the caller closes its copy
	// after Spawn.
	Stdin *os.File
}

// MaxExtraFD is the highest descriptor number Spec.ExtraFiles accepts.
const MaxExtraFD = 255

// Proc is a started process. It is the leader of a new process group whose
// ID is its PID. procexec does not wait for it: its exit comes from [Reap].
type Proc struct {
	// PID is the process ID and process-group ID.
	PID int
	// Started is when the command had been executed.
	Started time.Time

	outputDone chan struct{}
}

// OutputDone returns a channel that is closed once the process's output has
// reached end of file (every process holding the pipe has closed it or exited)
// and Output has been called for the last time. It is already closed when
// Spec.Output was nil. A process's exit does not wait for it.
func (p *Proc) OutputDone() <-chan struct{} { return p.outputDone }
