#!/usr/bin/env bash
# The Debian package: make deb builds it (dpkg-buildpackage), lintian finds no
# error, dpkg -i installs it with its conffiles and dependencies, the installed
# unit's ExecStart runs a config found the way README's migration steps say
# (lsyncd's /etc/lsyncd/lsyncd.conf.lua when that is all there is, lsyncd-ng's
# own once it exists), the installed units pass systemd-analyze, and
# dpkg --purge leaves the machine as it was. Skipped without dpkg-buildpackage
# and debhelper, or when lsyncd-ng is already installed on this machine.
. "$(dirname "$0")/lib.sh"

skip_all() { echo "ok 1 - package tests # SKIP $1"; tap_done; exit 0; }
command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
	skip_all "dpkg-buildpackage or debhelper missing (scripts/install-deps installs them)"
dpkg-query -W -f='${Status}' lsyncd-ng 2>/dev/null | grep -q installed &&
	skip_all "lsyncd-ng is installed on this machine; not touching it"
[ -e /usr/bin/lsyncd-ng ] && skip_all "/usr/bin/lsyncd-ng exists"

# what the machine holds before (compared after the purge)
snapshot() {
	find /etc /lib/systemd /usr/bin /usr/share/doc /usr/share/man/man1 \
		/usr/share/bash-completion /var/lib/dpkg/info /var/lib/systemd \
		/var/log /var/lib -xdev -name '*lsyncd-ng*' 2>/dev/null | sort
}
snapshot > "$WS/before"
# The purge removes /var/log/lsyncd-ng and /var/lib/lsyncd-ng: what another
# install or run left there is kept aside and put back.
SAVED=()
for d in /var/log/lsyncd-ng /var/lib/lsyncd-ng; do
	[ -e "$d" ] && mkdir -p "$WS/saved$d" && cp -a "$d/." "$WS/saved$d/" && SAVED+=("$d")
done
restore_saved() {
	local d
	for d in "${SAVED[@]}"; do
		mkdir -p "$d" && cp -a "$WS/saved$d/." "$d/"
	done
	SAVED=()
}
# /etc/lsyncd (lsyncd's config dir) is only made for the migration case, if absent
MADE_ETC_LSYNCD=
PURGED=
cleanup_pkg() {
	if [ -z "$PURGED" ] && dpkg-query -W -f='${Status}' lsyncd-ng 2>/dev/null | grep -q installed; then
		dpkg --purge lsyncd-ng >/dev/null 2>&1
	fi
	[ -n "$MADE_ETC_LSYNCD" ] && rmdir /etc/lsyncd 2>/dev/null
	restore_saved
}
trap 'cleanup_pkg; cleanup' EXIT

# ---- build ----
git_before=$(cd "$LNG_ROOT" && git status --porcelain 2>/dev/null)
start=$SECONDS
out=$(cd "$LNG_ROOT" && sh scripts/build-deb "$(sed -n 's/^VERSION *:= *//p' Makefile)" "$WS" 2>&1); rc=$?
deb=$(ls "$WS"/lsyncd-ng_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n1)
check "make deb builds lsyncd-ng_VERSION_ARCH.deb ($((SECONDS - start)) s)" test "$rc" = 0 -a -n "$deb"
[ "$rc" = 0 ] || echo "$out" | sed 's/^/# /'
[ -n "$deb" ] || { tap_done; exit 1; }
check "the .deb is named after the Makefile's VERSION ($(basename "$deb"))" \
	test "$(basename "$deb")" = "lsyncd-ng_$(sed -n 's/^VERSION *:= *//p' "$LNG_ROOT/Makefile")_$(dpkg --print-architecture).deb"
check "the build left nothing in the source tree that git sees" \
	test "$git_before" = "$(cd "$LNG_ROOT" && git status --porcelain 2>/dev/null)"
if command -v lintian >/dev/null; then
	lintian "$deb" 2>&1 | grep -v 'running with root privileges' > "$WS/lintian.out"
	sed 's/^/# lintian: /' "$WS/lintian.out"
	check "lintian reports no error ($(grep -c '^E:' "$WS/lintian.out") E:, $(grep -c '^W:' "$WS/lintian.out") W:)" \
		test "$(grep -c '^E:' "$WS/lintian.out")" = 0
fi

# ---- contents ----
contents=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
for f in /usr/bin/lsyncd-ng /usr/share/man/man1/lsyncd-ng.1.gz /lib/systemd/system/lsyncd-ng.service \
	/lib/systemd/system/lsyncd-ng@.service /etc/init.d/lsyncd-ng /etc/default/lsyncd-ng \
	/etc/logrotate.d/lsyncd-ng /usr/share/bash-completion/completions/lsyncd-ng \
	/usr/share/doc/lsyncd-ng/examples/web-targets.lua /usr/share/doc/lsyncd-ng/examples/local-backup.lua \
	/etc/lsyncd-ng/lsyncd-ng.conf.lua.example /usr/share/doc/lsyncd-ng/copyright; do
	check "the package holds $f" grep -qx "$f" <<<"$contents"
done
conf=$(dpkg-deb -f "$deb" Conffiles 2>/dev/null; dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles)
for f in /etc/default/lsyncd-ng /etc/init.d/lsyncd-ng /etc/logrotate.d/lsyncd-ng; do
	check "$f is a conffile" grep -qx "$f" <<<"$conf"
done
dep=$(dpkg-deb -f "$deb" Depends)
for d in rsync openssh-client libluajit-5.1-2 libinotifytools0 liblmdb0; do
	check "it depends on $d" grep -q "$d" <<<"$dep"
done

# ---- install ----
out=$(dpkg -i "$deb" 2>&1); rc=$?
check "dpkg -i installs it" test "$rc" = 0
[ "$rc" = 0 ] || echo "$out" | sed 's/^/# /'
check "the installed binary runs" /usr/bin/lsyncd-ng -version
check "the log dir exists (the examples log there)" test -d /var/log/lsyncd-ng
unit=/lib/systemd/system/lsyncd-ng.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
check "the unit runs the installed binary ($exec_start)" test "${exec_start%% *}" = /usr/bin/lsyncd-ng
check "the unit names no config: the binary's own lookup applies" test "$exec_start" = "/usr/bin/lsyncd-ng -nodaemon"
out=$(systemd-analyze verify --man=no "$unit" 2>&1); rc=$?
check "systemd-analyze verify accepts the installed unit" test "$rc" = 0 -a -z "$out"
[ -z "$out" ] || echo "$out" | sed 's/^/# /'
for u in "$unit" /lib/systemd/system/lsyncd-ng@.service; do
	score=$(cd "$WS" && cp "$u" . && b=$(basename "$u") && [ "$b" = lsyncd-ng@.service ] &&
		cp "$b" lsyncd-ng@www.service && b=lsyncd-ng@www.service;
		systemd-analyze security --offline=yes "./$b" 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	check "systemd-analyze security: $(basename "$u") exposure ${score:-?} <= 5.0" \
		awk -v s="${score:-99}" 'BEGIN { exit !(s <= 5.0) }'
done
check "the init script is installed and reports 'not running' (LSB 3)" sh -c '/etc/init.d/lsyncd-ng status; test $? = 3'

# ---- the unit's command, with lsyncd's config only (README, migration step 4) ----
S=$WS/s T=$WS/t
mkdir -p "$S/d" "$T"
for i in 1 2 3; do echo "$i" > "$S/d/f$i"; done
[ -d /etc/lsyncd ] || { mkdir /etc/lsyncd && MADE_ETC_LSYNCD=1; }
mkdir -p "$WS/etc-lsyncd" "$WS/etc-lsyncd-ng"
printf 'settings { logfile = "/var/log/lsyncd-ng/pkgtest.log" }\nsync { default.rsync, source = "%s", target = "%s", delay = 0.2 }\n' \
	"$S" "$T" > "$WS/etc-lsyncd/lsyncd.conf.lua"
# run_unit LOG: the unit's ExecStart, in a mount namespace where /etc/lsyncd and
# /etc/lsyncd-ng are this test's dirs (the machine's own stay untouched)
run_unit() {
	start_cmd "$1" unshare -m --propagation private sh -c '
		mount --bind "$0" /etc/lsyncd && mount --bind "$1" /etc/lsyncd-ng && shift && exec "$@"' \
		"$WS/etc-lsyncd" "$WS/etc-lsyncd-ng" $exec_start
}
# README's migration steps 2 and 3 name lsyncd's file explicitly
out=$(unshare -m --propagation private sh -c 'mount --bind "$0" /etc/lsyncd && exec "$@"' \
	"$WS/etc-lsyncd" timeout 30 /usr/bin/lsyncd-ng -check /etc/lsyncd/lsyncd.conf.lua 2>&1); rc=$?
check "README step 3: lsyncd-ng -check /etc/lsyncd/lsyncd.conf.lua (exit $rc)" test "$rc" = 0
[ "$rc" = 0 ] || echo "$out" | sed 's/^/# /'
start_cmd "$WS/step2.out" unshare -m --propagation private sh -c 'mount --bind "$0" /etc/lsyncd && exec "$@"' \
	"$WS/etc-lsyncd" /usr/bin/lsyncd-ng -nodaemon /etc/lsyncd/lsyncd.conf.lua
wait_equal "$S" "$T" 15
check "README step 2: lsyncd-ng -nodaemon /etc/lsyncd/lsyncd.conf.lua syncs" tree_equal "$S" "$T"
stop_daemon
# the copy is wiped behind the daemon's back: its state goes too (a restart
# with valid state sends only what changed; README "Restarts")
rm -rf "$T" "${STATE_DIRECTORY:?}"/* && mkdir "$T"
# step 4: the unit's command
run_unit "$WS/unit1.out"
wait_equal "$S" "$T" 15
check "the unit's command runs lsyncd's /etc/lsyncd/lsyncd.conf.lua when it is all there is" tree_equal "$S" "$T"
check "... and says so" grep -q "running lsyncd's /etc/lsyncd/lsyncd.conf.lua" "$WS/unit1.out"
check "... logging to /var/log/lsyncd-ng" grep -q 'Startup' /var/log/lsyncd-ng/pkgtest.log
stop_daemon
# once lsyncd-ng has its own config, that one is run
T2=$WS/t2; mkdir -p "$T2"
printf 'settings { nodaemon = true }\nsync { default.rsync, source = "%s", target = "%s", delay = 0.2 }\n' \
	"$S" "$T2" > "$WS/etc-lsyncd-ng/lsyncd-ng.conf.lua"
run_unit "$WS/unit2.out"
wait_equal "$S" "$T2" 15
check "with /etc/lsyncd-ng/lsyncd-ng.conf.lua present, the unit's command runs that one" tree_equal "$S" "$T2"
stop_daemon
check "the unit starts only where a config is: its conditions name both paths" sh -c \
	"grep -qx 'ConditionPathExists=|/etc/lsyncd-ng/lsyncd-ng.conf.lua' $unit && grep -qx 'ConditionPathExists=|/etc/lsyncd/lsyncd.conf.lua' $unit"

# ---- purge ----
out=$(dpkg --purge lsyncd-ng 2>&1); rc=$?
PURGED=1
check "dpkg --purge removes it" test "$rc" = 0
[ "$rc" = 0 ] || echo "$out" | sed 's/^/# /'
check "the purge removed the logs and the state" test ! -e /var/log/lsyncd-ng/pkgtest.log -a ! -e /var/lib/lsyncd-ng
[ -n "$MADE_ETC_LSYNCD" ] && rmdir /etc/lsyncd && MADE_ETC_LSYNCD=
restore_saved
snapshot > "$WS/after"
check "after the purge the machine holds no lsyncd-ng file it did not hold before" \
	diff "$WS/before" "$WS/after"
diff "$WS/before" "$WS/after" | sed 's/^/# /'
tap_done
