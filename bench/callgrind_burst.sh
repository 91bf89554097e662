#!/usr/bin/env bash
# callgrind_burst.sh: the daemon's own cost of a burst, in instructions.
#
#   bench/callgrind_burst.sh prep SRCDIR
#       Edits a scratch source tree (a `git worktree add /tmp/…` of the
#       commit to measure; never your own) so that it can run under
#       valgrind, then build it there with `make -j2`. Two profiling-only
#       edits: children start through the binary's real path, not
#       /proc/self/exe (under valgrind that is valgrind's tool, not us),
#       and the state store maps 1 GiB, not 64 (valgrind cannot map that).
#   [K=4 D=100 F=100 PAUSE=0] bench/callgrind_burst.sh run BIN OUT [STATEDIR] [MODE]
#       Starts BIN with K default.rsync syncs of one source to local dirs
#       (delay = 1, stateDir = STATEDIR when given), waits for the startup
#       transfers, writes D new dirs of F files of ~1 KiB, waits until every
#       target equals the source, stops the daemon. MODE: callgrind (the
#       default: only the daemon, --trace-children=no, counters zeroed after
#       the startup; the dump goes to OUT and its totals are printed),
#       native, strace (strace -c summary to OUT) or perf (perf record -i
#       -e cpu-clock to OUT). Always prints the daemon's CPU over the burst
#       (schedstat) and the number of transfers.
# Workspaces are mktemp dirs under ${TMPDIR:-/tmp}, removed at the end.
set -u

if [ "${1:-}" = prep ]; then
	main=$2/engine/main.c store=$2/engine/store.c
	sed -i 's|child_set_trampoline("/proc/self/exe");|{ static char self[4096]; ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1); if (n > 0) self[n] = 0; child_set_trampoline(n > 0 ? self : "/proc/self/exe"); }|' "$main"
	grep -q 'readlink("/proc/self/exe"' "$main" || { echo "prep: main.c not as expected" >&2; exit 1; }
	grep -q '#include <unistd.h>' "$main" || sed -i '1i #include <unistd.h>' "$main"
	[ -f "$store" ] && sed -i 's/(size_t)64 << 30)/(size_t)1 << 30)/' "$store"
	exit 0
fi
[ "${1:-}" = run ] || { sed -n '2,22p' "$0"; exit 2; }
BIN=$2 OUT=$3 SD=${4:-} MODE=${5:-callgrind} SPID=
K=${K:-1} D=${D:-20} F=${F:-100}
WS=$(mktemp -d "${TMPDIR:-/tmp}/lng-cgburst.XXXXXX")
S=$WS/src T=$WS/trg
mkdir -p "$S/base"
echo m > "$S/base/marker"
printf "settings { nodaemon = true, logfile = '%s'%s }\n" "$WS/log" \
	"${SD:+, stateDir = '$SD'}" > "$WS/cfg.lua"
for k in $(seq 1 "$K"); do
	mkdir -p "$T$k"
	echo "sync { default.rsync, source = '$S', target = '$T$k', delay = 1 }" >> "$WS/cfg.lua"
done
case $MODE in
callgrind)
	valgrind --tool=callgrind --trace-children=no --callgrind-out-file="$WS/cg.%p" \
		"$BIN" "$WS/cfg.lua" > "$WS/out" 2>&1 & PID=$! ;;
strace)
	strace -c -o "$OUT" "$BIN" "$WS/cfg.lua" > "$WS/out" 2>&1 & SPID=$!
	sleep 0.5; PID=$(pgrep -P $SPID | head -1) ;;
*)
	"$BIN" "$WS/cfg.lua" > "$WS/out" 2>&1 & PID=$!
	if [ "$MODE" = perf ]; then
		sleep 0.3
		perf record -q -i -e cpu-clock -F 5000 -o "$OUT" -p $PID > /dev/null 2>&1 & SPID=$!
	fi ;;
esac
for _ in $(seq 1 600); do
	[ -f "${T}1/base/marker" ] && [ -f "$T$K/base/marker" ] && break
	sleep 0.2
done
sleep 3
[ "$MODE" = callgrind ] && callgrind_control -z $PID > /dev/null 2>&1
t0=$(cut -d' ' -f1 /proc/$PID/schedstat)
# PAUSE=1: the daemon is stopped (SIGSTOP) while the files are written and
# gets every event at once: the same batches in every run, so two builds
# compare without the noise of how the burst is cut (keep D*F*2 events
# below fs.inotify.max_queued_events)
[ "${PAUSE:-0}" = 1 ] && kill -STOP $PID
python3 - "$S" "$D" "$F" <<'PY'
import os, sys
s, dirs, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for d in range(dirs):
    dd = os.path.join(s, 'd%03d' % d)
    os.mkdir(dd)
    for f in range(files):
        with open(os.path.join(dd, 'f%03d' % f), 'wb') as fh:
            fh.write(b'x' * (1000 + f))
PY
[ "${PAUSE:-0}" = 1 ] && kill -CONT $PID
for _ in $(seq 1 1200); do
	same=1
	for k in $(seq 1 "$K"); do diff -rq "$S" "$T$k" > /dev/null 2>&1 || { same=0; break; }; done
	[ $same = 1 ] && break
	sleep 0.5
done
sleep 1
t1=$(cut -d' ' -f1 /proc/$PID/schedstat)
[ "$MODE" = perf ] && kill -INT $SPID
kill -TERM $PID
wait $PID $SPID 2>/dev/null
echo "daemon CPU over the burst: $(( (t1 - t0) / 1000000 )) ms (schedstat)"
echo "transfers: $(grep -c 'calling rsync' "$WS/log")"
if [ "$MODE" = callgrind ]; then
	cp "$(ls "$WS"/cg.$PID* | head -1)" "$OUT"
	grep -E '^totals:' "$OUT"
fi
rm -rf "$WS"
