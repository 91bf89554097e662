#!/usr/bin/env bash
# Operator tooling: `lsyncd-ng -init` driven by flags and through a
# pseudo-terminal (wrong answers are asked again), the configs it writes run
# (under lsyncd-ng and under Debian's lsyncd) and sync; `lsyncd-ng -check`
# against a real sshd: a good slave, one without the key, one without the
# target dir, an unknown host key, a master without a key, a bad config.
. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd for the slaves starts"; tap_done; exit 1; }
S=$WS/src
mkdir -p "$S/sub"
echo one > "$S/a"; echo two > "$S/sub/b"; echo tmp > "$S/x.tmp"
COMMON=(--key "$SSH_KEY" --ssh-option "UserKnownHostsFile=$SSH_KNOWN" --ssh-option IdentitiesOnly=yes)

# runs the daemon on config $1 until target $2 equals the source (minus
# what tree_diff is told to skip), then adds a file and waits for it too
runs_and_syncs() { # name config target
	local name=$1 conf=$2 tgt=$3
	sed -i 's/settings {/settings {\n\tnodaemon = true,/' "$conf"
	start_daemon "$WS/$name.log" "$conf"
	wait_equal "$S" "$tgt" 20 --exclude='*.tmp'
	check "$name: the startup sync reaches the slave" tree_equal "$S" "$tgt" --exclude='*.tmp'
	echo "new $name" > "$S/new-$name"
	wait_equal "$S" "$tgt" 20 --exclude='*.tmp'
	check "$name: a new file reaches the slave" test -f "$tgt/new-$name"
	stop_daemon
	check "$name: TERM ends it with 143" test "$DAEMON_RC" = 143
}

# ---- -init without a terminal ----
out=$(timeout 10 "$LNG_BIN" -init "$WS/none.lua" </dev/null 2>&1); rc=$?
check "-init with no TTY and no flags exits 1 at once" test "$rc" = 1
check "... and names the missing flags" grep -q -- '--source DIR.*--slave' <<<"$out"
check "... and writes nothing" test ! -e "$WS/none.lua"

out=$(timeout 10 "$LNG_BIN" -init "$WS/none.lua" --source "$S" </dev/null 2>&1); rc=$?
check "-init with --source only names --slave as missing" \
	eval '[ "$rc" = 1 ] && grep -q -- "--slave" <<<"$out" && ! grep -q -- "--source DIR," <<<"$out"'

out=$(timeout 10 "$LNG_BIN" -init "$WS/none.lua" --source "$S" --slave nohost --no-check </dev/null 2>&1); rc=$?
check "-init: a malformed --slave is refused with the form to use" \
	eval '[ "$rc" = 1 ] && grep -q "\[user@\]host\[:port\]:/target/dir" <<<"$out"'
out=$(timeout 10 "$LNG_BIN" -init "$WS/none.lua" --source "$S" --slave /x --delay soon </dev/null 2>&1); rc=$?
check "-init: --delay soon is refused" eval '[ "$rc" = 1 ] && grep -q "delay soon: a number" <<<"$out"'
out=$(timeout 10 "$LNG_BIN" -init "$WS/none.lua" --source "$WS/nope" --slave /x </dev/null 2>&1); rc=$?
check "-init: a missing source is refused" eval '[ "$rc" = 1 ] && grep -q "nope does not exist" <<<"$out"'

# ---- -init by flags: rsyncssh, then it runs ----
T1=$WS/t1
out=$(timeout 60 "$LNG_BIN" -init "$WS/flags.lua" --source "$S" \
	--slave "root@127.0.0.1:$SSH_PORT:$T1" "${COMMON[@]}" --exclude '*.tmp' --delay 0.5 \
	--log "$WS/flags-log/lsyncd.log" --status "$WS/flags.status" </dev/null 2>&1); rc=$?
check "-init by flags exits 0" test "$rc" = 0
[ "$rc" = 0 ] || echo "$out" | sed 's/^/# /'
check "-init created the missing target dir on the slave" test -d "$T1"
check "... and said so" grep -q "created $T1 on 127.0.0.1" <<<"$out"
check "the config uses default.rsyncssh with the slave's port and key" \
	eval 'grep -q "default.rsyncssh" "$WS/flags.lua" && grep -q "port = $SSH_PORT" "$WS/flags.lua" && grep -q "identityFile = \"$SSH_KEY\"" "$WS/flags.lua"'
check "the config is commented and says lsyncd can run it" grep -q "lsyncd 2.2/2.3 can run it" "$WS/flags.lua"
out2=$(timeout 10 "$LNG_BIN" -init "$WS/flags.lua" --source "$S" --slave /x --no-check </dev/null 2>&1); rc=$?
check "-init does not replace an existing file without --force" \
	eval '[ "$rc" = 1 ] && grep -q -- "--force" <<<"$out2" && grep -q default.rsyncssh "$WS/flags.lua"'
cp "$WS/flags.lua" "$WS/flags-lsyncd.lua"
runs_and_syncs flags "$WS/flags.lua" "$T1"

# the same file under Debian's lsyncd (a lsyncd config, as promised)
if [ -x /usr/bin/lsyncd ]; then
	T1L=$WS/t1l
	mkdir -p "$T1L"
	sed -i "s|$T1|$T1L|; s/settings {/settings {\n\tnodaemon = true,/" "$WS/flags-lsyncd.lua"
	start_cmd "$WS/lsyncd.log" /usr/bin/lsyncd "$WS/flags-lsyncd.lua"
	wait_equal "$S" "$T1L" 30 --exclude='*.tmp'
	check "Debian's lsyncd runs the generated config and syncs" tree_equal "$S" "$T1L" --exclude='*.tmp'
	stop_daemon
else
	tap_fail "Debian's lsyncd is installed (scripts/install-deps)"
fi

# ---- -init by flags: rsync mode over ssh, and a local slave ----
T2=$WS/t2 T3=$WS/t3
out=$(timeout 60 "$LNG_BIN" -init "$WS/rsync.lua" --source "$S/" --mode rsync \
	--slave "root@127.0.0.1:$SSH_PORT:$T2" --slave "$T3" "${COMMON[@]}" --exclude '*.tmp' \
	--delay 0 --delete running --log "$WS/rsync-log" --status "$WS/rsync.status" \
	--json-status "$WS/rsync.json" </dev/null 2>&1); rc=$?
check "-init --mode rsync with two slaves exits 0" test "$rc" = 0
[ "$rc" = 0 ] || echo "$out" | sed 's/^/# /'
check "the rsync config reaches the ssh slave through rsh and has the local one" \
	eval 'grep -q "target    = \"root@127.0.0.1:$T2\"" "$WS/rsync.lua" && grep -q "rsh = \"/usr/bin/ssh -p $SSH_PORT" "$WS/rsync.lua" && grep -q "target    = \"$T3\"" "$WS/rsync.lua"'
check "a lsyncd-ng-only setting is marked as such" \
	eval 'grep -q "jsonStatusFile.*lsyncd-ng only" "$WS/rsync.lua" && grep -q "lsyncd itself" "$WS/rsync.lua"'
check 'delete = "running" is written as a string' grep -q 'delete    = "running"' "$WS/rsync.lua"
runs_and_syncs rsync "$WS/rsync.lua" "$T2"
check "rsync: the local slave got the tree too" tree_equal "$S" "$T3" --exclude='*.tmp'
check "rsync: the JSON status file was written" test -s "$WS/rsync.json"

# ---- -init through a pseudo-terminal ----
T4=$WS/t4
cat > "$WS/term.py" <<'PY'
import os, pty, sys, time, select
# argv: transcript file, then the command; stdin lines: "expected<TAB>answer"
# (wait until the program has shown `expected`, then type `answer` + Enter)
transcript = open(sys.argv[1], 'wb')
cmd = sys.argv[2:]
steps = [l.rstrip('\n').split('\t', 1) for l in sys.stdin if l.strip()]
pid, fd = pty.fork()
if pid == 0:
    os.execv(cmd[0], cmd)
buf = b''
def more(timeout):
    global buf
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return False
    try:
        data = os.read(fd, 4096)
    except OSError:
        return False
    if not data:
        return False
    transcript.write(data)
    transcript.flush()
    buf += data
    return True
def read_until(text, timeout=60):
    global buf
    end = time.time() + timeout
    while text.encode() not in buf:
        if not more(max(0, end - time.time())):
            raise SystemExit('waiting for %r: %s' % (text, 'ended' if time.time() < end else 'timed out'))
    buf = buf[buf.index(text.encode()) + len(text):]
status = 0
try:
    for expect, answer in steps:
        read_until(expect)
        os.write(fd, answer.encode() + b'\n')
except SystemExit as e:
    print(str(e))
    status = 2
while more(5):
    pass
done, st = os.waitpid(pid, os.WNOHANG)
if done == 0:
    os.write(fd, b'\x04')             # still asking: end the input (^D)
    while more(10):
        pass
    _, st = os.waitpid(pid, 0)
os.close(fd)
if status == 0:
    status = os.waitstatus_to_exitcode(st)
sys.exit(status)
PY
# the transcript is kept by the terminal itself: log what the program shows
script_steps() {
	printf '%s\t%s\n' \
		"Source directory" "$WS/does-not-exist" \
		"does not exist" "relative/dir" \
		"Source directory" "$S" \
		"Mode" "rsinc" \
		"rsync or rsyncssh" "" \
		"Slave 1" "not a slave" \
		"write it as" "root@127.0.0.1:$SSH_PORT:$T4" \
		"Create $T4 on 127.0.0.1?" "maybe" \
		"answer y or n" "y" \
		"Slave 2 (empty: done)" "" \
		"Exclude patterns" "*.tmp, .cache/" \
		"Seconds to gather" "soon" \
		"a number of seconds" "0.5" \
		"Delete on the slaves" "sometimes" \
		"true, false, startup or running" "" \
		"Log file" "logs/x" \
		"an absolute path" "$WS/pty.log" \
		"Status file" "$WS/pty.status" \
		"Write it to $WS/pty.lua?" "y"
}
script_steps | python3 "$WS/term.py" "$WS/pty.transcript" "$LNG_BIN" -init "$WS/pty.lua" "${COMMON[@]}" \
	> "$WS/pty.out" 2>&1; rc=$?
check "-init through a terminal: every question answered, exit 0" test "$rc" = 0
[ "$rc" = 0 ] || { sed 's/^/# /' "$WS/pty.out"; tr -d '\r' < "$WS/pty.transcript" | sed 's/^/# | /'; }
check "the terminal session wrote the config" test -s "$WS/pty.lua"
check "the answers are in it (slave, excludes, delay, delete)" \
	eval 'grep -q "targetdir = \"$T4\"" "$WS/pty.lua" && grep -q "\"\\*.tmp\", \".cache/\"" "$WS/pty.lua" && grep -q "delay     = 0.5" "$WS/pty.lua" && grep -q "delete    = true" "$WS/pty.lua"'
check "the slave's missing target dir was created when asked" test -d "$T4"
runs_and_syncs pty "$WS/pty.lua" "$T4"

# input ends in the middle: nothing written, exit 1, no hang
printf '%s\t%s\n' "Source directory" "$S" | python3 "$WS/term.py" "$WS/eof.t" "$LNG_BIN" -init "$WS/eof.lua" "${COMMON[@]}" >/dev/null 2>&1; rc=$?
check "-init: input ending mid-way (^D) exits 1 and writes nothing" \
	eval '[ "$rc" = 1 ] && [ ! -e "$WS/eof.lua" ] && grep -q "input ended; nothing written" "$WS/eof.t"'


# ---- -check ----
ssh-keygen -q -t ed25519 -N '' -f "$WS/otherkey" </dev/null
mkdir -p "$WS/good"
cat > "$WS/check.lua" <<EOF
settings { nodaemon = true }
local ssh = { port = $SSH_PORT, identityFile = "$SSH_KEY", options = { UserKnownHostsFile = "$SSH_KNOWN", IdentitiesOnly = "yes" } }
sync { default.rsyncssh, name = "good", source = "$S", host = "root@127.0.0.1", targetdir = "$WS/good", ssh = ssh }
sync { default.rsyncssh, name = "nokey", source = "$S", host = "root@127.0.0.1", targetdir = "$WS/good",
	ssh = { port = $SSH_PORT, identityFile = "$WS/otherkey", options = { UserKnownHostsFile = "$SSH_KNOWN", IdentitiesOnly = "yes" } } }
sync { default.rsync, name = "nodir", source = "$S", target = "root@127.0.0.1:$WS/missing/deep dir",
	rsync = { rsh = "/usr/bin/ssh -p $SSH_PORT -i $SSH_KEY -o UserKnownHostsFile=$SSH_KNOWN -o IdentitiesOnly=yes" } }
sync { default.rsync, name = "lastpart", source = "$S", target = "root@127.0.0.1:$WS/new last",
	rsync = { rsh = "/usr/bin/ssh -p $SSH_PORT -i $SSH_KEY -o UserKnownHostsFile=$SSH_KNOWN -o IdentitiesOnly=yes" } }
EOF
out=$(timeout 120 "$LNG_BIN" -check "$WS/check.lua" </dev/null 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "-check exits 1 when a slave is not ready" test "$rc" = 1
check "-check: ✔ for the good slave" grep -q "^✔ good .*root@127.0.0.1:$WS/good (key login, rsync there, target dir writable)" <<<"$out"
check "-check: ✘ for the slave without the key" grep -q "^✘ nokey .*key login refused" <<<"$out"
copyid=$(grep -A1 '^✘ nokey' <<<"$out" | sed -n 's/^ *fix: //p')
check "... with an ssh-copy-id command that uses the sync's port and options ($copyid)" \
	eval 'grep -qF "ssh-copy-id -i $WS/otherkey.pub" <<<"$copyid" && grep -qF -- "-p $SSH_PORT" <<<"$copyid" \
		&& grep -qF -- "-o UserKnownHostsFile=$SSH_KNOWN" <<<"$copyid" && grep -qF "root@127.0.0.1" <<<"$copyid"'
check "-check: ✘ for the slave without the target dir" grep -qF "✘ nodir $S -> root@127.0.0.1:$WS/missing/deep dir: target dir $WS/missing/deep dir does not exist" <<<"$out"
check "-check: a missing last component is fine (rsync creates it)" \
	grep -qF "✔ lastpart $S -> root@127.0.0.1:$WS/new last (key login, rsync there, target dir missing: rsync creates it)" <<<"$out"
fix=$(grep -A1 '^✘ nodir' <<<"$out" | sed -n 's/^ *fix: //p')
check "-check: no sync was started (nothing copied)" test -z "$(ls -A "$WS/good")"
(eval "$fix") </dev/null >/dev/null 2>&1
check "... and its printed fix, run as printed, makes it (the sync's port, key, known hosts)" test -d "$WS/missing/deep dir"
sed -i '/name = "nokey"/,+1d' "$WS/check.lua"
out=$(timeout 120 "$LNG_BIN" -check "$WS/check.lua" </dev/null 2>&1); rc=$?
check "-check exits 0 when every slave is ready" test "$rc" = 0
check "... with ✔ on every line" test "$(grep -c '^✔' <<<"$out")" = 3

: > "$WS/empty_known"
sed "s|$SSH_KNOWN|$WS/empty_known|g" "$WS/check.lua" > "$WS/check-hk.lua"
out=$(timeout 120 "$LNG_BIN" -check "$WS/check-hk.lua" </dev/null 2>&1); rc=$?
check "-check: an unknown host key is a ✘ with the ssh-keyscan command" \
	eval '[ "$rc" = 1 ] && grep -q "host key of 127.0.0.1 is not known" <<<"$out" && grep -qF "ssh-keyscan -p $SSH_PORT" <<<"$out"'
fix=$(grep -m1 -A1 'host key of 127.0.0.1 is not known' <<<"$out" | sed -n 's/^ *fix: //p' | sed 's/  (compare.*//')
(eval "$fix") </dev/null >/dev/null 2>&1
out=$(timeout 120 "$LNG_BIN" -check "$WS/check-hk.lua" </dev/null 2>&1); rc=$?
check "... and that command, run as printed, fills the known hosts file the sync uses ($fix)" \
	eval '[ "$rc" = 0 ] && [ -s "$WS/empty_known" ]'

mkdir -p "$WS/home"
cat > "$WS/check-nokey.lua" <<EOF
sync { default.rsyncssh, source = "$S", host = "root@127.0.0.1", targetdir = "$WS/good", ssh = { port = $SSH_PORT } }
EOF
out=$(HOME=$WS/home timeout 60 "$LNG_BIN" -check "$WS/check-nokey.lua" </dev/null 2>&1); rc=$?
check "-check: a master without a key is told how to make one" \
	eval '[ "$rc" = 1 ] && grep -q "this master has no ssh key" <<<"$out" && grep -qF "ssh-keygen -t ed25519" <<<"$out"'

# ---- the key fixes, run as printed, end to end ----
# A user of our own (removed at exit) on an sshd of our own that also takes
# passwords, as a fresh slave does: the printed ssh-keygen and ssh-copy-id
# run as an operator would (the password typed through SSH_ASKPASS) and
# install the key into that user's authorized_keys, not root's. Then the
# host key "changes": the printed ssh-keygen -R and ssh-keyscan repair it.
CU=lngcp$$
CH=$WS/cuhome
if useradd -M -d "$CH" -s /bin/sh "$CU" && echo "$CU:pw$$x" | chpasswd; then
	trap 'cleanup; userdel "$CU" 2>/dev/null' EXIT
	chmod 711 "$WS"             # the slave user reaches its home inside it
	mkdir -p "$CH/t" "$WS/home2"
	chown -R "$CU" "$CH"
	CU_PORT=$(free_port)
	sed -e "s/^Port .*/Port $CU_PORT/" -e 's/^PasswordAuthentication no/PasswordAuthentication yes/' \
		-e 's|^AuthorizedKeysFile .*|AuthorizedKeysFile .ssh/authorized_keys|' \
		-e "s|^PidFile .*|PidFile $WS/sshd/cu.pid|" "$WS/sshd/sshd_config" > "$WS/sshd/cu_config"
	saved_daemon=$DAEMON_PID
	start_cmd "$WS/sshd/cu.out" /usr/sbin/sshd -D -f "$WS/sshd/cu_config" -E "$WS/sshd/cu.log"
	CU_SSHD=$DAEMON_PID DAEMON_PID=$saved_daemon
	echo "[127.0.0.1]:$CU_PORT $(cut -d' ' -f1,2 "$WS/sshd/host_key.pub")" > "$WS/cu_known"
	for _ in $(seq 1 50); do ss -Hltn "sport = :$CU_PORT" | grep -q . && break; sleep 0.1; done
	printf '#!/bin/sh\necho pw%sx\n' "$$" > "$WS/askpass"; chmod +x "$WS/askpass"
	root_keys=$(md5sum /root/.ssh/authorized_keys 2>/dev/null)
	printf 'sync { default.rsyncssh, name = "cu", source = "%s", host = "%s@127.0.0.1", targetdir = "%s",\n  ssh = { port = %s, identityFile = "%s", options = { UserKnownHostsFile = "%s", IdentitiesOnly = "yes" } } }\n' \
		"$S" "$CU" "$CH/t" "$CU_PORT" "$WS/home2/.ssh/id_ed25519" "$WS/cu_known" > "$WS/check-cu.lua"
	# runfix FIX: the printed fix, each "A, then B" step as printed, no
	# terminal, in an operator's clean environment (this harness exports
	# SSH_PORT, which ssh-copy-id would take as its own -p)
	runfix() {
		local step
		while IFS= read -r step; do
			env -i PATH="$PATH" HOME="$WS/home2" SSH_ASKPASS="$WS/askpass" SSH_ASKPASS_REQUIRE=force \
				DISPLAY=none setsid -w sh -c "$step" </dev/null >>"$WS/fix.out" 2>&1
		done < <(sed 's/, then /\n/g; s/  (compare.*//' <<<"$1")
	}
	cucheck() { HOME=$WS/home2 timeout 60 "$LNG_BIN" -check "$WS/check-cu.lua" </dev/null 2>&1; }
	out=$(cucheck); rc=$?
	fix=$(grep -m1 -A1 '^✘ cu' <<<"$out" | sed -n 's/^ *fix: //p')
	check "-check when the sync's key does not exist (nor its dir): ✘ with ssh-keygen, then ssh-copy-id ($fix)" \
		eval '[ "$rc" = 1 ] && grep -qF "ssh-keygen -t ed25519" <<<"$fix" && grep -qF "ssh-copy-id" <<<"$fix"'
	runfix "$fix"
	out=$(cucheck); rc=$?
	check "... and both, run as printed, make the slave ready (✔ key login)" \
		eval '[ "$rc" = 0 ] && grep -q "^✔ cu .*key login" <<<"$out"'
	[ "$rc" = 0 ] || note "$out" "$(tail -5 "$WS/fix.out")"
	check "... the key went into the slave user's authorized_keys" \
		grep -qF "$(cut -d' ' -f2 "$WS/home2/.ssh/id_ed25519.pub" 2>/dev/null)x" <(sed 's/ [^ ]*$/x/' "$CH/.ssh/authorized_keys" 2>/dev/null | cut -d' ' -f2)
	check "... and root's authorized_keys is untouched" test "$(md5sum /root/.ssh/authorized_keys 2>/dev/null)" = "$root_keys"
	# the slave "was reinstalled": another host key in the known hosts file
	ssh-keygen -q -t ed25519 -N '' -f "$WS/otherhost" </dev/null
	echo "[127.0.0.1]:$CU_PORT $(cut -d' ' -f1,2 "$WS/otherhost.pub")" > "$WS/cu_known"
	out=$(cucheck); rc=$?
	fix=$(grep -m1 -A1 'has CHANGED' <<<"$out" | sed -n 's/^ *fix: if the slave was reinstalled: //p')
	check "-check on a changed host key: ✘ with ssh-keygen -R ($fix)" \
		eval '[ "$rc" = 1 ] && grep -qF "ssh-keygen -f $WS/cu_known -R" <<<"$fix"'
	runfix "${fix%, then accept the new key}"
	out=$(cucheck); rc=$?
	fix=$(grep -m1 -A1 'is not known here' <<<"$out" | sed -n 's/^ *fix: //p')
	check "... run as printed it drops the old key; -check then prints the keyscan ($fix)" \
		eval '[ "$rc" = 1 ] && grep -qF "ssh-keyscan -p $CU_PORT" <<<"$fix"'
	runfix "$fix"
	out=$(cucheck); rc=$?
	check "... and that, run as printed, makes the slave ready again" test "$rc" = 0
	kill -TERM "$CU_SSHD"; wait "$CU_SSHD" 2>/dev/null; forget_pid "$CU_SSHD"
else
	tap_fail "create a slave user for the ssh-copy-id case"
fi

printf 'settings { nodaemon = true }\nsync { default.rsync, source = "%s", target = "%s", delya = 1 }\n' "$S" "$WS/good" > "$WS/bad.lua"
out=$(timeout 20 "$LNG_BIN" -check "$WS/bad.lua" </dev/null 2>&1); rc=$?
check "-check: a bad config exits non-zero naming file:line and the key" \
	eval '[ "$rc" != 0 ] && grep -q "bad.lua:2" <<<"$out" && grep -q "delay" <<<"$out"'

tap_done
