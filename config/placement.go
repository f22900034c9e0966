package config

import "time"

// The values of a daemon's placement key.
const (
	// PlacementLocal: every node that runs the config runs the daemon.
	PlacementLocal = "local"
	// PlacementSingleton: one node of the cluster at a time runs it.
	PlacementSingleton = "singleton"
)

// MinSingletonMargin is the least time a singleton's holder has between
// the end of its stop_timeout and the end of its lease: [cluster] ttl −
// stop_timeout must be at least this, so that the holder can stop its
// copy before its lease can expire.
const MinSingletonMargin = 3 * time.Second

// Singleton reports whether the daemon runs on one node of the cluster
// at a time.
func (d *Daemon) Singleton() bool { return d.Placement == PlacementSingleton }

// Eligible reports whether a node with labels may hold the daemon: it has
// every pair of PlacementLabels.
func (d *Daemon) Eligible(labels map[string]string) bool {
	for k, v := range d.PlacementLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// checkPlacement reports the placement settings that cannot work: a
// singleton without [cluster], with instances, or whose stop_timeout
// leaves less than MinSingletonMargin of the lease's TTL; and
// placement_labels on a daemon that is not a singleton.
func (p *parser) checkPlacement(c *Config, names []string) {
	for _, name := range names {
		d := c.Daemons[name]
		k := keyPath{"daemons", name}
		if d == nil || p.bad[k.key("placement").id()] {
			continue
		}
		if !d.Singleton() {
			if d.PlacementLabels != nil {
				p.errorf(k.key("placement_labels"), "placement_labels needs placement = %q", PlacementSingleton)
			}
			continue
		}
		if c.Cluster == nil {
			p.errorf(k.key("placement"), "placement = %q needs a [cluster] table", PlacementSingleton)
			continue
		}
		if d.Instances > 1 {
			p.errorf(k.key("instances"), "a singleton runs once in the cluster: instances must be 1, not %d", d.Instances)
		}
		if margin := c.Cluster.TTL - d.StopTimeout; margin < MinSingletonMargin {
			p.errorf(k.key("placement"), "a singleton must stop before its node's lease can expire: [cluster] ttl %v − stop_timeout %v is %v, less than %v",
				c.Cluster.TTL, d.StopTimeout, margin, MinSingletonMargin)
		}
	}
}
