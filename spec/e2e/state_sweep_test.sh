#!/usr/bin/env bash
# rsync's temporary files after a kill -9 (issue 15): rsync's receiver
# writes '.NAME.XXXXXX' and renames it when complete; interrupted between
# the end of the data and the rename it leaves that file on the slave. A
# start from the state store runs no full transfer, so it must remove them
# itself: only those of the files whose transfer was in flight, never an
# entry the source holds. One ssh slave in a namespace; the wrapper rsync
# hangs (in flight, committed) while a flag file exists; kill -9 the
# daemon then, put such a temporary file on the slave, start again.
. "$(dirname "$0")/lib.sh"

sshd_start >/dev/null && sshd_stop
netns_slave 1 || { tap_fail "slave 1 starts in its namespace"; tap_done; exit 1; }
S=$WS/src STATE=$WS/state T=$WS/t1 HANG=$WS/hang
mkdir -p "$S/d" "$T" "$STATE" "$WS/bin"
echo old > "$S/d/victim"; echo old > "$S/d/keep"; echo mine > "$S/d/.keep.backup"
# the wrapper: hangs while \$HANG exists; a sweep fails as a slave not
# reached (255) while \$WS/fail255 exists, with rsync's exit 23 while
# \$WS/fail23 does; a transfer of a list fails as a link lost (12) while
# \$WS/failxfer does
cat > "$WS/bin/rsync" <<WRAP
#!/bin/sh
while [ -e '$HANG' ]; do touch '$HANG.seen'; sleep 0.1; done
case " \$* " in *' --filter=. - '*)
	[ -e '$WS/fail255' ] && exit 255
	[ -e '$WS/fail23' ] && exit 23;;
*' --include-from=-'*|*' --files-from=-'*)
	[ -e '$WS/failxfer' ] && { touch '$WS/failxfer.seen'; exit 12; };;
esac
exec rsync "\$@"
WRAP
chmod +x "$WS/bin/rsync"
cat > "$WS/c.lua" <<CONF
settings { nodaemon = true, logfile = '$WS/log', stateDir = '$STATE' }
sync { default.rsync, source = '$S', target = '${SLAVE_IP[1]}:$T', delay = 0.2,
       rsync = { binary = '$WS/bin/rsync',
                 rsh = 'ssh -i $SSH_KEY -o UserKnownHostsFile=$SSH_KNOWN -o BatchMode=yes' } }
CONF
start_daemon "$WS/out" "$WS/c.lua"
for _ in $(seq 1 150); do grep -q 'state kept from now on' "$WS/log" 2>/dev/null && break; sleep 0.1; done
expect_equal "the first start sends all" "$S" "$T" 20

# one transfer of victim and keep hangs: in flight when the daemon dies
touch "$HANG"
echo new > "$S/d/victim"; echo new > "$S/d/keep"
for _ in $(seq 1 100); do [ -e "$HANG.seen" ] && break; sleep 0.1; done
check "the transfer of the rewrites is in flight" test -e "$HANG.seen"
kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; forget_pid "$DAEMON_PID"
rm -f "$HANG"; sleep 0.3
# what rsync's receiver leaves when interrupted before its rename; and a
# slave-only file of the same form for a name not in flight
echo part > "$T/d/.victim.Ab3xZ9"
echo other > "$T/d/.other.Qq1234"
start_daemon "$WS/out2" "$WS/c.lua"
for _ in $(seq 1 150); do grep -q 'state is valid' "$WS/log" && break; sleep 0.1; done
check "the restart trusts the state" grep -q 'state is valid' "$WS/log"
for _ in $(seq 1 100); do [ "$(cat "$T/d/victim" 2>/dev/null)" = new ] && break; sleep 0.1; done
check "the rewrites arrive" test "$(cat "$T/d/victim")/$(cat "$T/d/keep")" = new/new
check "rsync's temporary file of the file in flight is gone" test ! -e "$T/d/.victim.Ab3xZ9"
check "... the log says it ($(grep -c 'may have left of' "$WS/log"))" grep -q 'may have left of 2 interrupted' "$WS/log"
check "a slave-only file of that form for a name not in flight stays" test -e "$T/d/.other.Qq1234"
check "a source file of that form for a name in flight stays on the slave" \
	test "$(cat "$T/d/.keep.backup" 2>/dev/null)" = mine
rm -f "$T/d/.other.Qq1234"
expect_equal "the slave equals the source" "$S" "$T" 10
check "no full transfer after the restart (only the first start had one)" test "$(grep -c "full startup transfer (" "$WS/log")" = 1
note "$(grep -i 'sweep\|may have left' "$WS/log")"

# the next restart has nothing to sweep: the records went with the sweep
check_stop "after the sweep"
start_daemon "$WS/out3" "$WS/c.lua"
for _ in $(seq 1 150); do [ "$(grep -c 'state is valid' "$WS/log")" = 2 ] && break; sleep 0.1; done
check "a later start finds no transfer in flight ($(grep -c 'may have left of' "$WS/log"))" \
	test "$(grep -c 'may have left of' "$WS/log")" = 1

# in_flight NAME: a rewrite of d/NAME in flight when the daemon is killed,
# and what rsync would have left of it on the slave
in_flight() {
	rm -f "$HANG.seen"; touch "$HANG"
	echo "new $1" > "$S/d/$1"
	for _ in $(seq 1 100); do [ -e "$HANG.seen" ] && break; sleep 0.1; done
	kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; forget_pid "$DAEMON_PID"
	rm -f "$HANG"; sleep 0.3
	echo part > "$T/d/.$1.Ab3xZ9"
}
# waits (up to 30 s) for the log to hold PATTERN N times
wait_log() {
	for _ in $(seq 1 300); do [ "$(grep -c "$1" "$WS/log")" -ge "$2" ] && return 0; sleep 0.1; done
	return 1
}

# a slave the sweep cannot reach: tried again after a back-off, the sync
# held meanwhile (nothing is sent before the sweep)
in_flight v2
touch "$WS/fail255"
start_daemon "$WS/out4" "$WS/c.lua"
check "a sweep that cannot reach the slave says so and is tried again" \
	wait_log 'sweep of rsync.s temporary files failed (exit code 255.*again in 2 s, its transfers wait' 1
echo late > "$S/d/late"
sleep 1
check "the sync is held meanwhile: nothing of it is sent" test ! -e "$T/d/late" -a ! -e "$T/d/v2"
rm -f "$WS/fail255"
check "once the slave is reached, the sweep is done" wait_log 'may have left of 1 interrupted file transfer(s) on the slave (after failures)' 1
expect_equal "and the slave equals the source (the temporary file gone)" "$S" "$T" 20
check_stop "after a sweep that failed"

# any other failure of the sweep (rsync's exit 23): the sync goes on, the
# sweep waits for the next start
start_daemon "$WS/out5a" "$WS/c.lua"
wait_log 'state is valid' 4
in_flight v3
touch "$WS/fail23"
start_daemon "$WS/out5" "$WS/c.lua"
check "a sweep that fails otherwise says so, and the sync goes on" \
	wait_log 'failed (exit code 23.*its transfers go on, the sweep is tried again at the next start' 1
echo late2 > "$S/d/late2"
for _ in $(seq 1 100); do [ -e "$T/d/late2" ] && break; sleep 0.1; done
check "its transfers go on" test "$(cat "$T/d/v3" 2>/dev/null)/$(cat "$T/d/late2" 2>/dev/null)" = "new v3/late2"
check_stop "after a sweep that failed with 23"
rm -f "$WS/fail23"
start_daemon "$WS/out6" "$WS/c.lua"
check "the next start sweeps again" wait_log 'may have left of 1 interrupted' 2
expect_equal "and the slave equals the source" "$S" "$T" 20

# a transfer that fails during the run (the slave's rsync killed or cut off
# in the middle of a file: what it leaves is put there by hand) is sent
# again, and its temporary file is swept at the next start
touch "$WS/failxfer"
echo "new v4" > "$S/d/v4"
for _ in $(seq 1 100); do [ -e "$WS/failxfer.seen" ] && break; sleep 0.1; done
check "a transfer fails (exit 12)" test -e "$WS/failxfer.seen"
echo part > "$T/d/.v4.Ab3xZ9"
rm -f "$WS/failxfer"
for _ in $(seq 1 300); do [ -e "$T/d/v4" ] && break; sleep 0.1; done
check "it is sent again" test "$(cat "$T/d/v4" 2>/dev/null)" = "new v4"
check_stop "after a failed transfer"
start_daemon "$WS/out7" "$WS/c.lua"
check "the next start sweeps what the failed transfer may have left" \
	wait_log 'may have left of 1 interrupted' 3
expect_equal "and the slave equals the source" "$S" "$T" 20
check_stop "state_sweep"
tap_done
