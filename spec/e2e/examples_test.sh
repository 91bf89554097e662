#!/usr/bin/env bash
# The man page documents every settings{} and sync{} key the config layer
# accepts (read from lua/: config.settingKeys, the layers' checkgauges, the
# rsync table's keys). Every example config shipped in configs/examples/ loads: under lsyncd-ng
# (-check: loaded and its syncs built; exit 0 or 1 from the slave check, 255
# on a config error) and, unless its first lines say "lsyncd-ng only", under
# Debian's lsyncd (a wrapper config runs it, then exits before any transfer).
# The examples name /srv/... paths: each run gets a private mount namespace
# with a tmpfs on /srv and an /etc/hosts that points the example hosts at
# 127.0.0.1 (-check's key login fails there at once), so nothing on the
# machine is touched.
. "$(dirname "$0")/lib.sh"

EX=$LNG_ROOT/configs/examples
HAVE_LSYNCD=; command -v lsyncd >/dev/null && HAVE_LSYNCD=1
[ -n "$HAVE_LSYNCD" ] || echo "# Debian's lsyncd not installed: only lsyncd-ng loads them"
printf '127.0.0.1 localhost\n' > "$WS/hosts"
for h in web1 web2 web3 backup1; do printf '127.0.0.1 %s.example.com\n' "$h" >> "$WS/hosts"; done

# in_ns CMD...: CMD in a private mount namespace with a tmpfs on /srv holding
# the sources and targets the examples name.
in_ns() {
	unshare -m --propagation private sh -c '
		mount -t tmpfs lng-examples /srv && mount --bind "$0" /etc/hosts &&
		mkdir -p /srv/www /srv/www-staging /srv/data /srv/backup/www && exec "$@"' "$WS/hosts" "$@"
}

n=0
for f in "$EX"/*.lua "$EX"/*.example; do
	[ -e "$f" ] || continue
	name=$(basename "$f")
	n=$((n + 1))
	# the slaves are 127.0.0.1, where root's key is not authorized: -check is quick
	out=$(in_ns timeout 60 "$LNG_BIN" -check "$f" 2>&1); rc=$?
	case $name in
	*.example)  # commented out: the only sync is an example, so "no sync" is right
		check "$name: lsyncd-ng loads it and says there is nothing to watch yet (rc $rc)" \
			grep -q 'Nothing to watch' <<<"$out" ;;
	*)
		check "$name loads under lsyncd-ng (-check exit $rc)" test "$rc" = 0 -o "$rc" = 1
		[ "$rc" = 0 ] || [ "$rc" = 1 ] || echo "$out" | sed 's/^/# /' ;;
	esac
	[ -n "$HAVE_LSYNCD" ] || continue
	case $name in *.example) continue ;; esac
	if head -n 3 "$f" | grep -q 'lsyncd-ng only'; then
		out=$(in_ns timeout 20 lsyncd -nodaemon "$f" 2>&1); rc=$?
		check "$name is marked lsyncd-ng only, and lsyncd does refuse it (rc $rc)" test "$rc" != 0
		continue
	fi
	printf 'dofile("%s")\nio.stdout:write("EXAMPLE LOADED\\n")\nos.exit(0)\n' "$f" > "$WS/wrap.lua"
	out=$(in_ns timeout 20 lsyncd -nodaemon "$WS/wrap.lua" 2>&1); rc=$?
	check "$name loads under Debian's lsyncd (rc $rc)" grep -q 'EXAMPLE LOADED' <<<"$out"
	grep -q 'EXAMPLE LOADED' <<<"$out" || echo "$out" | sed 's/^/# /'
done
check "there are examples ($n)" test "$n" -ge 7

# ---- the man page names every key ----
cat > "$WS/keys.lua" <<'LUA'
package.path = './lua/?.lua;' .. package.path
local config = require('config')
for k in pairs(config.settingKeys) do print(k) end
local function walk(g)
	for k, v in pairs(g) do
		if type(k) == 'number' then walk(v)
		elseif type(v) == 'table' and k ~= 'rsync' then walk(v) print(k)
		elseif v then print(k) end
	end
end
for _, m in ipairs { 'default', 'default_rsync', 'default_rsyncssh', 'default_direct' } do
	walk(require(m).checkgauge)
end
for k in pairs(require('rsyncopts').validKeys) do
	if k ~= '_computed' then print(k) end
end
print('targets') print('hosts')
LUA
keys=$(cd "$LNG_ROOT" && luajit "$WS/keys.lua" | sort -u)
check "the key list was read from lua/ ($(wc -w <<<"$keys") keys)" test "$(wc -w <<<"$keys")" -gt 80
missing=
for k in $keys; do
	grep -qE "^\.BR? (.*[ \"])?$k([ \"]|\$)" "$LNG_ROOT/doc/lsyncd-ng.1" ||
		grep -qF "\\fB$k\\fR" "$LNG_ROOT/doc/lsyncd-ng.1" || missing="$missing $k"
done
check "doc/lsyncd-ng.1 documents every settings{} and sync{} key (missing:${missing:- none})" test -z "$missing"
check "the /srv of the machine was not touched" test ! -e /srv/www-staging
tap_done
