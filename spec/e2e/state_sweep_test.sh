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
cat > "$WS/bin/rsync" <<WRAP
#!/bin/sh
while [ -e '$HANG' ]; do touch '$HANG.seen'; sleep 0.1; done
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
check_stop "state_sweep"
tap_done
