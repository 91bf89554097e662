#!/usr/bin/env bash
# default.rsync to a local directory through real rsync: startup (stale files
# removed), bursts of create/modify/delete/rename of files and directories,
# the new-dir race, a 5,000-file burst, symlinks, hostile names, every
# delete mode, excludes and filters, SIGTERM -> 143 with no child left.
. "$(dirname "$0")/lib.sh"

# run_cfg NAME LUA: writes a config and starts the daemon on it.
run_cfg() {
	CFG=$WS/$1.lua
	printf '%s\n' "$2" > "$CFG"
	start_daemon "$WS/$1.log" "$CFG"
}

# ---- one-liner: stale files, bursts, race, symlinks, hostile names ----
S=$WS/s1 T=$WS/t1
mkdir -p "$S/keep/deep" "$T/stale-dir"
echo a > "$S/keep/deep/a"; echo old > "$T/stale"; echo x > "$T/stale-dir/x"
start_daemon "$WS/one.log" -nodaemon -delay 1 -rsync "$S" "$T"
expect_equal "startup sync removes stale files and copies the tree" "$S" "$T"

for i in $(seq 1 20); do echo "$i" > "$S/f$i"; done
mkdir -p "$S/d1/d2"; echo deep > "$S/d1/d2/f"
expect_equal "burst of file and directory creates" "$S" "$T"

for i in $(seq 1 10); do echo "changed $i" >> "$S/f$i"; done
for i in $(seq 11 15); do rm "$S/f$i"; done
mv "$S/f16" "$S/f16-renamed"; mv "$S/d1" "$S/d1-renamed"; rm -r "$S/keep"
expect_equal "modify, delete, rename of files and directories" "$S" "$T"

for i in $(seq 1 50); do mkdir -p "$S/race$i/b/c" && echo "x$i" > "$S/race$i/b/c/f"; done
expect_equal "mkdir -p and an immediate write, 50 times (new-dir race)" "$S" "$T"

mkdir -p "$S/many"
for d in $(seq 1 50); do mkdir "$S/many/$d"; for f in $(seq 1 100); do echo "$d-$f" > "$S/many/$d/$f"; done; done
expect_equal "5,000-file burst" "$S" "$T" 60

ln -s f1 "$S/link-to-f1"; ln -s /nonexistent "$S/dangling"; ln -s d1-renamed "$S/dirlink"
if wait_equal "$S" "$T" 20 && [ "$(readlink "$T/dangling")" = /nonexistent ] && [ -L "$T/dirlink" ]; then
	tap_ok "symlinks (also dangling) arrive as symlinks"
else
	tap_fail "symlinks (also dangling) arrive as symlinks" "$(tree_diff "$S" "$T")"
fi

make_hostile_names "$S/hostile"
expect_equal "hostile names (newline, quotes, \$(...), leading dash, non-UTF-8) replicate" "$S" "$T"
mv "$S/hostile/-rf" "$S/hostile/--rf moved"; rm "$S/hostile/"$'new\nline'
expect_equal "hostile names renamed and deleted" "$S" "$T"
check "no file name reached a shell" no_pwned

kids=$(children_of "$DAEMON_PID")
stop_daemon
check "SIGTERM exits with 143 (got $DAEMON_RC)" test "$DAEMON_RC" = 143
# shellcheck disable=SC2086
if any_alive $kids; then tap_fail "no child process left after SIGTERM"; else tap_ok "no child process left after SIGTERM"; fi

# ---- delete modes ----
for mode in true false startup running; do
	S=$WS/del-$mode/s T=$WS/del-$mode/t
	mkdir -p "$S" "$T"
	echo keep > "$S/keep"; echo gone > "$S/gone"; echo stale > "$T/stale"
	q=$mode; [ "$mode" = startup ] || [ "$mode" = running ] && q="'$mode'"
	run_cfg "del-$mode" "settings { nodaemon = true, logfile = '$WS/del-$mode.file.log' }
sync { default.rsync, source = '$S', target = '$T', delay = 0.5, delete = $q }"
	sleep 0.3
	for _ in $(seq 1 100); do [ -e "$T/gone" ] && break; sleep 0.1; done
	rm "$S/gone"; echo new > "$S/new"
	for _ in $(seq 1 100); do [ -e "$T/new" ] && break; sleep 0.1; done
	sleep 1
	got=$(cd "$T" && ls | tr '\n' ' ')
	case $mode in
		true)    want="keep new " ;;
		false)   want="gone keep new stale " ;;
		startup) want="gone keep new " ;;
		running) want="keep new stale " ;;
	esac
	check "delete = $mode: target holds [$want] (got [$got])" test "$got" = "$want"
	stop_daemon
done

# ---- excludes, excludeFrom, filters ----
S=$WS/ex/s T=$WS/ex/t
mkdir -p "$S/cache" "$S/sub/cache" "$T"
echo 1 > "$S/a.tmp"; echo 2 > "$S/keep"; echo 3 > "$S/cache/c"; echo 4 > "$S/rootonly"
echo 5 > "$S/sub/rootonly"; echo 6 > "$S/sub/cache/c"; echo 7 > "$S/fromfile"
printf '# comment\n\nfromfile\n' > "$WS/excludes.txt"
run_cfg ex "settings { nodaemon = true }
sync { default.rsync, source = '$S', target = '$T', delay = 0.5,
  exclude = { '*.tmp', 'cache/', '/rootonly' }, excludeFrom = '$WS/excludes.txt' }"
sleep 0.3
for _ in $(seq 1 100); do [ -e "$T/keep" ] && break; sleep 0.1; done
echo 8 > "$S/b.tmp"; echo 9 > "$S/cache/d"; echo 10 > "$S/sub/new"; mkdir -p "$S/newdir/cache"
echo 11 > "$S/newdir/cache/x"; echo 12 > "$S/newdir/y.tmp"; echo 13 > "$S/newdir/z"
for _ in $(seq 1 100); do [ -e "$T/newdir/z" ] && break; sleep 0.1; done
sleep 1
got=$(cd "$T" && find . -type f | sort | tr '\n' ' ')
want="./keep ./newdir/z ./sub/new ./sub/rootonly "
check "excludes at startup and at runtime (got [$got])" test "$got" = "$want"
stop_daemon

S=$WS/fi/s T=$WS/fi/t
mkdir -p "$S/acx" "$S/abx" "$S/bx" "$T"
echo > "$S/acc"; echo > "$S/abc"; echo > "$S/b"; echo > "$S/acx/x"; echo > "$S/abx/y"; echo > "$S/bx/z"
run_cfg fi "settings { nodaemon = true }
sync { default.rsync, source = '$S', target = '$T', delay = 0.5,
  filter = { '- /ab**', '+ /a**', '- /**' } }"
for _ in $(seq 1 100); do [ -e "$T/acx/x" ] && break; sleep 0.1; done
echo > "$S/acd"; echo > "$S/abd"; echo > "$S/c"; mkdir "$S/acy"; echo > "$S/acy/w"
for _ in $(seq 1 100); do [ -e "$T/acy/w" ] && break; sleep 0.1; done
sleep 1
got=$(cd "$T" && find . -type f | sort | tr '\n' ' ')
want="./acc ./acd ./acx/x ./acy/w "
check "filters at startup and at runtime (got [$got])" test "$got" = "$want"
stop_daemon

tap_done
