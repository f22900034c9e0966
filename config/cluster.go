package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Cluster holds the settings of the [cluster] table: the etcd cluster the
// node registers with and publishes its daemons to. A Config without the
// table has a nil Cluster, and ringsup then never connects to etcd.
type Cluster struct {
	// Endpoints are the etcd v3 client endpoints, "host:port" or
	// "http(s)://host:port". Required, not empty.
	Endpoints []string
	// Node is the node's name in the cluster, under the daemon-name
	// rules. Default: the host name, in lower case.
	Node string
	// Prefix is the etcd key every key of the cluster lives under,
	// without a trailing slash: one prefix is one cluster.
	// Default: "/ringsup/v1/default".
	Prefix string
	// TTL is the node lease's time to live, whole seconds, at least
	// MinClusterTTL. Default: 10s.
	TTL time.Duration
	// Labels are free-form; they are shown in the cluster status.
	Labels map[string]string
	// DialTimeout bounds connecting to etcd and each request that
	// checks it is reachable. Default: 2s.
	DialTimeout time.Duration
	// CAFile, CertFile and KeyFile are absolute paths of PEM files for
	// TLS to etcd; CertFile and KeyFile go together. Empty: no TLS,
	// unless an endpoint says https://.
	CAFile, CertFile, KeyFile string
	// Username and PasswordFile log in to etcd with its auth; the file
	// holds the password (a trailing newline is ignored).
	Username, PasswordFile string
	// Pos is where the [cluster] table is in the file.
	Pos Position
}

// MinClusterTTL is the shortest node lease accepted: the lease is renewed
// every TTL/8, and a shorter one would expire on an ordinary etcd leader
// election.
const MinClusterTTL = 3 * time.Second

// DefaultClusterPrefix is the prefix of a [cluster] table without one.
const DefaultClusterPrefix = "/ringsup/v1/default"

// clusterFields lists the keys of [cluster]. Defaults are in defaultCluster.
func clusterFields() []field[Cluster] {
	return []field[Cluster]{
		{"endpoints", kindStrings, true, endpoints, func(c *Cluster, v any) { c.Endpoints = v.([]string) }},
		{"node", kindString, false, nodeName, func(c *Cluster, v any) { c.Node = v.(string) }},
		{"prefix", kindString, false, clusterPrefix, func(c *Cluster, v any) { c.Prefix = strings.TrimRight(v.(string), "/") }},
		{"ttl", kindDuration, false, leaseTTL, func(c *Cluster, v any) { c.TTL = v.(time.Duration) }},
		{"labels", kindStringMap, false, nil, func(c *Cluster, v any) { c.Labels = v.(map[string]string) }},
		{"dial_timeout", kindDuration, false, positive, func(c *Cluster, v any) { c.DialTimeout = v.(time.Duration) }},
		{"ca_file", kindPath, false, nil, func(c *Cluster, v any) { c.CAFile = v.(string) }},
		{"cert_file", kindPath, false, nil, func(c *Cluster, v any) { c.CertFile = v.(string) }},
		{"key_file", kindPath, false, nil, func(c *Cluster, v any) { c.KeyFile = v.(string) }},
		{"username", kindString, false, nonEmpty, func(c *Cluster, v any) { c.Username = v.(string) }},
		{"password_file", kindPath, false, nil, func(c *Cluster, v any) { c.PasswordFile = v.(string) }},
	}
}

func defaultCluster() *Cluster {
	return &Cluster{
		Prefix:      DefaultClusterPrefix,
		TTL:         10 * time.Second,
		DialTimeout: 2 * time.Second,
	}
}

// cluster decodes [cluster].
func (p *parser) cluster(v any) *Cluster {
	k := keyPath{"cluster"}
	t, ok := p.table(k, v)
	if !ok {
		return nil
	}
	c := defaultCluster()
	c.Pos = p.position(k)
	decodeTable(p, k, t, clusterFields(), c)
	if _, ok := t["node"]; !ok {
		host, err := os.Hostname()
		host = strings.ToLower(host)
		switch {
		case err != nil:
			p.errorf(k, "cannot use the host name as the node name (%v): set node", err)
		case !validName(host):
			p.errorf(k, "the host name %q is not a valid node name (must match %s): set node", host, namePattern)
		default:
			c.Node = host
		}
	}
	_, cert := t["cert_file"]
	_, key := t["key_file"]
	if cert != key {
		missing := "key_file"
		if key {
			missing = "cert_file"
		}
		p.errorf(k, "cert_file and key_file go together: set %s too", missing)
	}
	if _, ok := t["password_file"]; ok {
		if _, ok := t["username"]; !ok {
			p.errorf(k.key("password_file"), "password_file needs username")
		}
	}
	return c
}

// Equal reports whether c and o are the same settings (positions aside).
// Either may be nil.
func (c *Cluster) Equal(o *Cluster) bool {
	if c == nil || o == nil {
		return c == o
	}
	a, b := *c, *o
	a.Pos, b.Pos = Position{}, Position{}
	return slices.Equal(a.Endpoints, b.Endpoints) && maps.Equal(a.Labels, b.Labels) &&
		a.Node == b.Node && a.Prefix == b.Prefix && a.TTL == b.TTL && a.DialTimeout == b.DialTimeout &&
		a.CAFile == b.CAFile && a.CertFile == b.CertFile && a.KeyFile == b.KeyFile &&
		a.Username == b.Username && a.PasswordFile == b.PasswordFile
}

// ErrClusterChanged is wrapped by CheckReload's error.
var ErrClusterChanged = errors.New("[cluster] cannot change in a reload")

// CheckReload reports a reload from old to new that changes what cannot
// change while ringsup runs: the [cluster] table (its lease, its node name
// in every daemon's RINGSUP_NODE, its keys). The error names the keys
// that differ, and the reload must then change nothing.
func CheckReload(old, new *Config) error {
	if old.Cluster.Equal(new.Cluster) {
		return nil
	}
	var keys []string
	switch {
	case old.Cluster == nil:
		keys = []string{"cluster"}
	case new.Cluster == nil:
		keys = []string{"cluster"}
	default:
		a, b := old.Cluster, new.Cluster
		diff := func(key string, same bool) {
			if !same {
				keys = append(keys, "cluster."+key)
			}
		}
		diff("endpoints", slices.Equal(a.Endpoints, b.Endpoints))
		diff("node", a.Node == b.Node)
		diff("prefix", a.Prefix == b.Prefix)
		diff("ttl", a.TTL == b.TTL)
		diff("labels", maps.Equal(a.Labels, b.Labels))
		diff("dial_timeout", a.DialTimeout == b.DialTimeout)
		diff("ca_file", a.CAFile == b.CAFile)
		diff("cert_file", a.CertFile == b.CertFile)
		diff("key_file", a.KeyFile == b.KeyFile)
		diff("username", a.Username == b.Username)
		diff("password_file", a.PasswordFile == b.PasswordFile)
	}
	return fmt.Errorf("%w: %s changed; restart ringsup to apply it", ErrClusterChanged, strings.Join(keys, ", "))
}

// Checks of the [cluster] values.

func endpoints(v any) error {
	list := v.([]string)
	if len(list) == 0 {
		return errors.New("must not be empty")
	}
	for _, ep := range list {
		if err := endpoint(ep); err != nil {
			return err
		}
	}
	return nil
}

// endpoint checks one etcd endpoint: host:port, or http(s)://host:port.
func endpoint(ep string) error {
	hp := ep
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("invalid endpoint %q: want host:port or http(s)://host:port", ep)
		}
		hp = u.Host
	}
	host, port, err := net.SplitHostPort(hp)
	if err == nil && host != "" {
		if n, err := strconv.Atoi(port); err == nil && n >= 1 && n <= 65535 {
			return nil
		}
	}
	return fmt.Errorf("invalid endpoint %q: want host:port or http(s)://host:port", ep)
}

func nodeName(v any) error {
	if !validName(v.(string)) {
		return fmt.Errorf("invalid node name %q: must match %s", v, namePattern)
	}
	return nil
}

func clusterPrefix(v any) error {
	s := v.(string)
	if !strings.HasPrefix(s, "/") || strings.Trim(s, "/") == "" {
		return fmt.Errorf("invalid prefix %q: want an absolute key such as %q", s, DefaultClusterPrefix)
	}
	return nil
}

func leaseTTL(v any) error {
	d := v.(time.Duration)
	if d < MinClusterTTL {
		return fmt.Errorf("must be at least %v, got %v", MinClusterTTL, d)
	}
	if d%time.Second != 0 {
		return fmt.Errorf("must be whole seconds (an etcd lease's TTL), got %v", d)
	}
	return nil
}
