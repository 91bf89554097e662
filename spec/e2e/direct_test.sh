#!/usr/bin/env bash
# default.direct and default.rsyncssh end to end, with the real binary.
#   A  default.direct from a config (delay 1): startup (stale entries
#      removed, symlinks kept as symlinks), creates/modifies/deletes/moves of
#      files and directories, directories moved in from and out to outside
#      the source, chained directory renames within one delay (the content
#      must follow: lsyncd's mkdir loses it), directories renamed before the
#      daemon could watch them (still watched), symlinks created at runtime
#      (relative, absolute, dangling, to a directory, retargeted, replacing
#      a file and replaced by one) arriving as symlinks, hostile names
#      created, moved and deleted, excludes with renames into and out of
#      excluded names; SIGTERM -> 143, nothing left.
#   B  default.direct with delete = false: deletes stay, moves still move.
#   C  the -direct one-liner.
#   D  default.rsyncssh (ssh to the throwaway sshd on 127.0.0.1), delay 2:
#      chained renames a->b->c of a file and of a directory within one
#      delay, a large file and a directory renamed (moves on the slave: same
#      inode, not re-sent), renames into and out of excluded directories and
#      names, hostile names through the remote mv.
#   E  the -rsyncssh one-liner with -sshopts.
# Every case ends with an exact tree comparison.
. "$(dirname "$0")/lib.sh"

step() { expect_equal "$1" "$S" "$T" "${2:-20}" || rsync -rlcD --delete "$S/" "$T/"; }
# step_exp NAME: the target equals the expected tree E.
step_exp() { expect_equal "$1" "$E" "$T" "${2:-20}" || rsync -rlcD --delete "$E/" "$T/"; }

# ===== A: default.direct =====
S=$WS/a/src T=$WS/a/trg
mkdir -p "$S/d/e" "$S/empty" "$T/stale-dir" "$WS/outside/tree/sub"
echo a > "$S/d/e/a"; echo b > "$S/b"; ln -s b "$S/link-b"; ln -s /nonexistent/x "$S/dangling-at-start"
echo stale > "$T/stale"; echo x > "$T/stale-dir/x"
echo o > "$WS/outside/tree/sub/o"; echo p > "$WS/outside/tree/p"
cat > "$WS/a.lua" <<EOF
settings { nodaemon = true, logfile = '$WS/a.file.log' }
sync { default.direct, source = '$S', target = '$T', delay = 1 }
EOF
start_daemon "$WS/a.log" "$WS/a.lua"
step "direct: startup removes stale entries, keeps symlinks (also dangling) as symlinks"
for i in 1 2 3 4 5; do seq 1 $((i * 100)) > "$S/f$i"; done
mkdir -p "$S/n1/n2/n3"; echo deep > "$S/n1/n2/n3/deep"; : > "$S/zero"; mkdir "$S/emptynew"
step "direct: creates of files and directories (a tree made at once)"
echo more >> "$S/f1"; : > "$S/f2"; rm "$S/f3"; mv "$S/f4" "$S/f4-renamed"; mv "$S/f5" "$S/f1"
mv "$S/n1" "$S/n1-renamed"; echo after > "$S/n1-renamed/n2/after"; rm -r "$S/d"
step "direct: modify, truncate, delete, rename, rename over, dir rename, dir delete"
mv "$WS/outside/tree" "$S/moved-in"; mv "$S/empty" "$WS/outside/moved-out"
step "direct: a tree moved in from outside, a directory moved out"
mkdir -p "$S/h1/x"; echo 1 > "$S/h1/x/f"; mkdir -p "$S/j/e"; echo 2 > "$S/j/e/g"
step "direct: (setup for chained renames)"
mv "$S/h1/x" "$S/j/e/x"; mv "$S/j/e" "$S/z"; mv "$S/z" "$S/z2"
mkdir "$S/q"; echo q > "$S/q/q"; mv "$S/q" "$S/q2"
step "direct: directories renamed in a chain within one delay arrive with their content"
# a directory made and renamed twice before the daemon reads the events, and
# one whose parent is renamed at once (lsyncd's churn tests do this): both
# must be watched at their new place (syscalls from perl: a shell is too slow)
mkdir -p "$S/w/j" "$S/w/h" "$S/w/s" "$S/w/p/q"
step "direct: (setup for fast renames)"
perl -e 'my $s = shift; mkdir "$s/w/j/k" or die; rename "$s/w/j/k", "$s/w/h/k" or die;
	rename "$s/w/h", "$s/w/s/h" or die; mkdir "$s/w/p/q/l" or die; rename "$s/w/p", "$s/w/p2" or die' "$S"
step "direct: a directory renamed twice at once, one whose parent is renamed at once"
sleep 1; echo inside > "$S/w/s/h/k/inside"; mkdir "$S/w/p2/q/l/sub"; echo x > "$S/w/p2/q/l/sub/x"
step "direct: changes inside those directories are seen (they are watched)"
ln -s f1 "$S/rel-link"; ln -s "$S/f2" "$S/abs-link"; ln -s does/not/exist "$S/dangling"
ln -s n1-renamed "$S/dir-link"; ln -s '../outside' "$S/up-link"
step "direct: symlinks created at runtime arrive as symlinks (relative, absolute, dangling, to a dir)"
check "direct: a dangling symlink is a symlink on the target" test -L "$T/dangling"
check "direct: a symlink to a directory is not followed" test -L "$T/dir-link"
ln -sfn f2 "$S/rel-link"; rm "$S/f2"; ln -s zero "$S/f2"; rm "$S/dangling"; echo now-a-file > "$S/dangling"
mv "$S/abs-link" "$S/abs-link-moved"
step "direct: symlinks retargeted, a file replaced by a symlink and back, a symlink moved"
make_hostile_names "$S/hostile"
step "direct: hostile names arrive byte for byte (cp/mv/rm get them as arguments)"
mv "$S/hostile/-rf" "$S/hostile/-rf moved;x"; rm "$S/hostile/"$'new\nline'
mv "$S/hostile/--delete dir" "$S/hostile/\$(x) dir"; rm -r "$S/hostile/dir with space"
mv "$S/hostile/link to star" "$S/hostile/-link to star"; echo more >> "$S/hostile/"$'\xff\xfe'
step "direct: hostile names renamed, deleted, modified"
check "direct: no file name was evaluated by a shell" no_pwned
check_stop "direct"

# ----- A2: direct with excludes: renames into and out of excluded names -----
S=$WS/a2/src T=$WS/a2/trg E=$WS/a2/exp
mkdir -p "$S/cache" "$S/keep" "$T" "$E"
echo c > "$S/cache/c"; echo k > "$S/keep/k"; echo t > "$S/x.tmp"
X=(--exclude=cache/ --exclude='*.tmp')
cat > "$WS/a2.lua" <<EOF
settings { nodaemon = true, logfile = '$WS/a2.file.log' }
sync { default.direct, source = '$S', target = '$T', delay = 1, exclude = { 'cache/', '*.tmp' } }
EOF
start_daemon "$WS/a2.log" "$WS/a2.lua"
rsync -a --delete "${X[@]}" "$S/" "$E/"
step_exp "direct+exclude: startup"
mv "$S/keep/k" "$S/keep/k.tmp"; mv "$S/x.tmp" "$S/x"; mv "$S/keep" "$S/cache/keep"
mkdir -p "$S/newdir/cache"; echo n > "$S/newdir/cache/n"; echo m > "$S/newdir/m"; mv "$S/newdir" "$S/newdir2"
rsync -a --delete "${X[@]}" "$S/" "$E/"
step_exp "direct+exclude: renames into and out of excluded names and dirs; excluded content of new dirs stays"
mv "$S/cache/keep" "$S/back"
rsync -a --delete "${X[@]}" "$S/" "$E/"
step_exp "direct+exclude: a directory renamed out of an excluded one arrives with its content"
check_stop "direct+exclude"

# ===== B: delete = false =====
S=$WS/b/src T=$WS/b/trg E=$WS/b/exp
mkdir -p "$S/d" "$T" "$E"; echo a > "$S/a"; echo x > "$S/d/x"; echo stale > "$T/stale"
cat > "$WS/b.lua" <<EOF
settings { nodaemon = true }
sync { default.direct, source = '$S', target = '$T', delay = 1, delete = false }
EOF
start_daemon "$WS/b.log" "$WS/b.lua"
cp -a "$T/." "$E/"; rsync -a "$S/" "$E/"
step_exp "direct delete=false: startup keeps what only the target has"
rm "$S/a"; mv "$S/d" "$S/d2"; echo n > "$S/n"
mv "$E/d" "$E/d2"; echo n > "$E/n"
step_exp "direct delete=false: a delete stays, a rename moves"
check_stop "direct delete=false"

# ===== C: -direct one-liner =====
S=$WS/c/src T=$WS/c/trg
mkdir -p "$S/s" "$T"; echo 1 > "$S/s/1"; echo old > "$T/old"
start_daemon "$WS/c.log" -nodaemon -delay 1 -direct "$S" "$T"
step "-direct: startup"
echo 2 > "$S/2"; mv "$S/s" "$S/s2"; ln -s gone "$S/dl"
step "-direct: changes"
check_stop "-direct"

# ===== D: default.rsyncssh =====
sshd_start || { tap_fail "the throwaway sshd starts"; tap_done; exit 1; }
S=$WS/d/src T=$WS/d/trg E=$WS/d/exp
mkdir -p "$S/dir/sub" "$S/cache" "$S/plain" "$T" "$E"
head -c 20000000 /dev/urandom > "$S/big"
echo x > "$S/dir/sub/x"; echo a > "$S/a"; echo c > "$S/cache/c"; echo p > "$S/plain/p"
X=(--exclude=cache/ --exclude='*.tmp')
cat > "$WS/d.lua" <<EOF
settings { nodaemon = true, logfile = '$WS/d.file.log' }
sync { default.rsyncssh, source = '$S', host = '127.0.0.1', targetdir = '$T', delay = 2,
       exclude = { 'cache/', '*.tmp' }, ssh = $SSH_LUA }
EOF
start_daemon "$WS/d.log" "$WS/d.lua"
rsync -a --delete "${X[@]}" "$S/" "$E/"
step_exp "rsyncssh: startup" 30
ino_big=$(stat -c %i "$T/big"); ino_dir=$(stat -c %i "$T/dir"); ino_a=$(stat -c %i "$T/a")
mv "$S/a" "$S/b"; mv "$S/b" "$S/c"                          # chained, one delay
mv "$S/dir" "$S/dir2"; mv "$S/dir2" "$S/dir3"
mv "$S/big" "$S/big2"
rsync -a --delete "${X[@]}" "$S/" "$E/"
step_exp "rsyncssh: chained renames a->b->c of a file and a directory within one delay"
check "rsyncssh: the chained file rename is a move on the slave (same inode)" \
	test "$(stat -c %i "$T/c" 2>/dev/null)" = "$ino_a"
check "rsyncssh: the chained directory rename is a move on the slave (same inode)" \
	test "$(stat -c %i "$T/dir3" 2>/dev/null)" = "$ino_dir"
check "rsyncssh: a 20 MB file renamed is a move on the slave (same inode, not re-sent)" \
	test "$(stat -c %i "$T/big2" 2>/dev/null)" = "$ino_big"
mv "$S/plain" "$S/cache/plain"                 # into an excluded dir: gone on the slave
mv "$S/c" "$S/c.tmp"                           # into an excluded name
echo n > "$S/cache/new"; mkdir -p "$S/cache/tree/t"; echo t > "$S/cache/tree/t/t"
rsync -a --delete "${X[@]}" "$S/" "$E/"
step_exp "rsyncssh: renames into excluded dirs and names delete on the slave"
mv "$S/cache/tree" "$S/tree"                   # out of an excluded dir: arrives with content
mv "$S/c.tmp" "$S/c-again"                     # out of an excluded name
rsync -a --delete "${X[@]}" "$S/" "$E/"
step_exp "rsyncssh: renames out of excluded dirs and names arrive (with content)"
mkdir -p "$S/h1/x" "$S/j/e"; echo 1 > "$S/h1/x/f"; echo 2 > "$S/j/e/g"
rsync -a --delete "${X[@]}" "$S/" "$E/"
step_exp "rsyncssh: (setup for a rename of a directory something was just moved into)"
mv "$S/h1/x" "$S/j/e/x"; mv "$S/j/e" "$S/z"
rsync -a --delete "${X[@]}" "$S/" "$E/"
step_exp "rsyncssh: a directory renamed right after something moved into it arrives with its content"
make_hostile_names "$S/h"
rsync -a --delete "${X[@]}" "$S/" "$E/"
step_exp "rsyncssh: hostile names arrive"
mv "$S/h/single'quote" "$S/h/a"; mv "$S/h/a" "$S/h/\$(touch lng-pwned) 'b'"     # chained, hostile
mv "$S/h/dir with space" "$S/h/-dir"; mv "$S/h/-dir" "$S/h/\`touch lng-pwned\` dir"
mv "$S/h/"$'\xff\xfe' "$S/h/"$'new\nname'
rsync -a --delete "${X[@]}" "$S/" "$E/"
step_exp "rsyncssh: hostile names renamed in chains through ssh mv"
check "rsyncssh: no file name was evaluated by a shell (local or on the slave)" no_pwned
check_stop "rsyncssh"

# ===== E: -rsyncssh one-liner with -sshopts =====
S=$WS/e/src T=$WS/e/trg
mkdir -p "$S/d" "$T"; echo 1 > "$S/d/1"
start_daemon "$WS/e.log" -nodaemon -delay 1 -sshopts "$SSH_OPTS" -rsyncssh "$S" 127.0.0.1 "$T"
step "-rsyncssh -sshopts: startup"
ino=$(stat -c %i "$T/d" 2>/dev/null)
echo 2 > "$S/2"; mv "$S/d" "$S/d2"
step "-rsyncssh -sshopts: changes"
check "-rsyncssh: the rename is a move on the slave" test "$(stat -c %i "$T/d2" 2>/dev/null)" = "$ino"
check_stop "-rsyncssh"

sshd_stop
tap_done
