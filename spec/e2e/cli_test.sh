#!/usr/bin/env bash
# The command line and bad input (lsyncd-compat.md §1): -version, -help,
# exit statuses, option errors, config errors that name the file and line /
# the key / the path, an unreachable ssh target at startup without and with
# insist. Every failure case also asserts that nothing it started is left
# running (the run's processes are found by their LNG_E2E_RUN marker, so a
# daemonized child or an orphaned rsync/ssh is caught too).
# Cases marked [lsyncd-ng] go beyond lsyncd 2.2.3 (better messages, stricter
# checks); lsyncd 2.2.3 is expected to fail them.
. "$(dirname "$0")/lib.sh"

RUNS=0
# run_fail NAME WANT_RC PATTERN [TIMEOUT] -- ARGS...: runs the binary to
# completion (TIMEOUT s, default 10); ok if its exit status is WANT_RC ('!0':
# any failure), its output (stdout+stderr) matches the extended regex
# PATTERN, and no process of the run remains.
run_fail() {
	local name=$1 want=$2 pat=$3 limit=10 out rc left
	shift 3
	[ "$1" != -- ] && { limit=$1; shift; }
	shift
	RUNS=$((RUNS + 1))
	local start=$SECONDS
	out=$(env LNG_E2E_RUN="$WS:cli$RUNS" timeout -k 2 "$limit" "$LNG_BIN" "$@" 2>&1 </dev/null); rc=$?
	OUT=$out RC=$rc ELAPSED=$((SECONDS - start))
	for _ in $(seq 1 10); do
		left=$(alive_of $(run_procs "$WS:cli$RUNS"))
		[ -z "$left" ] && break; sleep 0.1
	done
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		tap_fail "$name" "still running after $limit s" "$out"
	elif ! { [ "$want" = '!0' ] && [ "$rc" -ne 0 ]; } && [ "$rc" != "$want" ]; then
		tap_fail "$name" "exit status $rc, wanted $want" "$out"
	elif ! printf '%s' "$out" | grep -qE -- "$pat"; then
		tap_fail "$name" "output does not match /$pat/:" "$out"
	elif [ -n "$left" ]; then
		tap_fail "$name" "processes left running:" "$left"
	else
		tap_ok "$name"
	fi
}

mkdir -p "$WS/src" "$WS/trg"

# ---- options ----
run_fail "-version exits 0 and prints a version" 0 '[0-9]+\.[0-9]+' -- -version
run_fail "-help prints usage and exits 255" 255 '[Uu][Ss][Aa][Gg][Ee]' -- -help
run_fail "--help (two dashes) prints usage and exits 255" 255 '[Uu][Ss][Aa][Gg][Ee]' -- --help
run_fail "no arguments prints usage and exits 255" 255 '[Uu][Ss][Aa][Gg][Ee]' --
run_fail "unknown option exits 255 and names it" 255 'bogus' -- -bogus "$WS/x.lua"
run_fail "a mistyped option gets a suggestion" 255 'did you mean -nodaemon' -- -nodeamon "$WS/x.lua"
run_fail "a directory as the config is refused plainly, no traceback" 255 'is a directory, not a config file' -- "$WS"
run_fail "an option without its value exits 255 and names it" 255 'delay' -- -rsync "$WS/src" "$WS/trg" -delay
run_fail "a non-numeric -delay exits 255" 255 '.' -- -nodaemon -delay soon -rsync "$WS/src" "$WS/trg"
run_fail "an invalid -log category exits 255 and names it" 255 'bad' -- -log bad -nodaemon -rsync "$WS/src" "$WS/trg"
printf 'settings { nodaemon = true }\n' > "$WS/ok.lua"
run_fail "a config file and -rsync together exit 255" 255 '.' -- -nodaemon "$WS/ok.lua" -rsync "$WS/src" "$WS/trg"
run_fail "two config files exit 255" 255 '.' -- "$WS/ok.lua" "$WS/ok.lua"
run_fail "-rsync with a source that does not exist fails and names it" '!0' "$WS/no-such-src" -- \
	-nodaemon -rsync "$WS/no-such-src" "$WS/trg"

# ---- config files ----
run_fail "a missing config file exits 255 and names the file" 255 "$WS/nope.lua" -- "$WS/nope.lua"

printf 'settings {\n  nodaemon = true,\n}\nsync { default.rsync, source = "%s", target = "%s" = }\n' \
	"$WS/src" "$WS/trg" > "$WS/syntax.lua"
run_fail "a Lua syntax error fails and names file:line" '!0' "$WS/syntax.lua:4:" -- "$WS/syntax.lua"

printf 'settings { nodaemon = true }\nlocal t = nil\nlocal x = t.field\n' > "$WS/runtime.lua"
run_fail "a Lua runtime error while loading fails and names file:line" '!0' "$WS/runtime.lua:3:" -- "$WS/runtime.lua"

printf 'settings { nodaemon = true }\n\nsync { default.rsync, source = "%s", target = "%s",\n  dealy = 1 }\n' \
	"$WS/src" "$WS/trg" > "$WS/key.lua"
run_fail "an unknown key in sync{} fails and names the key" '!0' 'dealy' -- "$WS/key.lua"
run_fail "an unknown key in sync{} names file:line [lsyncd-ng]" '!0' "$WS/key.lua:[34]:" -- "$WS/key.lua"
run_fail "a misspelled key gets a suggestion [lsyncd-ng]" '!0' 'did you mean "?delay' -- "$WS/key.lua"

printf 'settings { nodaemon = true, statusIntervall = 3 }\n' > "$WS/setting.lua"
run_fail "an unknown setting fails and names the key" '!0' 'statusIntervall' -- "$WS/setting.lua"

printf 'settings { nodaemon = true }\nsync { default.rsync, source = "%s", target = "%s" }\n' \
	"$WS/does-not-exist" "$WS/trg" > "$WS/nosrc.lua"
run_fail "a source that does not exist fails and names the path" '!0' "$WS/does-not-exist" -- "$WS/nosrc.lua"

echo f > "$WS/afile"
printf 'settings { nodaemon = true }\nsync { default.rsync, source = "%s", target = "%s" }\n' \
	"$WS/afile" "$WS/trg" > "$WS/filesrc.lua"
run_fail "a source that is a file fails and names the path" '!0' "$WS/afile" -- "$WS/filesrc.lua"

printf 'settings { nodaemon = true }\nsync { default.rsync, source = "%s", target = "%s", delete = "sometimes" }\n' \
	"$WS/src" "$WS/trg-del" > "$WS/delete.lua"
run_fail "a bad delete value is refused and named [lsyncd-ng]" '!0' 'sometimes' 5 -- "$WS/delete.lua"

printf 'settings { nodaemon = true }\nlocal x = 7 // 2\n' > "$WS/lua53.lua"
run_fail "Lua 5.3 integer division gets a hint [lsyncd-ng]" '!0' 'integer division' -- "$WS/lua53.lua"
printf 'settings { nodaemon = true }\nlocal x = 6 & 3\n' > "$WS/bitops.lua"
run_fail "Lua 5.3 bitwise operators get a hint naming bit.band [lsyncd-ng]" 255 "Lua 5.3 syntax.*use bit.band" -- "$WS/bitops.lua"
printf 'settings { nodaemon = true }\nsync { default.rsync, source = "%s", target = "%s",\n  delay = "soon" }\n' \
	"$WS/src" "$WS/trg" > "$WS/wtype.lua"
run_fail "a sync value of the wrong type says what was expected" 255 "wtype.lua:[23]:.*delay must be a number" -- "$WS/wtype.lua"
printf 'settings {\n  nodaemon = true,\n  statusInterval = "often",\n}\n' > "$WS/stype.lua"
run_fail "a setting of the wrong type says what was expected [lsyncd-ng]" 255 \
	'stype.lua:[1-4]:.*statusInterval" must be a number, not the string "often"' -- "$WS/stype.lua"

# ---- an unreachable ssh target at startup ----
echo hello > "$WS/src/hello"
port=$(free_port)          # nobody listens there (yet)
cat > "$WS/unreach.lua" <<EOF
settings { nodaemon = true }
sync { default.rsync, source = '$WS/src', target = '127.0.0.1:$WS/trg', delay = 1,
       rsync = { rsh = '/usr/bin/ssh -p $port -o BatchMode=yes -o ConnectTimeout=3' } }
EOF
run_fail "unreachable target at startup without insist: fails, names the target, nothing left" \
	'!0' '127\.0\.0\.1' 30 -- "$WS/unreach.lua"
check "unreachable target without insist: it gives up within 30 s (took ${ELAPSED}s)" test "$ELAPSED" -lt 30
check "unreachable target without insist: the target is untouched" test -z "$(ls -A "$WS/trg")"

# With insist: keeps retrying, and syncs once an sshd listens on that port.
sshd_start "$port" >/dev/null && sshd_stop    # keys and config for that port, then down
cat > "$WS/insist.lua" <<EOF
settings { nodaemon = true, insist = true }
sync { default.rsync, source = '$WS/src', target = '127.0.0.1:$WS/trg', delay = 1,
       rsync = { rsh = '$SSH_RSH -o ConnectTimeout=3' } }
EOF
start_daemon "$WS/insist.log" "$WS/insist.lua"
sleep 3
check "with insist the daemon keeps running while the slave is down" proc_alive "$DAEMON_PID"
sshd_restart
expect_equal "with insist the tree arrives once the slave answers" "$WS/src" "$WS/trg" 40
echo later > "$WS/src/later"
expect_equal "with insist, after the late startup, changes flow" "$WS/src" "$WS/trg"
check_stop "insist"
sshd_stop

tap_done
