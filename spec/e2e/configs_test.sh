#!/usr/bin/env bash
# The config corpus (spec/configs/, one config per real-world pattern of
# lsyncd-compat.md §9) run end to end with the real binary, real rsync and,
# for the ssh ones, the throwaway sshd on 127.0.0.1 (lib.sh's sshd_start).
#
# Each corpus file is a template: @SRC@ @SRC2@ @TGT@ @TGT2@ @TGT3@ @LOG@ @WS@
# @CONF@ @DELAY@ @USER@ @SSH_PORT@ @SSH_KEY@ @SSH_KNOWN@ are filled in with
# sed. Every case starts the daemon, makes changes, checks what its pattern
# is about (init=false copies nothing at startup, delete=false keeps what was
# deleted, the post command ran, the alarm fired, ...) and ends with an exact
# comparison of each target with the tree it must hold: usually the source,
# or an "expected" tree built with rsync from the source with the same
# excludes/filters (E), or a model of what must be kept.
#
# LNG_CONFIGS: a regex picking the cases to run (default: all).
. "$(dirname "$0")/lib.sh"

CONFIGS=$LNG_ROOT/spec/configs
DELAY=${LNG_CFG_DELAY:-1}
ONLY=${LNG_CONFIGS:-.}
ME=$(id -un)

sshd_start || { tap_fail "the throwaway sshd starts"; tap_done; exit 1; }

# ---- helpers ----

# begin NAME: a fresh case directory C with src S, targets T T2 T3, the
# expected tree E, the daemon's output LOG and its logfile FLOG.
begin() {
	CASE=$1
	C=$WS/$CASE
	S=$C/src S2=$C/src2 T=$C/tgt T2=$C/tgt2 T3=$C/tgt3 E=$C/exp
	LOG=$C/out.log FLOG=$C/file.log
	mkdir -p "$C" "$S" "$S2" "$T" "$T2" "$T3" "$E"
	note "---- $CASE"
}

# render TEMPLATE OUT: the template with every placeholder filled in.
render() {
	mkdir -p "$(dirname "$2")"
	sed -e "s|@SRC@|$S|g" -e "s|@SRC2@|$S2|g" -e "s|@TGT@|$T|g" -e "s|@TGT2@|$T2|g" \
		-e "s|@TGT3@|$T3|g" -e "s|@LOG@|$FLOG|g" -e "s|@WS@|$WS|g" -e "s|@CONF@|$C/conf|g" \
		-e "s|@DELAY@|$DELAY|g" -e "s|@USER@|$ME|g" -e "s|@SSH_PORT@|$SSH_PORT|g" \
		-e "s|@SSH_KEY@|$SSH_KEY|g" -e "s|@SSH_KNOWN@|$SSH_KNOWN|g" "$CONFIGS/$1" > "$2"
}

# run_conf [ARGS...]: render $CASE.lua (and any companion file of the case)
# into $C/conf/ and start the daemon on it.
run_conf() {
	local f
	for f in "$CONFIGS/$CASE".*; do render "$(basename "$f")" "$C/conf/$(basename "$f")"; done
	start_daemon "$LOG" "$C/conf/$CASE.lua" "$@"
}

# mirror DST [RSYNC ARGS...]: DST becomes what the source must give with
# these rsync excludes/filters (the expected tree of a mirror).
mirror() { local d=$1; shift; rsync -a --delete "$@" "$S/" "$d/"; }

# populate DIR: the tree a case starts from.
populate() {
	local s=$1
	mkdir -p "$s/d1/d2" "$s/old/deep" "$s/empty"
	echo a > "$s/a.txt"; echo b > "$s/d1/b"; echo c > "$s/d1/d2/c"
	echo o > "$s/old/o"; echo p > "$s/old/deep/p"; : > "$s/zero"
	ln -s a.txt "$s/link"
}

# churn DIR: a burst of every kind of change.
churn() {
	local s=$1
	echo new > "$s/new.txt"
	mkdir -p "$s/n1/n2"; echo deep > "$s/n1/n2/deep"
	echo more >> "$s/a.txt"
	mv "$s/d1/b" "$s/d1/b2"
	mv "$s/old" "$s/old2"
	rm "$s/d1/d2/c"; rmdir "$s/d1/d2"
	ln -s nowhere "$s/dangling"
	echo 'with space' > "$s/n1/a file with spaces"
}

# finish: SIGTERM, status 143, nothing left behind.
finish() { check_stop "$CASE"; }

# logged NAME PATTERN [FILE]: a TAP line for a line matching PATTERN (ERE) in
# the daemon's output (or FILE); waits up to 10 s for it.
logged() {
	local name=$1 pat=$2 f=${3:-$LOG} i
	for i in $(seq 1 100); do
		grep -qaE -- "$pat" "$f" 2>/dev/null && { tap_ok "$name"; return 0; }
		sleep 0.1
	done
	tap_fail "$name" "no line matching /$pat/ in $f:" "$(tail -n 15 "$f" 2>/dev/null)"
	return 1
}

# wait_for CMD...: polls CMD for up to 15 s.
wait_for() {
	local i
	for i in $(seq 1 100); do "$@" 2>/dev/null && return 0; sleep 0.15; done
	return 1
}

want() { [[ $1 =~ $ONLY ]]; }

# warned NAME TEXT PATTERN [NTH]: exactly one warning in the daemon's output
# names the line of the case's config that holds TEXT (its NTH occurrence outside comments,
# default the first) and matches PATTERN (ERE).
warned() {
	local name=$1 text=$2 pat=$3 nth=${4:-1} conf=$C/conf/$CASE.lua line w
	line=$(grep -nF -- "$text" "$conf" | grep -v '^[0-9]*:[[:space:]]*--' | sed -n "${nth}p" | cut -d: -f1)
	wait_for grep -qaF "Warn: $conf:" "$LOG"
	w=$(grep -aF "Warn: $conf:$line: " "$LOG")
	if [ -n "$line" ] && [ "$(grep -c . <<<"$w")" = 1 ] && grep -qE -- "$pat" <<<"$w"; then
		tap_ok "$name"
	else
		tap_fail "$name" "want one warning at $conf:$line matching /$pat/; got:" \
			"$(grep -a 'Warn' "$LOG" | head -n 5)"
	fi
}

# warnings NAME N: the daemon warned about the case's config N times in all.
warnings() {
	local n
	n=$(grep -caF "Warn: $C/conf/$CASE.lua:" "$LOG")
	check "$1 ($n warning lines about the config, want $2)" test "$n" = "$2"
}

# refused NAME FILE PATTERN: FILE (a config) is refused with exit status
# 255 and a message "FILE:LINE: ..." matching PATTERN (ERE).
refused() {
	local name=$1 f=$2 pat=$3 out rc
	out=$(timeout 10 "$LNG_BIN" "$f" 2>&1); rc=$?
	if [ "$rc" = 255 ] && grep -F "$f:" <<<"$out" | grep -qE -- ":[0-9]+: .*$pat"; then
		tap_ok "$name"
	else
		tap_fail "$name" "exit $rc, want 255 and /$f:LINE: .*$pat/:" "$out"
	fi
}

# ===== 01: container, local target, delete=false, maxProcesses=2 =====
if want 01; then
	begin 01-container-local-nodelete
	populate "$S"; echo stale > "$T/stale"; mkdir -p "$T/stale-dir"; echo s > "$T/stale-dir/s"
	cp -a "$T/." "$E/"; rsync -a "$S/" "$E/"
	run_conf
	expect_equal "01 startup copies the tree and keeps the target's own files (delete=false)" "$E" "$T"
	churn "$S"; rsync -a "$S/" "$E/"     # E: a copy that never loses anything
	expect_equal "01 changes arrive; deleted and renamed-away entries stay on the copy" "$E" "$T"
	check "01 the status file (statusInterval=1) lists the sync" grep -q "source=$S/" "$WS/01.status"
	finish
fi

# ===== 02: rsyncssh as user@host with a dedicated key, excludes =====
if want 02; then
	begin 02-rsyncssh-dedicated-key
	populate "$S"; echo x > "$S/x.bak"; echo m > "$S/._meta"; echo d > "$S/d1/.DS_Store"; echo t > "$S/t~"
	X02=(--exclude='*.bak' --exclude='._*' --exclude=.DS_Store --exclude=Thumbs.db --exclude='*~')
	mirror "$E" "${X02[@]}"
	run_conf
	expect_equal "02 startup over ssh (user@host, identityFile, port, options)" "$E" "$T"
	churn "$S"
	echo y > "$S/n1/y.bak"; echo t > "$S/Thumbs.db"
	mv "$S/a.txt" "$S/a.txt.bak"            # renamed into an excluded name: gone on the slave
	mv "$S/x.bak" "$S/x.txt"                # renamed out of it: arrives
	mirror "$E" "${X02[@]}"
	expect_equal "02 changes, renames into and out of excluded names" "$E" "$T"
	check "02 the status file is written" test -s "$WS/02.status"
	finish
fi

# ===== 03: entrypoint heredoc, logfile=/dev/stdout, insist, delete='running' =====
if want 03; then
	begin 03-entrypoint-heredoc
	populate "$S"; echo stale > "$T/stale"
	mirror "$E"; echo stale > "$E/stale"
	export SLAVE_HOST=127.0.0.1 SLAVE_PORT="$SSH_PORT" SLAVE_KEY="$SSH_KEY" SLAVE_KNOWN="$SSH_KNOWN" \
		SOURCE_DIR="$S" TARGET_DIR="$T" CONF="$C/lsyncd.conf.lua" LNG_BIN
	# stdout opened for appending, as a container's log pipe behaves (with a
	# plain "> file" the console's and the logfile's writes overwrite each other)
	: > "$LOG"
	start_cmd "$C/start.log" sh -c 'exec sh "$0" >> "$1" 2>&1' "$CONFIGS/03-entrypoint-heredoc.sh" "$LOG"
	unset SLAVE_HOST SLAVE_PORT SLAVE_KEY SLAVE_KNOWN SOURCE_DIR TARGET_DIR CONF
	expect_equal "03 startup: the stale file stays (delete='running' spares the startup)" "$E" "$T"
	churn "$S"; rm "$S/zero"
	mirror "$E"; echo stale > "$E/stale"
	expect_equal "03 deletes while running do reach the slave" "$E" "$T"
	# the logfile's format (a ctime date) on the daemon's stdout, besides the console's
	logged "03 logfile = '/dev/stdout' writes the log to the container's output" \
		'^[A-Z][a-z]{2} [A-Z][a-z]{2} +[0-9]+ [0-9:]{8} [0-9]{4} Normal: Startup of '
	finish
fi

# ===== 04: daemonized with a pidfile, maxDelays=1 beats the default delay =====
if want 04; then
	begin 04-immediate-bwlimit-daemon
	populate "$S"; echo h > "$S/.hidden"; mkdir -p "$S/.cache"; echo c > "$S/.cache/c"; echo t > "$S/x.tmp"
	X04=(--exclude='.*' --exclude='*.tmp')
	mirror "$E" "${X04[@]}"
	run_conf
	wait "$DAEMON_PID"; rc=$?; forget_pid "$DAEMON_PID"
	check "04 the starting process returns 0 when the daemon is up (got $rc)" test "$rc" = 0
	wait_for test -s "$WS/04.pid"
	PID04=$(cat "$WS/04.pid" 2>/dev/null)
	check "04 the pidfile names the running daemon" proc_alive "${PID04:-0}"
	expect_equal "04 startup" "$E" "$T"
	churn "$S"; echo z > "$S/.dot-later"; echo q > "$S/n1/q.tmp"
	mirror "$E" "${X04[@]}"
	if wait_equal "$E" "$T" 12; then
		tap_ok "04 changes arrive in ${WAITED}s although the delay is 15 s (maxDelays = 1)"
	else
		tap_fail "04 changes arrive well within the 15 s delay (maxDelays = 1)" "$(tree_diff "$E" "$T" | head)"
	fi
	kill -TERM "$PID04" 2>/dev/null
	wait_for eval '! proc_alive "$PID04"'
	check "04 SIGTERM through the pidfile ends the daemon" eval '! proc_alive "$PID04"'
	check "04 the pidfile is removed at exit" test ! -e "$WS/04.pid"
	logged "04 the daemon logs to its logfile" 'Startup of|startup' "$FLOG"
fi

# ===== 05: local rsync + rsyncssh with init=false, excludeFrom =====
if want 05; then
	begin 05-mixed-no-startup
	populate "$S"; echo s > "$S/x.swp"; echo p > "$S/y.part"; mkdir -p "$S/cache" "$S/build" "$S/sub/build"
	echo c > "$S/cache/c"; echo b > "$S/build/b"; echo b > "$S/sub/build/b"
	X05=(--exclude='*.swp' --exclude='*.part' --exclude=cache/ --exclude=/build/)
	mirror "$E" "${X05[@]}"
	run_conf
	expect_equal "05 the local sync does its startup transfer (excludes from a file)" "$E" "$T"
	sleep 1
	check "05 init = false: nothing was sent to the rsyncssh slave at startup" \
		test -z "$(ls -A "$T2")"
	rsync -a "$E/" "$T2/"        # the slave is up to date already: that is why init = false
	churn "$S"; echo s > "$S/n1/z.swp"; echo n > "$S/cache/new"; echo k > "$S/sub/build/k"
	mirror "$E" "${X05[@]}"
	expect_equal "05 local target follows the changes" "$E" "$T"
	expect_equal "05 rsyncssh slave (delay 0, maxDelays 0) follows the changes" "$E" "$T2"
	finish
fi

# ===== 06: settings = {...}, relative paths, RSYNC_RSH from the environment =====
if want 06; then
	begin 06-old-settings-form
	S=$C/htdocs; mkdir -p "$S"; populate "$S"
	mirror "$E"
	render 06-old-settings-form.lua "$C/lsyncd.conf.lua"
	cd "$C" || exit 1
	export RSYNC_RSH="$SSH_RSH"
	start_daemon "$LOG" lsyncd.conf.lua
	unset RSYNC_RSH
	cd - >/dev/null || exit 1
	expect_equal "06 startup with relative source and the old settings form" "$E" "$T"
	logged "06 the old 'settings = {...}' form is accepted with a warning" 'settings = \{ \.\.\. \}.*old form'
	churn "$S"; mirror "$E"
	expect_equal "06 changes arrive at host:/dir" "$E" "$T"
	check "06 the relative logfile is in the start directory" test -s "$C/lsyncd.log"
	wait_for test -s "$C/lsyncd.status"
	check "06 the relative statusFile is in the start directory" test -s "$C/lsyncd.status"
	finish
fi

# ===== 07: dev proxy: update, rsh with a key, dir-only excludes =====
if want 07; then
	begin 07-dev-proxy
	populate "$S"
	mkdir -p "$S/src" "$S/node_modules/pkg" "$S/.git/refs" "$S/lib/node_modules/x" "$S/sub" "$S/.idea"
	echo app > "$S/src/app.js"; echo other > "$S/src/other.js"; echo m > "$S/node_modules/pkg/i.js"
	echo ref > "$S/.git/HEAD"; echo x > "$S/lib/node_modules/x/x.js"; echo w > "$S/.idea/w.xml"
	echo 'gitdir: ../.git/modules/sub' > "$S/sub/.git"     # a file named .git: not a dir, synced
	echo nm > "$S/sub/node_modules"                         # a file named node_modules: synced
	echo l > "$S/debug.log"
	X07=(--exclude=node_modules/ --exclude=.git/ --exclude='*.log' --exclude=.idea/)
	mirror "$E" "${X07[@]}"
	run_conf
	expect_equal "07 startup to user@host:/dir; dir-only excludes spare files of that name" "$E" "$T"
	echo 'edited on the box' > "$T/src/app.js"; touch -d '+1 hour' "$T/src/app.js"
	echo 'local edit' > "$S/src/app.js"; echo 'other edit' > "$S/src/other.js"
	wait_for grep -q 'other edit' "$T/src/other.js"
	sleep 0.5
	check "07 update = true: a file newer on the box is not overwritten" grep -q 'edited on the box' "$T/src/app.js"
	touch -d '+2 hours' "$S/src/app.js"
	churn "$S"; echo y > "$S/node_modules/pkg/new.js"
	mirror "$E" "${X07[@]}"
	expect_equal "07 a source file newer again arrives; changes in excluded dirs stay local" "$E" "$T"
	finish
fi

# ===== 08: paths relative to the config file (debug.getinfo), delete=false, acls =====
if want 08; then
	begin 08-relative-to-config
	S=$C/public; mkdir -p "$S" "$C/log"; populate "$S"
	mirror "$E"
	render 08-relative-to-config.lua "$C/bin/lsyncd.config.lua"
	cd / || exit 1
	start_daemon "$LOG" "$C/bin/lsyncd.config.lua"
	cd - >/dev/null || exit 1
	expect_equal "08 source and logfile found relative to the config file" "$E" "$T"
	check "08 the logfile is where the config says (../log/)" test -s "$C/log/lsyncd.log"
	ino=$(stat -c %i "$T/a.txt" 2>/dev/null)
	echo new > "$S/new"; echo more >> "$S/d1/b"; rm "$S/zero"; mv "$S/a.txt" "$S/a-moved.txt"
	mv "$E/a.txt" "$E/a-moved.txt"; rsync -a "$S/" "$E/"    # E keeps zero (delete=false)
	expect_equal "08 changes arrive; a delete does not (delete=false)" "$E" "$T"
	check "08 the rename was a move on the slave (same inode)" \
		test "$(stat -c %i "$T/a-moved.txt" 2>/dev/null)" = "$ino"
	finish
fi

# ===== 09: delay inside settings{}: the delay of every sync that sets none =====
if want 09; then
	begin 09-settings-delay
	populate "$S"; populate "$S2"
	mkdir -p "$S/var/cache" "$S2/var/cache"
	for d in "$S" "$S2"; do
		echo x > "$d/sitemap_1.xml"; echo x > "$d/sitemap_2.xml.gz"; echo x > "$d/sitemap.xml"
		echo x > "$d/var/cache/c"
	done
	echo x > "$S/.index.php.swp"
	run_conf
	mirror "$E" --exclude='sitemap_*.xml*' --exclude='*.swp' --exclude=var/cache/
	S0=$S; S=$S2; mirror "$C/exp2" --exclude='sitemap_*.xml*'; S=$S0
	expect_equal "09 first sync (globbed excludes, perms, acls, verbose)" "$E" "$T"
	expect_equal "09 second sync" "$C/exp2" "$T2"
	warned "09 one warning names the line of settings' delay and the modern form" \
		'delay      = 2' 'delay is a sync\{\} key.*every sync\{\} that sets none.*delay = 2 in each sync'
	warnings "09 nothing else is warned about" 1
	churn "$S"; churn "$S2"; echo y > "$S/sitemap_3.xml"; echo y > "$S2/sitemap_9.xml"
	mirror "$E" --exclude='sitemap_*.xml*' --exclude='*.swp' --exclude=var/cache/
	S0=$S; S=$S2; mirror "$C/exp2" --exclude='sitemap_*.xml*'; S=$S0
	# default.rsync's own delay is 15 s: sooner means settings' 2 s applied
	expect_equal "09 changes on the first source arrive after settings' delay (not 15 s)" "$E" "$T" 10
	expect_equal "09 changes on the second source (its own delay)" "$C/exp2" "$T2"
	finish
fi

# ===== 10: fan-out with a Lua loop and table.unpack =====
if want 10; then
	begin 10-fanout-loop
	populate "$S"; mkdir -p "$S/runtime/sessions"; echo s > "$S/runtime/sessions/s1"; echo r > "$S/runtime/r"
	echo 1 > "$S/app.pid"; echo secret > "$S/.env"
	X10=(--exclude='runtime/*' --exclude='*.pid' --exclude=.env)
	mirror "$E" "${X10[@]}"
	run_conf
	for t in "$T" "$T2" "$T3"; do expect_equal "10 startup to $(basename "$t")" "$E" "$t"; done
	churn "$S"; echo n > "$S/runtime/new"; echo 2 > "$S/n1/worker.pid"
	mirror "$E" "${X10[@]}"
	for t in "$T" "$T2" "$T3"; do expect_equal "10 changes reach $(basename "$t")" "$E" "$t"; done
	logged "10 log() works while the config loads" 'slave web2: '
	finish
fi

# ===== 11: a post command after each batch (Blanket event, own checkgauge keys) =====
if want 11; then
	begin 11-postcmd-blanket
	populate "$S"; mirror "$E"
	run_conf
	expect_equal "11 startup through a layer built on default.rsync" "$E" "$T"
	churn "$S"; mirror "$E"
	expect_equal "11 changes arrive" "$E" "$T"
	(cd "$S" && find . -type f | sort) > "$C/want-listing"
	if wait_for cmp -s "$C/want-listing" "$WS/11.after"; then
		tap_ok "11 the post command ran on the slave after the last batch had arrived"
	else
		tap_fail "11 the post command ran on the slave after the last batch had arrived" \
			"$(diff "$C/want-listing" "$WS/11.after" 2>&1 | head)"
	fi
	finish
fi

# ===== 12: user alarms, a periodic job on Blanket events =====
if want 12; then
	begin 12-alarm-periodic
	populate "$S"; mirror "$E"
	run_conf
	expect_equal "12 the first periodic run mirrors the tree" "$E" "$T"
	churn "$S"; mirror "$E"
	expect_equal "12 later runs pick up the changes" "$E" "$T"
	logged "12 the alarm re-arms itself (third run logged)" 'periodic mirror run 3 after [0-9]+ s' "$FLOG"
	finish
fi

# ===== 13: layer-3 binary form, move variables =====
if want 13; then
	begin 13-layer3-binary-commands
	populate "$S"; mirror "$E"
	run_conf
	expect_equal "13 onStartup (binary form with ^source ^target)" "$E" "$T"
	churn "$S"; mirror "$E"
	expect_equal "13 cp/rm/mv commands with ^sourcePathname ^targetPathdir ^o./^d." "$E" "$T"
	logged "13 binary form: quoted words stay one word" 'echo: startup of '"$S"'/'
	logged "13 ^pathname in a create" 'echo: create new.txt'
	logged "13 ^o.pathname -> ^d.pathname in a move" 'echo: move d1/b -> d1/b2'
	logged "13 a directory move" 'echo: move old -> old2'
	logged "13 ^path of a modify" 'echo: modify a.txt'
	finish
fi

# ===== 14: multi-line forced-shell scripts fixing permissions =====
if want 14; then
	begin 14-forced-shell-permissions
	(umask 077; populate "$S"; echo secret > "$S/private")
	run_conf
	ok_perms() { [ -z "$(find "$S" ! -type l \( ! -perm -g+rw -o \( -type d ! -perm -g+x \) \) 2>/dev/null)" ]; }
	if wait_for ok_perms; then tap_ok "14 onStartup (forced shell, '^/usr/bin/find ...') gave the group rw"
	else tap_fail "14 onStartup gave the group rw" "$(find "$S" ! -perm -g+rw -ls)"; fi
	(umask 077; churn "$S"; echo x > "$S/later"; mkdir -p "$S/newdir"; echo y > "$S/newdir/y")
	if wait_for ok_perms; then tap_ok "14 created and modified entries get group rw (and x for dirs)"
	else tap_fail "14 created and modified entries get group rw" "$(find "$S" ! -perm -g+rw -ls)"; fi
	if wait_equal "$S" "$T" 20 --meta; then tap_ok "14 the mirror has the same tree, permissions and mtimes"
	else tap_fail "14 the mirror has the same tree, permissions and mtimes" "$(tree_diff "$S" "$T" --meta | head)"; fi
	finish
fi

# ===== 15: derived files, runtime excludes, subdirs=false =====
if want 15; then
	begin 15-derived-files
	mkdir -p "$S/sub"
	run_conf
	sleep 1
	echo hello > "$S/hello.txt"; echo world > "$S/sub/world.txt"; echo other > "$S/other.dat"
	check "15 a derived file appears for a top-level .txt" wait_for grep -qx HELLO "$S/hello.TXT.upper"
	echo 'hello again' > "$S/hello.txt"
	check "15 it follows a modification" wait_for grep -qx 'HELLO AGAIN' "$S/hello.TXT.upper"
	echo bye > "$S/bye.txt"
	wait_for test -e "$S/bye.TXT.upper"; rm "$S/bye.txt"
	check "15 it goes with its source" wait_for test ! -e "$S/bye.TXT.upper"
	sleep 1
	check "15 subdirs = false: nothing derived in a subdirectory" test ! -e "$S/sub/world.TXT.upper"
	n=$(grep -c 'deriving hello.TXT.upper' "$FLOG")
	check "15 derived files do not trigger derivations (runtime excludes; $n runs)" test "$n" -le 3
	expect_equal "15 the mirror holds sources and derived files" "$S" "$T"
	finish
fi

# ===== 16: layer-2 functions with spawnShell, hostile names =====
if want 16; then
	begin 16-layer2-shell-handlers
	populate "$S"
	run_conf
	expect_equal "16 onStartup function" "$S" "$T"
	churn "$S"
	expect_equal "16 onCreate/onModify/onDelete/onMove functions" "$S" "$T"
	make_hostile_names "$S/h"
	expect_equal "16 hostile names through spawnShell's positional arguments" "$S" "$T"
	mv "$S/h/single'quote" "$S/h/\$(touch lng-pwned) moved"; rm "$S/h/-rf"; mv "$S/h/dir with space" "$S/h/-dir"
	expect_equal "16 hostile names moved and deleted" "$S" "$T"
	logged "16 log() from a handler" 'layer2: move old -> old2'
	check "16 no file name was evaluated by a shell" no_pwned
	finish
fi

# ===== 17: crontab full syncs only, filter =====
if want 17; then
	begin 17-crontab-full-only
	mkdir -p "$S/www/img" "$S/tmp"; echo i > "$S/index.html"; echo p > "$S/www/index.php"
	echo g > "$S/www/img/x.png"; echo t > "$S/tmp/t"; echo o > "$S/other.txt"
	F17=(--filter='- /tmp/**' --filter='+ /www/' --filter='+ /www/**' --filter='+ /index.html' --filter='- /**')
	mirror "$E" "${F17[@]}"
	run_conf
	expect_equal "17 startup with a filter" "$E" "$T"
	echo changed > "$S/www/index.php"; echo n > "$S/www/img/new.png"; rm "$S/index.html"; echo o2 > "$S/other2.txt"
	mirror "$E" "${F17[@]}"
	expect_equal "17 changes arrive by the crontab's full syncs" "$E" "$T"
	logged "17 the action dropped the file events" 'cron-only: dropped '
	cron_runs() { [ "$(grep -c 'crontab: full sync' "$FLOG" 2>/dev/null)" -ge 2 ]; }
	check "17 the crontab rule queued full syncs again and again" wait_for cron_runs
	finish
fi

# ===== 18: three syncs, one source, maxProcesses=1 =====
if want 18; then
	begin 18-schedule-fairness
	populate "$S"
	run_conf
	for t in "$T" "$T2" "$T3"; do expect_equal "18 startup of mirror $(basename "$t")" "$S" "$t" 30; done
	first=$(head -n 3 "$WS/18.runs" 2>/dev/null | sort | tr -d '\n')
	check "18 the three startups ran one after the other (got '$first')" test "$first" = abc
	echo x > "$S/x"; rm "$S/zero"
	for t in "$T" "$T2" "$T3"; do expect_equal "18 changes reach mirror $(basename "$t")" "$S" "$t" 30; done
	check "18 never two commands at once (settings maxProcesses = 1)" test ! -e "$WS/18.overlap"
	finish
fi

# ===== 19: host and user from the environment =====
if want 19; then
	begin 19-env-host-rsh
	populate "$S"; echo t > "$S/x.tmp"
	mirror "$E" --exclude='*.tmp'
	export SLAVE_HOST=127.0.0.1 SLAVE_USER=$ME
	run_conf
	unset SLAVE_HOST SLAVE_USER
	expect_equal "19 startup to a host named by os.getenv" "$E" "$T"
	churn "$S"; echo t > "$S/n1/y.tmp"
	mirror "$E" --exclude='*.tmp'
	expect_equal "19 changes" "$E" "$T"
	finish
fi

# ===== 20: default.direct =====
if want 20; then
	begin 20-direct-local-mirror
	populate "$S"; echo s > "$S/.a.swp"
	mirror "$E" --exclude='*.swp' --exclude='.#*'
	run_conf
	expect_equal "20 startup (rsync)" "$E" "$T"
	churn "$S"; echo l > "$S/.#lock"; echo s > "$S/n1/.b.swp"
	mirror "$E" --exclude='*.swp' --exclude='.#*'
	expect_equal "20 cp/mv/rm per event" "$E" "$T"
	finish
fi

# ===== 21: lsyncd 2.0's rsyncOps (list with -e) and rsyncOpts (string) =====
if want 21; then
	begin 21-rsyncops-2.0
	populate "$S"
	mirror "$E" -L
	run_conf
	expect_equal "21 startup over ssh from rsyncOps' -e, symlinks copied as files (-L)" "$E" "$T"
	expect_equal "21 startup of the local copy with rsyncOpts' string (-L)" "$E" "$T2"
	# -L copies what a link points to when the link has an event: the link
	# is made anew (a changed a.txt alone leaves its copy "link" as it was)
	churn "$S"; rm -f "$S/dangling" "$S/link"; ln -s a.txt "$S/link"
	mirror "$E" -L
	expect_equal "21 changes over ssh" "$E" "$T"
	expect_equal "21 changes to the local copy" "$E" "$T2"
	warned "21 rsyncOps: one warning with the rsync = { rsh, _extra } it means" \
		'rsyncOps = {' "lsyncd 2.0's form.*understood as rsync = \\{ _extra = \\{ \"-L\" \\}, rsh = \"/usr/bin/ssh -p $SSH_PORT "
	warned "21 rsyncOpts (a string): one warning with its _extra list" \
		"rsyncOpts = '" '_extra = \{ "-L", "--omit-dir-times" \}'
	warnings "21 one warning per sync" 2
	finish
fi

# ===== 22: ssh options nested in the rsync table =====
if want 22; then
	begin 22-rsync-nested-ssh
	populate "$S"; mirror "$E"
	run_conf
	expect_equal "22 default.rsync: rsync.ssh became rsync's --rsh" "$E" "$T"
	expect_equal "22 default.rsyncssh: rsync.ssh became the sync's ssh table" "$E" "$T2"
	ino=$(stat -c %i "$T2/a.txt" 2>/dev/null)
	mv "$S/a.txt" "$S/a-moved.txt"; mirror "$E"
	expect_equal "22 a rename through rsyncssh" "$E" "$T2"
	check "22 rsyncssh's move ran on the slave with those ssh options (same inode)" \
		test "$(stat -c %i "$T2/a-moved.txt" 2>/dev/null)" = "$ino"
	churn "$S"; mirror "$E"
	expect_equal "22 changes through rsync --rsh" "$E" "$T"
	expect_equal "22 changes through rsyncssh" "$E" "$T2"
	warned "22 default.rsync: one warning with the rsh it means" 'ssh     = {' \
		"rsync.ssh.*rsync = \\{ rsh = \"ssh -i $SSH_KEY -o BatchMode=yes -o UserKnownHostsFile=$SSH_KNOWN -p $SSH_PORT\" \\}"
	warned "22 default.rsyncssh: one warning with the ssh table it means" 'ssh = { port' \
		"rsync.ssh.*ssh = \\{ _extra = \\{ \"-i\", .*\\}, port = $SSH_PORT \\} of the sync"
	warnings "22 one warning per sync" 2
	finish
fi

# ===== 23: statusIntervall =====
if want 23; then
	begin 23-statusintervall
	populate "$S"; mirror "$E"
	run_conf
	expect_equal "23 startup" "$E" "$T"
	wait_for test -s "$WS/23.status"
	m1=$(stat -c %Y "$WS/23.status" 2>/dev/null)
	newer() { [ "$(stat -c %Y "$WS/23.status" 2>/dev/null)" -gt "${m1:-0}" ]; }
	check "23 the status file is rewritten every second (statusIntervall = 1; default 10)" wait_for newer
	churn "$S"; mirror "$E"
	expect_equal "23 changes" "$E" "$T"
	warned "23 one warning: understood as statusInterval" 'statusIntervall' \
		'"statusIntervall".*understood as "statusInterval". Write statusInterval = 1'
	warnings "23 nothing else is warned about" 1
	finish
fi

# ===== 24: default.rsyncssh with maxProcesses = 3 =====
if want 24; then
	begin 24-rsyncssh-maxprocesses
	populate "$S"; mirror "$E"
	run_conf
	expect_equal "24 startup" "$E" "$T"
	churn "$S"
	for i in $(seq 1 30); do mkdir -p "$S/p$i"; echo "$i" > "$S/p$i/f"; done
	mv "$S/p1" "$S/p1-moved"; mv "$S/p2/f" "$S/p3/g"; rm -r "$S/p4"
	mirror "$E"
	expect_equal "24 changes, moves and deletes with up to 3 processes" "$E" "$T"
	warned "24 one warning: lsyncd refuses it, lsyncd-ng runs up to 3" 'maxProcesses = 3' \
		'maxProcesses = 3 with default.rsyncssh: lsyncd refuses it.*up to 3 transfers.*Write maxProcesses = 1'
	warnings "24 nothing else is warned about" 1
	finish
fi

# ===== 25: the object sync{} returns, used while the config loads =====
if want 25; then
	begin 25-inlet-at-load
	populate "$S"; echo t > "$S/x.tmp"; echo l > "$S/x.log"; echo b > "$S/x.bak"
	mirror "$E" --exclude='*.tmp' --exclude='*.bak'
	run_conf
	expect_equal "25 startup: *.log was removed from the excludes, *.bak added" "$E" "$T"
	churn "$S"; echo t > "$S/n1/y.tmp"; echo l > "$S/n1/y.log"; echo b > "$S/n1/y.bak"
	mirror "$E" --exclude='*.tmp' --exclude='*.bak'
	expect_equal "25 changes with the changed excludes" "$E" "$T"
	warned "25 rmExclude: one warning with the exclude list that says the same" "rmExclude('*.log')" \
		'rmExclude\("\*\.log"\) on what sync\{\} returned, while the config loads.*leaving "\*\.log" out of exclude'
	warned "25 addExclude: one warning" "addExclude('*.bak')" \
		'addExclude\("\*\.bak"\).*exclude = \{ \.\.\., "\*\.bak" \}'
	warnings "25 one warning per call" 2
	finish
fi

# ===== 26: Layer-3 commands on top of default.direct, one without a target =====
if want 26; then
	begin 26-direct-layer3
	populate "$S"; mirror "$E"; mkdir -p "$S2/sub"
	run_conf
	expect_equal "26 startup (default.direct's rsync)" "$E" "$T"
	churn "$S"; mirror "$E"
	expect_equal "26 creates by the onCreate command, the rest by default.direct" "$E" "$T"
	check "26 the onCreate command ran for a new file" wait_for grep -qx new.txt "$WS/26.created"
	check "26 ... and for a new directory" grep -qx n1 "$WS/26.created"
	(umask 077; echo s > "$S2/sub/secret"; mkdir "$S2/newdir")
	gw() { [ -z "$(find "$S2/sub/secret" "$S2/newdir" ! -perm -g+w 2>/dev/null)" ]; }
	check "26 the sync without a target ran its handler (chmod g+w)" wait_for gw
	warned "26 one warning for the handler on default.direct" 'onCreate = ' \
		'onCreate on default.direct: lsyncd 2.2 refuses these.*in place of default.direct.s own cp/mv/rm'
	warned "26 one warning for the one without a target" 'onCreate = ' \
		'onCreate on default.direct without a target: understood as a Layer-3 sync' 2
	warnings "26 one warning per sync" 2
	finish
fi

# ===== 27: an inotifyMode written as a list of events =====
if want 27; then
	begin 27-inotifymode-list
	populate "$S"; mirror "$E"
	run_conf
	expect_equal "27 startup" "$E" "$T"
	churn "$S"; mirror "$E"
	expect_equal "27 changes (CloseWrite mode)" "$E" "$T"
	warned "27 one warning: understood as CloseWrite" 'inotifyMode' \
		'inotifyMode "CloseWrite or Create or Delete or Move".*understood as "CloseWrite"'
	warnings "27 nothing else is warned about" 1
	finish
fi

# ===== 28: rsync.password_file with an ssh target =====
if want 28; then
	begin 28-password-file-ssh
	populate "$S"; mirror "$E"
	run_conf
	expect_equal "28 startup over ssh without the password file" "$E" "$T"
	churn "$S"; mirror "$E"
	expect_equal "28 changes" "$E" "$T"
	warned "28 one warning: password_file is only for rsync daemon targets" 'password_file' \
		'password_file is only for rsync daemon targets \(host::module, rsync://host/module\).*reached over ssh.*left out'
	warnings "28 nothing else is warned about" 1
	finish
fi

# ===== 29: a Layer-2 config comparing event.path with "/dir" (lsyncd 2.1) =====
if want 29; then
	begin 29-event-path-slash
	populate "$S"
	run_conf
	expect_equal "29 onStartup mirrors the tree" "$S" "$T"
	mkdir "$S/private"; echo p > "$S/private/p"; churn "$S"
	expect_equal "29 a new private/ is mirrored too: 2.2's meaning is kept" "$S" "$T"
	check "29 the 2.1-style test never matched" test ! -e "$WS/29.matched"
	warned "29 one warning names the line and the modern form" "event.path == '/private/'" \
		'compares event.path with "/private/".*never matches.*Write "private/"'
	warnings "29 nothing else is warned about" 1
	finish
fi

# ===== errors that stay errors: file:line and a suggestion =====
if want err; then
	begin errors
	render 21-rsyncops-2.0.lua "$C/typo.lua"; sed -i '0,/delay    =/s//dealy    =/' "$C/typo.lua"
	refused "err: a typo in a sync key names the file, the line and the key it meant" "$C/typo.lua" \
		'Parameter "dealy" unknown. \(did you mean "delay"\?\)'
	render 21-rsyncops-2.0.lua "$C/nosource.lua"; sed -i '0,/source   =/{/source   =/d}' "$C/nosource.lua"
	refused "err: a missing source names the file and the line" "$C/nosource.lua" 'source missing from sync'
	render 23-statusintervall.lua "$C/setting.lua"; sed -i 's/statusIntervall/statusIntervl/' "$C/setting.lua"
	refused "err: another misspelt setting stays an error with a suggestion" "$C/setting.lua" \
		'setting "statusIntervl" unknown. \(did you mean "statusInterval"\?\)'
	render 27-inotifymode-list.lua "$C/mode.lua"; sed -i 's/or Move/or Mvoe/' "$C/mode.lua"
	refused "err: an inotifyMode with a word that is no event is refused" "$C/mode.lua" \
		'inotifyMode ".*" is not known \("Mvoe"'
	render 26-direct-layer3.lua "$C/notarget.lua"; sed -i 's/chmod g+w ^sourcePathname/chmod g+w ^targetPathname/' "$C/notarget.lua"
	refused "err: a handler using ^targetPathname on a sync without target is refused at load" \
		"$C/notarget.lua" 'onCreate uses \^targetPathname, but this sync has no target'
	check "err: nothing was copied by the refused configs" test -z "$(ls -A "$T")"
fi

check "no file name was evaluated by a shell in any case" no_pwned
sshd_stop
tap_done
