#!/usr/bin/env bash
# Running at boot: the systemd units pass systemd-analyze verify and rate an
# exposure of at most 5.0 in systemd-analyze security; the notify
# protocol (READY=1 once the watches are in place, not after the startup
# transfers, STATUS= with their progress, RELOADING=1/READY=1 around HUP,
# STOPPING=1 on TERM, WATCHDOG=1 keep-alives) seen by a listener on
# NOTIFY_SOCKET; the SysV init script starts, reports and stops the daemon;
# make install puts every file in place, with PREFIX and SYSCONFDIR in the
# units and the init script.
. "$(dirname "$0")/lib.sh"

# ---- units ----
for u in lsyncd-ng.service lsyncd-ng@.service; do
	sed "s|@BINDIR@/lsyncd-ng|$LNG_BIN|; s|@SYSCONFDIR@|/etc|g" "$LNG_ROOT/configs/$u" > "$WS/$u"
done
out=$(cd "$WS" && systemd-analyze verify --man=no "$WS/lsyncd-ng.service" 2>&1); rc=$?
check "systemd-analyze verify accepts lsyncd-ng.service" test "$rc" = 0 -a -z "$out"
[ -n "$out" ] && echo "$out" | sed 's/^/# /'
out=$(cd "$WS" && systemd-analyze verify --man=no "$WS/lsyncd-ng@www.service" 2>&1); rc=$?
check "systemd-analyze verify accepts the template lsyncd-ng@.service" test "$rc" = 0 -a -z "$out"
cp "$WS/lsyncd-ng@.service" "$WS/lsyncd-ng@www.service"
for u in lsyncd-ng.service lsyncd-ng@www.service; do
	score=$(cd "$WS" && systemd-analyze security --offline=yes "./$u" 2>&1 |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	check "systemd-analyze security: $u exposure ${score:-?} <= 5.0" \
		awk -v s="${score:-99}" 'BEGIN { exit !(s <= 5.0) }'
done
check "the unit cannot use MemoryDenyWriteExecute (LuaJIT's JIT) and says so" \
	sh -c "! grep -q '^MemoryDenyWriteExecute' '$WS/lsyncd-ng.service' && grep -q 'MemoryDenyWriteExecute=  LuaJIT' '$WS/lsyncd-ng.service'"
check "the unit has LogsDirectory=, RuntimeDirectory=, StateDirectory=" sh -c \
	"grep -qx LogsDirectory=lsyncd-ng '$WS/lsyncd-ng.service' && grep -qx RuntimeDirectory=lsyncd-ng '$WS/lsyncd-ng.service' && grep -qx StateDirectory=lsyncd-ng '$WS/lsyncd-ng.service'"
# The unit's capability bounding set and no-new-privileges are enough to
# mirror, as root, files of other users that only they can read, keeping
# owners and modes (setpriv applies the same limits outside systemd).
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$WS/lsyncd-ng.service" | tr ' ' '\n' |
	sed 's/^CAP_//' | tr 'A-Z' 'a-z' | sed 's/^/+/' | paste -sd, -)
CS=$WS/caps-src CT=$WS/caps-tgt
mkdir -p "$CS/private" "$CT"
echo secret > "$CS/private/f"; chmod 600 "$CS/private/f"; chmod 700 "$CS/private"
chown -R nobody:nogroup "$CS/private"
mkfifo "$CS/fifo"
printf 'settings { nodaemon = true }\nsync { default.rsync, source = "%s", target = "%s", delay = 0.2, rsync = { archive = true } }\n' \
	"$CS" "$CT" > "$WS/caps.lua"
start_cmd "$WS/caps.log" setpriv --bounding-set="-all,$caps" --no-new-privs "$LNG_BIN" "$WS/caps.lua"
wait_equal "$CS" "$CT" 15 --meta
check "with only the unit's capabilities ($caps) and no new privileges, root mirrors other users' private files" \
	tree_equal "$CS" "$CT" --meta
check "... their owner kept (nobody)" test "$(stat -c %U "$CT/private/f" 2>/dev/null)" = nobody
stop_daemon
grep -q '^Type=notify' "$WS/lsyncd-ng.service" && grep -q '^ExecReload=.*HUP' "$WS/lsyncd-ng.service" \
	&& tap_ok "the unit is Type=notify and reloads with HUP" || tap_fail "the unit is Type=notify and reloads with HUP"

check "the units' start timeout is finite (READY=1 does not wait for transfers)" \
	bash -c "grep -q '^TimeoutStartSec=15min' '$LNG_ROOT/configs/lsyncd-ng.service' && grep -q '^TimeoutStartSec=15min' '$LNG_ROOT/configs/lsyncd-ng@.service' && ! grep -q 'TimeoutStartSec=infinity' '$LNG_ROOT'/configs/*.service"

# ---- notify protocol ----
S=$WS/s T=$WS/t
mkdir -p "$S" "$T"
for i in $(seq 1 200); do echo "$i" > "$S/f$i"; done
cat > "$WS/listen.py" <<'PY'
import socket, sys, time, os
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.2)
end = time.time() + float(sys.argv[3])
with open(sys.argv[2], 'w', buffering=1) as out:
    while time.time() < end:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            continue
        # a line per message, with whether the target held the whole tree
        n = len(os.listdir(sys.argv[4]))
        out.write('%s|%d\n' % (msg.replace('\n', ' '), n))
PY
python3 "$WS/listen.py" "$WS/notify.sock" "$WS/notify.log" 40 "$T" &
PIDS+=("$!")
for _ in $(seq 1 50); do [ -S "$WS/notify.sock" ] && break; sleep 0.1; done
# a second slave that is down (nothing listens on its ssh port): READY=1 must
# not wait for it (systemctl start hung while a slave was down)
dead=$(free_port)
printf 'settings { nodaemon = true }\nsync { default.rsync, source = "%s", target = "%s", delay = 0.3 }\n' "$S" "$T" > "$WS/n.lua"
printf 'sync { default.rsync, source = "%s", target = "127.0.0.1:%s/dead", delay = 0.3, rsync = { rsh = "ssh -p %s -o BatchMode=yes -o ConnectTimeout=2" } }\n' "$S" "$WS" "$dead" >> "$WS/n.lua"
t0=$(now_ms)
NOTIFY_SOCKET=$WS/notify.sock WATCHDOG_USEC=1000000 start_daemon "$WS/n.log" "$WS/n.lua"
for _ in $(seq 1 100); do grep -q READY=1 "$WS/notify.log" 2>/dev/null && break; sleep 0.1; done
ready_ms=$(( $(now_ms) - t0 ))
check "READY=1 is sent" grep -q 'READY=1' "$WS/notify.log"
check "READY=1 comes within seconds although a slave is down (${ready_ms} ms)" test "$ready_ms" -lt 8000
grep -m1 'READY=1' "$WS/notify.log" | grep -q 'STATUS=startup transfers under way' \
	&& tap_ok "... with STATUS= saying the startup transfers are under way" \
	|| tap_fail "... with STATUS= saying the startup transfers are under way" "$(cat "$WS/notify.log")"
for _ in $(seq 1 100); do grep -q 'STATUS=.*Sync2 retrying' "$WS/notify.log" && break; sleep 0.1; done
check "STATUS= names the slave that is down" grep -q 'STATUS=.*Sync2 retrying' "$WS/notify.log"
expect_equal "the healthy slave gets the tree meanwhile" "$S" "$T"
sleep 1.5
check "WATCHDOG=1 keep-alives are sent" test "$(grep -c 'WATCHDOG=1' "$WS/notify.log")" -ge 2
kill -HUP "$DAEMON_PID"
for _ in $(seq 1 100); do [ "$(grep -c 'READY=1' "$WS/notify.log")" -ge 2 ] && break; sleep 0.1; done
check "HUP: RELOADING=1 is sent" grep -q 'RELOADING=1' "$WS/notify.log"
check "HUP: READY=1 again after the reload" test "$(grep -c 'READY=1' "$WS/notify.log")" -ge 2
stop_daemon
sleep 0.3
check "TERM: STOPPING=1 is sent" grep -q 'STOPPING=1' "$WS/notify.log"
check "TERM: exit status 143" test "$DAEMON_RC" = 143

# ---- under journald: <N> priority prefixes, no second time stamp ----
mkdir -p "$WS/js" "$WS/jt"
printf 'settings { nodaemon = true }\nsync { default.rsync, source = "%s", target = "%s", delay = 0 }\n' \
	"$WS/js" "$WS/jt/none/deeper" > "$WS/j.lua"
: > "$WS/j.out"
JOURNAL_STREAM=$(stat -c '%d:%i' "$WS/j.out") timeout 3 "$LNG_BIN" "$WS/j.lua" >> "$WS/j.out" 2>&1
grep -q '^<5>Normal: ' "$WS/j.out" && grep -q '^<3>Error: ' "$WS/j.out" \
	&& ! grep -qvE '^<[0-9]>' "$WS/j.out" \
	&& tap_ok "with JOURNAL_STREAM every line carries its priority (<3> errors, <5> notices), no time stamp" \
	|| tap_fail "with JOURNAL_STREAM every line carries its priority" "$(head -5 "$WS/j.out")"
: > "$WS/j2.out"
JOURNAL_STREAM=1:1 timeout 3 "$LNG_BIN" "$WS/j.lua" >> "$WS/j2.out" 2>&1
grep -qE '^[0-9:]{8} Normal: ' "$WS/j2.out" && ! grep -q '^<' "$WS/j2.out" \
	&& tap_ok "... and only when the output is that stream (plain lines otherwise)" \
	|| tap_fail "... and only when the output is that stream" "$(head -5 "$WS/j2.out")"

# ---- SysV init script ----
sed "s|@BINDIR@|$(dirname "$LNG_BIN")|g; s|@SYSCONFDIR@|$WS/etc|g" "$LNG_ROOT/configs/lsyncd-ng.init" > "$WS/lsyncd-ng.init"
export DAEMON=$LNG_BIN CONFIG=$WS/init.lua PIDFILE=$WS/init.pid
printf 'settings { logfile = "%s/init.log" }\nsync { default.rsync, source = "%s", target = "%s/t2", delay = 0.3 }\n' \
	"$WS" "$S" "$WS" > "$CONFIG"
mkdir -p "$WS/t2"
out=$(sh "$WS/lsyncd-ng.init" start 2>&1); rc=$?
check "init script: start ($out)" test "$rc" = 0
[ -s "$PIDFILE" ] && PIDS+=("$(cat "$PIDFILE")")
out=$(sh "$WS/lsyncd-ng.init" status 2>&1); rc=$?
check "init script: status says running ($out)" test "$rc" = 0
expect_equal "init script: the daemon it started syncs" "$S" "$WS/t2"
out=$(sh "$WS/lsyncd-ng.init" stop 2>&1); rc=$?
check "init script: stop ($out)" test "$rc" = 0
out=$(sh "$WS/lsyncd-ng.init" status 2>&1); rc=$?
check "init script: status says not running, LSB status 3 (got $rc)" test "$rc" = 3
check "init script: the pid file is gone" test ! -e "$PIDFILE"

# ---- bash completion ----
complete_words() { # the words offered after "lsyncd-ng $*"
	bash -c 'source "$0"; COMP_WORDS=(lsyncd-ng "$@"); COMP_CWORD=$#; _lsyncd_ng; echo "${COMPREPLY[*]}"' \
		"$LNG_ROOT/configs/lsyncd-ng.bash-completion" "$@" 2>/dev/null  # compopt needs a real completion
}
check "completion: -no completes to -nodaemon" test "$(complete_words -no)" = -nodaemon
check "completion: -log offers the categories" grep -qw Exec <<<"$(complete_words -log '')"
mkdir -p "$WS/cmp" && touch "$WS/cmp/site.lua" "$WS/cmp/notes.txt"
check "completion: a config argument offers .lua files" \
	test "$(cd "$WS/cmp" && complete_words -c '')" = site.lua

# ---- make install ----
# (into DESTDIR; the substituted units are made in the tree's build/)
for prefix in /usr/local /usr; do
	root=$WS/root$prefix
	make -s -C "$LNG_ROOT" install DESTDIR="$root" PREFIX="$prefix" SYSCONFDIR=/etc \
		>"$WS/install.log" 2>&1 || sed 's/^/# /' "$WS/install.log"
	for f in $prefix/bin/lsyncd-ng $prefix/share/man/man1/lsyncd-ng.1 \
		$prefix/lib/systemd/system/lsyncd-ng.service $prefix/lib/systemd/system/lsyncd-ng@.service \
		/etc/init.d/lsyncd-ng /etc/default/lsyncd-ng /etc/logrotate.d/lsyncd-ng \
		$prefix/share/bash-completion/completions/lsyncd-ng \
		$prefix/share/doc/lsyncd-ng/examples/rsyncssh-sync-user.lua \
		/etc/lsyncd-ng/lsyncd-ng.conf.lua.example; do
		check "make install PREFIX=$prefix: $f" test -s "$root$f"
	done
	for d in /etc/lsyncd-ng /var/log/lsyncd-ng /var/lib/lsyncd-ng; do
		check "make install PREFIX=$prefix: makes $d" test -d "$root$d"
	done
	for u in lsyncd-ng.service lsyncd-ng@.service; do
		check "PREFIX=$prefix: $u runs $prefix/bin/lsyncd-ng" \
			grep -q "^ExecStart=$prefix/bin/lsyncd-ng -nodaemon" "$root$prefix/lib/systemd/system/$u"
	done
	check "PREFIX=$prefix: the init script runs $prefix/bin/lsyncd-ng" \
		grep -q "^DAEMON=\${DAEMON:-$prefix/bin/lsyncd-ng}" "$root/etc/init.d/lsyncd-ng"
	check "PREFIX=$prefix: no @PLACEHOLDER@ left in what was installed" \
		sh -c "! grep -rl '@[A-Z]*DIR@' '$root'"
	check "PREFIX=$prefix: the installed binary runs" "$root$prefix/bin/lsyncd-ng" -version
done
# an admin's config and /etc/default are never overwritten
root=$WS/root/usr
echo '-- mine' > "$root/etc/lsyncd-ng/lsyncd-ng.conf.lua"
echo 'NICE=5' > "$root/etc/default/lsyncd-ng"
rm "$root/etc/lsyncd-ng/lsyncd-ng.conf.lua.example"
make -s -C "$LNG_ROOT" install DESTDIR="$root" PREFIX=/usr >/dev/null 2>&1
check "make install again: the admin's /etc/default/lsyncd-ng is kept" grep -qx 'NICE=5' "$root/etc/default/lsyncd-ng"
check "make install again: with a config there, no example is added" test ! -e "$root/etc/lsyncd-ng/lsyncd-ng.conf.lua.example"
check "SYSCONFDIR=/opt/etc: the init script reads /opt/etc/default/lsyncd-ng" sh -c \
	"make -s -C '$LNG_ROOT' install DESTDIR='$WS/root3' SYSCONFDIR=/opt/etc >/dev/null 2>&1 &&
	 grep -q '/opt/etc/default/lsyncd-ng' '$WS/root3/opt/etc/init.d/lsyncd-ng'"
tap_done
