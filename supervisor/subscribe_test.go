package supervisor

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/ringrift/ringsup/config"
)

// A subscriber made before Run sees the events of start-up.
func TestSubscribeBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg, err := config.Parse("/x/ringsup.toml", []byte("[supervisor]\nlog_dir = \""+t.TempDir()+"\"\n[daemons.a]\ncommand = \"a\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		sup, err := New(Options{Config: cfg, Runtime: newFakeRuntime(), Prober: &fakeProber{}})
		if err != nil {
			t.Fatal(err)
		}
		events, _ := sup.Subscribe()
		ctx, cancel := context.WithCancel(context.Background())
		go sup.Run(ctx)
		if e := <-events; e.Type != DaemonStarted || e.Daemon != "a" {
			t.Errorf("first event = %+v, want DAEMON_STARTED of a", e)
		}
		cancel()
		<-sup.Done()
		for range events {
		}
	})
}
