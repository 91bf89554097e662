#!/usr/bin/env bash
# One sync's Lua error stays with that sync (issue 13): a config whose
# onModify indexes nil runs next to a healthy default.rsync sync. The error
# is logged with its traceback, the failing sync backs off and, after five
# errors in a row, stops with state "error" in the status files, while the
# daemon lives and the healthy sync keeps syncing (lsyncd ends the daemon).
. "$(dirname "$0")/lib.sh"

S=$WS/src S2=$WS/src2 T=$WS/tgt
mkdir -p "$S" "$S2" "$T"
cat > "$WS/c.lua" <<CFG
settings { nodaemon = true, jsonStatusFile = '$WS/status.json', metricsFile = '$WS/m.prom',
           statusInterval = 1, maxBackoff = 1 }
sync { default.rsync, source = '$S', target = '$T', delay = 0 }
sync { name = 'broken', source = '$S2', delay = 0,
       onModify = function(event) local cfg = nil; return cfg.missing end }
CFG
start_daemon "$WS/out.log" "$WS/c.lua"
echo a > "$S/a"
expect_equal "the healthy sync starts" "$S" "$T"
echo b > "$S2/b"                   # Create: nobody handles it
echo bb >> "$S2/b"                 # Modify: the broken handler
for _ in $(seq 1 100); do grep -q 'Lua error in action' "$WS/out.log" && break; sleep 0.1; done
grep -q "broken: Lua error in action (1 in a row):.*attempt to index" "$WS/out.log" \
	&& tap_ok "the error is logged with the sync's name" || tap_fail "the error is logged with the sync's name" "$(tail -20 "$WS/out.log")"
grep -q "stack traceback" "$WS/out.log" && grep -q "c.lua:" "$WS/out.log" \
	&& tap_ok "... with a traceback naming the config's line" || tap_fail "... with a traceback naming the config's line"
check "the daemon lives on after the error" proc_alive "$DAEMON_PID"
echo c > "$S/c"
expect_equal "the healthy sync keeps syncing" "$S" "$T"
for _ in $(seq 1 200); do grep -q '"name":"broken"[^}]*"state":"error"' "$WS/status.json" 2>/dev/null && break; sleep 0.1; done
grep -q '"name":"broken"[^}]*"state":"error"' "$WS/status.json" \
	&& tap_ok "after five errors in a row the sync is stopped with state error" \
	|| tap_fail "after five errors in a row the sync is stopped with state error" "$(cat "$WS/status.json")"
errs=$(grep -c 'broken: Lua error in action' "$WS/out.log")
check "it was tried five times, not more ($errs)" test "$errs" = 5
grep -q 'lsyncd_ng_state{sync="broken",target="",state="error"} 1' "$WS/m.prom" \
	&& tap_ok "the metrics show the error state" || tap_fail "the metrics show the error state" "$(grep state "$WS/m.prom")"
grep -q '"name":"Sync1"[^}]*"state":"ok"' "$WS/status.json" \
	&& tap_ok "the healthy sync's state is ok" || tap_fail "the healthy sync's state is ok" "$(cat "$WS/status.json")"
echo d > "$S/d"
expect_equal "the healthy sync still syncs after the other stopped" "$S" "$T"
check_stop "luaerror"
tap_done
