#!/usr/bin/env bash
# State after a startup transfer that ends in rsync exit 23 (issue 15): one
# directory of the target is read-only (a read-only bind mount), so the
# first start's transfer sends all but the paths in it (exit 23; they are
# retried on their own). The state is not valid while they are missing: a
# restart then gets the full transfer again. Once the directory is writable
# and the retries went through, the state is valid: a restart after a
# change made while stopped sends only that change. A wrapper rsync notes
# each call as "full" (no list of paths) or "list".
. "$(dirname "$0")/lib.sh"

S=$WS/src T=$WS/tgt
mkdir -p "$S/sub" "$S/other" "$T/sub" "$WS/bin" "$WS/state"
echo a > "$S/a"; echo b > "$S/sub/b"; echo c > "$S/sub/c"; echo d > "$S/other/d"
MOUNTS=()
umount_all() { local m; for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done; }
trap 'umount_all; cleanup' EXIT
ro() { mount --bind "$1" "$1" && MOUNTS+=("$1") && mount -o remount,ro,bind "$1"; }
rw() { mount -o remount,rw,bind "$1"; }

CALLS=$WS/calls
counting_rsync "$WS/bin/lng-rsync" "$CALLS"
fulls() { grep -c '^full' "$CALLS"; }
cat > "$WS/c.lua" <<CFG
settings { nodaemon = true, stateDir = '$WS/state', maxBackoff = 2 }
sync { default.rsync, source = '$S', target = '$T', delay = 0.3,
       rsync = { binary = '$WS/bin/lng-rsync' } }
CFG
# waitlog PATTERN: until the daemon's log has a line matching (up to 30 s)
waitlog() {
	local i
	for ((i = 0; i < 300; i++)); do grep -q "$1" "$DAEMON_LOG" && return 0; sleep 0.1; done
	return 1
}

ro "$T/sub" || { tap_fail "a read-only bind mount can be made"; tap_done; exit 1; }
: > "$CALLS"
start_daemon "$WS/run1.log" "$WS/c.lua"
check "the first start's transfer ends in exit 23 (paths under sub/ fail)" waitlog 'done except'
sleep 3                                 # retries meanwhile, still failing
check "while paths are missing the state is not valid" \
	bash -c "! grep -q 'state kept from now on' '$WS/run1.log'"
check_stop "while sub/ is read-only"

: > "$CALLS"
start_daemon "$WS/run2.log" "$WS/c.lua"
waitlog 'done except'
check "a restart while paths were missing: full transfer ($(fulls))" test "$(fulls)" -ge 1
check "... the log says why" grep -q 'full startup transfer (no state yet)' "$WS/run2.log"
rw "$T/sub"
expect_equal "sub/ writable again: the retried paths arrive" "$S" "$T" 30
check "then the state is valid" waitlog 'startup transfer done; state kept from now on'
check_stop "after the retries"

echo changed > "$S/other/d"
: > "$CALLS"
start_daemon "$WS/run3.log" "$WS/c.lua"
waitlog 'state is valid'
expect_equal "restart: the change made while stopped arrives" "$S" "$T" 30
check "restart: no full transfer ($(fulls))" test "$(fulls)" = 0
check_stop "last run"
tap_done
