#!/usr/bin/env bash
# Durable state (issue 15): two ssh slaves (sshd in namespaces of their
# own) fed by one default.rsync sync{} with targets = {...}. A wrapper
# around rsync (lib.sh's counting_rsync) notes each call, "full" for the
# startup transfer. Checked:
#   - the first start sends everything (one full transfer per slave);
#   - a restart with valid state sends no full transfer, and the changes
#     made while the daemon was stopped (creates, rewrites of the same
#     size with the mtime set back, deletes, renames of files and dirs,
#     a new dir with content, a symlink retargeted, a chmod) arrive;
#   - -fullsync and startup = 'full' send everything again;
#   - a damaged state file is said once in the log and everything is sent;
#   - a reload (HUP) keeps the state (no full transfer);
#   - kill -9 during bursts, at random moments (LNG_STATE_KILLS, default
#     20): each following start converges exactly, without a full transfer.
. "$(dirname "$0")/lib.sh"
KILLS=${LNG_STATE_KILLS:-20}

sshd_start >/dev/null && sshd_stop      # keys and config; slaves run in namespaces
for n in 1 2; do
	netns_slave "$n" || { tap_fail "slave $n starts in its namespace"; tap_done; exit 1; }
done

S=$WS/src
STATE=$WS/state
mkdir -p "$S" "$WS/t1" "$WS/t2" "$WS/bin" "$STATE"
python3 "$LNG_ROOT/spec/tools/churn.py" "$S" --populate 6 8
mkdir -p "$S/keep/deep"; echo same > "$S/keep/deep/f"; echo 12345 > "$S/keep/same-size"
ln -s keep "$S/link"

CALLS=$WS/calls
counting_rsync "$WS/bin/lng-rsync" "$CALLS"

# config [extra settings] [extra sync keys]
config() {
	cat > "$WS/state.lua" <<CFG
settings { nodaemon = true, stateDir = '$STATE' ${1:-} }
sync { default.rsync, source = '$S', delay = 0.5 ${2:-},
       targets = { '${SLAVE_IP[1]}:$WS/t1', '${SLAVE_IP[2]}:$WS/t2' },
       rsync = { binary = '$WS/bin/lng-rsync',
                 rsh = 'ssh -i $SSH_KEY -o UserKnownHostsFile=$SSH_KNOWN -o BatchMode=yes' } }
CFG
}
fulls() { grep -c '^full' "$CALLS" 2>/dev/null || true; }
both_equal() {
	local n ok=0
	for n in 1 2; do expect_equal "$1: slave $n equals the source" "$S" "$WS/t$n" "${2:-30}" || ok=1; done
	return $ok
}
# settled N: waits (up to 30 s) until N full transfers were called and
# the startup is over (the log says so once per slave, or the state is valid)
settled() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(fulls)" -ge "$1" ] && [ "$(grep -c 'Startup of .* finished\|state is valid' "$DAEMON_LOG")" -ge 2 ] && return 0
		sleep 0.1
	done
	return 1
}
# start LOG [ARGS...]: the daemon, the call log emptied first
start() { : > "$CALLS"; local log=$1; shift; start_daemon "$log" "$@" "$WS/state.lua"; }

config
start "$WS/run1.log"
settled 2
both_equal "first start" 60
check "first start: one full transfer per slave ($(fulls))" test "$(fulls)" = 2
echo live > "$S/made-while-running"
both_equal "a change while running"
check_stop "first run"

# changes while stopped
echo changed > "$S/keep/deep/f"
touch -r "$S/keep/same-size" "$WS/stamp"; echo 54321 > "$S/keep/same-size"; touch -r "$WS/stamp" "$S/keep/same-size"
rm -f "$S/made-while-running"
mv "$S/keep/deep" "$S/keep/moved"
f=$(cd "$S" && find . -type f -name 'f*' | grep -v keep | sort | head -1)
mv "$S/$f" "$S/renamed-file"
d=$(cd "$S" && find . -mindepth 1 -maxdepth 1 -type d | grep -v keep | sort | head -1)
rm -rf "${S:?}/$d"
mkdir -p "$S/new/sub"; echo n > "$S/new/sub/x"; echo m > "$S/new/y"
ln -sfn keep/moved "$S/link"
chmod 600 "$S/renamed-file"

start "$WS/run2.log"
settled 0
both_equal "restart with valid state: what changed while stopped arrives"
check "restart with valid state: no full transfer ($(fulls))" test "$(fulls)" = 0
check "restart: the log says the state is valid" grep -q 'state is valid' "$WS/run2.log"
for n in 1 2; do
	check "restart: slave $n has the modes too" test -z "$(tree_diff "$S" "$WS/t$n" --meta)"
done
check_stop "second run"

start "$WS/run3.log" -fullsync
settled 2
both_equal "-fullsync"
check "-fullsync: one full transfer per slave ($(fulls))" test "$(fulls)" = 2
stop_daemon >/dev/null

config ", startup = 'full'"
start "$WS/run4.log"
settled 2
both_equal "startup = 'full'"
check "startup = 'full': one full transfer per slave ($(fulls))" test "$(fulls)" = 2
stop_daemon >/dev/null
config

# a damaged state file: said once, full transfer, state valid again after
db=$(ls "$STATE"/state-*.mdb)
head -c 16384 /dev/urandom | dd of="$db" conv=notrunc status=none
start "$WS/run5.log"
settled 2
both_equal "damaged state"
check "damaged state: one full transfer per slave ($(fulls))" test "$(fulls)" = 2
check "damaged state: one log line says so ($(grep -c 'damaged' "$WS/run5.log"))" \
	test "$(grep -c 'damaged' "$WS/run5.log")" = 1
note "$(grep 'damaged' "$WS/run5.log")"
stop_daemon >/dev/null
start "$WS/run6.log"
settled 0
both_equal "after the damaged state was made anew"
check "and the next restart trusts it again ($(fulls) full)" test "$(fulls)" = 0

# a reload (HUP) keeps the state too
echo hup > "$S/made-before-hup"
kill -HUP "$DAEMON_PID"
for ((i = 0; i < 100; i++)); do
	grep -q 'HUP: config reloaded' "$DAEMON_LOG" && break
	sleep 0.1
done
check "the reload keeps both syncs" grep -q 'HUP: config reloaded: 2 sync(s) unchanged' "$DAEMON_LOG"
both_equal "after a reload (HUP)"
check "a reload (HUP) keeps the state: no full transfer ($(fulls))" test "$(fulls)" = 0

# kill -9 during bursts: each start after a kill converges exactly, from
# the state (no full transfer)
bad=0 fullsum=0 swept=0
sweeps() { grep -c '^sweep' "$CALLS" 2>/dev/null || true; }
for ((i = 1; i <= KILLS; i++)); do
	python3 "$LNG_ROOT/spec/tools/churn.py" "$S" --rate 300 --seconds 1.2 --seed "$i" \
		> /dev/null 2>&1 &
	w=$!
	sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	forget_pid "$DAEMON_PID"
	wait "$w"
	fullsum=$((fullsum + $(fulls))) swept=$((swept + $(sweeps)))
	start "$WS/kill$i.log"
	for n in 1 2; do
		if ! wait_equal "$S" "$WS/t$n" 30; then
			bad=$((bad + 1))
			note "after kill $i slave $n differs:" "$(tree_diff "$S" "$WS/t$n" | head -10)"
		fi
	done
done
fullsum=$((fullsum + $(fulls))) swept=$((swept + $(sweeps)))
note "sweeps of rsync's temporary files after the kills: $swept"
check "kill -9 at $KILLS random moments during bursts: every start converged exactly ($bad misses)" \
	test "$bad" = 0
check "kill -9 loop: no full transfer was needed ($fullsum)" test "$fullsum" = 0
check_stop "after the kill loop"

# a startup value that is not known is refused, not taken as the default
config "" ", startup = 'Full'"
out=$(timeout 20 "$LNG_BIN" "$WS/state.lua" 2>&1); rc=$?
check "startup = 'Full' (a typo) is refused (exit $rc)" test "$rc" = 255
check "... saying what it takes" grep -q 'startup = "Full" is not known' <<<"$out"
tap_done
