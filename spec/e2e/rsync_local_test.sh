#!/usr/bin/env bash
# default.rsync to a local directory, through real rsync.
#   A  config file (settings{logfile, nodaemon}, delay = 1): stale files
#      removed at startup; bursts of create/modify/delete/rename of files and
#      directories; the new-dir race;
#      a 5,000-file burst and its removal; symlinks (also dangling, retargeted,
#      replaced); hostile names; SIGTERM -> 143, no child left.
#   B  the -rsync one-liner (-nodaemon -delay 1 -rsync SRC TGT): startup with
#      stale files, a burst, SIGTERM.
#   C  SIGTERM while a transfer runs: 143 and no child process of the daemon left.
#   G  changes rsync's quick check (size + mtime) cannot see: rename over / swap
#      of same-size same-mtime files, a rewrite with the mtime restored.
#   D  delete = true | false | 'startup' | 'running': exact target trees at
#      startup and after runtime deletes/renames.
#   E  exclude = {'*.tmp','cache/','/rootonly'} + excludeFrom, at startup and
#      at runtime; F  filter = {'- /ab**','+ /a**','- /**'} likewise.
# Every case ends with an exact tree comparison (names as bytes, types,
# sizes, contents, symlink targets) of the target against the source or
# against an expected tree.
. "$(dirname "$0")/lib.sh"

declare -A DPID DRUN
# step NAME [TIMEOUT]: expect_equal "$S" "$T"; when they still differ, the
# target is repaired by hand (rsync -c) so the next case starts clean and a
# failure is reported once, by the case that caused it.
step() {
	expect_equal "$1" "$S" "$T" "${2:-20}" ||
		rsync -rlcD --delete "$S/" "$T/"
}
# cfg NAME LUA: writes $WS/NAME.lua, sets CFG.
cfg() { CFG=$WS/$1.lua; printf '%s\n' "$2" > "$CFG"; }

# ===== A: config file =====
S=$WS/a/src T=$WS/a/trg
mkdir -p "$S/keep/deep" "$S/empty" "$S/typeclash" "$T/stale-dir/sub" "$T/keep"
echo a > "$S/keep/deep/a"; echo same > "$S/keep/b"; echo source > "$S/differs"
ln -s keep/b "$S/link-at-start"
echo old > "$T/stale"; echo x > "$T/stale-dir/sub/x"; echo trg > "$T/differs"
echo file-on-target > "$T/typeclash"           # a directory in the source
mkdir "$T/link-at-start"                        # a symlink in the source
cfg a "settings { logfile = '$WS/a.file.log', nodaemon = true }
sync { default.rsync, source = '$S', target = '$T', delay = 1 }"
start_daemon "$WS/a.log" "$CFG"
step "config: startup removes stale entries, fixes type clashes, copies the tree"
check "config: settings.logfile is written" test -s "$WS/a.file.log"

for i in $(seq 1 20); do seq -s ' ' 1 "$i" > "$S/f$i"; done    # every size different
mkdir -p "$S/d1/d2/d3" "$S/emptynew"; echo deep > "$S/d1/d2/d3/f"; : > "$S/zero"
step "config: burst of file and directory creates (incl. empty ones)"

for i in $(seq 1 5); do echo "changed $i" >> "$S/f$i"; done
: > "$S/f6"; printf 'longer content now\n' > "$S/f7"
for i in $(seq 11 15); do rm "$S/f$i"; done
mv "$S/f16" "$S/f16-renamed"                     # file rename
mv "$S/f17" "$S/f18"                             # rename over an existing file
mv "$S/f19" "$S/swap.tmp"; mv "$S/f20" "$S/f19"; mv "$S/swap.tmp" "$S/f20"   # swap
mv "$S/d1" "$S/d1-renamed"; echo new > "$S/d1-renamed/d2/added-after-rename"
mkdir "$S/holder"; mv "$S/emptynew" "$S/holder/moved-in"   # dir into another dir
rm -r "$S/keep"                                  # a directory tree
echo gone > "$S/transient"; rm "$S/transient"    # created and deleted in one burst
mkdir -p "$S/tdir/x"; rm -r "$S/tdir"
step "config: modify, delete, rename, swap, dir rename/move, transient entries"

for i in $(seq 1 50); do mkdir -p "$S/race$i/b/c" && echo "x$i" > "$S/race$i/b/c/f"; done
step "config: mkdir -p a/b/c && write a/b/c/f, 50 times (new-dir race)"
for i in $(seq 1 30); do rm -rf "$S/again"; mkdir -p "$S/again/b/c" && seq -s ' ' 1 "$i" > "$S/again/b/c/f"; done
step "config: rm -rf + mkdir -p + write on the same path, 30 times"

mkdir -p "$S/many"
for d in $(seq 1 50); do
	mkdir "$S/many/$d"
	for f in $(seq 1 100); do echo "$d-$f" > "$S/many/$d/$f"; done
done
step "config: 5,000-file burst" 90
# a new directory is sent with all it holds (dir/***): events below it are
# not queued while its transfer waits (lsyncd queues and lists every file)
# (the list is one log line, its names separated by escaped newlines "\n")
n=$(grep -oE '/many/[0-9]+/[0-9]+(\\n|$)' "$WS/a.file.log" | wc -l)
check "config: files in new directories ride on their directory's rule ($n of 5,000 listed alone)" \
	test "$n" -lt 1000
rm -r "$S/many"
step "config: removal of the 5,000 files" 60

ln -s f1 "$S/link-to-f1"; ln -s /nonexistent/lng "$S/dangling-abs"; ln -s missing "$S/dangling-rel"
ln -s d1-renamed "$S/dirlink"; mkdir "$S/newdir-with-link"; ln -s ../f2 "$S/newdir-with-link/up"
ln -s nowhere "$S/newdir-with-link/dangling"
step "config: symlinks (to file, to dir, dangling, inside a new dir)"
ok=1
for l in link-to-f1 dangling-abs dangling-rel dirlink newdir-with-link/up newdir-with-link/dangling; do
	[ -L "$T/$l" ] && [ "$(readlink "$T/$l")" = "$(readlink "$S/$l")" ] || { ok=0; note "bad: $l"; }
done
check "config: every symlink arrived as a symlink with the same target" test $ok = 1
ln -sfn f3 "$S/link-to-f1"; ln -sfn /elsewhere "$S/dangling-abs"
rm "$S/dangling-rel"; echo now-a-file > "$S/dangling-rel"
rm "$S/f4"; ln -s f5 "$S/f4"
rm "$S/link-at-start"; mkdir "$S/link-at-start"
step "config: symlinks retargeted, replaced by a file/dir, a file replaced by a symlink"

make_hostile_names "$S/hostile"
step "config: hostile names (newline, quotes, \$(...), leading dash, non-UTF-8, 255 bytes)"
mv "$S/hostile/-rf" "$S/hostile/--rf moved"; rm "$S/hostile/"$'new\nline'
mv "$S/hostile/--delete dir" "$S/hostile/-renamed dir;x"; mv "$S/hostile/star*" "$S/hostile/[star]?"
rm -r "$S/hostile/"$'dir\nnl'; echo more >> "$S/hostile/\$(touch lng-pwned)"
step "config: hostile names renamed, deleted, modified"
check "config: no file name was evaluated by a shell" no_pwned
check_stop "config"

# ===== B: -rsync one-liner =====
S=$WS/b/src T=$WS/b/trg
mkdir -p "$S/d/e" "$T/stale-dir"
echo a > "$S/d/e/a"; echo b > "$S/b"; echo old > "$T/stale"; echo x > "$T/stale-dir/x"
start_daemon "$WS/b.log" -nodaemon -delay 1 -rsync "$S" "$T"
step "one-liner: startup removes stale entries and copies the tree"
for i in $(seq 1 10); do echo "$i" > "$S/n$i"; done
echo more >> "$S/b"; rm "$S/n3"; mv "$S/n4" "$S/n4b"; mv "$S/d" "$S/d2"; mkdir -p "$S/x/y"; echo z > "$S/x/y/z"
step "one-liner: create/modify/delete/rename burst"
check_stop "one-liner"

# ===== C: SIGTERM while a transfer runs =====
S=$WS/c/src T=$WS/c/trg
mkdir -p "$S" "$T"; echo small > "$S/small"
cfg c "settings { nodaemon = true }
sync { default.rsync, source = '$S', target = '$T', delay = 0.2, rsync = { bwlimit = 100 } }"
start_daemon "$WS/c.log" "$CFG"
wait_equal "$S" "$T" 20
head -c 600000 /dev/urandom > "$S/big"        # about 6 s at 100 KiB/s
busy=0
for _ in $(seq 1 100); do [ -n "$(children_of "$DAEMON_PID")" ] && { busy=1; break; }; sleep 0.1; done
check "SIGTERM during a transfer: a transfer is running (children: $(children_of "$DAEMON_PID" | tr '\n' ' '))" test $busy = 1
check_stop "SIGTERM during a transfer" 40
# Either the file arrived whole or not at all (no partial or temp file left).
left=$(tree_diff "$S" "$T" | grep -vx '>f+++++++++ big')
if [ -z "$left" ]; then tap_ok "SIGTERM during a transfer: the target holds the source, big whole or absent, no temp file"
else tap_fail "SIGTERM during a transfer: the target holds the source, big whole or absent, no temp file" "$left"; fi

# ===== G: rsync's quick check (same size, same mtime) must not hide changes =====
# Each case in its own directory, compared on its own.
S=$WS/g/src T=$WS/g/trg
mkdir -p "$S/over" "$S/swap" "$S/rewrite" "$T"
echo one > "$S/over/a"; echo two > "$S/over/b"               # same size
echo one > "$S/swap/a"; echo two > "$S/swap/b"
echo aaaa > "$S/rewrite/f"
touch -d '2020-01-01 12:00:00' "$S"/over/* "$S"/swap/* "$S"/rewrite/*   # same mtime
cfg g "settings { nodaemon = true }
sync { default.rsync, source = '$S', target = '$T', delay = 1 }"
start_daemon "$WS/g.log" "$CFG"
expect_equal "quick check: startup" "$S" "$T"
mv "$S/over/a" "$S/over/b"
mv "$S/swap/a" "$S/swap/t"; mv "$S/swap/b" "$S/swap/a"; mv "$S/swap/t" "$S/swap/b"
echo bbbb > "$S/rewrite/f"; touch -d '2020-01-01 12:00:00' "$S/rewrite/f"   # tools like cp -p, tar
expect_equal "quick check: rename over a file of the same size and mtime" "$S/over" "$T/over" 10
expect_equal "quick check: swap of two files of the same size and mtime" "$S/swap" "$T/swap" 5
expect_equal "quick check: same-size rewrite with the old mtime restored" "$S/rewrite" "$T/rewrite" 5
check_stop "quick check"

# ===== D: delete modes, four daemons side by side =====
# Startup: source {keep, gone, gonedir/x, sub/keep2}, target {stale,
# staledir/y, sub/stale2}. Runtime: rm gone, rm -r gonedir, rm sub/keep2,
# mv keep -> keep-renamed, new file "new".
for mode in true false startup running; do
	S=$WS/del-$mode/src T=$WS/del-$mode/trg
	mkdir -p "$S/gonedir" "$S/sub" "$T/staledir" "$T/sub"
	echo keep > "$S/keep"; echo gone > "$S/gone"; echo x > "$S/gonedir/x"; echo k2 > "$S/sub/keep2"
	echo stale > "$T/stale"; echo y > "$T/staledir/y"; echo s2 > "$T/sub/stale2"
	# expected trees
	E=$WS/del-$mode/exp-start
	mkdir -p "$E"; cp -a "$S/." "$E/"
	case $mode in false|running) cp -a "$T/." "$E/" ;; esac
	q=$mode; case $mode in startup|running) q="'$mode'" ;; esac
	cfg "del-$mode" "settings { nodaemon = true, logfile = '$WS/del-$mode.file.log' }
sync { default.rsync, source = '$S', target = '$T', delay = 1, delete = $q }"
	start_daemon "$WS/del-$mode.log" "$CFG"
	DPID[$mode]=$DAEMON_PID; DRUN[$mode]=$DAEMON_RUN
done
for mode in true false startup running; do
	expect_equal "delete = $mode: the target tree after startup" "$WS/del-$mode/exp-start" "$WS/del-$mode/trg"
done
for mode in true false startup running; do
	S=$WS/del-$mode/src T=$WS/del-$mode/trg E=$WS/del-$mode/exp-end
	rm "$S/gone"; rm -r "$S/gonedir"; rm "$S/sub/keep2"; mv "$S/keep" "$S/keep-renamed"; echo new > "$S/new"
	mkdir -p "$E"; cp -a "$S/." "$E/"
	case $mode in                                   # what must survive on the target
		false)   cp -a "$WS/del-$mode/exp-start/." "$E/" ;;
		startup) cp -a "$WS/del-$mode/exp-start/." "$E/" ;;
		running) cp -a "$WS/del-$mode/exp-start/stale" "$WS/del-$mode/exp-start/staledir" "$E/"
		         cp -a "$WS/del-$mode/exp-start/sub/stale2" "$E/sub/" ;;
	esac
done
for mode in true false startup running; do
	expect_stays_equal "delete = $mode: the target tree after runtime deletes and renames (and 2 s later)" \
		"$WS/del-$mode/exp-end" "$WS/del-$mode/trg" 2
done
for mode in true false startup running; do
	DAEMON_PID=${DPID[$mode]} DAEMON_RUN=${DRUN[$mode]}
	check_stop "delete = $mode"
done

# ===== E: excludes and excludeFrom =====
S=$WS/ex/src T=$WS/ex/trg E=$WS/ex/exp
mkdir -p "$S/cache" "$S/sub/cache" "$S/other" "$T/cache"
echo 1 > "$S/a.tmp"; echo 2 > "$S/keep"; echo 3 > "$S/cache/c"; echo 4 > "$S/rootonly"
echo 5 > "$S/sub/rootonly"; echo 6 > "$S/sub/cache/c"; echo 7 > "$S/fromfile"
echo 8 > "$S/sub/fromfile"; echo 9 > "$S/sub/x.tmp"; echo 10 > "$S/other/cache"   # a FILE named cache
echo stale > "$T/stale"; echo t > "$T/t.tmp"; echo old > "$T/cache/old"          # excluded: protected
printf '# a comment\n\nfromfile\n' > "$WS/excludes.txt"
mkdir -p "$E/sub" "$E/other" "$E/cache"
echo 2 > "$E/keep"; echo 5 > "$E/sub/rootonly"; echo 10 > "$E/other/cache"
echo t > "$E/t.tmp"; echo old > "$E/cache/old"
cfg ex "settings { nodaemon = true }
sync { default.rsync, source = '$S', target = '$T', delay = 1,
  exclude = { '*.tmp', 'cache/', '/rootonly' }, excludeFrom = '$WS/excludes.txt' }"
start_daemon "$WS/ex.log" "$CFG"
expect_equal "exclude: the target tree after startup (excluded entries neither sent nor deleted)" "$E" "$T"
echo 11 > "$S/b.tmp"; echo 12 > "$S/cache/d"; echo 13 > "$S/sub/new"; echo 14 >> "$S/rootonly"
echo 15 >> "$S/sub/rootonly"; echo 16 >> "$S/fromfile"; echo 17 >> "$S/sub/fromfile"
mkdir -p "$S/newdir/cache"; echo 18 > "$S/newdir/cache/x"; echo 19 > "$S/newdir/y.tmp"; echo 20 > "$S/newdir/z"
mv "$S/keep" "$S/keep.tmp"; mv "$S/a.tmp" "$S/a.txt"
mkdir -p "$E/newdir"; echo 13 > "$E/sub/new"; printf '5\n15\n' > "$E/sub/rootonly"; echo 20 > "$E/newdir/z"
rm "$E/keep"; echo 1 > "$E/a.txt"
expect_stays_equal "exclude: the target tree after runtime changes (and 2 s later)" "$E" "$T" 2
# A file replaced by a directory that is excluded ('cache/'): the file goes,
# the directory does not appear.
rm "$S/other/cache"; mkdir "$S/other/cache"; echo 21 > "$S/other/cache/in-excluded-dir"
rm "$E/other/cache"
expect_stays_equal "exclude: a file replaced by an excluded directory is deleted, the directory not sent" "$E" "$T" 2
check_stop "exclude"

# ===== F: filters =====
S=$WS/fi/src T=$WS/fi/trg E=$WS/fi/exp
mkdir -p "$S/acx" "$S/abx" "$S/bx" "$T"
echo 1 > "$S/acc"; echo 2 > "$S/abc"; echo 3 > "$S/b"; echo 4 > "$S/acx/x"; echo 5 > "$S/abx/y"; echo 6 > "$S/bx/z"
mkdir -p "$E/acx"; echo 1 > "$E/acc"; echo 4 > "$E/acx/x"
cfg filter "settings { nodaemon = true }
sync { default.rsync, source = '$S', target = '$T', delay = 1,
  filter = { '- /ab**', '+ /a**', '- /**' } }"
start_daemon "$WS/fi.log" "$CFG"
expect_equal "filter: the target tree after startup" "$E" "$T"
echo 7 > "$S/acd"; echo 8 > "$S/abd"; echo 9 > "$S/c"; mkdir "$S/acy"; echo 10 > "$S/acy/w"
echo 11 >> "$S/abc"; echo 12 >> "$S/acx/x"; mv "$S/acc" "$S/bcc"
mv "$S/bx" "$S/acz"                               # from filtered out to filtered in
echo 7 > "$E/acd"; mkdir "$E/acy" "$E/acz"; echo 10 > "$E/acy/w"; printf '4\n12\n' > "$E/acx/x"
rm "$E/acc"; echo 6 > "$E/acz/z"
expect_stays_equal "filter: the target tree after runtime changes (and 2 s later)" "$E" "$T" 2
check_stop "filter"

tap_done
