#!/bin/sh
# Builds the release binaries of ringsup, the two to install side by side
# on a node:
#
#   scripts/build.sh [OUTPUT]   (default: ./ringsup; and ringsup-full beside it)
#
#   OUTPUT        the lean build (-tags ringsup_lean), the `ringsup` users
#                 type: every command, and the supervisor of a config
#                 without [cluster], [supervisor] metrics and https://
#                 health checks. It leaves out the etcd client, gRPC,
#                 protobuf, client_golang, Bubble Tea and crypto/tls, whose
#                 package init every process would pay (Go initialises
#                 every linked package before main).
#   ringsup-full  the full build, what `go build ./cmd/ringsup` makes. The
#                 lean one execs it (same pid, arguments and environment)
#                 for a config with [cluster], metrics or an https://
#                 health check, `ctl top` and `ctl --cluster`, found as
#                 ringsup-full beside itself.
#
# Both differ from `go build ./cmd/ringsup` only in how they are built, and
# are faster to start (every `ringsup ctl` command is a new process):
#   CGO_ENABLED=0        statically linked: no dynamic loader at start. Go's
#                        own resolver and user lookup are used: a daemon's
#                        `user` is looked up in /etc/passwd and /etc/group,
#                        not through NSS (LDAP, sssd).
#   urfave_cli_no_docs   leaves out urfave/cli's man page and markdown
#                        generators, which ringsup does not use (their
#                        markdown package costs ~0.6 ms at every start).
#   -trimpath, -s -w     no local paths, no symbol tables (stack traces keep
#                        their function names and lines).
#   -X main.build*       the commit and its date for `ringsup version`, from
#                        git or from $RINGSUP_COMMIT and $RINGSUP_DATE (a
#                        container build without .git); a build from a git
#                        checkout also has Go's own VCS stamp, which wins.
set -eu
cd "$(dirname "$0")/.."
out=${1:-ringsup}
full=$(dirname "$out")/ringsup-full
commit=${RINGSUP_COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}
date=${RINGSUP_DATE:-$(git log -1 --format=%cI 2>/dev/null || true)}
build() { # OUTPUT TAGS
	CGO_ENABLED=0 go build -trimpath -tags "$2" \
		-ldflags="-s -w -X main.buildCommit=$commit -X main.buildDate=$date" -o "$1" ./cmd/ringsup
}
build "$full" urfave_cli_no_docs
build "$out" urfave_cli_no_docs,ringsup_lean
