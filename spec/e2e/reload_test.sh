#!/usr/bin/env bash
# HUP reloads the config in place: a sync whose definition did not change
# keeps its queue and its ssh master and gets no startup transfer; a changed
# or new sync gets one; a removed sync stops; a config with an error leaves
# everything running as it was. Startup transfers are counted by a wrapper
# rsync (a startup transfer is a call without a list of paths on stdin).
. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_done; exit 1; }
mkdir -p "$WS/bin"
CALLS=$WS/calls
cat > "$WS/bin/lng-rsync" <<EOF
#!/bin/sh
eval "dest=\\\${\$#}"
kind=init
for a in "\$@"; do [ "\$a" = --include-from=- ] && kind=list; done
echo "\$kind \${dest}" >> '$CALLS'
exec rsync "\$@"
EOF
chmod +x "$WS/bin/lng-rsync"
: > "$CALLS"
# inits TARGET: how many startup transfers went to TARGET
inits() { grep -c "^init $1/\?\$" "$CALLS"; }

for x in a b c d; do mkdir -p "$WS/s$x/sub" "$WS/t$x"; echo "$x" > "$WS/s$x/sub/f"; done
RS="rsync = { binary = '$WS/bin/lng-rsync' }"
RSSH="rsync = { binary = '$WS/bin/lng-rsync', rsh = '$SSH_RSH' }"
A="sync { default.rsync, name = 'A', source = '$WS/sa', target = '127.0.0.1:$WS/ta', delay = 2, $RSSH }"
B1="sync { default.rsync, name = 'B', source = '$WS/sb', target = '$WS/tb', delay = 0.3, exclude = { '*.x' }, $RS }"
B2="sync { default.rsync, name = 'B', source = '$WS/sb', target = '$WS/tb', delay = 0.3, exclude = { '*.y' }, $RS }"
C="sync { default.rsync, name = 'C', source = '$WS/sc', target = '$WS/tc', delay = 0.3, $RS }"
D="sync { default.rsync, name = 'D', source = '$WS/sd', target = '$WS/td', delay = 0.3, $RS }"
# E's slave is down (nothing listens on its port): it retries with back-off
DEAD=$(free_port)
E="sync { default.rsync, name = 'E', source = '$WS/sa', target = '127.0.0.1:$WS/te', delay = 0.3, rsync = { binary = '$WS/bin/lng-rsync', rsh = '/usr/bin/ssh -p $DEAD -o BatchMode=yes' } }"
HEAD="settings { nodaemon = true, logfile = '$WS/log', jsonStatusFile = '$WS/status.json', statusInterval = 1 }"
printf '%s\n' "$HEAD" "$A" "$B1" "$C" "$E" > "$WS/r.lua"

start_daemon "$WS/out" "$WS/r.lua"
pid=$DAEMON_PID
for x in a b c; do expect_equal "startup: slave $x equals its source" "$WS/s$x" "$WS/t$x" 30; done
check "one startup transfer each (A $(inits 127.0.0.1:$WS/ta), B $(inits $WS/tb), C $(inits $WS/tc))" \
	test "$(inits 127.0.0.1:$WS/ta)$(inits $WS/tb)$(inits $WS/tc)" = 111
# the ssh master of slave A (a child of the daemon)
master_of() {
	local p
	for p in $(children_of "$pid"); do
		tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q 'ControlMaster=yes' && echo "$p"
	done
}
for _ in $(seq 1 50); do m1=$(master_of); [ -n "$m1" ] && break; sleep 0.1; done
check "slave A has an ssh master ($m1)" test -n "$m1"

# A change to A is queued (delay 2 s) when the HUP comes: B changes, C goes, D comes.
echo queued > "$WS/sa/queued.txt"
sleep 0.3
# E's retry state before the HUP
for _ in $(seq 1 100); do
	ef=$(grep -oE '"failures":[0-9]+,[^}]*"name":"E"' "$WS/status.json" | grep -oE '^"failures":[0-9]+' | cut -d: -f2)
	[ "${ef:-0}" -ge 2 ] && break; sleep 0.1
done
check "E's slave is down: E retries (failures $ef)" test "${ef:-0}" -ge 2
printf '%s\n' "$HEAD" "$A" "$B2" "$D" "$E" > "$WS/r.lua"
hup_t=$(($(date +%s) + 1))
e_logged=$(grep -c 'E: transfer to .* failed' "$WS/log")
kill -HUP "$pid"
for _ in $(seq 1 100); do grep -q 'config reloaded' "$WS/log" && break; sleep 0.1; done
grep -q 'config reloaded: 2 sync(s) unchanged (queue and state kept), 1 changed and 1 new (startup transfer), 1 removed' "$WS/log" \
	&& tap_ok "the reload says what it kept, started and removed" \
	|| tap_fail "the reload says what it kept, started and removed" "$(grep -A2 HUP "$WS/log")"
expect_equal "the change queued before the HUP arrives on A" "$WS/sa" "$WS/ta" 20
expect_equal "the new sync D makes its slave equal" "$WS/sd" "$WS/td" 20
check "the process is the same" proc_alive "$pid"
check "unchanged A: no second startup transfer ($(inits 127.0.0.1:$WS/ta))" test "$(inits 127.0.0.1:$WS/ta)" = 1
check "changed B: a startup transfer ($(inits $WS/tb))" test "$(inits $WS/tb)" = 2
check "new D: a startup transfer ($(inits $WS/td))" test "$(inits $WS/td)" = 1
check "removed C: no startup transfer ($(inits $WS/tc))" test "$(inits $WS/tc)" = 1
check "unchanged A keeps its ssh master ($m1 -> $(master_of))" test "$(master_of)" = "$m1"
# the status written after the reload (it is rewritten at once)
for _ in $(seq 1 50); do
	jt=$(grep -oE '"time":[0-9]+' "$WS/status.json" | head -1 | cut -d: -f2)
	[ "${jt:-0}" -ge "$hup_t" ] && break; sleep 0.1
done
ef2=$(grep -oE '"failures":[0-9]+,[^}]*"name":"E"' "$WS/status.json" | grep -oE '^"failures":[0-9]+' | cut -d: -f2)
check "unchanged E keeps its retry state (failures $ef before the HUP, ${ef2:-?} after)" test "${ef2:-0}" -ge "$ef"
sleep 1.5
check "... so its outage is not logged anew (logged $e_logged time(s) before the HUP, $(grep -c 'E: transfer to .* failed' "$WS/log") in all)" \
	test "$(grep -c 'E: transfer to .* failed' "$WS/log")" = "$e_logged"
echo y > "$WS/sb/new.y"; echo x > "$WS/sb/new.x"; echo c > "$WS/sc/after.txt"
for _ in $(seq 1 50); do [ -e "$WS/tb/new.x" ] && break; sleep 0.1; done
check "B's new exclude applies (new.x sent, new.y not)" test -e "$WS/tb/new.x" -a ! -e "$WS/tb/new.y"
check "removed C syncs no more" test ! -e "$WS/tc/after.txt"
sleep 1.2
grep -q '"name":"D"' "$WS/status.json" && ! grep -q '"name":"C"' "$WS/status.json" \
	&& tap_ok "the status lists D and no longer C" || tap_fail "the status lists D and no longer C" "$(cat "$WS/status.json")"

# HUP with the same config: nothing restarts.
n0=$(grep '^init' "$CALLS" | grep -vc '/te/*$')
kill -HUP "$pid"
for _ in $(seq 1 100); do [ "$(grep -c 'config reloaded' "$WS/log")" -ge 2 ] && break; sleep 0.1; done
grep -q 'config reloaded: 4 sync(s) unchanged (queue and state kept), 0 changed and 0 new (startup transfer), 0 removed' "$WS/log" \
	&& tap_ok "an unchanged config: every sync kept" || tap_fail "an unchanged config: every sync kept" "$(tail -3 "$WS/log")"
sleep 1
check "... and no startup transfer at all ($n0 -> $(grep '^init' "$CALLS" | grep -vc '/te/*$'))" test "$(grep '^init' "$CALLS" | grep -vc '/te/*$')" = "$n0"
check "... and A's ssh master is the same" test "$(master_of)" = "$m1"

# HUP with an error: everything runs on as it was.
printf '%s\n' "$HEAD" "$A" "sync { default.rsync, source = '$WS/sb', target = }" > "$WS/r.lua"
kill -HUP "$pid"
for _ in $(seq 1 100); do grep -q 'the running config stays' "$WS/log" && break; sleep 0.1; done
grep -q "the running config stays.*r.lua:3" "$WS/log" && tap_ok "a config error is logged with file:line" \
	|| tap_fail "a config error is logged with file:line" "$(tail -3 "$WS/log")"
echo later > "$WS/sd/later.txt"; echo later > "$WS/sa/later.txt"
expect_equal "after the failed reload D still syncs" "$WS/sd" "$WS/td" 10
expect_equal "... and A too" "$WS/sa" "$WS/ta" 10
check "... without any startup transfer ($n0 -> $(grep '^init' "$CALLS" | grep -vc '/te/*$'))" test "$(grep '^init' "$CALLS" | grep -vc '/te/*$')" = "$n0"
check "the daemon lives on" proc_alive "$pid"

# HUP removing A and E (the ssh slaves) and adding F with a crontab: A's ssh
# master ends, as nothing uses it any more; then F is removed: its crontab
# rule fires no more (no "crontab: full sync" for a sync that is gone).
mkdir -p "$WS/tf"
F="sync { default.rsync, name = 'F', source = '$WS/sd', target = '$WS/tf', delay = 0.3, crontab = { '* * * * * *' }, $RS }"
printf '%s\n' "$HEAD" "$D" "$F" > "$WS/r.lua"
ended=$(grep -c 'ssh master connection to 127.0.0.1 ended' "$WS/log")
kill -HUP "$pid"
for _ in $(seq 1 100); do [ "$(grep -c 'config reloaded' "$WS/log")" -ge 3 ] && break; sleep 0.1; done
for _ in $(seq 1 50); do proc_alive "$m1" || break; sleep 0.1; done
proc_alive "$m1" && tap_fail "removed A's ssh master ($m1) ends" || tap_ok "removed A's ssh master ($m1) ends"
check "... and says why" grep -q 'ssh master connection to 127.0.0.1 closed: no sync uses it' "$WS/log"
check "... not as a broken link ($ended -> $(grep -c 'ssh master connection to 127.0.0.1 ended' "$WS/log"))" \
	test "$(grep -c 'ssh master connection to 127.0.0.1 ended' "$WS/log")" = "$ended"
sleep 2
check "no other ssh master is started for a removed sync ($(master_of))" test -z "$(master_of)"
for _ in $(seq 1 50); do grep -q 'F: crontab: full sync' "$WS/log" && break; sleep 0.1; done
check "F's crontab fires" grep -q 'F: crontab: full sync' "$WS/log"
printf '%s\n' "$HEAD" "$D" > "$WS/r.lua"
kill -HUP "$pid"
for _ in $(seq 1 100); do [ "$(grep -c 'config reloaded' "$WS/log")" -ge 4 ] && break; sleep 0.1; done
nf=$(grep -c 'F: crontab: full sync' "$WS/log")
sleep 2.5
check "removed F's crontab fires no more ($nf -> $(grep -c 'F: crontab: full sync' "$WS/log"))" \
	test "$(grep -c 'F: crontab: full sync' "$WS/log")" = "$nf"
check_stop reload
tap_done
