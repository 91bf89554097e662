#!/usr/bin/env bash
# Slaves over ssh: a throwaway sshd on 127.0.0.1 with throwaway keys.
# default.rsync to host:dir (rsh), default.rsyncssh (moves with ssh mv, same
# inode on the slave), hostile names through both, ssh connection reuse.
. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_done; exit 1; }

# ---- default.rsync to 127.0.0.1:dir ----
S=$WS/s1 T=$WS/t1
mkdir -p "$S/d" "$T"
echo a > "$S/d/a"; echo stale > "$T/stale"
cat > "$WS/rsync.lua" <<EOF
settings { nodaemon = true }
sync { default.rsync, source = '$S', target = '127.0.0.1:$T', delay = 0.5,
       rsync = { rsh = '$SSH_RSH' } }
EOF
start_daemon "$WS/rsync.log" "$WS/rsync.lua"
expect_equal "rsync over ssh: startup" "$S" "$T"
for i in $(seq 1 30); do echo "$i" > "$S/f$i"; done
mkdir -p "$S/n/m"; echo z > "$S/n/m/z"; rm "$S/d/a"; mv "$S/f1" "$S/f1b"; mv "$S/n" "$S/n2"
expect_equal "rsync over ssh: create/modify/delete/rename burst" "$S" "$T"
make_hostile_names "$S/hostile"
expect_equal "rsync over ssh: hostile names" "$S" "$T"
check "rsync over ssh: no file name reached a shell" no_pwned
head -c 2000000 /dev/urandom > "$S/bigfile"; mkdir -p "$S/mvdir/in"; echo q > "$S/mvdir/in/q"
expect_equal "rsync over ssh: files for the move cases arrive" "$S" "$T"
ino_f=$(stat -c %i "$T/bigfile"); ino_d=$(stat -c %i "$T/mvdir")
mv "$S/bigfile" "$S/bigfile2"; mv "$S/mvdir" "$S/mvdir2"
expect_equal "rsync over ssh: file and directory renames" "$S" "$T"
check "rsync over ssh: a renamed file is moved on the slave (same inode), not re-sent" \
	test "$(stat -c %i "$T/bigfile2" 2>/dev/null)" = "$ino_f"
check "rsync over ssh: a renamed directory is moved on the slave (same inode)" \
	test "$(stat -c %i "$T/mvdir2" 2>/dev/null)" = "$ino_d"
mv "$S/bigfile2" "$S/c1"; mv "$S/c1" "$S/c2"; mv "$S/c2" "$S/c3"
expect_equal "rsync over ssh: chained renames a->b->c" "$S" "$T"
check "rsync over ssh: the chained rename kept the inode" test "$(stat -c %i "$T/c3" 2>/dev/null)" = "$ino_f"
mkdir -p "$S/newparent/x"; mv "$S/c3" "$S/newparent/x/c4"
expect_equal "rsync over ssh: a rename into a new directory" "$S" "$T"
logins_before=$(ssh_logins)
for i in $(seq 1 10); do echo "again $i" > "$S/g$i"; sleep 0.7; done
expect_equal "rsync over ssh: ten spaced changes" "$S" "$T"
logins_after=$(ssh_logins)
check "ten transfers reuse one ssh connection (new logins: $((logins_after - logins_before)))" \
	test $((logins_after - logins_before)) -eq 0
kids=$(children_of "$DAEMON_PID")
stop_daemon
check "SIGTERM exits with 143 (got $DAEMON_RC)" test "$DAEMON_RC" = 143
# shellcheck disable=SC2086
if any_alive $kids; then tap_fail "no child (rsync, ssh master) left"; else tap_ok "no child (rsync, ssh master) left"; fi

# ---- default.rsyncssh ----
S=$WS/s2 T=$WS/t2
mkdir -p "$S/dir/sub" "$T"
head -c 3000000 /dev/urandom > "$S/big"
echo x > "$S/dir/sub/x"
cat > "$WS/rsyncssh.lua" <<EOF
settings { nodaemon = true }
sync { default.rsyncssh, source = '$S', host = '127.0.0.1', targetdir = '$T', delay = 0.5,
       ssh = { port = $SSH_PORT, identityFile = '$SSH_KEY',
               options = { UserKnownHostsFile = '$SSH_KNOWN', StrictHostKeyChecking = 'yes',
                           BatchMode = 'yes' } } }
EOF
start_daemon "$WS/rsyncssh.log" "$WS/rsyncssh.lua"
expect_equal "rsyncssh: startup" "$S" "$T"
ino_big=$(stat -c %i "$T/big"); ino_dir=$(stat -c %i "$T/dir")
mv "$S/big" "$S/big-renamed"; mv "$S/dir" "$S/dir-renamed"
expect_equal "rsyncssh: file and directory rename" "$S" "$T"
check "rsyncssh: the renamed file is the same inode on the slave (moved, not re-sent)" \
	test "$(stat -c %i "$T/big-renamed" 2>/dev/null)" = "$ino_big"
check "rsyncssh: the renamed directory is the same inode on the slave" \
	test "$(stat -c %i "$T/dir-renamed" 2>/dev/null)" = "$ino_dir"
make_hostile_names "$S/h"
expect_equal "rsyncssh: hostile names" "$S" "$T"
mv "$S/h/single'quote" "$S/h/moved 'q' \$(x)"; mv "$S/h/-rf" "$S/h/-rf2"; mv "$S/h/"$'\xff\xfe' "$S/h/"$'\xfe\xff;x'
expect_equal "rsyncssh: hostile names moved through ssh mv" "$S" "$T"
check "rsyncssh: no file name reached a shell" no_pwned
stop_daemon
check "rsyncssh: SIGTERM exits with 143 (got $DAEMON_RC)" test "$DAEMON_RC" = 143

tap_done
