#!/usr/bin/env bash
# A new directory's content in the state's pending sets (issue 15, the
# index's cost in a burst): a sync that sends a new directory with all it
# holds (rsync 'dir/***') keeps one pending entry for it, not one per file
# below it; a sync with excludes (the directory's content goes as entries
# of their own) keeps one per entry. Transfers fail meanwhile (a wrapper
# exits 30 while a flag file exists), so the entries stay and can be
# counted in the store (mdb_dump); then kill -9, the wrapper heals, and the
# next start sends the whole directory to both targets.
. "$(dirname "$0")/lib.sh"

command -v mdb_dump > /dev/null || { tap_fail "mdb_dump (lmdb-utils) is installed"; tap_done; exit 1; }
S=$WS/src STATE=$WS/state FAIL=$WS/fail
mkdir -p "$S/old" "$WS/t1" "$WS/t2" "$STATE" "$WS/bin"
echo o > "$S/old/f"
cat > "$WS/bin/rsync" <<WRAP
#!/bin/sh
[ -e '$FAIL' ] && exit 30
exec rsync "\$@"
WRAP
chmod +x "$WS/bin/rsync"
cat > "$WS/c.lua" <<CONF
settings { nodaemon = true, logfile = '$WS/log', stateDir = '$STATE' }
sync { default.rsync, source = '$S', target = '$WS/t1', delay = 0.2,
       rsync = { binary = '$WS/bin/rsync' } }
sync { default.rsync, source = '$S', target = '$WS/t2', delay = 0.2, exclude = { '*.tmp' },
       rsync = { binary = '$WS/bin/rsync' } }
CONF
# pending: the count of pending entries per sync in the store, "N M"
pending() {
	mdb_dump -n -p "$STATE"/state-*.mdb 2>/dev/null |
		awk '/^ p[0-9a-f]+:/ { n[substr($1, 2, 16)]++ } END { for (k in n) print n[k] }' |
		sort -n | tr '\n' ' ' | sed 's/ $//'
}
start_daemon "$WS/out" "$WS/c.lua"
for _ in $(seq 1 100); do [ "$(grep -c 'state kept from now on' "$WS/log" 2>/dev/null)" = 2 ] && break; sleep 0.1; done
check "the first start makes both syncs' state valid" test "$(grep -c 'state kept from now on' "$WS/log")" = 2
touch "$FAIL"
mkdir -p "$S/new/sub"
for i in $(seq 1 40); do echo "$i" > "$S/new/f$i"; done
for i in $(seq 1 9); do echo "$i" > "$S/new/sub/g$i"; done
echo t > "$S/new/skip.tmp"
# 1 + 40 + 1 + 9 + 1 entries below and with new/; the excluding sync has
# one less (skip.tmp)
want="1 51"
for _ in $(seq 1 50); do [ "$(pending)" = "$want" ] && break; sleep 0.2; done
check "pending entries: one for new/ in the sync that sends it whole, one per entry in the other ($(pending); want $want)" \
	test "$(pending)" = "$want"
check "the transfers failed meanwhile (nothing of new/ arrived)" test ! -e "$WS/t1/new" -a ! -e "$WS/t2/new"
kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
rm -f "$FAIL"
start_daemon "$WS/out2" "$WS/c.lua"
for _ in $(seq 1 100); do [ "$(grep -c 'state is valid' "$WS/log")" = 2 ] && break; sleep 0.1; done
check "after kill -9 the state is valid for both syncs" test "$(grep -c 'state is valid' "$WS/log")" = 2
expect_equal "target 1 gets new/ with all it holds" "$S" "$WS/t1" 20
rm -f "$S/new/skip.tmp"
expect_equal "target 2 gets new/ without the excluded file" "$S" "$WS/t2" 20
for _ in $(seq 1 50); do [ -z "$(pending)" ] && break; sleep 0.2; done
check "then nothing is pending ($(pending))" test -z "$(pending)"
check_stop state_newdir
tap_done
