package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMetricsServed scrapes the metrics of a running ringsup.
func TestMetricsServed(t *testing.T) {
	addr := freePort(t)
	runNode(t, fmt.Sprintf(`
[supervisor]
metrics = %q
[daemons.web]
command = "exec sleep 1000"
[daemons.worker]
command = "exec sleep 1000"
instances = 2
`, addr))
	body := scrape(t, addr, 10*time.Second, func(body string) bool {
		return strings.Contains(body, `ringsup_daemon_up{daemon="web",instance=""} 1`) &&
			strings.Contains(body, `ringsup_daemon_up{daemon="worker",instance="1"} 1`)
	})
	// A daemon without instances has an empty instance label: to
	// Prometheus, none.
	if !strings.Contains(body, `ringsup_daemon_state{daemon="web",instance="",state="running"} 1`) {
		t.Errorf("no running state for web in:\n%s", body)
	}
}

// scrape polls the metrics served on addr until they answer and ok
// accepts them, and returns them.
func scrape(t *testing.T, addr string, timeout time.Duration, ok func(body string) bool) string {
	t.Helper()
	var body string
	eventually(t, timeout, "metrics are served", func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK && ok(body)
	})
	return body
}

// freePort returns a loopback address no one listens on, for a moment.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
