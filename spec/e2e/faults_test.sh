#!/usr/bin/env bash
# Faults on the master side: inotify queue overflow (rescan, no restart),
# running out of watches (clear error, degraded status, periodic rescan),
# kill -9 during churn then restart (exact convergence, no orphan child), a
# same-size rewrite that rsync's quick check would skip,
# an unreadable file (rsync exit 23: retried until it arrives), a
# misconfigured slave that must not stop a good one. Sysctls are restored.
. "$(dirname "$0")/lib.sh"

QUEUE=/proc/sys/fs/inotify/max_queued_events
WATCHES=/proc/sys/fs/inotify/max_user_watches

# ---- overflow ----
S=$WS/ov/s T=$WS/ov/t
mkdir -p "$S" "$T"
set_sysctl "$QUEUE" 64                # read when the daemon opens inotify
start_daemon "$WS/ov.log" -nodaemon -delay 1 -rsync "$S" "$T"
sleep 1
echo "${RESTORE[-1]#* }" > "$QUEUE"    # the daemon keeps its small queue
for d in $(seq 1 20); do mkdir "$S/d$d"; done
sleep 1.5                              # the new dirs are watched
kill -STOP "$DAEMON_PID"               # it cannot read: the kernel queue overflows
for d in $(seq 1 20); do for f in $(seq 1 50); do echo "$f" > "$S/d$d/$f"; done; done
kill -CONT "$DAEMON_PID"
expect_equal "overflow: a burst that overflows the queue still converges" "$S" "$T" 60
check "overflow: reported in the log" grep -q OVERFLOW "$WS/ov.log"
check "overflow: the rescan is called a re-scan, not a startup" grep -q 'recursive full re-scan rsync' "$WS/ov.log"
check "overflow: the daemon was not restarted (same pid, running)" kill -0 "$DAEMON_PID"
rm -r "$S/d1"; echo more > "$S/after"
expect_equal "overflow: events after the rescan are synced" "$S" "$T"
stop_daemon

# ---- out of watches ----
S=$WS/ow/s T=$WS/ow/t
mkdir -p "$T"
for d in $(seq 1 40); do mkdir -p "$S/d$d/sub"; done
inuse=$(cat /proc/[0-9]*/fdinfo/* 2>/dev/null | grep -c '^inotify wd:')
set_sysctl "$WATCHES" $((inuse + 10))
cat > "$WS/ow.lua" <<EOF
settings { nodaemon = true, jsonStatusFile = '$WS/ow.json', statusInterval = 1, rescanInterval = 2 }
sync { default.rsync, source = '$S', target = '$T', delay = 0.5 }
EOF
start_daemon "$WS/ow.log" "$WS/ow.lua"
sleep 1.5
echo "${RESTORE[-1]#* }" > "$WATCHES"
check "out of watches: the error names fs.inotify.max_user_watches" \
	grep -q 'fs.inotify.max_user_watches' "$WS/ow.log"
check "out of watches: the daemon keeps running (degraded)" kill -0 "$DAEMON_PID"
sleep 1.2
check "out of watches: the JSON status says degraded with the unwatched count" \
	grep -q '"state":"degraded"' "$WS/ow.json"
grep -qE '"unwatched":[1-9]' "$WS/ow.json" && tap_ok "out of watches: unwatched directories counted" \
	|| tap_fail "out of watches: unwatched directories counted" "$(cat "$WS/ow.json")"
echo late > "$S/d40/sub/late"
expect_equal "out of watches: changes in unwatched dirs arrive by the periodic rescan" "$S" "$T" 15
stop_daemon

# ---- kill -9 during churn, restart ----
# The startup transfer is slowed down (bwlimit) so that at the instant of the
# kill a child (rsync, the sender) and a grandchild (the receiver it forks)
# exist for sure: the test waits for both, then checks that neither, nor
# anything else below the daemon, outlives it.
S=$WS/k9/s T=$WS/k9/t
mkdir -p "$S" "$T"
head -c 4000000 /dev/urandom > "$S/big"
cat > "$WS/k9.lua" <<EOF
settings { nodaemon = true }
sync { default.rsync, source = '$S', target = '$T', delay = 0.2, rsync = { bwlimit = 200 } }
EOF
start_daemon "$WS/k9.log" "$WS/k9.lua"
( for i in $(seq 1 400); do
	mkdir -p "$S/c$((i % 17))"; echo "$i" > "$S/c$((i % 17))/f$i"
	[ $((i % 7)) = 0 ] && rm -f "$S/c$((i % 17))/f$((i - 3))"
	[ $((i % 50)) = 0 ] && mv "$S/c$((i % 17))" "$S/m$i"
  done ) &
churn=$!
kids='' grand=''
for _ in $(seq 1 100); do
	kids=$(children_of "$DAEMON_PID")
	grand=$(for k in $kids; do children_of "$k"; done)
	[ -n "$kids" ] && [ -n "$grand" ] && break
	sleep 0.1
done
below=$(descendants "$DAEMON_PID")
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
if [ -n "$kids" ] && [ -n "$grand" ]; then
	tap_ok "kill -9: at the kill a child ran and had a child of its own"
else
	tap_fail "kill -9: at the kill a child ran and had a child of its own" "children: '$kids' grandchildren: '$grand'"
fi
wait "$churn"
sleep 1.5
# shellcheck disable=SC2086
left=$(alive_of $kids $grand $below)
if [ -z "$left" ] && [ -n "$kids" ]; then
	tap_ok "kill -9: no child or grandchild of the dead daemon keeps running"
else
	tap_fail "kill -9: no child or grandchild of the dead daemon keeps running" "$left"
fi
start_daemon "$WS/k9b.log" -nodaemon -delay 0.2 -rsync "$S" "$T"
expect_equal "kill -9: after a restart the slave converges exactly" "$S" "$T" 30
stop_daemon

# ---- an unreadable file (rsync exit 23) is retried until it arrives ----
S=$WS/ur/s T=$WS/ur/t
mkdir -p "$S" "$T"
chown nobody:nogroup "$S" "$T" "$WS/ur"
chmod 755 "$WS"
start_cmd "$WS/ur.log" setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	"$LNG_BIN" -nodaemon -delay 0.3 -rsync "$S" "$T"
sleep 1
echo secret > "$S/locked"; chmod 600 "$S/locked"    # root's file, unreadable for nobody
echo open > "$S/open"; chown nobody "$S/open"
for _ in $(seq 1 50); do [ -e "$T/open" ] && break; sleep 0.1; done
check "exit 23: the readable file arrives" test -e "$T/open"
check "exit 23: the unreadable one is not (yet) there" test ! -e "$T/locked"
chmod 644 "$S/locked"
for _ in $(seq 1 100); do [ -e "$T/locked" ] && break; sleep 0.1; done
check "exit 23: once readable, the file is retried and arrives" test -e "$T/locked"
check "exit 23: the retry was logged" grep -q 'exit 23' "$WS/ur.log"
stop_daemon

# ---- a same-size rewrite that keeps the mtime (rsync's quick check) ----
S=$WS/qc/s T=$WS/qc/t
mkdir -p "$S" "$T"
start_daemon "$WS/qc.log" -nodaemon -delay 0.3 -rsync "$S" "$T"
sleep 0.5
echo aaaa > "$S/same"; touch -d '2020-01-01 00:00:00' "$S/same"
expect_equal "quick check: the first version arrives" "$S" "$T"
echo bbbb > "$S/same"; touch -d '2020-01-01 00:00:00' "$S/same"   # same size, same mtime
for _ in $(seq 1 50); do [ "$(cat "$T/same" 2>/dev/null)" = bbbb ] && break; sleep 0.1; done
check "quick check: a same-size rewrite with the same mtime still arrives" \
	test "$(cat "$T/same" 2>/dev/null)" = bbbb
stop_daemon

# ---- a misconfigured slave does not stop a good one ----
S=$WS/mc/s T=$WS/mc/t
mkdir -p "$S" "$T"
cat > "$WS/mc.lua" <<EOF
settings { nodaemon = true }
sync { default.rsync, source = '$S', target = '$T', delay = 0.3 }
sync { default.rsync, source = '$S', target = '$WS/mc/nonexistent/deeper/t', delay = 0.3 }
sync { default.rsync, source = '$S', target = '$WS/mc/t2', delay = 0.3,
       rsync = { _extra = { '--no-such-rsync-option' } } }
EOF
start_daemon "$WS/mc.log" "$WS/mc.lua"
sleep 1
echo one > "$S/one"; mkdir "$S/dir"; echo two > "$S/dir/two"
expect_equal "misconfigured slaves: the good slave keeps receiving changes" "$S" "$T"
check "misconfigured slaves: the daemon keeps running" kill -0 "$DAEMON_PID"
check "misconfigured slaves: the usage error stopped only its sync, and says so" grep -q 'stopped' "$WS/mc.log"
stop_daemon

tap_done
