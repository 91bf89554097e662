# spec/e2e/lib.sh: helpers for the end-to-end tests of the real binary.
# Sourced by every spec/e2e/*_test.sh (and by scripts/demo). Tests speak TAP
# ("ok N - name" / "not ok N - name", "1..N" at the end). Each test file
# cleans up everything it started, by pid, never by name: its processes (and
# every process that inherited their run marker, see below), temp dirs,
# sysctls it changed.
#
# Environment: LNG_BIN  the binary under test (default: the repo's ./lsyncd-ng)
#              LNG_KEEP set: keep the workspace for inspection
#
# Summary of the helpers:
#   WS                        this test's temp workspace (removed at exit)
#   tap_ok NAME | tap_fail NAME [MSG...] | check NAME CMD... | tap_done
#   start_daemon LOG ARGS...  "$LNG_BIN" ARGS in the background, output to LOG;
#                             sets DAEMON_PID, DAEMON_RUN (its run marker)
#   start_cmd LOG CMD...      any command, tracked the same way
#   stop_daemon [TIMEOUT]     SIGTERM, wait (KILL after TIMEOUT s, default 30);
#                             returns/sets DAEMON_RC (143 expected), DAEMON_KIDS
#                             (its descendants just before the TERM), DAEMON_LEFT
#                             (processes of that run still alive afterwards)
#   run_procs MARKER          pids of live processes carrying a run marker
#   descendants PID           pids below PID (children, grandchildren, ...)
#   tree_diff SRC DST [--meta] / tree_equal / wait_equal / expect_equal
#   make_hostile_names DIR / no_pwned
#   sshd_start [PORT] / sshd_stop / sshd_restart / ssh_logins
#   free_port
#
# Run markers: every process started through start_cmd/start_daemon/sshd_start
# gets LNG_E2E_RUN=<workspace>:<n> in its environment. Children inherit it
# (rsync, ssh, ...), so /proc/PID/environ finds every process a run left
# behind, even when it was re-parented to init after its parent died.

set -u
LNG_ROOT=${LNG_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LNG_BIN=${LNG_BIN:-$LNG_ROOT/lsyncd-ng}
export LC_ALL=C

WS=$(mktemp -d /tmp/lng-e2e.XXXXXX)
touch "$WS/.start"
# the daemon's default state dir (as systemd's StateDirectory= sets it):
# each test's own, never the machine's /var/lib/lsyncd-ng
export STATE_DIRECTORY=$WS/state
mkdir -p "$STATE_DIRECTORY"
TAP_N=0
TAP_FAILED=0
PIDS=()          # processes this test started
RUN_N=0          # run markers handed out
RESTORE=()       # "path value" of sysctls to restore
NETNS=()         # network namespaces this test made

# forget_pid PID: PID was waited for (reaped): its number may be reused by
# another process from now on, so cleanup must not signal it.
forget_pid() {
	local p keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 30); do proc_alive "$p" || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# Whatever our processes left behind (orphaned rsync/ssh, ...): by marker.
	for p in $(run_procs "$WS:"); do
		[ "$p" != $$ ] && kill -KILL "$p" 2>/dev/null
	done
	[ ${#NETNS[@]} -gt 0 ] && netns_cleanup
	local r
	for r in "${RESTORE[@]}"; do
		echo "${r#* }" > "${r%% *}"
	done
	[ -n "${LNG_KEEP:-}" ] && echo "# kept $WS" || rm -rf "$WS"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- TAP ----
tap_ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1"; }
tap_fail() {
	TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $1"
	shift
	[ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/#   /'
	return 0
}
# check NAME CMD...: ok if CMD succeeds.
check() { local n=$1; shift; if "$@"; then tap_ok "$n"; else tap_fail "$n"; fi; }
tap_done() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }
note() { printf '# %s\n' "$@"; }

# Remembers a sysctl's value (restored at exit) and sets a new one.
set_sysctl() { # path value
	RESTORE+=("$1 $(cat "$1")")
	echo "$2" > "$1"
}

# ---- tree comparison ----
# tree_diff SRC DST [--meta] [RSYNC-FILTER-OPTION...]: prints every
# difference, nothing if the trees are equal (spec/tools/tree-diff, which the
# benchmark uses too, says what is compared).
tree_diff() { "$LNG_ROOT/spec/tools/tree-diff" "$@"; }
tree_equal() { [ -z "$(tree_diff "$@")" ]; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# wait_equal SRC DST [timeout_s [tree_diff options]]: polls tree_equal every 0.15 s
# until equal (status 0) or the timeout (status 1, default 20 s). WAITED is
# the time it took in seconds with 3 decimals.
wait_equal() {
	local src=$1 dst=$2 limit=$(( ${3:-20} * 1000 )) start el
	start=$(now_ms)
	while true; do
		el=$(( $(now_ms) - start ))
		if tree_equal "$src" "$dst" "${@:4}"; then
			WAITED=$(printf '%d.%03d' $((el / 1000)) $((el % 1000))); return 0
		fi
		if [ "$el" -gt "$limit" ]; then WAITED=${3:-20}; return 1; fi
		sleep 0.15
	done
}
# expect_equal NAME SRC DST [timeout]: a TAP line for convergence; on
# failure the differences are printed as TAP comments (and status 1).
expect_equal() {
	local name=$1
	if wait_equal "$2" "$3" "${4:-20}"; then
		tap_ok "$name (${WAITED}s)"
	else
		tap_fail "$name" "trees still differ after ${4:-20}s:" "$(tree_diff "$2" "$3" | head -30)"
		return 1
	fi
}
# expect_stays_equal NAME SRC DST SECONDS: equal now and still equal after
# SECONDS (nothing late, e.g. a delete that must not propagate, arrives).
expect_stays_equal() {
	local name=$1
	if wait_equal "$2" "$3" 20 && sleep "$4" && tree_equal "$2" "$3"; then
		tap_ok "$name"
	else
		tap_fail "$name" "differences:" "$(tree_diff "$2" "$3" | head -30)"
		return 1
	fi
}

# ---- processes ----
# start_cmd LOG CMD...: CMD in the background with a fresh run marker, its
# stdout and stderr to LOG. DAEMON_PID, DAEMON_RUN, DAEMON_LOG.
start_cmd() {
	local log=$1; shift
	RUN_N=$((RUN_N + 1))
	DAEMON_RUN="$WS:$RUN_N"
	DAEMON_LOG=$log
	env LNG_E2E_RUN="$DAEMON_RUN" "$@" >"$log" 2>&1 </dev/null &
	DAEMON_PID=$!
	PIDS+=("$DAEMON_PID")
}
# start_daemon LOG ARGS...: "$LNG_BIN" ARGS (use -nodaemon or a nodaemon config).
start_daemon() { local log=$1; shift; start_cmd "$log" "$LNG_BIN" "$@"; }

# proc_alive PID: running and not a zombie.
proc_alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}
# run_procs MARKER: live pids whose environment carries LNG_E2E_RUN=MARKER
# (a prefix "WS:" matches every run of this test).
run_procs() {
	local f p
	for f in $(grep -lsaF -- "LNG_E2E_RUN=$1" /proc/[0-9]*/environ 2>/dev/null); do
		p=${f#/proc/}; p=${p%/environ}
		case $1 in
			*:) ;;
			*) tr '\0' '\n' < "$f" 2>/dev/null | grep -qxF -- "LNG_E2E_RUN=$1" || continue ;;
		esac
		proc_alive "$p" && echo "$p"
	done
}
# children_of PID: pids whose parent is PID.
children_of() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '; }
# descendants PID: every pid below PID.
descendants() {
	ps -eo pid=,ppid= | awk -v root="$1" '
		{ kids[$2] = kids[$2] " " $1 }
		END { q[1] = root; n = 1; i = 1
		      while (i <= n) { c = split(kids[q[i]], a, " ")
		                       for (j = 1; j <= c; j++) { q[++n] = a[j]; print a[j] }
		                       i++ } }'
}
# any_alive PIDS...: true if any of these still runs.
any_alive() { local p; for p in "$@"; do proc_alive "$p" && return 0; done; return 1; }
# alive_of PIDS...: the ones that still run, with their command lines.
alive_of() {
	local p
	for p in "$@"; do
		proc_alive "$p" && echo "$p $(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null)"
	done
}

# stop_daemon [TIMEOUT]: SIGTERM to DAEMON_PID, wait for it (SIGKILL after
# TIMEOUT s, then DAEMON_RC=hung). Sets DAEMON_RC, DAEMON_KIDS, DAEMON_LEFT
# (processes of the run alive 1 s after the daemon's exit, with command lines).
stop_daemon() {
	local limit=$(( ${1:-30} * 10 )) i
	DAEMON_KIDS=$(descendants "$DAEMON_PID")
	kill -TERM "$DAEMON_PID" 2>/dev/null
	for ((i = 0; i < limit; i++)); do proc_alive "$DAEMON_PID" || break; sleep 0.1; done
	if proc_alive "$DAEMON_PID"; then
		kill -KILL "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
		DAEMON_RC=hung
	else
		wait "$DAEMON_PID" 2>/dev/null
		DAEMON_RC=$?
	fi
	forget_pid "$DAEMON_PID"
	daemon_leftovers
	[ "$DAEMON_RC" = hung ] && return 255
	return "$DAEMON_RC"
}
# daemon_leftovers: DAEMON_LEFT = what of the last run still lives (waits up to 1 s).
daemon_leftovers() {
	local i
	for i in $(seq 1 10); do
		# shellcheck disable=SC2086
		DAEMON_LEFT=$( { alive_of $DAEMON_KIDS; alive_of $(run_procs "$DAEMON_RUN"); } | sort -u)
		[ -z "$DAEMON_LEFT" ] && return 0
		sleep 0.1
	done
}
# check_stop NAME: stop_daemon, then TAP lines for "exit 143" and "no process left".
check_stop() {
	stop_daemon "${2:-30}"
	check "$1: SIGTERM ends the daemon with status 143 (got $DAEMON_RC)" test "$DAEMON_RC" = 143
	if [ -z "$DAEMON_LEFT" ]; then
		tap_ok "$1: no child process of the daemon left"
	else
		tap_fail "$1: no child process of the daemon left" "$DAEMON_LEFT"
	fi
}

# write_file PATH TEXT
write_file() { mkdir -p "$(dirname "$1")"; printf '%s' "$2" > "$1"; }

# ---- hostile file names ----
# make_hostile_names DIR: files, dirs and a symlink whose names must
# replicate byte for byte. A shell (local or on the slave) that ever
# evaluated one of them would create "lng-pwned" in its cwd or $HOME: see
# no_pwned. (A file name cannot contain "/", so the payloads are relative.)
make_hostile_names() {
	local d=$1
	mkdir -p "$d"
	local long
	long=$(printf 'L%.0s' $(seq 1 255))
	local names=(
		'with space' ' leading space' 'trailing space ' $'new\nline' $'tab\there'
		"single'quote" 'double"quote' '$(touch lng-pwned)' '`touch lng-pwned`'
		'$(cd;touch lng-pwned)' 'semi;touch lng-pwned' 'amp&touch lng-pwned&'
		'pi|touch lng-pwned' 'back\slash' 'back\' '-rf' '--delete' '-e sh' 'star*'
		'quest?' '[x]' '{a,b}' 'x>y<z' '~tilde' '#hash' '%percent' $'\xff\xfe'
		$'latin1 \xe9t\xe9' 'üñí©ødé ✓ 日本' $'\x01ctrl\x7f' "$long"
	)
	local n
	for n in "${names[@]}"; do printf '%s\n' "$n" > "$d/$n"; done
	mkdir -p "$d/dir with space/-sub" "$d/"$'dir\nnl' "$d/--delete dir" "$d/\$(touch lng-pwned) dir"
	echo x > "$d/dir with space/-sub/f*"
	echo y > "$d/"$'dir\nnl'/$'f\xff'
	echo z > "$d/--delete dir/-rf"
	echo w > "$d/\$(touch lng-pwned) dir/'\"q"
	ln -s 'star*' "$d/link to star"
	ln -s $'new\nline' "$d/-link"
}

# no_pwned: true if no shell evaluated a file name since the test started.
no_pwned() {
	local f
	for f in /lng-pwned /tmp/lng-pwned "$LNG_ROOT/lng-pwned" "$HOME/lng-pwned" "$PWD/lng-pwned"; do
		[ -e "$f" ] && [ "$f" -nt "$WS/.start" ] && { echo "# found $f"; return 1; }
	done
	[ -z "$(find "$WS" -name lng-pwned 2>/dev/null)" ]
}

# ---- a throwaway sshd on 127.0.0.1 ----
# sshd_start [PORT]: its own host key, a throwaway user key, its own
# authorized_keys and known_hosts, all under $WS/sshd; nothing in ~/.ssh is
# read for trust or written. Sets:
#   SSH_PORT SSH_KEY SSH_KNOWN SSH_LOG SSHD_PID
#   SSH_OPTS   ssh options reaching it ("-p PORT -i KEY -o ...")
#   SSH_RSH    "/usr/bin/ssh $SSH_OPTS" for rsync = { rsh = ... }
#   SSH_CONFIG an ssh_config file for host 127.0.0.1 (ssh -F $SSH_CONFIG 127.0.0.1)
#   SSH_LUA    a Lua table for default.rsyncssh: ssh = $SSH_LUA
# Without PORT a free one is picked (and another if sshd cannot bind it).
sshd_start() {
	local d=$WS/sshd
	mkdir -p "$d" /run/sshd
	chmod 700 "$d"
	[ -e "$d/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C lng-host -f "$d/host_key" </dev/null >/dev/null
	[ -e "$d/id" ] || ssh-keygen -q -t ed25519 -N '' -C lng-test -f "$d/id" </dev/null >/dev/null
	cp "$d/id.pub" "$d/authorized_keys"
	SSH_KEY=$d/id
	SSH_KNOWN=$d/known_hosts
	SSH_LOG=$d/sshd.log
	local try
	for try in 1 2 3 4 5; do
		SSH_PORT=${1:-$(free_port)}
		cat > "$d/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSH_PORT
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel VERBOSE
MaxStartups 100
MaxSessions 100
EOF
		echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$d/host_key.pub")" > "$SSH_KNOWN"
		cat > "$d/ssh_config" <<EOF
Host 127.0.0.1
	Port $SSH_PORT
	IdentityFile $SSH_KEY
	IdentitiesOnly yes
	UserKnownHostsFile $SSH_KNOWN
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	BatchMode yes
EOF
		SSH_CONFIG=$d/ssh_config
		SSH_OPTS="-p $SSH_PORT -i $SSH_KEY -o IdentitiesOnly=yes -o UserKnownHostsFile=$SSH_KNOWN -o StrictHostKeyChecking=yes -o BatchMode=yes"
		SSH_RSH="/usr/bin/ssh $SSH_OPTS"
		SSH_LUA="{ port = $SSH_PORT, identityFile = '$SSH_KEY', options = { IdentitiesOnly = 'yes', UserKnownHostsFile = '$SSH_KNOWN', StrictHostKeyChecking = 'yes', BatchMode = 'yes' } }"
		export SSH_PORT SSH_KEY SSH_OPTS SSH_RSH SSH_CONFIG
		sshd_restart
		local i
		for i in $(seq 1 50); do
			proc_alive "$SSHD_PID" || break
			ssh -F "$SSH_CONFIG" 127.0.0.1 true </dev/null 2>/dev/null && return 0
			sleep 0.1
		done
		kill -KILL "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null; forget_pid "$SSHD_PID"
		[ -n "${1:-}" ] && break      # a port was asked for: no other try
	done
	echo "# sshd did not come up on port $SSH_PORT:" >&2
	sed 's/^/#   /' "$SSH_LOG" >&2
	return 1
}
sshd_stop() {
	kill -TERM "$SSHD_PID" 2>/dev/null
	wait "$SSHD_PID" 2>/dev/null
	forget_pid "$SSHD_PID"
	return 0
}
# sshd_restart: the same sshd (keys, port) again, e.g. after sshd_stop.
sshd_restart() {
	local saved_pid=${DAEMON_PID:-} saved_run=${DAEMON_RUN:-} saved_log=${DAEMON_LOG:-}
	mkdir -p /run/sshd
	start_cmd "$WS/sshd/sshd.out" /usr/sbin/sshd -D -f "$WS/sshd/sshd_config" -E "$SSH_LOG"
	SSHD_PID=$DAEMON_PID
	DAEMON_PID=$saved_pid DAEMON_RUN=$saved_run DAEMON_LOG=$saved_log
}
# ssh_logins: how many logins the sshd accepted so far.
ssh_logins() { grep -c 'Accepted publickey' "$SSH_LOG"; }

# ---- slaves in network namespaces of our own ----
# netns_slave N: namespace lng<pid>s<N> joined to the root namespace by a veth
# pair: host side 10.X.N.1/30, slave side 10.X.N.2/30 (X: picked by
# spec/tools/netns-slave, the helper the benchmark shares, on the first call:
# a 10.X/16 no address or route of this machine uses, so two runs at once do
# not collide), with its own sshd on port 22 using the same throwaway keys as
# sshd_start (call sshd_start first). Sets NET_X, SLAVE_IP[N], SLAVE_NS[N],
# SLAVE_LOG[N], SLAVE_SSHD[N]. Everything is removed at exit.
NETNS_TOOL=$LNG_ROOT/spec/tools/netns-slave
declare -A SLAVE_IP SLAVE_LOG SLAVE_NS SLAVE_SSHD
netns_cleanup() {
	local n
	for n in "${!SLAVE_NS[@]}"; do
		"$NETNS_TOOL" del "${SLAVE_NS[$n]}" "lng$$h$n" "${SLAVE_IP[$n]:-}"
	done
}
NET_X=
netns_slave() {
	local n=$1 ns="lng$$s$1" x
	# recorded first: cleanup removes it even if the add is interrupted
	SLAVE_NS[$n]=$ns
	NETNS+=("$ns")
	x=$("$NETNS_TOOL" add "$ns" "lng$$h$n" "$n" "${NET_X:-auto:213}") || return 1
	NET_X=$x
	SLAVE_IP[$n]=10.$NET_X.$n.2
	local d=$WS/sshd
	sed -e "s/^ListenAddress .*/ListenAddress 10.$NET_X.$n.2/" -e 's/^Port .*/Port 22/' \
		-e "s|^PidFile .*|PidFile $d/sshd$n.pid|" "$d/sshd_config" > "$d/sshd$n.config"
	SLAVE_LOG[$n]=$d/sshd$n.log
	"$NETNS_TOOL" sshd "$ns" "$d/sshd$n.config" "${SLAVE_LOG[$n]}" &
	SLAVE_SSHD[$n]=$!
	PIDS+=("$!")
	echo "10.$NET_X.$n.2 $(cut -d' ' -f1,2 "$d/host_key.pub")" >> "$SSH_KNOWN"
	local i
	for i in $(seq 1 50); do
		ssh -i "$SSH_KEY" -o UserKnownHostsFile="$SSH_KNOWN" -o BatchMode=yes \
			-o ConnectTimeout=2 "10.$NET_X.$n.2" true 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# link_down N / link_up N: cut a slave off (veth down and an unreachable
# route, so nothing for it can leave by the default route) and back.
link_down() { "$NETNS_TOOL" cut "lng$$h$1" "${SLAVE_IP[$1]}"; }
link_up() { "$NETNS_TOOL" mend "lng$$h$1" "${SLAVE_IP[$1]}"; }

# free_port: a TCP port on 127.0.0.1 nobody listens on (below the ephemeral
# range, so no outgoing connection holds it either).
free_port() {
	local p
	while true; do
		p=$((20000 + RANDOM % 12000))
		ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo $p; return; }
	done
}

# counting_rsync BIN CALLS [LOG]: writes BIN, an rsync that notes each call
# in CALLS as "KIND DEST" (DEST its last argument, without a trailing '/'),
# KIND one of: files (a --files-from list of paths), list (an include list
# of paths), sweep (rsync's temporary files removed: lua/tempsweep.lua),
# full (a whole-tree transfer); then runs the real rsync, with LOG given
# logging each file sent to LOG.NAME (NAME: DEST's last part).
counting_rsync() {
	mkdir -p "$(dirname "$1")"
	local log=
	[ -n "${3:-}" ] && log="\"--log-file=$3.\${d##*/}\" '--log-file-format=%i %n'"
	cat > "$1" <<WRAP
#!/bin/sh
eval "dest=\\\${\$#}"
d=\${dest%/}
case " \$* " in
*' --files-from=-'*) kind=files;;
*' --include-from=-'*) kind=list;;
*' --filter=. - '*) case " \$* " in *' --from0 '*) kind=sweep;; *) kind=full;; esac;;
*) kind=full;;
esac
echo "\$kind \$d" >> '$2'
exec rsync $log "\$@"
WRAP
	chmod +x "$1"
}
