package control

import (
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// TestListenStaleSocketRace: Listens that found one stale socket at once
// used to both remove it and both listen, the second taking the socket
// from the first; with the lock beside it exactly one wins and the others
// get an *AlreadyRunningError.
func TestListenStaleSocketRace(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "ringsup.sock")
		staleSocket(t, path)

		const n = 16
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			servers = make([]*Server, n)
			errs    = make([]error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				servers[i], errs[i] = Listen(Options{Path: path, Supervisor: idleSupervisor(t)})
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				t.Cleanup(func() { servers[i].Close() })
			case !errors.As(err, new(*AlreadyRunningError)):
				t.Errorf("round %d: Listen = %v, want AlreadyRunningError", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of %d Listens on one stale socket succeeded, want 1", round, won, n)
		}
		if _, err := (&Client{Path: path}).Ping(t.Context()); err != nil {
			t.Errorf("round %d: Ping() = %v", round, err)
		}
	}
}

// staleSocket leaves a socket file at path as a supervisor that died does:
// nobody listens on it.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}
