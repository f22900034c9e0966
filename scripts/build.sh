#!/bin/sh
# Builds the release binary of ringsup, the one to install on a node:
#
#   scripts/build.sh [OUTPUT]        (default: ./ringsup)
#
# It differs from `go build ./cmd/ringsup` only in how it is built, and is
# faster to start (every `ringsup ctl` command is a new process):
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
commit=${RINGSUP_COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}
date=${RINGSUP_DATE:-$(git log -1 --format=%cI 2>/dev/null || true)}
CGO_ENABLED=0 exec go build -trimpath -tags urfave_cli_no_docs \
	-ldflags="-s -w -X main.buildCommit=$commit -X main.buildDate=$date" -o "$out" ./cmd/ringsup
