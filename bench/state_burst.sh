#!/usr/bin/env bash
# bench/state_burst.sh: what keeping the state costs during a burst (issue
# 15): daemon CPU (user+sys of lsyncd-ng itself, not of rsync) while
# N files (default 10,000, in 100 dirs) are written into a watched tree
# and sent to a local target, with the state kept (stateDir) and without
# (startup = 'full': no index, no pending sets), interleaved, R rounds each.
# Not part of make bench; a one-off (see BENCHMARKS.md).
#   bench/state_burst.sh [N] [R]
set -u
BIN=${LNG_BIN:-$(cd "$(dirname "$0")/.." && pwd)/lsyncd-ng}
N=${1:-10000}
R=${2:-3}
W=$(mktemp -d /tmp/lng-state-burst.XXXXXX)
trap 'rm -rf "$W"' EXIT
tck=$(getconf CLK_TCK)

cpu_of() { awk -v t="$tck" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"; }

run() {     # run MODE ROUND -> prints "MODE seconds"
	local mode=$1 r=$2 d=$W/$1-$2 pid i
	mkdir -p "$d/src" "$d/dst" "$d/state"
	if [ "$mode" = state ]; then extra="stateDir = '$d/state'"; else extra="startup = 'full'"; fi
	cat > "$d/c.lua" <<CFG
settings { nodaemon = true, $extra }
sync { default.rsync, source = '$d/src', target = '$d/dst', delay = 1 }
CFG
	"$BIN" "$d/c.lua" > "$d/log" 2>&1 &
	pid=$!
	for i in $(seq 1 100); do grep -q 'finished\|state kept' "$d/log" && break; sleep 0.1; done
	sleep 0.5
	local before
	before=$(cpu_of "$pid")
	python3 - "$d/src" "$N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    p = os.path.join(root, 'd%03d' % (i % 100))
    os.makedirs(p, exist_ok=True)
    with open(os.path.join(p, 'f%06d' % i), 'w') as f:
        f.write('x' * 100)
PY
	for i in $(seq 1 600); do
		[ "$(find "$d/dst" -type f | wc -l)" -ge "$N" ] && break
		sleep 0.1
	done
	sleep 1.5
	echo "$mode $(awk -v a="$(cpu_of "$pid")" -v b="$before" 'BEGIN { printf "%.3f", a - b }')"
	kill "$pid"; wait "$pid" 2>/dev/null
}

for r in $(seq 1 "$R"); do
	if [ $((r % 2)) = 1 ]; then run state "$r"; run full "$r"; else run full "$r"; run state "$r"; fi
done | tee "$W/out"
awk '{ s[$1] += $2; n[$1]++ } END { for (m in s) printf "%s: mean daemon CPU %.3f s over %d runs\n", m, s[m] / n[m], n[m] }' "$W/out"
