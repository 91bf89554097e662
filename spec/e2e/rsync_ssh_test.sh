#!/usr/bin/env bash
# Slaves over ssh: a throwaway sshd on 127.0.0.1 with throwaway keys (see
# sshd_start in lib.sh; nothing in ~/.ssh is used).
#   A  default.rsync, target = '127.0.0.1:DIR', rsync = { rsh = ... }:
#      startup (stale entries removed), create/modify/delete/rename burst,
#      hostile names through the remote rsync (protect_args keeps them exact),
#      spaced changes reuse one ssh connection [lsyncd-ng], SIGTERM -> 143
#      and no child (rsync, ssh) left.
#   B  default.rsyncssh (host, targetdir, ssh = { port, identityFile,
#      options }): startup, a create/delete burst, a file rename and a
#      directory rename done by ssh mv on the slave (same inode there),
#      hostile names created, moved and deleted, SIGTERM -> 143.
# Every case ends with an exact tree comparison of the slave with the source.
. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "the throwaway sshd starts"; tap_done; exit 1; }

# step NAME [TIMEOUT]: expect_equal "$S" "$T"; on failure the slave is
# repaired by hand so the next case starts clean.
step() {
	expect_equal "$1" "$S" "$T" "${2:-20}" || rsync -rlcD --delete "$S/" "$T/"
}

# ===== A: default.rsync to 127.0.0.1:DIR =====
S=$WS/a/src T=$WS/a/trg
mkdir -p "$S/d/e" "$T/stale-dir"
echo a > "$S/d/e/a"; echo b > "$S/b"; echo stale > "$T/stale"; echo x > "$T/stale-dir/x"
cat > "$WS/a.lua" <<EOF
settings { nodaemon = true, logfile = '$WS/a.file.log' }
sync { default.rsync, source = '$S', target = '127.0.0.1:$T', delay = 1,
       rsync = { rsh = '$SSH_RSH' } }
EOF
start_daemon "$WS/a.log" "$WS/a.lua"
step "rsync over ssh: startup removes stale entries and copies the tree"
for i in $(seq 1 30); do seq -s ' ' 1 "$i" > "$S/f$i"; done
mkdir -p "$S/n/m"; echo z > "$S/n/m/z"; : > "$S/empty-file"; mkdir "$S/empty-dir"
step "rsync over ssh: create burst"
for i in $(seq 1 5); do echo "more $i" >> "$S/f$i"; done
rm "$S/d/e/a" "$S/f6" "$S/f7"; mv "$S/f8" "$S/f8b"; mv "$S/f9" "$S/f10"
mv "$S/n" "$S/n2"; echo after > "$S/n2/m/after-rename"; rm -r "$S/d"; ln -s f1 "$S/link"; ln -s nowhere "$S/dangling"
step "rsync over ssh: modify/delete/rename burst, symlinks"
make_hostile_names "$S/hostile"
step "rsync over ssh: hostile names arrive byte for byte"
mv "$S/hostile/-rf" "$S/hostile/-rf moved;x"; rm "$S/hostile/"$'new\nline'; mv "$S/hostile/--delete dir" "$S/hostile/\$(x) dir"
rm -r "$S/hostile/dir with space"; echo more >> "$S/hostile/"$'\xff\xfe'
step "rsync over ssh: hostile names renamed, deleted, modified"
check "rsync over ssh: no file name was evaluated by a shell (local or on the slave)" no_pwned
logins_before=$(ssh_logins)
for i in $(seq 1 6); do echo "again $i" > "$S/g$i"; sleep 1.3; done
step "rsync over ssh: six spaced changes"
logins=$(( $(ssh_logins) - logins_before ))
check "rsync over ssh: six transfers reuse one ssh connection [lsyncd-ng] (new logins: $logins)" test "$logins" -le 1
check_stop "rsync over ssh"

# ===== B: default.rsyncssh =====
S=$WS/b/src T=$WS/b/trg
mkdir -p "$S/dir/sub" "$T/stale-dir"
head -c 3000000 /dev/urandom > "$S/big"
echo x > "$S/dir/sub/x"; echo stale > "$T/stale"; echo y > "$T/stale-dir/y"
cat > "$WS/b.lua" <<EOF
settings { nodaemon = true }
sync { default.rsyncssh, source = '$S', host = '127.0.0.1', targetdir = '$T', delay = 1,
       ssh = $SSH_LUA }
EOF
start_daemon "$WS/b.log" "$WS/b.lua"
step "rsyncssh: startup removes stale entries and copies the tree"
for i in $(seq 1 10); do seq -s ' ' 1 "$i" > "$S/f$i"; done
mkdir -p "$S/new/deep"; echo n > "$S/new/deep/n"; rm "$S/f3"; rm -r "$S/dir/sub"; echo more >> "$S/f1"
step "rsyncssh: create/modify/delete burst"
ino_big=$(stat -c %i "$T/big" 2>/dev/null); ino_dir=$(stat -c %i "$T/dir" 2>/dev/null)
mv "$S/big" "$S/big-renamed"; mv "$S/dir" "$S/dir-renamed"
step "rsyncssh: a file rename and a directory rename"
check "rsyncssh: the renamed file is the same inode on the slave (moved, not re-sent)" \
	test "$(stat -c %i "$T/big-renamed" 2>/dev/null)" = "$ino_big"
check "rsyncssh: the renamed directory is the same inode on the slave" \
	test "$(stat -c %i "$T/dir-renamed" 2>/dev/null)" = "$ino_dir"
make_hostile_names "$S/h"
step "rsyncssh: hostile names arrive byte for byte"
mv "$S/h/single'quote" "$S/h/moved 'q' \$(touch lng-pwned)"; mv "$S/h/-rf" "$S/h/-rf2"
mv "$S/h/"$'\xff\xfe' "$S/h/"$'\xfe\xff;x'; mv "$S/h/"$'new\nline' "$S/h/"$'new\nline\ttab'
mv "$S/h/--delete dir" "$S/h/-e dir"; mv "$S/h/dir with space" "$S/h/\`touch lng-pwned\` dir"
step "rsyncssh: hostile names moved (files and directories) through ssh mv"
rm "$S/h/semi;touch lng-pwned" "$S/h/-e sh" "$S/h/star*"; rm -r "$S/h/"$'dir\nnl'
step "rsyncssh: hostile names deleted through ssh rm"
check "rsyncssh: no file name was evaluated by a shell (local or on the slave)" no_pwned
mkdir "$S/keep"
step "rsyncssh: an empty directory arrives"
rm -rf "$T/keep"                        # the slave loses it behind our back
mv "$S/big-renamed" "$S/keep/big4"
step "rsyncssh: a move whose destination dir is gone on the slave is re-sent (lsyncd's mv || rm -rf loses it)"
for i in $(seq 1 30); do mkdir -p "$S/r$i/s"; echo "$i" > "$S/r$i/s/f"; done
mkdir "$S/keep2"; echo m > "$S/moveme"
step "rsyncssh: (setup for a batch of renames)"
inos=$(for i in $(seq 1 30); do stat -c %i "$T/r$i"; done)
for i in $(seq 1 30); do mv "$S/r$i" "$S/renamed$i"; done
step "rsyncssh: 30 directory renames at once"
check "rsyncssh: ... are moves on the slave (same inodes)" \
	test "$(for i in $(seq 1 30); do stat -c %i "$T/renamed$i" 2>/dev/null; done)" = "$inos"
check "rsyncssh: ... made by one ssh command" grep -q ": moving 30 entries on" "$WS/b.log"
rm -rf "$T/keep2"                       # the slave loses it behind our back
mv "$S/renamed1" "$S/again1"; mv "$S/moveme" "$S/keep2/moveme"; mv "$S/renamed2" "$S/again2"
step "rsyncssh: a batch of moves with one failing on the slave is re-sent"
check_stop "rsyncssh"

sshd_stop
tap_done
