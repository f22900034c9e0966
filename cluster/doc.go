// Package cluster makes a ringsup node one of a fleet on etcd: the node
// holds one etcd lease, registers itself, publishes its daemons' status
// and events under a prefix, and applies start, stop and restart requests
// other nodes' `ringsup ctl --cluster` leave for it. The same package reads
// the fleet back for `ringsup ctl --cluster`.
//
// A Node talks to its supervisor only through the supervisor's public
// methods (Subscribe, Status, Start, Stop, Restart), like the control
// socket does: the supervisor's loop never waits on the network, and
// losing etcd never touches a local daemon.
//
// Keys, all under the prefix (Keys):
//
//	nodes/<node>             registration, on the node's lease
//	members/<node>           last_seen and version, no lease: a node that is down
//	status/<node>/<daemon>   the daemon's status object, on the lease
//	events/<node>            the node's last event, on the lease
//	commands/<node>/<id>     a request to the node, on the sender's lease
//	results/<node>/<id>      its answer, on the sender's lease
//	singleton/<daemon>/<lease>  a candidate for a singleton, on its node's lease
//	singleton/<daemon>/owner    the holder's node, fence token and heartbeat, no lease
//
// Singleton daemons (singleton.go) are the exception to "only through the
// public methods": the node answers the supervisor's fence requests
// through its PlacementLink, whose verdicts reach the supervisor's loop.
package cluster
