#!/usr/bin/env bash
# Bounded queues (issue 15): one ssh slave (sshd in a namespace of its
# own), default.rsync, settings{ maxQueueMemory } small enough for ~100
# queued paths. The slave's link goes down; 1,600 files are made, some
# rewritten, some deleted, some renamed: the queue stops at its bound and
# the rest waits in the state store (the log says so). The daemon is killed
# (-9) and started again while the slave is still down: its state is
# valid, at most one page is queued. The link comes back: the slave ends
# exactly equal to the source, and the queue never held much more than
# its bound.
. "$(dirname "$0")/lib.sh"

sshd_start >/dev/null && sshd_stop      # keys and config; the slave runs in a namespace
netns_slave 1 || { tap_fail "slave 1 starts in its namespace"; tap_done; exit 1; }

S=$WS/src
mkdir -p "$S/base" "$WS/t1"
for i in $(seq 1 20); do echo "$i" > "$S/base/f$i"; done
cat > "$WS/spill.lua" <<CFG
settings { nodaemon = true, stateDir = '$WS/state', maxQueueMemory = 110000, rsyncTimeout = 5 }
sync { default.rsync, source = '$S', delay = 0.3, target = '${SLAVE_IP[1]}:$WS/t1',
       rsync = { rsh = 'ssh -i $SSH_KEY -o UserKnownHostsFile=$SSH_KNOWN -o BatchMode=yes -o ConnectTimeout=2' } }
CFG
start_daemon "$WS/spill1.log" "$WS/spill.lua"
expect_equal "startup reaches the slave" "$S" "$WS/t1" 30

link_down 1
for f in $(seq 1 400); do echo "top $f" > "$S/top$f"; done
for d in $(seq 1 30); do
	mkdir "$S/d$d"
	for f in $(seq 1 40); do echo "$d $f" > "$S/d$d/f$f"; done
done
for i in $(seq 1 10); do echo "rewritten $i" > "$S/base/f$i"; done
rm -f "$S"/base/f1[1-5]
mv "$S/base/f16" "$S/base/g16"; mv "$S/d30" "$S/e30"
for i in $(seq 1 100); do grep -q 'wait in the state store' "$WS/spill1.log" && break; sleep 0.1; done
check "the queue stops at its bound; the rest waits in the store" \
	grep -q 'wait in the state store' "$WS/spill1.log"
sleep 1                                 # the last events committed
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; forget_pid "$DAEMON_PID"

start_daemon "$WS/spill2.log" "$WS/spill.lua"
for i in $(seq 1 100); do grep -q 'state is valid' "$WS/spill2.log" && break; sleep 0.1; done
q=$(grep -o 'valid: [0-9]*' "$WS/spill2.log" | grep -o '[0-9]*$')
check "restarted while the slave is down: state valid, one page queued ($q of 1,600+), more to follow" \
	grep -q 'more follow from the state store' "$WS/spill2.log"
link_up 1
expect_equal "the slave comes back and ends equal to the source" "$S" "$WS/t1" 90
for i in $(seq 1 50); do grep -q 'queue back in memory' "$WS/spill2.log" && break; sleep 0.1; done
peak=$(grep -o 'at most [0-9]* queued' "$WS/spill2.log" | grep -o '[0-9]*' | tail -1)
note "$(grep 'queue back in memory' "$WS/spill2.log")"
check "the queue went back to memory, at most ${peak:-?} paths queued at once (bound 100)" \
	test -n "$peak" -a "${peak:-999}" -le 150
echo after > "$S/after-spill"
expect_equal "and events are queued in memory again" "$S" "$WS/t1" 30
check_stop "spill"
tap_done
