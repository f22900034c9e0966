package procexec

import (
	"errors"
	"fmt"
)

// ErrNoProcess is returned (wrapped) by [SignalGroup] and [Proc.Signal] when
// the process group no longer exists. Test it with errors.Is.
var ErrNoProcess = errors.New("no such process")

// ErrClosed is returned (wrapped) by [Spawner.Spawn] after [Spawner.Close].
var ErrClosed = errors.New("spawner closed")

// ExecErrorKind says why a command could not be executed.
type ExecErrorKind int

const (
	// ExecOther is any other reason, such as a path naming a directory
	// or a symlink loop, an invalid environment, or a failure to switch
	// users in the child.
	ExecOther ExecErrorKind = iota
	// ExecNotFound: the file does not exist, a command name is not in
	// PATH, or (for a script) its interpreter does not exist.
	ExecNotFound
	// ExecPermission: the file, or a directory on its path, may not be
	// executed or searched.
	ExecPermission
	// ExecNotExecutable: the file is neither an executable image nor a
	// script starting with "#!".
	ExecNotExecutable
	// ExecBadDir: the working directory does not exist or is not a
	// directory. It is checked before forking so that it is not mistaken
	// for a missing command.
	ExecBadDir
	// ExecBadUser: Spec.User does not exist, or the supervisor is not
	// root and cannot switch users.
	ExecBadUser
	// ExecBadRlimit: the kernel would refuse one of Spec.Rlimits; Err is
	// an *RlimitError.
	ExecBadRlimit
)

var kindText = [...]string{
	ExecOther:         "cannot be executed",
	ExecNotFound:      "not found",
	ExecPermission:    "permission denied",
	ExecNotExecutable: "not an executable (no ELF header or #! line)",
	ExecBadDir:        "bad working directory",
	ExecBadUser:       "bad user",
	ExecBadRlimit:     "resource limit refused",
}

// String names the kind ("not found", "permission denied", ...).
func (k ExecErrorKind) String() string {
	if k >= 0 && int(k) < len(kindText) {
		return kindText[k]
	}
	return fmt.Sprintf("ExecErrorKind(%d)", int(k))
}

// ExecError means the command could not be executed: the process never ran
// (any child that was forked has been reaped already). Retrying will fail the
// same way until the host or the Spec changes, unlike the plain errors Spawn
// returns when the system is short of processes, memory or descriptors.
type ExecError struct {
	// Argv0 is the command as given in Spec.Argv[0].
	Argv0 string
	// Kind says why.
	Kind ExecErrorKind
	// Err is the underlying error, usually a syscall.Errno reported by the
	// child, the error of exec.LookPath, or of the working directory check.
	Err error
}

// Error reads `cannot execute "./x": not found` or, when the underlying error
// says more than the kind, `cannot execute "x": bad working directory: stat
// /nope: no such file or directory`.
func (e *ExecError) Error() string {
	switch e.Kind {
	case ExecNotFound, ExecPermission, ExecNotExecutable:
		return fmt.Sprintf("cannot execute %q: %s", e.Argv0, e.Kind)
	case ExecBadDir:
		return fmt.Sprintf("cannot execute %q: %s: %v", e.Argv0, e.Kind, e.Err)
	case ExecBadRlimit:
		return e.Err.Error()
	default:
		return fmt.Sprintf("cannot execute %q: %v", e.Argv0, e.Err)
	}
}

// Unwrap returns Err, so errors.Is(err, fs.ErrNotExist) and the like work.
func (e *ExecError) Unwrap() error { return e.Err }
