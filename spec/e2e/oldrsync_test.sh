#!/usr/bin/env bash
# A slave whose rsync is older than 3.1 refuses --delete-missing-args, which
# a batch of 100 or more entries uses (rsync --files-from): the sync falls
# back to lsyncd's include list for good, says so once, and nothing is lost.
# The old rsync is a wrapper on the slave's side (--rsync-path) that refuses
# the option as rsync 3.0 does and runs the real rsync otherwise (it reads
# its arguments from argv: protect_args is off for it).
. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_done; exit 1; }
S=$WS/src T=$WS/tgt
mkdir -p "$S" "$T"
cat > "$WS/oldrsync" <<'SH'
#!/bin/sh
echo "$*" >> "$0.calls"
for a in "$@"; do
	case "$a" in
	--delete-missing-args)
		echo "rsync: --delete-missing-args: unknown option" >&2
		echo "rsync error: syntax or usage error (code 1) at main.c(1554) [server=3.0.9]" >&2
		exit 1;;
	esac
done
exec rsync "$@"
SH
chmod +x "$WS/oldrsync"
cat > "$WS/c.lua" <<CONF
settings { nodaemon = true, logfile = '$WS/log' }
sync { default.rsync, source = '$S', target = '127.0.0.1:$T', delay = 1,
	rsync = { rsh = '$SSH_RSH', rsync_path = '$WS/oldrsync', protect_args = false } }
CONF
start_daemon "$WS/out" "$WS/c.lua"
expect_equal "startup: the slave equals the source" "$S" "$T" 20
for _ in $(seq 1 100); do grep -q 'Startup of .* finished' "$WS/log" 2>/dev/null && break; sleep 0.1; done
for i in $(seq 1 150); do echo "$i" > "$S/f$i"; done
expect_equal "150 new files in one batch arrive through the old rsync" "$S" "$T" 30
check "the slave's rsync was asked for --delete-missing-args" grep -q -- '--delete-missing-args' "$WS/oldrsync.calls"
check "the fallback is said once" test "$(grep -c 'refuses --delete-missing-args' "$WS/log")" = 1
for i in $(seq 1 120); do rm "$S/f$i"; done
expect_equal "120 deletes in one batch arrive too" "$S" "$T" 30
check "... without another refusal" test "$(grep -c 'refuses --delete-missing-args' "$WS/log")" = 1
check_stop oldrsync
tap_done
