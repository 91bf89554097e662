# spec/e2e/lib.sh: helpers for the end-to-end tests of the real binary.
# Sourced by every spec/e2e/*_test.sh. Tests speak TAP ("ok N - name",
# "not ok N - name"); each test file cleans up everything it started:
# processes by pid (never by name), temp dirs, sysctls it changed.
#
# LNG_BIN: the binary under test (default: the repo's ./lsyncd-ng).

set -u
LNG_ROOT=${LNG_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LNG_BIN=${LNG_BIN:-$LNG_ROOT/lsyncd-ng}
export LC_ALL=C

WS=$(mktemp -d /tmp/lng-e2e.XXXXXX)
TAP_N=0
TAP_FAILED=0
PIDS=()          # processes this test started
RESTORE=()       # "path value" of sysctls to restore
NETNS=()         # network namespaces this test made

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	[ ${#NETNS[@]} -gt 0 ] && netns_cleanup
	local r
	for r in "${RESTORE[@]}"; do
		echo "${r#* }" > "${r%% *}"
	done
	[ -n "${LNG_KEEP:-}" ] && echo "# kept $WS" || rm -rf "$WS"
}
trap cleanup EXIT

tap_ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1"; }
tap_fail() {
	TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $1"
	shift
	[ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/# /'
	return 0
}
# check NAME CMD...: ok if CMD succeeds.
check() { local n=$1; shift; if "$@"; then tap_ok "$n"; else tap_fail "$n"; fi; }
tap_done() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }

# Remembers a sysctl's value (restored at exit) and sets a new one.
set_sysctl() { # path value
	RESTORE+=("$1 $(cat "$1")")
	echo "$2" > "$1"
}

# tree_diff SRC DST [--meta]: prints every difference (names as bytes, type,
# size, content, symlink targets; --meta adds perms and mtimes), nothing if equal.
tree_diff() {
	local flags=-rlcnD
	[ "${3:-}" = --meta ] && flags=-rlcnDpt
	rsync $flags -i --delete --out-format='%i %n' "$1/" "$2/" 2>&1 | grep -v '^\.d\.\.t' || true
}
tree_equal() { [ -z "$(tree_diff "$@")" ]; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# wait_equal SRC DST [timeout_s]: polls until equal; WAITED is the time in
# seconds (3 decimals) it took.
wait_equal() {
	local src=$1 dst=$2 limit=$(( ${3:-20} * 1000 )) start el
	start=$(now_ms)
	while true; do
		el=$(( $(now_ms) - start ))
		if tree_equal "$src" "$dst"; then
			WAITED=$(printf '%d.%03d' $((el / 1000)) $((el % 1000))); return 0
		fi
		if [ "$el" -gt "$limit" ]; then WAITED=${3:-20}; return 1; fi
		sleep 0.1
	done
}
# expect_equal NAME SRC DST [timeout]: a TAP line for convergence.
expect_equal() {
	local name=$1
	if wait_equal "$2" "$3" "${4:-20}"; then
		tap_ok "$name"
	else
		tap_fail "$name" "trees differ after ${4:-20}s:" "$(tree_diff "$2" "$3" | head -20)"
	fi
}

# start_daemon LOG ARGS...: runs the binary in the background; DAEMON_PID.
start_daemon() { local log=$1; shift; start_cmd "$log" "$LNG_BIN" "$@"; }
# start_cmd LOG CMD...: any command in the background, tracked like the daemon.
start_cmd() {
	local log=$1; shift
	"$@" >"$log" 2>&1 &
	DAEMON_PID=$!
	PIDS+=("$DAEMON_PID")
}
# stop_daemon: SIGTERM and wait; DAEMON_RC is its exit status.
stop_daemon() {
	kill -TERM "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_RC=$?
}
# children_of PID: pids whose parent is PID.
children_of() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '; }
# descendants_alive PIDS...: true if any of these still runs.
any_alive() { local p; for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }

# write_file PATH TEXT
write_file() { mkdir -p "$(dirname "$1")"; printf '%s' "$2" > "$1"; }

# make_hostile_names DIR: files and dirs whose names must replicate exactly.
# A shell that ever ran one of them would create "lng-pwned" in its cwd:
# see no_pwned.
make_hostile_names() {
	local d=$1
	mkdir -p "$d"
	local names=(
		'with space' $'new\nline' $'tab\there' "single'quote" 'double"quote'
		'$(touch lng-pwned)' '`touch lng-pwned`' 'semi;colon' 'amp&er' 'pi|pe'
		'back\slash' '-rf' '--delete' 'star*' 'quest?' '[x]' $'\xff\xfe' 'üñí©ødé'
		"$(printf 'L%.0s' $(seq 1 250))"
	)
	local n
	for n in "${names[@]}"; do printf '%s\n' "$n" > "$d/$n"; done
	mkdir -p "$d/dir with space/-sub" "$d/"$'dir\nnl'
	echo x > "$d/dir with space/-sub/f*"
	echo y > "$d/"$'dir\nnl'/$'f\xff'
	ln -s 'star*' "$d/link to star"
}

# no_pwned: true if no shell ran a file name (see make_hostile_names).
no_pwned() {
	[ ! -e /lng-pwned ] && [ ! -e "$LNG_ROOT/lng-pwned" ] && [ ! -e "$HOME/lng-pwned" ] &&
		[ -z "$(find "$WS" -name lng-pwned 2>/dev/null)" ]
}

# ---- a throwaway sshd on 127.0.0.1 ----
# sshd_start: sets SSH_PORT, SSH_KEY, SSH_KNOWN, SSH_LOG, SSH_RSH (an rsync -e
# string) and SSHD_PID. Nothing outside $WS is touched.
sshd_start() {
	local d=$WS/sshd
	mkdir -p "$d" /run/sshd
	chmod 700 "$d"
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_key" </dev/null >/dev/null
	ssh-keygen -q -t ed25519 -N '' -f "$d/id" </dev/null >/dev/null
	cp "$d/id.pub" "$d/authorized_keys"
	SSH_PORT=${1:-$(free_port)}
	cat > "$d/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSH_PORT
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel VERBOSE
MaxStartups 100
MaxSessions 100
EOF
	SSH_LOG=$d/sshd.log
	/usr/sbin/sshd -D -f "$d/sshd_config" -E "$SSH_LOG" &
	SSHD_PID=$!
	PIDS+=("$SSHD_PID")
	echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$d/host_key.pub")" > "$d/known_hosts"
	SSH_KEY=$d/id
	SSH_KNOWN=$d/known_hosts
	SSH_OPTS="-p $SSH_PORT -i $SSH_KEY -o UserKnownHostsFile=$SSH_KNOWN -o StrictHostKeyChecking=yes -o BatchMode=yes"
	SSH_RSH="/usr/bin/ssh $SSH_OPTS"
	local i
	for i in $(seq 1 50); do
		ssh $SSH_OPTS 127.0.0.1 true 2>/dev/null && return 0
		sleep 0.1
	done
	echo "# sshd did not come up" >&2
	return 1
}
sshd_stop() { kill -TERM "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null; }
# sshd_restart: the same sshd (keys, port) again after sshd_stop.
sshd_restart() {
	/usr/sbin/sshd -D -f "$WS/sshd/sshd_config" -E "$SSH_LOG" &
	SSHD_PID=$!
	PIDS+=("$SSHD_PID")
}
ssh_logins() { grep -c 'Accepted publickey' "$SSH_LOG"; }

# ---- slaves in network namespaces of our own ----
# netns_slave N: namespace lng<pid>s<N> joined to the root namespace by a veth
# pair: host side 10.213.N.1/30, slave side 10.213.N.2/30 (addresses that
# exist only inside namespaces this test made), with its own sshd on port 22
# using the same throwaway keys as sshd_start (call sshd_start first).
# Sets SLAVE_IP[N], SLAVE_LOG[N]. Everything is removed at exit.
declare -A SLAVE_IP SLAVE_LOG SLAVE_NS
netns_cleanup() {
	local n
	for n in "${NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
	for n in "${!SLAVE_IP[@]}"; do ip route del unreachable "${SLAVE_IP[$n]}/32" 2>/dev/null; done
}
netns_slave() {
	local n=$1 ns="lng$$s$1" host="lng$$h$1"
	ip netns add "$ns" || return 1
	NETNS+=("$ns")
	ip link add "$host" type veth peer name eth0 netns "$ns" || return 1
	ip addr add "10.213.$n.1/30" dev "$host"
	ip link set "$host" up
	ip -n "$ns" addr add "10.213.$n.2/30" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
	SLAVE_IP[$n]=10.213.$n.2
	SLAVE_NS[$n]=$ns
	local d=$WS/sshd
	sed -e "s/^ListenAddress .*/ListenAddress 10.213.$n.2/" -e 's/^Port .*/Port 22/' \
		-e "s|^PidFile .*|PidFile $d/sshd$n.pid|" "$d/sshd_config" > "$d/sshd$n.config"
	SLAVE_LOG[$n]=$d/sshd$n.log
	ip netns exec "$ns" /usr/sbin/sshd -D -f "$d/sshd$n.config" -E "${SLAVE_LOG[$n]}" &
	PIDS+=("$!")
	echo "10.213.$n.2 $(cut -d' ' -f1,2 "$d/host_key.pub")" >> "$SSH_KNOWN"
	local i
	for i in $(seq 1 50); do
		ssh -i "$SSH_KEY" -o UserKnownHostsFile="$SSH_KNOWN" -o BatchMode=yes \
			-o ConnectTimeout=2 "10.213.$n.2" true 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# link_down N / link_up N: cut a slave off (veth down and an unreachable
# route, so nothing for it can leave by the default route) and back.
link_down() {
	ip link set "lng$$h$1" down
	ip route add unreachable "${SLAVE_IP[$1]}/32" 2>/dev/null
}
link_up() {
	ip route del unreachable "${SLAVE_IP[$1]}/32" 2>/dev/null
	ip link set "lng$$h$1" up
}

# free_port: a TCP port on 127.0.0.1 nobody listens on.
free_port() {
	local p
	while true; do
		p=$((20000 + RANDOM % 30000))
		ss -ltn 2>/dev/null | grep -q "127.0.0.1:$p " || ss -ltn | grep -q ":$p " || { echo $p; return; }
	done
}
