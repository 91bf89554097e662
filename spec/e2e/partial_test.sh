#!/usr/bin/env bash
# Failures are retried with back-off and never reported as success (issue 13):
# A  a startup transfer into a target that refuses writes (a read-only bind
#    mount) is retried, never logged "finished" while it fails, and converges
#    once the target is writable again;
# B  a path that keeps failing (rsync exit 23: its directory on the target is
#    read-only) is retried with growing intervals, logged once when it starts
#    failing and once when it is back, and arrives in the end.
. "$(dirname "$0")/lib.sh"

S=$WS/src T=$WS/tgt
mkdir -p "$S/sub" "$T"
echo a > "$S/a"; echo b > "$S/sub/b"
MOUNTS=()
umount_all() { local m; for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done; }
trap 'umount_all; cleanup' EXIT
ro() { mount --bind "$1" "$1" && MOUNTS+=("$1") && mount -o remount,ro,bind "$1"; }
rw() { mount -o remount,rw,bind "$1"; }

ro "$T" || { tap_fail "a read-only bind mount can be made"; tap_done; exit 1; }
cat > "$WS/c.lua" <<CFG
settings { nodaemon = true, jsonStatusFile = '$WS/status.json', statusInterval = 1, maxBackoff = 4 }
sync { default.rsync, source = '$S', target = '$T', delay = 1 }
CFG
start_daemon "$WS/out.log" -log Exec "$WS/c.lua"
sleep 5
check "A: the daemon keeps running while the target refuses writes" proc_alive "$DAEMON_PID"
check "A: the failed startup is not logged finished" bash -c "! grep -q 'Startup of .* finished' '$WS/out.log'"
grep -q 'incomplete' "$WS/out.log" && tap_ok "A: the log says the startup is incomplete" \
	|| tap_fail "A: the log says the startup is incomplete" "$(tail -20 "$WS/out.log")"
grep -q '"state":"retrying"' "$WS/status.json" && tap_ok "A: the status says retrying" \
	|| tap_fail "A: the status says retrying" "$(cat "$WS/status.json")"
tries=$(grep -c 'Exec: rsync' "$WS/out.log")
check "A: what failed was tried again ($tries transfers in 5 s)" test "$tries" -ge 3
rw "$T"
expect_equal "A: the target converges once writable" "$S" "$T" 30
grep -qE 'Startup of .* finished|/a transferred after' "$WS/out.log" \
	&& tap_ok "A: then the log says it went through" || tap_fail "A: then the log says it went through" "$(tail -20 "$WS/out.log")"

# B: one directory of the target read-only: its new file keeps failing
ro "$T/sub" || tap_fail "B: a read-only bind mount of a target dir"
start=$(wc -l < "$WS/out.log")
echo f > "$S/sub/f"
sleep 16
# the times of the transfers that carried /sub/f (the Exec lines list stdin)
# (the list is on the Exec line, its newlines escaped as \n)
awk -v s="$start" 'NR > s && /^[0-9:]+ Exec: rsync \[</ && /\/sub\/f/ {
	split($1, h, ":"); print h[1] * 3600 + h[2] * 60 + h[3] }' \
	"$WS/out.log" > "$WS/tries"
n=$(wc -l < "$WS/tries")
gaps=$(awk 'NR > 1 { printf "%d ", $1 - p } { p = $1 }' "$WS/tries")
note "B: $n transfers of /sub/f in 16 s, intervals: $gaps"
check "B: the failing path was retried ($n times)" test "$n" -ge 3
awk 'NR == 2 { first = $1 - p } NR > 1 { last = $1 - p } { p = $1 }
	END { exit !(last >= first + 1) }' "$WS/tries" && [ "$n" -le 7 ] \
	&& tap_ok "B: ... with growing intervals, not every cycle ($gaps)" \
	|| tap_fail "B: ... with growing intervals, not every cycle ($gaps)"
c=$(tail -n +"$start" "$WS/out.log" | grep -c 'could not be transferred')
check "B: the failure is logged once ($c)" test "$c" = 1
check "B: no 'is back' line while it keeps failing" bash -c "! tail -n +$start '$WS/out.log' | grep -q 'is back after'"
grep -q '"state":"retrying"' "$WS/status.json" && tap_ok "B: the status says retrying" \
	|| tap_fail "B: the status says retrying" "$(cat "$WS/status.json")"
echo g > "$S/g"
for _ in $(seq 1 60); do [ -e "$T/g" ] && break; sleep 0.1; done
check "B: other changes are not held up by the failing path" test -e "$T/g"
check "B: ... nor called failed when they went with it" \
	bash -c "! tail -n +$start '$WS/out.log' | grep -q 'could not be transferred.*/g'"
rw "$T/sub"
expect_equal "B: the path arrives once its directory is writable" "$S" "$T" 20
# the file lands before the daemon collects its rsync and logs it
for _ in $(seq 1 50); do grep -q '/sub/f transferred after' "$WS/out.log" && break; sleep 0.1; done
c=$(grep -c '/sub/f transferred after' "$WS/out.log")
check "B: its recovery is logged once ($c)" test "$c" = 1
check_stop "partial"
umount_all
tap_done
