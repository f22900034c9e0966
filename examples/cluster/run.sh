#!/bin/sh
# Starts a 3-member etcd and 3 ringsup nodes on 127.0.0.1 in a temporary
# directory, prints `ringsup ctl --cluster status`, and stops everything
# it started on Ctrl-C (or at once with --once).
#
#   examples/cluster/run.sh [--once]
#
# Needs etcd (Debian: apt-get install etcd-server) and Go. Ports: the 10
# from $BASE_PORT (default 23790) must be free on 127.0.0.1.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
base=${BASE_PORT:-23790}
once=false
[ "${1:-}" = "--once" ] && once=true
command -v etcd >/dev/null || { echo "run.sh: no etcd in PATH (apt-get install etcd-server)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ringsup-cluster.XXXXXX")
pids=""
cleanup() {
	trap - EXIT
	[ -z "${sleeper:-}" ] || kill "$sleeper" 2>/dev/null || true
	# The nodes first (they record themselves down and revoke their
	# leases), then the etcd members.
	for p in $node_pids; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $node_pids; do wait "$p" 2>/dev/null || true; done
	for p in $etcd_pids; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $etcd_pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
node_pids="" etcd_pids=""
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building ringsup into $tmp" >&2
(cd "$here/../.." && go build -o "$tmp/ringsup" ./cmd/ringsup)
ringsup=$tmp/ringsup

initial="" endpoints=""
for i in 0 1 2; do
	initial="$initial${initial:+,}m$i=http://127.0.0.1:$((base + 5 + i))"
	endpoints="$endpoints${endpoints:+, }\"127.0.0.1:$((base + i))\""
done
for i in 0 1 2; do
	client=http://127.0.0.1:$((base + i)) peer=http://127.0.0.1:$((base + 5 + i))
	etcd --name "m$i" --data-dir "$tmp/m$i" \
		--listen-client-urls "$client" --advertise-client-urls "$client" \
		--listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
		--initial-cluster "$initial" --initial-cluster-state new \
		>"$tmp/m$i.log" 2>&1 &
	etcd_pids="$etcd_pids $!"
done

# n1 and n2 play games, n3 trains; each has labels of its own.
start_node() { # NAME PROFILE LABELS
	mkdir -p "$tmp/$1"
	cat "$here/ringsup.toml" - >"$tmp/$1/ringsup.toml" <<EOT

[cluster]
endpoints = [$endpoints]
node = "$1"
ttl = "4s"
labels = { $3 }
EOT
	"$ringsup" --config "$tmp/$1/ringsup.toml" --profile "$2" >"$tmp/$1/ringsup.out" 2>&1 &
	node_pids="$node_pids $!"
}
start_node n1 selfplay 'role = "selfplay", gpu = "a100"'
start_node n2 selfplay 'role = "selfplay", gpu = "h100"'
start_node n3 trainer 'role = "trainer", gpu = "a100"'

ctl() { "$ringsup" ctl --config "$tmp/n1/ringsup.toml" "$@"; }
# Wait until the three nodes and their daemons are listed.
tries=0
until [ "$(ctl --cluster status 2>/dev/null | grep -c ' running ')" -ge 6 ]; do
	tries=$((tries + 1))
	[ $tries -lt 150 ] || { echo "run.sh: the cluster did not come up; logs in $tmp" >&2; exit 1; }
	sleep 0.2
done
echo "\$ ringsup ctl --cluster status"
ctl --cluster status
$once && exit 0
echo
echo "Try, in another terminal (Ctrl-C here stops everything):"
echo "  $ringsup ctl --config $tmp/n1/ringsup.toml --cluster events"
echo "  $ringsup ctl --config $tmp/n1/ringsup.toml --cluster restart n2/selfplay"
echo "  kill -9 <a node's pid>   # it shows down after its 4s lease"
# wait returns when a trapped signal arrives; a foreground sleep would not.
while :; do
	sleep 3600 &
	sleeper=$!
	wait $sleeper || true
done
