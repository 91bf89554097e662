#!/usr/bin/env bash
# -log Inotify: every file system event is logged once (the engine and the
# runner both logged each one), new directories' content included.
. "$(dirname "$0")/lib.sh"

S=$WS/src T=$WS/tgt
mkdir -p "$S" "$T"
cat > "$WS/c.lua" <<CFG
settings { nodaemon = true }
sync { default.rsync, source = '$S', target = '$T', delay = 0 }
CFG
start_daemon "$WS/out.log" -log Inotify "$WS/c.lua"
for _ in $(seq 1 50); do grep -q 'Startup' "$WS/out.log" && break; sleep 0.1; done
sleep 0.5
echo a > "$S/file"
mkdir "$S/d" && echo b > "$S/d/inner"
mv "$S/file" "$S/moved"
expect_equal "the events are synced" "$S" "$T"
n() { grep -cE "Inotify: $1\$" "$WS/out.log"; }
check "a Create is logged once ($(n "Create $S/file"))" test "$(n "Create $S/file")" = 1
check "a Modify is logged once ($(n "Modify $S/file"))" test "$(n "Modify $S/file")" = 1
check "a Move is logged once ($(n "Move $S/file -> $S/moved"))" test "$(n "Move $S/file -> $S/moved")" = 1
check "a new dir's Create is logged once ($(n "Create $S/d"))" test "$(n "Create $S/d")" = 1
c=$(grep -cE "Inotify: (Create|Modify) $S/d/inner\$" "$WS/out.log")
check "a file in a new dir is logged ($c)" test "$c" -ge 1 -a "$c" -le 2
check_stop "inotify log"
tap_done
