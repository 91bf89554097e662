#!/usr/bin/env bash
# Sustained mixed churn (issue 18): two ssh slaves, each an sshd in a network
# namespace of its own, fed by one default.rsync sync{} (targets = {...},
# delay 1) while a writer does 100 operations a second for 20 s: 60 %
# rewrites, 20 % creates, 10 % deletes, 10 % renames (files and directories,
# onto existing files, chains, rewrites of just-renamed files; see
# spec/tools/churn.py). The trees must be exactly equal shortly after the
# writer stops, renames must have been moved on the slaves (not only sent
# again), and the commands each slave got per delay period must stay under
# a small bound: each round is one ssh of moves and one rsync at most. The
# commands are counted by wrappers around rsync and ssh that note each call.
. "$(dirname "$0")/lib.sh"
RATE=${LNG_CHURN_RATE:-100}
SECONDS_RUN=${LNG_CHURN_SECONDS:-20}
BOUND=${LNG_CHURN_BOUND:-6}        # commands per slave per delay period, at most

sshd_start >/dev/null && sshd_stop      # keys and config; slaves run in namespaces
for n in 1 2; do
	netns_slave "$n" || { tap_fail "slave $n starts in its namespace"; tap_done; exit 1; }
done
tap_ok "two sshd slaves run in namespaces of their own"

S=$WS/src
mkdir -p "$S" "$WS/t1" "$WS/t2" "$WS/bin"
python3 "$LNG_ROOT/spec/tools/churn.py" "$S" --populate 20 10

# wrappers: each call of rsync, and each ssh that runs a move script on a
# slave, is noted with the time and the slave (its address)
CALLS=$WS/calls
cat > "$WS/bin/lng-rsync" <<EOF
#!/bin/sh
eval "dest=\\\${\$#}"
echo "\$(date +%s.%N) rsync \${dest%%:*}" >> '$CALLS'
exec rsync "\$@"
EOF
cat > "$WS/bin/lng-ssh" <<EOF
#!/bin/sh
case "\$*" in *'mv '*)
	for a in "\$@"; do case \$a in 10.$NET_X.*) echo "\$(date +%s.%N) ssh \$a" >> '$CALLS';; esac; done;;
esac
exec ssh "\$@"
EOF
chmod +x "$WS/bin/lng-rsync" "$WS/bin/lng-ssh"

cat > "$WS/churn.lua" <<CFG
settings { nodaemon = true, jsonStatusFile = '$WS/status.json', statusInterval = 1 }
sync { default.rsync, source = '$S', delay = 1,
       targets = { '${SLAVE_IP[1]}:$WS/t1', '${SLAVE_IP[2]}:$WS/t2' },
       rsync = { binary = '$WS/bin/lng-rsync',
                 rsh = '$WS/bin/lng-ssh -i $SSH_KEY -o UserKnownHostsFile=$SSH_KNOWN -o BatchMode=yes' } }
CFG
start_daemon "$WS/churn.log" "$WS/churn.lua"
for n in 1 2; do expect_equal "startup reaches slave $n" "$S" "$WS/t$n" 60; done
# one large file, renamed during the churn: it must be moved, not re-sent
head -c 2000000 /dev/urandom > "$S/spare-large.bin"
for n in 1 2; do expect_equal "a large file reaches slave $n" "$S" "$WS/t$n" 30; done
ino1=$(stat -c %i "$WS/t1/spare-large.bin")
: > "$CALLS"

python3 "$LNG_ROOT/spec/tools/churn.py" "$S" --rate "$RATE" --seconds "$SECONDS_RUN" --seed 7 --ops "$WS/ops.jsonl" \
	> "$WS/writer.out" 2>&1 &
WRITER=$!
PIDS+=("$WRITER")
sleep $((SECONDS_RUN / 2))
mv "$S/spare-large.bin" "$S/spare-renamed.bin"
wait "$WRITER"
forget_pid "$WRITER"
note "$(cat "$WS/writer.out")"
grep -q '^churn: ' "$WS/writer.out" && tap_ok "the writer ran ($RATE ops/s for $SECONDS_RUN s)" \
	|| tap_fail "the writer ran" "$(cat "$WS/writer.out")"

# "shortly after": a few delay periods, plus the back-off of a failed move
for n in 1 2; do expect_equal "slave $n equals the source after the churn" "$S" "$WS/t$n" 30; done
check "the daemon lives on" proc_alive "$DAEMON_PID"
check "the large file was moved on slave 1, not sent again (same inode)" \
	test "$(stat -c %i "$WS/t1/spare-renamed.bin" 2>/dev/null)" = "$ino1"

# commands per slave per delay period (1 s windows over the writer's run)
for n in 1 2; do
	ip=${SLAVE_IP[$n]}
	stats=$(awk -v ip="$ip" '$3 == ip { w = int($1); c[w]++; k[$2]++ }
		END { m = 0; for (w in c) if (c[w] > m) m = c[w];
		      printf "%d %d %d", m, k["rsync"], k["ssh"] }' "$CALLS")
	read -r most nrsync nssh <<<"$stats"
	note "slave $n: $nrsync rsync and $nssh ssh move commands, at most $most in one delay period"
	[ "${most:-0}" -gt 0 ] && [ "$most" -le "$BOUND" ] \
		&& tap_ok "slave $n: at most $BOUND commands per delay period ($most)" \
		|| tap_fail "slave $n: at most $BOUND commands per delay period ($most)" "$(sort "$CALLS" | tail -40)"
	[ "${nssh:-0}" -gt 0 ] && tap_ok "slave $n: renames were moved on the slave ($nssh ssh commands)" \
		|| tap_fail "slave $n: renames were moved on the slave (no ssh move command)"
done
unnamed=$(grep -E 'Finished a list|calling rsync|moving [0-9]+ entr' "$WS/churn.log" | grep -vcE "Sync1/${SLAVE_IP[1]}|Sync1/${SLAVE_IP[2]}")
check "every transfer line names its slave ($unnamed without)" test "$unnamed" = 0
check_stop "churn"

tap_done
