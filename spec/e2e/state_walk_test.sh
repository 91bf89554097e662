#!/usr/bin/env bash
# The start-up walk that adds the watches as it goes (issue 15: one walk of
# the tree at a restart, not a watch walk and then a compare walk), with
# default.rsync to a local directory and a state dir. Checked:
#   - a restart with valid state walks once, watching as it goes (the log
#     says so), and holds one watch per directory;
#   - what changed while stopped deep in the tree arrives, and so does a
#     change made after the start in the deepest directories (their
#     watches exist);
#   - with an exclude the tree is walked by the runner, deciding per
#     directory: the excluded directory has no watch, its changes stay
#     out, the rest arrives;
#   - files changed while the walk runs (a churn during the start) arrive:
#     nothing is lost between a directory's watch and its read.
. "$(dirname "$0")/lib.sh"

S=$WS/src T=$WS/trg STATE=$WS/state
mkdir -p "$S/a/b/c" "$S/skip/x" "$T" "$STATE"
echo 1 > "$S/a/b/c/f"; echo 2 > "$S/a/g"; echo 3 > "$S/skip/x/h"; echo 4 > "$S/top"

# config [extra sync keys]
config() {
	cat > "$WS/walk.lua" <<CFG
settings { nodaemon = true, stateDir = '$STATE' }
sync { default.rsync, source = '$S', target = '$T', delay = 0 ${1:-} }
CFG
}
# started LOG: the daemon, until its start-up is over
started() {
	local i
	start_daemon "$1" "$WS/walk.lua"
	for ((i = 0; i < 300; i++)); do
		grep -qs 'Startup of .* finished\|state is valid' "$1" && return 0
		sleep 0.1
	done
	return 1
}
watches() { grep -hc '^inotify wd:' /proc/"$DAEMON_PID"/fdinfo/* 2>/dev/null | awk '{ n += $1 } END { print n + 0 }'; }
dirs() { find "$S" -type d "$@" | wc -l; }

config
started "$WS/run1.log"
expect_equal "first start: the full transfer" "$S" "$T"
check_stop "first start"

echo changed-while-stopped > "$S/a/b/c/f"
mkdir "$S/a/b/c/new"; echo n > "$S/a/b/c/new/i"
started "$WS/run2.log"
check "restart: the state is valid" grep -q 'state is valid' "$WS/run2.log"
check "restart: one walk, watching as it goes ($(grep 'walked' "$WS/run2.log"))" \
	grep -q 'state: walked .* (and watched it) in' "$WS/run2.log"
check "restart: one watch per directory ($(watches) of $(dirs))" test "$(watches)" = "$(dirs)"
expect_equal "restart: what changed while stopped deep in the tree arrives" "$S" "$T"
echo after-start > "$S/a/b/c/new/j"; echo after-start > "$S/skip/x/h"
expect_equal "restart: a change in the deepest directories after the start arrives" "$S" "$T"
check_stop "restart"

# with an exclude the runner decides per directory
config ", exclude = { 'skip/' }"
started "$WS/run3.log"                # the definition changed: a full transfer
stop_daemon >/dev/null
echo changed-again > "$S/a/b/c/f"
started "$WS/run4.log"
check "exclude: the state is valid" grep -q 'state is valid' "$WS/run4.log"
check "exclude: walked without watching ($(grep 'walked' "$WS/run4.log"))" \
	sh -c "grep 'state: walked' '$WS/run4.log' | grep -vq 'and watched it'"
check "exclude: no watch in the excluded directory ($(watches), $(dirs -not -path "$S/skip*") wanted)" \
	test "$(watches)" = "$(dirs -not -path "$S/skip*")"
echo skipped > "$S/skip/x/h"; echo kept > "$S/a/b/c/k"
wait_equal "$S/a" "$T/a" 20
check "exclude: the rest arrives" tree_equal "$S/a" "$T/a"
check "exclude: the excluded change stays out" test "$(cat "$T/skip/x/h")" = after-start
check_stop "exclude"

# changes while the walk runs: a bigger tree, a churn started with the daemon
config
python3 "$LNG_ROOT/spec/tools/churn.py" "$S/many" --populate 1000 10 >/dev/null
rm -rf "${S:?}/skip"
started "$WS/run5.log"                # the definition changed again: full
expect_equal "bigger tree: the full transfer" "$S" "$T" 60
stop_daemon >/dev/null
python3 "$LNG_ROOT/spec/tools/churn.py" "$S/many" --rate 400 --seconds 2 --seed 7 >/dev/null 2>&1 &
churn=$!
sleep 0.5                             # the walk falls into the churn
started "$WS/run6.log"
wait "$churn"
check "churn during the walk: the state is valid" grep -q 'state is valid' "$WS/run6.log"
note "$(grep 'walked' "$WS/run6.log")"
expect_equal "churn during the walk: every change arrives" "$S" "$T" 60
check_stop "churn"
tap_done
