#!/usr/bin/env bash
# The command line and bad input: -version, -help, exit statuses, config
# errors that name the file and line / the key / the path / the host, and
# no half-started daemon or stray child after a failure; insist.
. "$(dirname "$0")/lib.sh"

# run_fail NAME WANT_RC PATTERN ARGS...: runs to completion (10 s cap); the
# exit status must be WANT_RC ('!0': any failure) and the output match PATTERN.
run_fail() {
	local name=$1 want=$2 pat=$3; shift 3
	local out rc
	out=$(timeout 10 "$LNG_BIN" "$@" 2>&1 </dev/null); rc=$?
	if [ "$rc" = 124 ]; then tap_fail "$name" "still running after 10 s"; return; fi
	if { [ "$want" = '!0' ] && [ "$rc" -ne 0 ]; } || [ "$rc" = "$want" ]; then
		if printf '%s' "$out" | grep -qE -- "$pat"; then
			tap_ok "$name"
		else
			tap_fail "$name" "output does not match /$pat/:" "$out"
		fi
	else
		tap_fail "$name" "exit status $rc, wanted $want" "$out"
	fi
}

out=$("$LNG_BIN" -version 2>&1); rc=$?
check "-version exits 0 and prints a version ($out)" test "$rc" = 0 -a -n "$out"
run_fail "-help prints usage and exits 255" 255 'USAGE' -help
run_fail "--help works with two dashes" 255 'USAGE' --help
run_fail "no arguments prints usage and exits 255" 255 'USAGE'
run_fail "unknown option exits 255 and names it" 255 'unknown option.*-bogus' -bogus
run_fail "missing config file names the file" 255 "$WS/nope.lua" "$WS/nope.lua"

mkdir -p "$WS/src" "$WS/trg"
printf 'settings {\n  nodaemon = true,\n}\nsync { default.rsync, source = "%s", target = "%s" = }\n' \
	"$WS/src" "$WS/trg" > "$WS/syntax.lua"
run_fail "Lua syntax error names file:line" '!0' "$WS/syntax.lua:4:" "$WS/syntax.lua"

printf 'settings { nodaemon = true }\n\nsync { default.rsync, source = "%s", target = "%s",\n  dealy = 1 }\n' \
	"$WS/src" "$WS/trg" > "$WS/key.lua"
run_fail "unknown sync key names the key, file and line" '!0' "$WS/key.lua:3:.*dealy" "$WS/key.lua"
run_fail "misspelled key gets a suggestion" '!0' 'did you mean "delay"' "$WS/key.lua"

printf 'settings { nodaemon = true, statusIntervall = 3 }\n' > "$WS/setting.lua"
run_fail "unknown setting names the key" '!0' 'statusIntervall' "$WS/setting.lua"

printf 'settings { nodaemon = true }\nsync { default.rsync, source = "%s", target = "%s" }\n' \
	"$WS/does-not-exist" "$WS/trg" > "$WS/nosrc.lua"
run_fail "a source that does not exist is named" '!0' "$WS/does-not-exist" "$WS/nosrc.lua"

printf 'settings { nodaemon = true }\nlocal x = 7 // 2\n' > "$WS/lua53.lua"
run_fail "Lua 5.3 integer division gets a hint" '!0' 'integer division' "$WS/lua53.lua"

printf 'settings { nodaemon = true }\nsync { default.rsync, source = "%s", target = "%s", delete = "sometimes" }\n' \
	"$WS/src" "$WS/trg" > "$WS/delete.lua"
run_fail "a bad delete value is refused" '!0' 'delete' "$WS/delete.lua"

# An unreachable ssh target without insist: startup fails, nothing stays.
port=$(free_port)
cat > "$WS/unreach.lua" <<EOF
settings { nodaemon = true }
sync { default.rsync, source = '$WS/src', target = '127.0.0.1:$WS/trg', delay = 1,
       rsync = { rsh = '/usr/bin/ssh -p $port -o BatchMode=yes -o ConnectTimeout=3' } }
EOF
before=$(ps -eo pid= | wc -l)
run_fail "unreachable target at startup without insist fails" 255 '127.0.0.1' "$WS/unreach.lua"
sleep 0.5
stray=$(ps -eo pid,args | grep -F -- "$WS/" | grep -v grep || true)
check "no stray process after a failed startup" test -z "$stray"

# With insist: keeps retrying, and syncs once the slave answers.
echo hello > "$WS/src/hello"
sshd_start "$port" >/dev/null && sshd_stop
cat > "$WS/insist.lua" <<EOF
settings { nodaemon = true, insist = true }
sync { default.rsync, source = '$WS/src', target = '127.0.0.1:$WS/trg', delay = 0.5,
       rsync = { rsh = '$SSH_RSH -o ConnectTimeout=3' } }
EOF
start_daemon "$WS/insist.log" "$WS/insist.lua"
sleep 3
check "with insist the daemon keeps running while the slave is down" kill -0 "$DAEMON_PID"
sshd_restart
expect_equal "with insist the tree arrives once the slave answers" "$WS/src" "$WS/trg" 40
stop_daemon

tap_done
