#!/usr/bin/env bash
# terminate(code), lsyncd's config API: the daemon ends with that code at
# once, wherever the config calls it: while the config loads, and inside an
# action (which the runner calls under xpcall, so a Lua error there stays
# with its sync: terminate must not be taken for one). Children are
# stopped, the pid file is removed, and nothing after the terminate runs.
. "$(dirname "$0")/lib.sh"

S=$WS/src T=$WS/tgt
mkdir -p "$S" "$T"

cat > "$WS/load.lua" <<CFG
settings { nodaemon = true }
terminate(7)
log('Normal', 'after terminate')
CFG
out=$("$LNG_BIN" "$WS/load.lua" 2>&1); rc=$?
check "terminate(7) while the config loads: exit 7 (got $rc)" test "$rc" = 7
echo "$out" | grep -qE 'after terminate|Error' \
	&& tap_fail "... and nothing after it runs, no error is logged" "$out" \
	|| tap_ok "... and nothing after it runs, no error is logged"

cat > "$WS/action.lua" <<CFG
settings { nodaemon = true, pidfile = '$WS/pid' }
sync { source = '$S', delay = 0,
       onCreate = function(event)
               spawn(event, 'sleep', '60')
               log('Normal', 'terminating')
               terminate(3)
               log('Normal', 'after terminate')
       end }
CFG
start_daemon "$WS/out.log" "$WS/action.lua"
for _ in $(seq 1 50); do [ -s "$WS/pid" ] && break; sleep 0.1; done
touch "$S/go"
for _ in $(seq 1 100); do proc_alive "$DAEMON_PID" || break; sleep 0.1; done
DAEMON_KIDS=$(descendants "$DAEMON_PID")
if proc_alive "$DAEMON_PID"; then
	stop_daemon 5
	tap_fail "terminate(3) in an action ends the daemon" "$(tail -20 "$WS/out.log")"
else
	wait "$DAEMON_PID"; rc=$?
	forget_pid "$DAEMON_PID"
	check "terminate(3) in an action ends the daemon with exit 3 (got $rc)" test "$rc" = 3
fi
grep -q terminating "$WS/out.log" && ! grep -qE 'after terminate|Lua error|Error' "$WS/out.log" \
	&& tap_ok "... nothing after it runs, no Lua error is logged" \
	|| tap_fail "... nothing after it runs, no Lua error is logged" "$(cat "$WS/out.log")"
check "... the pid file is removed" test ! -e "$WS/pid"
daemon_leftovers
[ -z "$(run_procs "$DAEMON_RUN")" ] && tap_ok "... its child (sleep 60) is stopped" \
	|| tap_fail "... its child (sleep 60) is stopped" "$(alive_of $(run_procs "$DAEMON_RUN"))"

tap_done
