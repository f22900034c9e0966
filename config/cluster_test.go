package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadCluster(t *testing.T) {
	c, err := Load("testdata/cluster.toml")
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Cluster
	if cl == nil {
		t.Fatal("Cluster = nil, want the [cluster] table")
	}
	dir, _ := filepath.Abs("testdata")
	if want := []string{"127.0.0.1:2379", "https://etcd-2.internal:2379"}; !slices.Equal(cl.Endpoints, want) {
		t.Errorf("Endpoints = %v, want %v", cl.Endpoints, want)
	}
	if cl.Node != "gpu-07" || cl.Prefix != DefaultClusterPrefix || cl.TTL != 4*time.Second || cl.DialTimeout != 2*time.Second {
		t.Errorf("Node, Prefix, TTL, DialTimeout = %q, %q, %v, %v; want gpu-07, the default prefix, 4s, 2s", cl.Node, cl.Prefix, cl.TTL, cl.DialTimeout)
	}
	if want := map[string]string{"role": "selfplay", "gpu": "a100"}; !maps.Equal(cl.Labels, want) {
		t.Errorf("Labels = %v, want %v", cl.Labels, want)
	}
	if cl.CAFile != filepath.Join(dir, "ca.pem") || cl.KeyFile != filepath.Join(dir, "client-key.pem") || cl.PasswordFile != "/etc/ringsup/etcd.password" {
		t.Errorf("files = %q, %q, %q; want them resolved against %s", cl.CAFile, cl.KeyFile, cl.PasswordFile, dir)
	}
}

func TestClusterDefaults(t *testing.T) {
	c, err := Parse("x.toml", []byte("[cluster]\nendpoints = [\"127.0.0.1:2379\"]\nprefix = \"/a/b/\"\n"))
	host, _ := os.Hostname()
	if host = strings.ToLower(host); !validName(host) {
		if err == nil || !strings.Contains(err.Error(), "set node") {
			t.Fatalf("host name %q: Parse error = %v, want one asking for node", host, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if cl := c.Cluster; cl.Node != host || cl.Prefix != "/a/b" || cl.TTL != 10*time.Second {
		t.Errorf("Node, Prefix, TTL = %q, %q, %v; want %q, /a/b, 10s", cl.Node, cl.Prefix, cl.TTL, host)
	}
	if c, err := Parse("x.toml", []byte("[daemons.a]\ncommand = \"true\"\n")); err != nil || c.Cluster != nil {
		t.Errorf("without [cluster]: Cluster = %v, %v; want nil", c.Cluster, err)
	}
	_, err = Parse("x.toml", []byte("[cluster]\nnode = \"n1\"\n"))
	if err == nil || !strings.Contains(err.Error(), `x.toml:1:2: cluster: missing required key "endpoints"`) {
		t.Errorf("no endpoints: error = %v", err)
	}
}

func TestCheckReloadCluster(t *testing.T) {
	parse := func(cluster string) *Config {
		t.Helper()
		c, err := Parse("x.toml", []byte(cluster+"\n[daemons.a]\ncommand = \"true\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := "[cluster]\nendpoints = [\"127.0.0.1:2379\"]\nnode = \"n1\"\nlabels = { a = \"1\" }\n"
	for _, tc := range []struct {
		name, new, keys string
	}{
		{"same", base, ""},
		{"node and labels", "[cluster]\nendpoints = [\"127.0.0.1:2379\"]\nnode = \"n2\"\n", "cluster.node, cluster.labels"},
		{"removed", "", "cluster changed"},
		{"endpoints", strings.Replace(base, "2379", "2380", 1), "cluster.endpoints changed"},
	} {
		err := CheckReload(parse(base), parse(tc.new))
		if tc.keys == "" {
			if err != nil {
				t.Errorf("%s: CheckReload = %v, want nil", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrClusterChanged) || !strings.Contains(err.Error(), tc.keys) {
			t.Errorf("%s: CheckReload = %v, want ErrClusterChanged naming %s", tc.name, err, tc.keys)
		}
	}
	if err := CheckReload(parse(""), parse("")); err != nil {
		t.Errorf("no [cluster] either side: CheckReload = %v", err)
	}
}
