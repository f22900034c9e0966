#!/usr/bin/env bash
# Soak test: runs a real ringsup on 200 daemons for DURATION while crashing,
# killing, restarting, stopping and starting them, flapping their health
# checks, reading their logs and reloading the config, and checks the
# invariants every second (states agree with /proc, no zombie, no stray
# process, bounded descriptors, threads and goroutines, no event lost).
# Stops at the first violation, with what it saw, and exits 1. At the end it
# prints ringsup's descriptors, threads, goroutines and RSS before and after,
# each measured with every daemon stopped.
#
# Usage: scripts/soak.sh DURATION [soak flags]    e.g. scripts/soak.sh 10m
#        SOAK_RACE=1 scripts/soak.sh 2m           (ringsup built with -race)
# The node's directory (config, logs, ringsup's output in ringsup.out) is
# kept when the soak fails, and removed when it passes.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
	echo "usage: scripts/soak.sh DURATION [soak flags]" >&2
	exit 2
fi
duration=$1
shift
work=$(mktemp -d "${TMPDIR:-/tmp}/ringsup-soak.XXXXXX")
race=()
if [ "${SOAK_RACE:-}" = 1 ]; then
	race=(-race)
fi
go build "${race[@]}" -o "$work/ringsup" ./cmd/ringsup
go build -o "$work/soak" ./scripts/soak
if "$work/soak" -ringsup "$work/ringsup" -duration "$duration" -dir "$work/node" "$@"; then
	rm -rf "$work"
else
	echo "soak: the node is in $work/node (ringsup's output: $work/node/ringsup.out)" >&2
	exit 1
fi
