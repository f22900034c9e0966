#!/bin/sh
# B6 by hand: the whole-command time of `ringsup ctl status --json` for each
# given ringsup binary, and of runit's `sv status`, over the same N daemons.
#
#   scripts/startup/status.sh [-n N] [-rounds R] [-r RUNS] [-config] [-own] [-floor CTLFLOOR] BINARY...
#
# The first BINARY supervises N `/bin/sleep` daemons; runsvdir supervises N
# service directories of the same. With -own, every BINARY supervises N
# daemons of its own (the same config, each with its own socket) and its
# ctl asks its own supervisor: the whole command of each build, the
# supervisor's answer included (the floors ask the first one's). Once all are up, each round runs
# `perf stat -r RUNS` of every command in turn (interleaved, so a busy
# machine slows them alike; each round starts one command further along the
# list, so that none always runs right after the same one) and prints each round's mean wall time and CPU
# time (task-clock: what the command itself spent, which a busy machine
# disturbs less than the wall time). ringsup is given the socket
# (`ctl --socket S`, as scripts/bench does); with -config, the config
# instead (`ctl --config F`, as a user in the config's directory runs it:
# ctl then finds the socket in the config). With -floor (which may be
# repeated), also `CTLFLOOR SOCKET` (scripts/startup/ctlfloor and rawfloor,
# built alike). The median of the rounds' means, per command, and its ratio
# to `sv status`'s come last; then, for each command, the median of its
# rounds' ratios to the first BINARY's mean in the same round (a paired
# comparison: a busy machine moves both halves of a ratio together, so it
# varies less than a ratio of medians). Needs perf (Debian linux-perf) and
# runit.
# Everything it starts is stopped on exit.
set -eu
n=500 rounds=5 runs=20 floors= via=socket own=
while [ $# -gt 0 ]; do
	case $1 in
	-n) n=$2; shift 2 ;;
	-rounds) rounds=$2; shift 2 ;;
	-r) runs=$2; shift 2 ;;
	-floor) floors="$floors $2"; shift 2 ;;
	-config) via=config; shift ;;
	-own) own=1; shift ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: $0 [-n N] [-rounds R] [-r RUNS] [-config] [-own] [-floor CTLFLOOR] BINARY..." >&2; exit 2; }
dir=$(mktemp -d /tmp/rsstatus.XXXXXX)
sups= svd=
cleanup() {
	set +e # a supervisor's exit status must not stop the cleanup
	for sup in $sups; do
		kill -TERM "$sup" 2>/dev/null && wait "$sup"
	done
	[ -n "$svd" ] && kill -HUP "$svd" 2>/dev/null && wait "$svd"
	# runsv processes may still be leaving their supervise directories.
	rm -rf "$dir" 2>/dev/null || { sleep 1; rm -rf "$dir"; }
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)"

mkdir -p "$dir/sv"
i=0
while [ $i -lt "$n" ]; do
	s=$dir/sv/$(printf d%04d $i)
	mkdir -p "$s"
	printf '#!/bin/sh\nexec /bin/sleep 100000\n' >"$s/run"
	chmod +x "$s/run"
	i=$((i + 1))
done
# supervise K BINARY: BINARY supervises N daemons from $dir/confK, its
# socket $dir/ringsupK.sock.
supervise() {
	mkdir -p "$dir/conf$1"
	{
		printf '[supervisor]\nsocket = "%s/ringsup%s.sock"\nlog_dir = "%s/logs%s"\n\n' "$dir" "$1" "$dir" "$1"
		i=0
		while [ $i -lt "$n" ]; do
			printf '[daemons.d%04d]\ncommand = ["/bin/sleep", "100000"]\n' $i
			i=$((i + 1))
		done
	} >"$dir/conf$1/ringsup.toml"
	"$2" --config "$dir/conf$1/ringsup.toml" --log-level warn &
	sups="$sups $!"
}
# The K of each BINARY's supervisor: 1, or with -own its position.
k=1
for b in "$@"; do
	[ $k = 1 ] || [ -n "$own" ] || break
	supervise $k "$b"
	k=$((k + 1))
done
runsvdir "$dir/sv" >/dev/null 2>&1 &
svd=$!
svs=$(ls -d "$dir"/sv/d*)

# Wait (up to 60 s) for every daemon of them all to be up.
deadline=$(($(date +%s) + 60))
while :; do
	up=0 k=1
	for b in "$@"; do
		[ -S "$dir/ringsup$k.sock" ] || { up=-1; break; }
		u=$("$b" ctl --socket "$dir/ringsup$k.sock" status --json 2>/dev/null | grep -o '"state": *"running"' | wc -l) || u=0
		[ "$u" -eq "$n" ] || up=-1
		[ -n "$own" ] || break
		k=$((k + 1))
	done
	# shellcheck disable=SC2086
	svup=$(sv status $svs 2>/dev/null | grep -c '^run: ') || svup=0
	[ "$up" -eq 0 ] && [ "$svup" -eq "$n" ] && break
	[ "$(date +%s)" -lt "$deadline" ] || { echo "not every ringsup daemon up, or only $svup runit daemons up of $n" >&2; exit 1; }
	sleep 0.2
done

mean() { # perf stat -r's mean wall time and CPU time (task-clock), in ms
	perf stat -r "$runs" -e task-clock "$@" 2>&1 >/dev/null | awk '
		/task-clock/ { cpu = $1 }
		/seconds time elapsed/ { printf "%.2f\t%.2f", $1 * 1000, cpu }'
}
out=$dir/means
label() { # BINARY: its command's name in $out
	if [ $via = socket ]; then
		echo "$1 ctl --socket S status --json"
	else
		echo "$1 ctl --config F status --json"
	fi
}
count=$(($# + $(echo $floors | wc -w) + 1))
# Each round runs every command once: the BINARYs, the floors, then
# `sv status`, round R starting at the R-th and going round the list, so
# that no command always follows the same one (`sv status` walks N service
# directories and leaves the caches colder for whatever runs next).
r=1
while [ $r -le "$rounds" ]; do
	j=0
	while [ $j -lt $count ]; do
		i=$(((j + r - 1) % count + 1)) k=0
		for b in "$@"; do
			k=$((k + 1))
			[ $k = $i ] || continue
			s=1
			[ -z "$own" ] || s=$k
			if [ $via = socket ]; then
				printf '%s\t%s\n' "$(label "$b")" "$(mean "$b" ctl --socket "$dir/ringsup$s.sock" status --json)" >>"$out"
			else
				printf '%s\t%s\n' "$(label "$b")" "$(mean "$b" ctl --config "$dir/conf$s/ringsup.toml" status --json)" >>"$out"
			fi
		done
		for f in $floors; do
			k=$((k + 1))
			[ $k = $i ] || continue
			printf '%s SOCKET\t%s\n' "$f" "$(mean "$f" "$dir/ringsup1.sock")" >>"$out"
		done
		if [ $i = $count ]; then
			# shellcheck disable=SC2086
			printf 'sv status\t%s\n' "$(mean sv status $svs)" >>"$out"
		fi
		j=$((j + 1))
	done
	r=$((r + 1))
done
echo "N=$n, $rounds rounds of perf stat -r $runs, interleaved; each round's mean wall time, ms:"
awk -F'\t' '{ v[$1] = v[$1] " " $2 } END { for (k in v) print k ":" v[k] }' "$out" | sort
echo "the same rounds' mean CPU time (task-clock), ms:"
awk -F'\t' '{ v[$1] = v[$1] " " $3 } END { for (k in v) print k ":" v[k] }' "$out" | sort
echo "median of the rounds, wall and CPU (ms), and each ÷ sv status's:"
median() { # COLUMN [FILE]: per command, the median of that column of FILE ($out)
	sort -t"$(printf '\t')" -k1,1 -k"$1","$1"n "${2:-$out}" | awk -F'\t' -v col="$1" '
		{ v[$1, ++c[$1]] = $col }
		END { for (k in c) { m = int((c[k] + 1) / 2); printf "%s\t%s\n", k, v[k, m] } }' | sort
}
median 2 >"$dir/wall"
median 3 >"$dir/cpu"
join -t"$(printf '\t')" "$dir/wall" "$dir/cpu" | awk -F'\t' '
	{ k[NR] = $1; w[NR] = $2; c[NR] = $3; if ($1 == "sv status") { sw = $2; sc = $3 } }
	END { for (i = 1; i <= NR; i++) printf "%s\twall %.2f (%.2fx)\tcpu %.2f (%.2fx)\n", k[i], w[i], w[i] / sw, c[i], c[i] / sc }'
# Round by round, each command's mean over the first BINARY's (its k-th line
# over the first BINARY's k-th: every round writes each command once).
first=$(label "$1")
awk -F'\t' -v first="$first" '
	{ i = ++c[$1]; w[$1, i] = $2; u[$1, i] = $3; k[$1] = 1 }
	END { for (x in k) for (i = 1; i <= c[x]; i++) printf "%s\t%.4f\t%.4f\n", x, w[x, i] / w[first, i], u[x, i] / u[first, i] }' "$out" >"$dir/paired"
median 2 "$dir/paired" >"$dir/pwall"
median 3 "$dir/paired" >"$dir/pcpu"
echo "median of the rounds' ratios to $first's mean in the same round, wall and CPU:"
join -t"$(printf '\t')" "$dir/pwall" "$dir/pcpu" | awk -F'\t' '{ printf "%s\twall %.3fx\tcpu %.3fx\n", $1, $2, $3 }'
