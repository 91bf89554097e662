#!/usr/bin/env bash
# State across reloads (issue 15): a sync added by a HUP gets its full
# startup transfer and keeps state from then on, like one present at start:
# after a restart only what changed while the daemon was stopped is sent.
# The index of a source no sync has any more is dropped: by a HUP that
# removes its sync, and at a start whose config no longer has it (the log
# names how many entries went: every entry of that tree). A wrapper rsync
# notes each call as "full" (no list of paths) or "list", with its target.
. "$(dirname "$0")/lib.sh"

mkdir -p "$WS/bin" "$WS/state" "$WS/t1" "$WS/t2"
CALLS=$WS/calls
counting_rsync "$WS/bin/lng-rsync" "$CALLS"
# calls KIND TARGET: how many transfers of that kind went to TARGET
calls() { grep -c "^$1 $2\$" "$CALLS"; }

S1=$WS/s1 S2=$WS/s2
for s in "$S1" "$S2"; do
	mkdir -p "$s/a/b" "$s/c"
	for i in 1 2 3; do echo "$i" > "$s/a/f$i"; echo "$i" > "$s/a/b/g$i"; echo "$i" > "$s/c/h$i"; done
done
RS="rsync = { binary = '$WS/bin/lng-rsync' }"
A="sync { default.rsync, name = 'A', source = '$S1', target = '$WS/t1', delay = 0.3, $RS }"
B="sync { default.rsync, name = 'B', source = '$S2', target = '$WS/t2', delay = 0.3, $RS }"
HEAD="settings { nodaemon = true, stateDir = '$WS/state' }"
conf() { printf '%s\n' "$HEAD" "$@" > "$WS/r.lua"; }
# waitlog PATTERN COUNT: until the daemon's log holds COUNT lines matching
waitlog() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(grep -c "$1" "$DAEMON_LOG")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
hup() {
	local n
	n=$(grep -c 'HUP: config reloaded' "$DAEMON_LOG")
	kill -HUP "$DAEMON_PID"
	waitlog 'HUP: config reloaded' $((n + 1))
}

conf "$A"
: > "$CALLS"
start_daemon "$WS/run1.log" "$WS/r.lua"
waitlog 'A: startup transfer done' 1
expect_equal "A's startup" "$S1" "$WS/t1" 30

# B comes by a HUP: its full transfer, then its state is valid
conf "$A" "$B"
hup
expect_equal "B, added by a HUP, reaches its slave" "$S2" "$WS/t2" 30
check "B's startup transfer makes its state valid (the log says so)" waitlog 'B: startup transfer done' 1
echo live > "$S2/c/while-running"
expect_equal "a change of B's source while running" "$S2" "$WS/t2" 30
check_stop "with B added by a HUP"

# stopped: one file of each changes; the restart sends only that
echo changed-while-stopped > "$S2/a/b/g2"
echo changed-while-stopped > "$S1/c/h1"
: > "$CALLS"
start_daemon "$WS/run2.log" "$WS/r.lua"
waitlog 'state is valid' 2
expect_equal "restart: A equal" "$S1" "$WS/t1" 30
expect_equal "restart: B equal (its change arrived)" "$S2" "$WS/t2" 30
note "$(grep -E 'state is valid|full startup' "$DAEMON_LOG")"
check "restart: B, added by a HUP, gets no full transfer ($(calls full "$WS/t2"))" \
	test "$(calls full "$WS/t2")" = 0
check "restart: B's change went as a list ($(calls list "$WS/t2"))" test "$(calls list "$WS/t2")" -ge 1
check "restart: A neither ($(calls full "$WS/t1"))" test "$(calls full "$WS/t1")" = 0

# B changed by a HUP (another exclude): its full transfer again, then valid;
# its source's index stays (the new B uses it); a restart sends no full
B2="sync { default.rsync, name = 'B', source = '$S2', target = '$WS/t2', delay = 0.3, exclude = { '*.tmp' }, $RS }"
conf "$A" "$B2"
: > "$CALLS"
hup
check "B changed by a HUP: its full transfer again" waitlog 'B: startup transfer done' 1
check "... one ($(calls full "$WS/t2")), and none for A ($(calls full "$WS/t1"))" \
	test "$(calls full "$WS/t2")$(calls full "$WS/t1")" = 10
check "... and B's source's index is kept" bash -c "! grep -q 'dropped' '$DAEMON_LOG'"
check_stop "with B changed by a HUP"
echo changed-again > "$S2/a/f1"
: > "$CALLS"
start_daemon "$WS/run2b.log" "$WS/r.lua"
waitlog 'state is valid' 2
expect_equal "restart after B changed: B equal" "$S2" "$WS/t2" 30
check "restart after B changed: no full transfer ($(calls full "$WS/t2") to B, $(calls full "$WS/t1") to A)" \
	test "$(calls full "$WS/t2")$(calls full "$WS/t1")" = 00

# B leaves by a HUP: its source's index goes (every entry of the tree)
entries=$(find "$S2" -mindepth 1 | wc -l)
conf "$A"
hup
waitlog "index of $S2 dropped" 1
got=$(grep -o "index of $S2 dropped ([0-9]*" "$DAEMON_LOG" | grep -o '[0-9]*$')
check "a HUP that removes B drops its source's index: ${got:-no} of $entries entries" \
	test "${got:-x}" = "$entries"
check "... and A keeps its state (no full transfer: $(calls full "$WS/t1"))" test "$(calls full "$WS/t1")" = 0
check_stop "after B was removed"

# B's source indexed again (a start with B: full transfer, its state is new),
# then a start without B: the orphan index is dropped at start
conf "$A" "$B"
start_daemon "$WS/run3.log" "$WS/r.lua"
waitlog 'B: startup transfer done' 1
check_stop "with B again"
conf "$A"
start_daemon "$WS/run4.log" "$WS/r.lua"
waitlog 'state is valid' 1
got=$(grep -o 'index of a source no sync has any more dropped ([0-9]*' "$DAEMON_LOG" | grep -o '[0-9]*$')
check "a start whose config lost B drops B's source's index: ${got:-no} of $entries entries" \
	test "${got:-x}" = "$entries"
conf "$A"
check_stop "without B"
start_daemon "$WS/run5.log" "$WS/r.lua"
waitlog 'state is valid' 1
check "the next start finds no orphan index" \
	test "$(grep -c 'no sync has any more' "$DAEMON_LOG")" = 0
check_stop "last run"
tap_done
