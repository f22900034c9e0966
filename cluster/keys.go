package cluster

import "strings"

// Keys spells the etcd keys of one cluster, all under Prefix (no trailing
// slash).
type Keys struct{ Prefix string }

func (k Keys) join(parts ...string) string {
	return k.Prefix + "/" + strings.Join(parts, "/")
}

// Nodes is the prefix of the registrations.
func (k Keys) Nodes() string { return k.join("nodes", "") }

// Node is the registration of node.
func (k Keys) Node(node string) string { return k.join("nodes", node) }

// Members is the prefix of the members' records.
func (k Keys) Members() string { return k.join("members", "") }

// Member is the lease-less record of node, kept while it is down.
func (k Keys) Member(node string) string { return k.join("members", node) }

// Statuses is the prefix of every daemon's status.
func (k Keys) Statuses() string { return k.join("status", "") }

// NodeStatuses is the prefix of node's daemons' status.
func (k Keys) NodeStatuses(node string) string { return k.join("status", node, "") }

// Status is the status of daemon on node.
func (k Keys) Status(node, daemon string) string { return k.join("status", node, daemon) }

// Events is the prefix of every node's event key.
func (k Keys) Events() string { return k.join("events", "") }

// NodeEvents is the key node puts each of its events to.
func (k Keys) NodeEvents(node string) string { return k.join("events", node) }

// Commands is the prefix of the requests to node.
func (k Keys) Commands(node string) string { return k.join("commands", node, "") }

// Command is request id to node.
func (k Keys) Command(node, id string) string { return k.join("commands", node, id) }

// Result is the answer of node to request id.
func (k Keys) Result(node, id string) string { return k.join("results", node, id) }

// split returns what follows prefix in key, cut at slashes.
func split(key, prefix string) []string {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok || rest == "" {
		return nil
	}
	return strings.Split(rest, "/")
}
