#!/usr/bin/env bash
# The logfile: opened once and opened again after logrotate moved it (no
# copytruncate), with logrotate itself and with a plain rename; a symlink
# planted at the log's path is refused; a missing log dir says why; root's
# own links such as /dev/stdout still work.
. "$(dirname "$0")/lib.sh"

S=$WS/s T=$WS/t L=$WS/log
mkdir -p "$S" "$T" "$L"
cat > "$WS/c.lua" <<LUA
settings { logfile = "$L/lsyncd-ng.log", nodaemon = true }
sync { default.rsync, source = "$S", target = "$T", delay = 0.2 }
LUA

# waits until file $1 contains $2 (5 s)
wait_grep() {
	for _ in $(seq 1 50); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

start_daemon "$WS/d.out" "$WS/c.lua" -log Exec
check "the daemon logs to its logfile" wait_grep "$L/lsyncd-ng.log" "Startup"

# ---- logrotate with the shipped snippet (rename + create, no copytruncate) ----
if command -v logrotate >/dev/null; then
	sed "s|^/var/log/lsyncd-ng/|$L/|" "$LNG_ROOT/configs/lsyncd-ng.logrotate" > "$WS/rot.conf"
	check "the shipped snippet rotates by renaming (no copytruncate)" sh -c \
		"grep -q '^$L/\*.log {' '$WS/rot.conf' && ! grep -qE '^[[:space:]]*copytruncate' '$WS/rot.conf'"
	logrotate -f -s "$WS/rot.state" "$WS/rot.conf"
	check "logrotate moved the log to .1" test -s "$L/lsyncd-ng.log.1"
	echo one > "$S/after-logrotate"
	check "after logrotate: the new log gets the next line" wait_grep "$L/lsyncd-ng.log" after-logrotate
	check "after logrotate: the rotated log does not" sh -c "! grep -q after-logrotate '$L/lsyncd-ng.log.1'"
else
	echo "# logrotate not installed: its case skipped"
fi

# ---- a plain rename, and a removal ----
mv "$L/lsyncd-ng.log" "$L/moved.log"
echo two > "$S/after-rename"
check "after a rename: the line goes to a new file at the path" wait_grep "$L/lsyncd-ng.log" after-rename
check "after a rename: the moved file does not get it" sh -c "! grep -q after-rename '$L/moved.log'"
rm -f "$L/lsyncd-ng.log"
echo three > "$S/after-rm"
check "after a removal: the log is created again" wait_grep "$L/lsyncd-ng.log" after-rm

# ---- a symlink planted at the path (by its owner, not root) is not followed ----
echo secret > "$WS/victim"
ln -s "$WS/victim" "$L/planted" && chown -h nobody "$L/planted"
mv -Tf "$L/planted" "$L/lsyncd-ng.log"	# atomically over the live log
echo four > "$S/after-symlink"
sleep 1
check "a symlink planted at the log path is not written through" test "$(cat "$WS/victim")" = secret
check "(the planted link is still there)" test -L "$L/lsyncd-ng.log"
stop_daemon

# ---- opening errors say why ----
out=$(timeout 10 "$LNG_BIN" -nodaemon -logfile "$WS/nodir/x.log" -rsync "$S" "$T" 2>&1); rc=$?
check "a missing log dir: exit 255 (got $rc)" test "$rc" = 255
check "a missing log dir: the error says why ($out)" \
	grep -qF "Cannot open logfile [$WS/nodir/x.log]: No such file or directory" <<<"$out"
ln -s "$WS/victim" "$WS/planted.log"
chown -h nobody "$WS/planted.log"
out=$(timeout 10 "$LNG_BIN" -nodaemon -logfile "$WS/planted.log" -rsync "$S" "$T" 2>&1); rc=$?
check "a symlink at startup is refused with a reason ($out)" \
	grep -qF "Cannot open logfile [$WS/planted.log]: Too many levels of symbolic links" <<<"$out"

# ---- -check names a log dir that is missing ----
printf 'settings { logfile = "%s/nodir/x.log" }\nsync { default.rsync, source = "%s", target = "%s" }\n' \
	"$WS" "$S" "$T" > "$WS/nodir.lua"
out=$(timeout 20 "$LNG_BIN" -check "$WS/nodir.lua" 2>&1); rc=$?
check "-check: a missing log dir is a ✘ with its fix, exit 1 (got $rc)" \
	eval '[ "$rc" = 1 ] && grep -qF "✘ logfile $WS/nodir/x.log: $WS/nodir does not exist" <<<"$out" &&
		grep -qF "fix: mkdir -p" <<<"$out"'

# ---- -init writing elsewhere leaves the default log dir alone ----
# (in a mount namespace with a fresh /var/log, so the machine's is not involved)
out=$(unshare -m --propagation private sh -c 'mount -t tmpfs lng-log /var/log && "$0" -init "$1" \
	--source "$2" --slave "$3" --no-check </dev/null; echo "rc=$?"; ls -a /var/log > "$4"' \
	"$LNG_BIN" "$WS/elsewhere.lua" "$S" "$WS/t-init" "$WS/varlog.ls" 2>&1)
check "-init FILE elsewhere: wrote it" grep -q '^rc=0' <<<"$out"
check "-init FILE elsewhere: /var/log/lsyncd-ng not created" sh -c "test -s '$WS/varlog.ls' && ! grep -qx lsyncd-ng '$WS/varlog.ls'"
check "-init FILE elsewhere: says the log dir is missing and how to make it" \
	grep -qF 'Note: /var/log/lsyncd-ng does not exist' <<<"$out"

# ---- /dev/stdout (root's link in /dev) still works, as in lsyncd (a container's log) ----
cat > "$WS/so.lua" <<LUA
settings { logfile = "/dev/stdout", nodaemon = true }
sync { default.rsync, source = "$S", target = "$T", delay = 0.2 }
LUA
timeout 3 "$LNG_BIN" "$WS/so.lua" 2>&1 | cat > "$WS/so.out"
check "logfile = /dev/stdout: the ctime-stamped lines reach stdout" \
	grep -qE '^[A-Z][a-z]{2} [A-Z][a-z]{2} .* Normal: --- Startup ---' "$WS/so.out"
tap_done
