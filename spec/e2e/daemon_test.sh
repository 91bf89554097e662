#!/usr/bin/env bash
# Running as a daemon: detaching (the starter exits 0), pid file with a lock,
# logfile, status files (lsyncd's, JSON, Prometheus), HUP reloads the config
# (also when it was given as a relative path), TERM stops it and removes the
# pid file, a second instance on the same pid file is refused.
. "$(dirname "$0")/lib.sh"

S=$WS/s T=$WS/t
mkdir -p "$S/d" "$T"
echo a > "$S/d/a"
cat > "$WS/d.lua" <<EOF
settings { logfile = '$WS/log', pidfile = '$WS/pid', statusFile = '$WS/status',
           jsonStatusFile = '$WS/status.json', metricsFile = '$WS/metrics.prom',
           statusInterval = 1 }
sync { default.rsync, source = '$S', target = '$T', delay = 0.5, exclude = { '*.tmp' } }
EOF
(cd "$WS" && "$LNG_BIN" d.lua); rc=$?
check "the starting process exits 0 when daemonizing" test "$rc" = 0
for _ in $(seq 1 50); do [ -s "$WS/pid" ] && break; sleep 0.1; done
pid=$(cat "$WS/pid" 2>/dev/null)
[ -n "$pid" ] && PIDS+=("$pid")
check "the pid file names a running daemon" kill -0 "${pid:-0}"
check "the daemon is a session leader's child, detached from the terminal" \
	test "$(ps -o tty= -p "${pid:-0}" | tr -d ' ')" = "?"
expect_equal "the daemon syncs" "$S" "$T"

out=$(cd "$WS" && "$LNG_BIN" -pidfile "$WS/pid" -nodaemon d.lua 2>&1); rc=$?
check "a second instance on the same pid file is refused (rc $rc)" test "$rc" -ne 0
echo "$out" | grep -qi 'pidfile' && tap_ok "and says why" || tap_fail "and says why" "$out"

sleep 1.5
grep -q "^Sync1 source=$S/" "$WS/status" && grep -q '^Inotify watching' "$WS/status" \
	&& tap_ok "lsyncd's status file is written" || tap_fail "lsyncd's status file is written" "$(cat "$WS/status")"
grep -q '"state":"ok"' "$WS/status.json" && grep -q '"queue":0' "$WS/status.json" \
	&& tap_ok "the JSON status says ok with an empty queue" || tap_fail "the JSON status says ok with an empty queue" "$(cat "$WS/status.json")"
grep -q '^lsyncd_ng_queue_length{sync="Sync1",target="'"$T"'/"} 0$' "$WS/metrics.prom" \
	&& grep -q 'lsyncd_ng_state{sync="Sync1",target="'"$T"'/",state="ok"} 1' "$WS/metrics.prom" \
	&& tap_ok "the Prometheus textfile has per-slave gauges" || tap_fail "the Prometheus textfile has per-slave gauges" "$(cat "$WS/metrics.prom")"
# every time in the status outputs is the real clock's (they were rounded to
# 6 digits: -status said the status was written -2415 s ago)
clock=$(date +%s.%N)
jtime=$(grep -oE '"time":[0-9.e+]+' "$WS/status.json" | head -1 | cut -d: -f2)
jlast=$(grep -oE '"last_success":[0-9.e+]+' "$WS/status.json" | head -1 | cut -d: -f2)
plast=$(grep -E '^lsyncd_ng_last_success' "$WS/metrics.prom" | awk '{print $NF}')
awk -v c="$clock" -v t="$jtime" -v l="$jlast" -v p="$plast" \
	'BEGIN { d1 = c - t; d2 = c - l; d3 = c - p; exit !(t ~ /^[0-9]+(\.[0-9]+)?$/ && d1 >= 0 && d1 < 2 \
		&& d2 >= 0 && d2 < 30 && d3 >= 0 && d3 < 30) }' \
	&& tap_ok "status times are the clock's (time $jtime, last_success $jlast, metrics $plast, clock $clock)" \
	|| tap_fail "status times are the clock's (time $jtime, last_success $jlast, metrics $plast, clock $clock)"
table=$("$LNG_BIN" -status "$WS/status.json"); rc=$?
ago=$(echo "$table" | grep -oE 'written -?[0-9]+ s ago' | grep -oE -- '-?[0-9]+')
check "-status says the status was written 0-2 s ago ($ago)" test "${ago:-x}" -ge 0 -a "${ago:-x}" -le 2
echo "$table" | grep -q "^Sync1 .* ok " && [ "$rc" = 0 ] \
	&& tap_ok "-status prints a per-slave table" || tap_fail "-status prints a per-slave table" "$table"

# HUP: the config is read again (a new exclude takes effect) without a restart of the process.
sed -i "s/exclude = { '\*.tmp' }/exclude = { '*.tmp', '*.bak' }/" "$WS/d.lua"
kill -HUP "$pid"
sleep 1.5
echo x > "$S/new.bak"; echo y > "$S/new.txt"
for _ in $(seq 1 50); do [ -e "$T/new.txt" ] && break; sleep 0.1; done
sleep 1
check "after HUP the same process runs" kill -0 "$pid"
check "after HUP the re-read config applies (new exclude)" test -e "$T/new.txt" -a ! -e "$T/new.bak"
grep -q 'HUP signal' "$WS/log" && tap_ok "HUP is logged to the logfile" || tap_fail "HUP is logged to the logfile"

# HUP with an error in the config: the running config stays (lsyncd-ng used
# to exit 255 here, and fail again at every restart under systemd)
cp "$WS/d.lua" "$WS/d.good"
printf '\nsync { default.rsync, source = "%s", target = "%s", bogusKey = 1 }\n' "$S" "$T" >> "$WS/d.lua"
bad_line=$(wc -l < "$WS/d.lua")
kill -HUP "$pid"
for _ in $(seq 1 50); do grep -q 'running config stays' "$WS/log" && break; sleep 0.1; done
sleep 0.5
check "HUP with a config error: the daemon runs on" kill -0 "$pid"
grep -q "running config stays.*d.lua:$bad_line.*bogusKey" "$WS/log" \
	&& tap_ok "... and logs the error with file:line" || tap_fail "... and logs the error with file:line" "$(grep -A3 HUP "$WS/log" | tail -8)"
echo z > "$S/after-bad-hup.txt"
for _ in $(seq 1 50); do [ -e "$T/after-bad-hup.txt" ] && break; sleep 0.1; done
check "... and keeps syncing with the running config" test -e "$T/after-bad-hup.txt"
cp "$WS/d.good" "$WS/d.lua"

kill -TERM "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "TERM stops the daemon" test ! -e "/proc/$pid"
check "the pid file is removed" test ! -e "$WS/pid"
grep -q 'TERM signal' "$WS/log" && tap_ok "TERM is logged" || tap_fail "TERM is logged"

# The startup transfer does not wait for the sync's delay (15 s by default).
mkdir -p "$WS/s15" "$WS/t15"; echo x > "$WS/s15/x"
printf 'settings { nodaemon = true }\nsync { default.rsync, source = "%s", target = "%s" }\n' \
	"$WS/s15" "$WS/t15" > "$WS/d15.lua"
start_daemon "$WS/d15.log" "$WS/d15.lua"
expect_equal "the startup transfer runs at once, not after the default 15 s delay" "$WS/s15" "$WS/t15" 5
stop_daemon

tap_done
