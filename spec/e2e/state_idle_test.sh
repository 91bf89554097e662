#!/usr/bin/env bash
# What the state records is committed within a second also when no further
# event comes, and at a TERM: a change that waits in the queue (a long
# delay) is in the store before the daemon dies, so the next start finds the
# index current (its walk: 0 entries changed) and the change pending.
. "$(dirname "$0")/lib.sh"

S=$WS/src T=$WS/tgt STATE=$WS/state
mkdir -p "$S" "$T" "$STATE"
echo a > "$S/a"
cat > "$WS/c.lua" <<CONF
settings { nodaemon = true, logfile = '$WS/log', stateDir = '$STATE' }
sync { default.rsync, source = '$S', target = '$T', delay = 60 }
CONF
# walked LOG N: waits for the Nth 'state: walked' line; prints its count of changed entries
walked() {
	local i
	for i in $(seq 1 100); do
		[ "$(grep -c 'state: walked' "$1" 2>/dev/null)" -ge "$2" ] && break; sleep 0.1
	done
	grep 'state: walked' "$1" | sed -n "${2}p" | grep -oE '[0-9]+ entr' | grep -oE '[0-9]+'
}
start_daemon "$WS/out" "$WS/c.lua"
for _ in $(seq 1 100); do grep -q 'state kept from now on' "$WS/log" 2>/dev/null && break; sleep 0.1; done
check "the first start makes the state valid" grep -q 'state kept from now on' "$WS/log"
echo b > "$S/b"                  # waits 60 s in the queue
sleep 2
kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
start_daemon "$WS/out2" "$WS/c.lua"
n=$(walked "$WS/log" 2)
check "idle for 2 s, then kill -9: the index was committed (the next walk: ${n:-?} entries changed, 0 wanted)" test "${n:-x}" = 0
check "... and b is pending: queued at the start" grep -q 'state is valid: 1 path(s) queued' "$WS/log"
expect_equal "b arrives" "$S" "$T" 10
echo c > "$S/c"                  # waits 60 s in the queue: TERM comes first
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
start_daemon "$WS/out3" "$WS/c.lua"
n=$(walked "$WS/log" 3)
check "TERM at once after a change: it was committed (walk: ${n:-?} entries changed, 0 wanted)" test "${n:-x}" = 0
expect_equal "c arrives" "$S" "$T" 10
check_stop state_idle
tap_done
