package procexec

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// credential returns the Credential that runs a process as name (a user name
// or a numeric uid), with that user's primary and supplementary groups. A
// numeric uid without a passwd entry runs with gid = uid and no supplementary
// groups. Only root may switch users.
func credential(name string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("cannot run as user %q: supervisor is not root", name)
	}
	var u *user.User
	var err error
	if n, nerr := strconv.ParseUint(name, 10, 32); nerr == nil {
		u, err = user.LookupId(name)
		var unknown user.UnknownUserIdError
		if errors.As(err, &unknown) {
			return &syscall.Credential{Uid: uint32(n), Gid: uint32(n), Groups: []uint32{}}, nil
		}
	} else {
		u, err = user.Lookup(name)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot run as user %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("cannot run as user %q: %w", name, err)
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("cannot run as user %q: cannot list its groups: %w", name, err)
	}
	groups := make([]uint32, 0, len(ids))
	for _, id := range ids {
		g, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("cannot run as user %q: group %q: %w", name, id, err)
		}
		groups = append(groups, uint32(g))
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, nil
}
