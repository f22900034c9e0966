#!/usr/bin/env bash
# The whole test suite: formatting, vet, the release build (scripts/build.sh),
# and every test with the race detector.
# Usage: scripts/test.sh [extra go test flags]
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
# The release build must build and run as well.
release=$(mktemp -d)
trap 'rm -rf "$release"' EXIT
scripts/build.sh "$release/ringsup"
"$release/ringsup" version >/dev/null
# health's probes as the lean build has them: without TLS.
go test -race -tags ringsup_lean ./health
# cmd/ringsup's real-etcd singleton and fault tests take 6-10 minutes on two
# busy cores: past go test's default 10-minute limit a package panics.
go test -race -timeout 30m "$@" ./...
