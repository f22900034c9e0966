package control

import (
	"net"

	"github.com/ringrift/ringsup/supervisor"
)

// sendSettled answers a request with Wait: answer (or err's error), then a
// Settled line per daemon as w reports it, then End "settled", or
// "shutdown" if the supervisor stopped first. A client that hangs up stops
// the wait.
func (s *Server) sendSettled(conn *net.UnixConn, answer Response, w *supervisor.Waiter, err error) {
	if err != nil {
		s.send(conn, errorResponse(err))
		return
	}
	defer w.Stop()
	answer.Waiting = w.Names
	if s.send(conn, answer) != nil {
		return
	}
	gone := clientGone(conn)
	for {
		select {
		case st, ok := <-w.C:
			if !ok {
				end := "settled"
				if len(w.Pending()) > 0 {
					end = "shutdown"
				}
				s.send(conn, Response{V: Version, OK: true, End: end})
				return
			}
			if s.send(conn, Response{V: Version, OK: true, Settled: &st}) != nil {
				return
			}
		case <-gone:
			return
		case <-s.quit:
			return
		}
	}
}

// reloadGoals are what a waiting reload or scale waits for: restarted
// daemons to be up again, removed ones to be gone, added ones to settle
// (they start only if the active profile runs them).
func reloadGoals(sum supervisor.ReloadSummary) map[string]supervisor.Goal {
	goals := make(map[string]supervisor.Goal)
	for _, n := range sum.Added {
		goals[n] = supervisor.GoalSteady
	}
	for _, n := range sum.Restarted {
		goals[n] = supervisor.GoalUp
	}
	for _, n := range sum.Removed {
		goals[n] = supervisor.GoalDown
	}
	return goals
}
