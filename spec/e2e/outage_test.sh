#!/usr/bin/env bash
# Many slaves, one dies: three sshd slaves, each in a network namespace of
# its own: slaves 1 and 2 fed by one sync{} with targets = {...}, slave 3 by
# a sync{} of its own with a bandwidth limit (so a large transfer to it
# lasts long enough to be cut in the middle). One slave's link goes down
# for 60 s, first between transfers, then in the middle of a large transfer.
# The other two keep receiving changes with no growing lag; the cut slave
# catches up within seconds of its link returning; all three trees end equal
# to the source. ssh logins are counted: one per slave connection, not one
# per transfer. Then slave 3's sshd is killed (-9) in the middle of a
# transfer and started again: slave 3 converges.
. "$(dirname "$0")/lib.sh"
OUTAGE=${LNG_OUTAGE_SECONDS:-60}

sshd_start >/dev/null && sshd_stop      # keys and config; slaves run in namespaces
for n in 1 2 3; do
	netns_slave "$n" || { tap_fail "slave $n starts in its namespace"; tap_done; exit 1; }
done
tap_ok "three sshd slaves run in namespaces of their own"

S=$WS/src
mkdir -p "$S" "$WS/t1" "$WS/t2" "$WS/t3"
cat > "$WS/fan.lua" <<CFG
settings { nodaemon = true, jsonStatusFile = '$WS/status.json', statusInterval = 1 }
local rsh = '/usr/bin/ssh -i $SSH_KEY -o UserKnownHostsFile=$SSH_KNOWN -o BatchMode=yes'
sync { default.rsync, source = '$S', delay = 0.3,
       targets = { '${SLAVE_IP[1]}:$WS/t1', '${SLAVE_IP[2]}:$WS/t2' }, rsync = { rsh = rsh } }
sync { default.rsync, source = '$S', delay = 0.3, target = '${SLAVE_IP[3]}:$WS/t3',
       rsync = { rsh = rsh, bwlimit = 4000 } }
CFG
start_daemon "$WS/fan.log" "$WS/fan.lua"
for n in 1 2 3; do expect_equal "startup reaches slave $n" "$S" "$WS/t$n"; done

# marker_lag N FILE: seconds until FILE exists on slave N (20 s cap).
marker_lag() {
	local start el
	start=$(now_ms)
	while [ ! -e "$WS/t$1/$2" ]; do
		el=$(( $(now_ms) - start )); [ "$el" -gt 20000 ] && { echo 20; return; }
		sleep 0.05
	done
	el=$(( $(now_ms) - start )); printf '%d.%03d' $((el / 1000)) $((el % 1000))
}

# outage PHASE: slave 3 down for $OUTAGE s while markers keep coming.
outage() {
	local phase=$1 worst=0 i lag
	link_down 3
	local t0=$SECONDS i=0
	while [ $((SECONDS - t0)) -lt "$OUTAGE" ]; do
		i=$((i + 1)); echo "$phase $i" > "$S/$phase-m$i"
		for n in 1 2; do
			lag=$(marker_lag "$n" "$phase-m$i")
			worst=$(echo "$lag $worst" | awk '{print ($1 > $2) ? $1 : $2}')
		done
		sleep 1
	done
	echo "# $phase: healthy slaves' worst lag during the outage: $worst s ($i markers)"
	awk -v w="$worst" 'BEGIN { exit !(w < 5) }' \
		&& tap_ok "$phase: the healthy slaves keep receiving (worst lag $worst s)" \
		|| tap_fail "$phase: the healthy slaves keep receiving (worst lag $worst s)"
	# the status shows the cut slave behind (lag) while the others are current
	lag3=$(grep -oE "\{[^{}]*\"target\":\"${SLAVE_IP[3]}:[^{}]*\}" "$WS/status.json" | grep -oE '"lag":[0-9.e+]+' | cut -d: -f2)
	lag1=$(grep -oE "\{[^{}]*\"target\":\"${SLAVE_IP[1]}:[^{}]*\}" "$WS/status.json" | grep -oE '"lag":[0-9.e+]+' | cut -d: -f2)
	awk -v a="${lag3:-0}" -v b="${lag1:-99}" 'BEGIN { exit !(a > 5 && b < 5) }' \
		&& tap_ok "$phase: the JSON status shows the cut slave lagging (${lag3} s) and slave 1 current (${lag1} s)" \
		|| tap_fail "$phase: the JSON status shows the cut slave lagging" "$(cat "$WS/status.json")"
	link_up 3
	if wait_equal "$S" "$WS/t3" 30; then
		echo "# $phase: slave 3 caught up $WAITED s after its link returned"
		awk -v w="$WAITED" 'BEGIN { exit !(w < 10) }' \
			&& tap_ok "$phase: the cut slave catches up within seconds ($WAITED s)" \
			|| tap_fail "$phase: the cut slave catches up within seconds ($WAITED s)"
	else
		tap_fail "$phase: the cut slave catches up" "$(tree_diff "$S" "$WS/t3" | head)"
	fi
	for n in 1 2 3; do expect_equal "$phase: slave $n equals the source" "$S" "$WS/t$n"; done
}

outage between
head -c 16000000 /dev/urandom > "$S/big.bin"        # ~4 s to slave 3 at 4 MB/s
for n in 1 2; do expect_equal "the large file reaches healthy slave $n" "$S" "$WS/t$n" 60; done
partial=
for _ in $(seq 1 40); do                          # rsync's temp file on slave 3
	partial=$(find "$WS/t3" -name '.big.bin.*' | head -1)
	[ -n "$partial" ] && break
	sleep 0.1
done
[ -n "$partial" ] && tap_ok "a large transfer to slave 3 is under way when its link is cut" \
	|| tap_fail "a large transfer to slave 3 is under way when its link is cut" "slave 3 holds:" "$(ls -la "$WS/t3" | head)"
outage midtransfer

# sshd killed (-9) in the middle of a transfer, started again 5 s later
head -c 16000000 /dev/urandom > "$S/big2.bin"
for n in 1 2; do expect_equal "the second large file reaches healthy slave $n" "$S" "$WS/t$n" 60; done
sleep 1
sessions=$(children_of "${SLAVE_SSHD[3]}")            # the sshd we started, and its sessions
# shellcheck disable=SC2086
kill -KILL "${SLAVE_SSHD[3]}" $sessions
sleep 5
ip netns exec "${SLAVE_NS[3]}" /usr/sbin/sshd -D -f "$WS/sshd/sshd3.config" -E "${SLAVE_LOG[3]}" &
PIDS+=("$!")
echo "after the sshd kill" > "$S/after-kill"
expect_equal "sshd killed mid-transfer: slave 3 converges after sshd is back" "$S" "$WS/t3" 40
for n in 1 2; do expect_equal "sshd killed: slave $n still equals the source" "$S" "$WS/t$n"; done

for n in 1 2 3; do
	l=$(grep -c 'Accepted publickey' "${SLAVE_LOG[$n]}")
	echo "# slave $n: $l ssh logins"
	[ "$n" != 3 ] && check "slave $n: $l ssh login(s) for the whole run (connection reuse)" test "$l" -le 2
done
stop_daemon
check "SIGTERM exits with 143" test "$DAEMON_RC" = 143
tap_done
