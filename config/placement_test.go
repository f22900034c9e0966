package config

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

const clusterTable = "[cluster]\nendpoints = [\"127.0.0.1:2379\"]\nnode = \"n1\"\nttl = \"5s\"\n"

func TestPlacement(t *testing.T) {
	c, err := Parse("x.toml", []byte(clusterTable+`
[daemons.trainer]
command = "true"
placement = "singleton"
placement_labels = { gpu = "a100" }
stop_timeout = "1s"
[daemons.web]
command = "true"
`))
	if err != nil {
		t.Fatal(err)
	}
	tr, web := c.Daemons["trainer"], c.Daemons["web"]
	if !tr.Singleton() || web.Singleton() || web.Placement != PlacementLocal {
		t.Errorf("placements = %q, %q; want singleton, local", tr.Placement, web.Placement)
	}
	if !maps.Equal(tr.PlacementLabels, map[string]string{"gpu": "a100"}) {
		t.Errorf("PlacementLabels = %v", tr.PlacementLabels)
	}
	for _, tc := range []struct {
		labels map[string]string
		want   bool
	}{{nil, false}, {map[string]string{"gpu": "h100"}, false}, {map[string]string{"gpu": "a100", "x": "y"}, true}} {
		if got := tr.Eligible(tc.labels); got != tc.want {
			t.Errorf("Eligible(%v) = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if !web.Eligible(nil) {
		t.Error("a daemon without placement_labels is not eligible everywhere")
	}
}

func TestPlacementErrors(t *testing.T) {
	_, err := Parse("x.toml", []byte(`[daemons.a]
command = "true"
placement = "singleton"
[daemons.b]
command = "true"
placement = "everywhere"
[daemons.c]
command = "true"
placement_labels = { gpu = "a100" }
`))
	want := []string{
		`x.toml:3:1: daemons.a.placement: placement = "singleton" needs a [cluster] table`,
		`x.toml:6:1: daemons.b.placement: must be "local" or "singleton", got "everywhere"`,
		`x.toml:9:1: daemons.c.placement_labels: placement_labels needs placement = "singleton"`,
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error = %v\nwant it to contain %q", err, w)
		}
	}
	_, err = Parse("x.toml", []byte(clusterTable+`[daemons.a]
command = "true"
placement = "singleton"
stop_timeout = "3s"
[daemons.b]
command = "true"
placement = "singleton"
instances = 2
stop_timeout = "1s"
`))
	want = []string{
		`x.toml:7:1: daemons.a.placement: a singleton must stop before its node's lease can expire: [cluster] ttl 5s − stop_timeout 3s is 2s, less than 3s`,
		`x.toml:12:1: daemons.b.instances: a singleton runs once in the cluster: instances must be 1, not 2`,
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error = %v\nwant it to contain %q", err, w)
		}
	}
}

func TestComparePlacement(t *testing.T) {
	old, err := Parse("x.toml", []byte(clusterTable+"[daemons.a]\ncommand = \"true\"\nstop_timeout = \"1s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, extra := range []string{"placement = \"singleton\"\n", "placement = \"singleton\"\nplacement_labels = { gpu = \"a100\" }\n"} {
		new, err := Parse("x.toml", []byte(clusterTable+"[daemons.a]\ncommand = \"true\"\nstop_timeout = \"1s\"\n"+extra))
		if err != nil {
			t.Fatal(err)
		}
		if d := Compare(old, new); !slices.Equal(d.Runtime, []string{"a"}) {
			t.Errorf("%q: Runtime = %v, want [a] (a stop of the old form, then a start)", extra, d.Runtime)
		}
		old = new
	}
}
