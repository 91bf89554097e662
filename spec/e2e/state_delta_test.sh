#!/usr/bin/env bash
# A restart after changes (issue 15) sends what changed, not more. One
# source, two ssh slaves (sshd in namespaces of their own): sync A (no
# excludes) to slave 1, sync B (exclude '*.tmp') to slave 2. A wrapper
# around rsync notes each call's kind ("full": the startup transfer,
# "list": an include list, "files": a --files-from list) and has rsync log
# every file it sends (--log-file). Two restarts on changes made while the
# daemon was stopped; checked after each:
#   - a directory whose own entry changed (a file made or deleted in it)
#     is not sent with all it holds: its unchanged files are not sent, and
#     exactly the rewritten and new files are (counted per slave);
#   - files and whole directories deleted while stopped are gone on the
#     slaves; a directory renamed while stopped arrives whole and its old
#     name is gone (the slaves equal the source, by checksum, modes too);
#   - an excluded path is neither sent nor deleted on slave 2;
#   - a batch of >= 100 entries goes as --files-from (hostile names too),
#     a directory sent whole (renamed while stopped) in a round of its own;
#   - no full transfer (the state is valid).
. "$(dirname "$0")/lib.sh"

sshd_start >/dev/null && sshd_stop      # keys and config; slaves run in namespaces
for n in 1 2; do
	netns_slave "$n" || { tap_fail "slave $n starts in its namespace"; tap_done; exit 1; }
done

S=$WS/src
STATE=$WS/state
CALLS=$WS/calls
mkdir -p "$S" "$WS/t1" "$WS/t2" "$WS/bin" "$STATE"
for d in d1 d2 d3 d4; do
	mkdir -p "$S/$d"
	for i in $(seq -w 1 30); do echo "$d $i" > "$S/$d/f$i"; done
done
mkdir -p "$S/big" "$S/gone/sub" "$S/ren/sub"
for i in $(seq -w 1 50); do echo "big $i" > "$S/big/f$i"; done
for i in 1 2 3; do
	echo "g$i" > "$S/gone/g$i"; echo "s$i" > "$S/gone/sub/s$i"
	echo "r$i" > "$S/ren/r$i"; echo "q$i" > "$S/ren/sub/q$i"
done
echo tmp > "$S/d1/x.tmp"
make_hostile_names "$S/hostile"

counting_rsync "$WS/bin/lng-rsync" "$CALLS" "$WS/sent"

cat > "$WS/delta.lua" <<CFG
settings { nodaemon = true, stateDir = '$STATE' }
local function rs()
	return { binary = '$WS/bin/lng-rsync',
	         rsh = 'ssh -i $SSH_KEY -o UserKnownHostsFile=$SSH_KNOWN -o BatchMode=yes' }
end
sync { default.rsync, source = '$S', delay = 0.5, target = '${SLAVE_IP[1]}:$WS/t1', rsync = rs() }
sync { default.rsync, source = '$S', delay = 0.5, target = '${SLAVE_IP[2]}:$WS/t2', rsync = rs(),
       exclude = { '*.tmp' } }
CFG

calls() { grep -c "^$1 .*/t$2\$" "$CALLS" 2>/dev/null || true; }
# sent N [REGEX]: files rsync sent to slave N (matching REGEX) since start
sent() { grep -a '\] [<>]f' "$WS/sent.t$1" 2>/dev/null | grep -ac -- "${2:-.}" || true; }
# settled N: waits (up to 60 s) until N full transfers were called and
# the startup is over (the log says so once per slave, or the state is valid)
settled() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(grep -c '^full' "$CALLS" 2>/dev/null || true)" -ge "$1" ] &&
			[ "$(grep -c 'Startup of .* finished\|state is valid' "$DAEMON_LOG")" -ge 2 ] && return 0
		sleep 0.1
	done
	return 1
}
# start LOG: the daemon, the call and send logs emptied first
start() {
	local f
	: > "$CALLS"
	for f in "$WS"/sent.t?; do [ -e "$f" ] && mv "$f" "$f.before-$(basename "$1" .log)"; done
	start_daemon "$1" "$WS/delta.lua"
}
# slaves_equal WHAT: slave 1 equals the source, slave 2 too but for *.tmp
slaves_equal() {
	local ok=0
	if wait_equal "$S" "$WS/t1" 60; then tap_ok "$1: slave 1 equals the source (${WAITED}s)"
	else tap_fail "$1: slave 1 equals the source" "$(tree_diff "$S" "$WS/t1" | head -20)"; ok=1; fi
	if wait_equal "$S" "$WS/t2" 60 --exclude='*.tmp'; then
		tap_ok "$1: slave 2 equals the source but for the excluded *.tmp (${WAITED}s)"
	else
		tap_fail "$1: slave 2 equals the source" "$(tree_diff "$S" "$WS/t2" --exclude='*.tmp' | head -20)"
		ok=1
	fi
	check "$1: modes and mtimes too" test -z "$(tree_diff "$S" "$WS/t1" --meta)$(tree_diff "$S" \
		"$WS/t2" --meta --exclude='*.tmp')"
	return $ok
}
# rewrite FIRST LAST WORD: files f FIRST..LAST of d1..d4 get another content
rewrite() {
	local d i
	for d in d1 d2 d3 d4; do
		for i in $(seq -w "$1" "$2"); do echo "$3 $d $i while stopped" > "$S/$d/f$i"; done
	done
}
# wait_sent N COUNT: until COUNT files were sent to slave N (up to 30 s)
wait_sent() {
	local i
	for ((i = 0; i < 300; i++)); do [ "$(sent "$1")" -ge "$2" ] && return 0; sleep 0.1; done
	return 1
}

start "$WS/run1.log"
settled 2
slaves_equal "first start"
check "first start: one full transfer per slave" test "$(calls full 1)$(calls full 2)" = 11
check_stop "first run"
echo mine > "$WS/t2/d1/slave.tmp"       # on slave 2 only, excluded there

# restart 1: 100 files rewritten, 2 deleted, 3 new in big/ (whose 50 other
# files stay), a dir with a subdir deleted, one renamed, every hostile
# name rewritten, an excluded file changed and one made
rewrite 1 25 changed
rm "$S/d2/f29" "$S/d2/f30"
for i in 1 2 3; do echo "new $i" > "$S/big/n$i"; done
rm -rf "${S:?}/gone"
mv "$S/ren" "$S/ren2"
echo "tmp changed" > "$S/d1/x.tmp"; echo new > "$S/d3/new.tmp"
hostile=$(find "$S/hostile" -type f -printf x | wc -c)
find "$S/hostile" -type f -exec sh -c 'for f; do echo changed >> "$f"; done' sh {} +
# sent: 100 rewritten + 3 new + 6 in the renamed dir + the hostile ones
# (+ the two *.tmp to slave 1)
want1=$((100 + 3 + 6 + hostile + 2)) want2=$((100 + 3 + 6 + hostile))
start "$WS/run2.log"
settled 0
slaves_equal "restart 1"
wait_sent 1 "$want1"; wait_sent 2 "$want2"
sleep 1
check "restart 1: the state is valid, no full transfer" test "$(calls full 1)$(calls full 2)" = 00
check "restart 1: the 50 unchanged files of a dir with new files are not sent ($(sent 1 ' big/f') $(sent 2 ' big/f'))" \
	test "$(sent 1 ' big/f')$(sent 2 ' big/f')" = 00
check "restart 1: exactly what changed is sent to slave 1 ($(sent 1) of $want1)" test "$(sent 1)" = "$want1"
check "restart 1: exactly what changed is sent to slave 2 ($(sent 2) of $want2)" test "$(sent 2)" = "$want2"
check "restart 1: the renamed dir's old name is gone" test ! -e "$WS/t1/ren" -a ! -e "$WS/t2/ren"
check "restart 1: the deleted dir is gone" test ! -e "$WS/t1/gone" -a ! -e "$WS/t2/gone"
check "restart 1: an excluded file is not sent ($(sent 2 '\.tmp'))" \
	test "$(sent 2 '\.tmp')" = 0 -a ! -e "$WS/t2/d1/x.tmp" -a ! -e "$WS/t2/d3/new.tmp"
check "restart 1: an excluded file on the slave is not deleted" test -e "$WS/t2/d1/slave.tmp"
check "restart 1: slave 2's batch (excludes: a new dir's content as its entries) went as --files-from" \
	test "$(calls files 2)" -ge 1
check "restart 1: slave 1's batch went as --files-from, the renamed dir (sent whole) in a round of its own" \
	test "$(calls files 1)" -ge 1 -a "$(calls list 1)" -ge 1
check "restart 1: no file name reached a shell" no_pwned
note "calls: $(sort "$CALLS" | uniq -c | tr '\n' ' ')"
check_stop "restart 1"

# restart 2: 108 rewritten, one deleted and one new in big/: both go as
# --files-from
rewrite 1 27 'changed again'
rm "$S/big/f50"; echo "new 4" > "$S/big/n4"
want=$((108 + 1))
start "$WS/run3.log"
settled 0
slaves_equal "restart 2"
wait_sent 1 "$want"; wait_sent 2 "$want"
sleep 1
check "restart 2: both batches went as --files-from ($(calls files 1) $(calls files 2))" \
	test "$(calls files 1)$(calls files 2)$(calls list 1)$(calls list 2)" = 1100
check "restart 2: big/'s unchanged files are not sent ($(sent 1 ' big/f') $(sent 2 ' big/f'))" \
	test "$(sent 1 ' big/f')$(sent 2 ' big/f')" = 00
check "restart 2: exactly what changed is sent ($(sent 1) $(sent 2) of $want)" \
	test "$(sent 1) $(sent 2)" = "$want $want"
check "restart 2: the file deleted while stopped is gone" test ! -e "$WS/t1/big/f50" -a ! -e "$WS/t2/big/f50"
check "restart 2: an excluded file on the slave is not deleted" test -e "$WS/t2/d1/slave.tmp"
check_stop "restart 2"
tap_done
