#!/usr/bin/env bash
# lsyncd's programming API, layer by layer, with configs that record every
# event they receive. The recorder ($WS/rec LOG FIELD...) is a small bash
# program that appends one line per call: its arguments, each quoted with
# printf %q (so any byte sequence, newlines included, stays on one line and
# compares exactly). Configs never paste names into shell text: layer 2
# passes them as arguments of spawn, layer 3 strings get them as "$N"
# positional parameters (shell form) or as single argv words (binary form).
#   L2  onStartup/onCreate/onModify/onAttrib/onDelete/onMove functions:
#       one file system operation at a time, the exact records, every event
#       field of one event, moves in and out of the tree, hostile names.
#   L3  string handlers in the shell form, the binary form and the forced
#       shell form ('^/...'), with every ^variable (^o./^d. for moves), and
#       hostile names through all three forms.
#   L1  action(inlet) with getEvent, getEvents(test) ('break' and false),
#       discardEvent, createBlanketEvent (on the inlet sync{} returns),
#       elist.getPaths(mutator), getPaths(delimiter) and getSourcePaths (the
#       forms lsyncd's manual documents), getConfig; own init, prepare
#       and a collect that answers 'again' once (the list is run twice).
#   L4  default.rsync whose rsync binary is a recording wrapper: the include
#       lists it is handed, and the tree.
# Each case also checks SIGTERM -> 143 and that no child is left.
. "$(dirname "$0")/lib.sh"

REC=$WS/rec
cat > "$REC" <<'EOF'
#!/bin/bash
log=$1; shift
line=$(printf '%q ' "$@")
printf '%s\n' "${line% }" >> "$log"
EOF
chmod +x "$REC"

# q ARGS...: the line the recorder writes for these arguments.
q() { local l; l=$(printf '%q ' "$@"); printf '%s\n' "${l% }"; }

# wait_lines FILE N [TIMEOUT]: until FILE has at least N lines.
wait_lines() {
	local i n
	for i in $(seq 1 $(( ${3:-15} * 10 ))); do
		n=$(wc -l 2>/dev/null < "$1" || echo 0)
		[ "$n" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# wait_count FILE REGEX N [TIMEOUT]: until N different lines of FILE match REGEX.
wait_count() {
	local i n
	for i in $(seq 1 $(( ${4:-20} * 10 ))); do
		n=$(grep -aE -- "$2" "$1" 2>/dev/null | sort -u | wc -l)
		[ "${n:-0}" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# expect_log NAME FILE EXPECTED-FILE [sorted|set]: the recorded lines equal
# the expected ones; sorted: in any order (lsyncd defines none there); set:
# also ignoring repeats (a directory made and filled at once may report an
# entry twice: by the scan that follows its watch and by the watch itself,
# as lsyncd's "Create creates Create" does).
expect_log() {
	local name=$1 got=$2 want=$3 mode=${4:-}
	local a=$WS/.got b=$WS/.want
	if [ "$mode" = sorted ]; then
		sort "$got" > "$a" 2>/dev/null; sort "$want" > "$b"
	elif [ "$mode" = set ]; then
		sort -u "$got" > "$a" 2>/dev/null; sort -u "$want" > "$b"
	else
		cp "$got" "$a" 2>/dev/null || : > "$a"; cp "$want" "$b"
	fi
	if cmp -s "$a" "$b"; then tap_ok "$name"
	else tap_fail "$name" "recorded vs expected:" "$(diff "$a" "$b" | head -40)"; fi
}

# ===== L2: layer-2 functions =====
S=$WS/l2/src T=$WS/l2/tgt L=$WS/l2/events F=$WS/l2/fields
mkdir -p "$S/pre" "$T" "$WS/outside/in-dir/sub"; echo p > "$S/pre/p"
echo o > "$WS/outside/in-file"; echo x > "$WS/outside/in-dir/sub/x"
cat > "$WS/l2.lua" <<EOF
settings { nodaemon = true, logfile = '$WS/l2.file.log' }
local rec, log_, fields = '$REC', '$L', '$F'
local function record(event, ...) spawn(event, rec, log_, ...) end
sync {
	source = '$S', target = '$T', delay = 0.3, onMove = true,
	onStartup = function(e) record(e, e.etype, e.path, e.isdir) end,
	onCreate = function(e)
		if e.pathname == 'deep/fields.txt' then
			spawn(e, rec, fields, e.etype, e.status, e.isdir, e.isList, e.name, e.basename,
				e.path, e.pathname, e.pathdir, e.source, e.sourcePath, e.sourcePathname,
				e.sourcePathdir, e.target, e.targetPath, e.targetPathname, e.targetPathdir,
				tostring(e.move), e.config.delay, e.inlet.getConfig() == e.config)
			return
		end
		record(e, e.etype, e.path, e.isdir)
	end,
	onModify = function(e) record(e, e.etype, e.path) end,
	onAttrib = function(e) record(e, e.etype, e.path) end,
	onDelete = function(e) record(e, e.etype, e.path, e.isdir) end,
	onMove = function(o, d)
		record(o, o.etype, o.path, d.path, o.move, d.move, o.isdir, d.pathname, d.sourcePathname)
	end,
}
EOF
start_daemon "$WS/l2.log" "$WS/l2.lua"
SR=$(realpath "$S")/
: > "$WS/l2.want"
# step2 CMD EXPECTED-LINE...: runs CMD, waits for the records it must give
step2() {
	local cmd=$1 n; shift
	for l in "$@"; do printf '%s\n' "$l" >> "$WS/l2.want"; done
	n=$(wc -l < "$WS/l2.want")
	eval "$cmd"
	wait_lines "$L" "$n" || true
}
step2 ':' "$(q Init '' false)"
step2 'echo a > "$S/f1"' "$(q Create f1 false)" "$(q Modify f1)"
step2 'mkdir "$S/d1"' "$(q Create d1/ true)"
step2 'echo b >> "$S/f1"' "$(q Modify f1)"
step2 'chmod 600 "$S/f1"' "$(q Attrib f1)"
step2 'mv "$S/f1" "$S/d1/f2"' "$(q Move f1 d1/f2 Fr To false d1/f2 "${SR}/d1/f2")"
step2 'mv "$S/d1" "$S/d2"' "$(q Move d1/ d2/ Fr To true d2 "${SR}/d2")"
step2 'rm "$S/d2/f2"' "$(q Delete d2/f2 false)"
step2 'rmdir "$S/d2"' "$(q Delete d2/ true)"
step2 'ln -s nowhere "$S/dangling"' "$(q Create dangling false)"
step2 'mv "$WS/outside/in-file" "$S/in-file"' "$(q Create in-file false)"
step2 'mv "$S/pre" "$WS/outside/pre-out"' "$(q Delete pre/ true)"
step2 'mv "$WS/outside/in-dir" "$S/in-dir"' "$(q Create in-dir/ true)" "$(q Create in-dir/sub/ true)" \
	"$(q Create in-dir/sub/x false)"
sleep 0.5
expect_log "L2: one record per event, in order (Create, Modify, Attrib, Move, Delete; moves in and out of the tree)" "$L" "$WS/l2.want"
mkdir -p "$S/deep"; echo f > "$S/deep/fields.txt"
wait_lines "$F" 1
q Create wait false false fields.txt fields.txt deep/fields.txt deep/fields.txt deep/ "$SR" \
	"${SR}/deep/fields.txt" "${SR}/deep/fields.txt" "${SR}/deep/" "$T" "$T/deep/fields.txt" \
	"$T/deep/fields.txt" "$T/deep/" nil 0.3 true > "$WS/l2.fwant"
expect_log "L2: every field of an event (etype status isdir isList name basename path* source* target* move config inlet)" "$F" "$WS/l2.fwant"
: > "$L"; make_hostile_names "$S/h"
( cd "$S" && find h -mindepth 1 -print0 ) | while IFS= read -r -d '' p; do
	if [ -d "$S/$p" ] && [ ! -L "$S/$p" ]; then q Create "$p/" true; else q Create "$p" false; fi
done > "$WS/l2.hwant"
q Create h/ true >> "$WS/l2.hwant"
wait_count "$L" '^Create ' "$(wc -l < "$WS/l2.hwant")"; sleep 0.5
grep -v '^Modify ' "$L" > "$WS/l2.hgot"
expect_log "L2: hostile names reach the handlers byte for byte (a Create each)" "$WS/l2.hgot" "$WS/l2.hwant" set
: > "$L"
mv "$S/h/\$(touch lng-pwned)" "$S/h/-moved \$(x)"; rm "$S/h/"$'new\nline'
{ q Move "h/\$(touch lng-pwned)" "h/-moved \$(x)" Fr To false "h/-moved \$(x)" "${SR}/h/-moved \$(x)"
  q Delete h/$'new\nline' false; } > "$WS/l2.hwant"
wait_lines "$L" 2
expect_log "L2: hostile names moved and deleted" "$L" "$WS/l2.hwant" sorted
check "L2: no file name was evaluated by a shell" no_pwned
check_stop "L2"

# ===== L3: layer-3 strings =====
S=$WS/l3/src T=$WS/l3/tgt L=$WS/l3/events
mkdir -p "$S" "$T"
ALL='^pathname ^pathdir ^path ^sourcePathname ^sourcePathdir ^sourcePath ^source ^targetPathname ^targetPathdir ^targetPath ^target'
MV='^o.pathname ^d.pathname ^o.path ^d.path ^o.sourcePathname ^d.sourcePathname ^o.sourcePathdir ^d.sourcePathdir ^o.sourcePath ^d.sourcePath ^o.targetPathname ^d.targetPathname ^o.targetPathdir ^d.targetPathdir ^o.targetPath ^d.targetPath'
cat > "$WS/l3.lua" <<EOF
settings { nodaemon = true, logfile = '$WS/l3.file.log' }
sync {
	source = '$S', target = '$T', delay = 0.3,
	onStartup = 'bash $REC $L Startup ^source ^target',
	-- shell form: every variable becomes "\$N"
	onCreate = 'bash $REC $L Create $ALL',
	-- binary form: split into words here, values stay one word each
	onModify = '$REC $L Modify $ALL',
	-- forced shell form: starts with '/', run by sh because of the '^'
	onDelete = '^$REC $L Delete ^pathname ^path && true',
	onMove = '$REC $L Move $MV',
}
EOF
start_daemon "$WS/l3.log" "$WS/l3.lua"
SR=$(realpath "$S")/
# fields P ISDIR: the values of the eleven plain variables for path P
fields() {
	local p=$1 pn=${1%/} pd=''
	[[ $pn == */* ]] && pd=${pn%/*}/
	printf '%s\0' "$pn" "$pd" "$p" "$SR/$pn" "$SR/$pd" "$SR/$p" "$SR" "$T/$pn" "$T/$pd" "$T/$p" "$T"
}
want3() { local e=$1; shift; local a=(); mapfile -d '' -t a < <(fields "$1"); q "$e" "${a[@]}"; }
wait_lines "$L" 1
q Startup "$SR" "$T" > "$WS/l3.want"
echo x > "$S/file one"
{ want3 Create 'file one'; want3 Modify 'file one'; } >> "$WS/l3.want"
wait_lines "$L" 3
mkdir -p "$S/dir a"; want3 Create 'dir a/' >> "$WS/l3.want"; wait_lines "$L" 4
echo y > "$S/dir a/inner"
{ want3 Create 'dir a/inner'; want3 Modify 'dir a/inner'; } >> "$WS/l3.want"; wait_lines "$L" 6
mv "$S/dir a/inner" "$S/moved"
q Move 'dir a/inner' moved 'dir a/inner' moved "$SR/dir a/inner" "${SR}/moved" "$SR/dir a/" "$SR/" \
	"$SR/dir a/inner" "$SR/moved" "$T/dir a/inner" "$T/moved" "$T/dir a/" "$T/" "$T/dir a/inner" "$T/moved" >> "$WS/l3.want"
wait_lines "$L" 7
rm "$S/moved"; q Delete moved moved >> "$WS/l3.want"; wait_lines "$L" 8
rmdir "$S/dir a"; q Delete 'dir a' 'dir a/' >> "$WS/l3.want"; wait_lines "$L" 9
sleep 0.5
expect_log "L3: shell, binary and forced-shell forms with every ^variable and ^o./^d." "$L" "$WS/l3.want"
# hostile names through the three forms
: > "$L"
make_hostile_names "$S/h"
( cd "$S" && find h -mindepth 1 -print0 ) | while IFS= read -r -d '' p; do
	if [ -d "$S/$p" ] && [ ! -L "$S/$p" ]; then want3 Create "$p/"; else want3 Create "$p"; fi
done > "$WS/l3.hwant"
want3 Create h/ >> "$WS/l3.hwant"
wait_count "$L" '^Create ' "$(wc -l < "$WS/l3.hwant")"; sleep 0.5
grep '^Create ' "$L" > "$WS/l3.hgot"
expect_log "L3: hostile names through the shell form (\"\$N\" arguments)" "$WS/l3.hgot" "$WS/l3.hwant" set
# a file written at once in a new directory may be found by the scan of
# that directory (a Create only): every top-level file must have its Modify,
# and every Modify must be exact
( cd "$S" && find h -type f -print0 ) | while IFS= read -r -d '' p; do want3 Modify "$p"; done | sort -u > "$WS/l3.mall"
( cd "$S" && find h -maxdepth 1 -type f -print0 ) | while IFS= read -r -d '' p; do want3 Modify "$p"; done | sort -u > "$WS/l3.mtop"
wait_count "$L" '^Modify ' "$(wc -l < "$WS/l3.mtop")"; sleep 0.5
grep '^Modify ' "$L" | sort -u > "$WS/l3.mgot"
bad=$(comm -23 "$WS/l3.mgot" "$WS/l3.mall"; comm -13 "$WS/l3.mgot" "$WS/l3.mtop")
if [ -z "$bad" ]; then tap_ok "L3: hostile names through the binary form (one argv word each)"
else tap_fail "L3: hostile names through the binary form (one argv word each)" "unexpected or missing:" "$bad"; fi
: > "$L"
rm "$S/h/semi;touch lng-pwned" "$S/h/"$'\xff\xfe' "$S/h/-rf"
{ q Delete "h/semi;touch lng-pwned" "h/semi;touch lng-pwned"; q Delete h/$'\xff\xfe' h/$'\xff\xfe'; q Delete h/-rf h/-rf; } > "$WS/l3.dwant"
wait_lines "$L" 3
expect_log "L3: hostile names through the forced shell form" "$L" "$WS/l3.dwant" sorted
o="h/double\"quote" d="h/\`touch lng-pwned\`2"
mv "$S/$o" "$S/$d"
q Move "$o" "$d" "$o" "$d" "$SR/$o" "$SR/$d" "$SR/h/" "$SR/h/" "$SR/$o" "$SR/$d" "$T/$o" "$T/$d" \
	"$T/h/" "$T/h/" "$T/$o" "$T/$d" > "$WS/l3.mvwant"
wait_count "$L" '^Move ' 1
grep '^Move ' "$L" > "$WS/l3.mvgot"
expect_log "L3: a hostile move through ^o./^d. variables (binary form)" "$WS/l3.mvgot" "$WS/l3.mvwant"
check "L3: no file name was evaluated by a shell" no_pwned
check_stop "L3"

# ===== L1: action(inlet) and friends =====
S=$WS/l1/src L=$WS/l1/events
mkdir -p "$S"
cat > "$WS/l1.lua" <<EOF
settings { nodaemon = true, logfile = '$WS/l1.file.log' }
local rec, log_ = '$REC', '$L'
local retried = {}
local inlet1
inlet1 = sync {
	source = '$S', delay = 0.5, onMove = true, tag = 'L1',
	prepare = function(config, level)
		-- no default.prepare here: 'tag' is this layer's own key
		config.prepared = 'prepared ' .. config.tag
	end,
	init = function(event)
		spawn(event, rec, log_, 'init', event.etype, event.config.prepared)
	end,
	action = function(inlet)
		local ev, ev2 = inlet.getEvent()
		if ev.etype == 'Move' then
			spawn(ev, rec, log_, 'move', ev.path, ev2.path)
			return
		end
		if ev.etype == 'Blanket' then
			spawn(ev, rec, log_, 'blanket', rawget(ev, 'note') or '?')
			return
		end
		if ev.etype == 'Attrib' then
			inlet.discardEvent(ev)
			return
		end
		-- everything up to the next move or blanket, but no Attrib
		local list = inlet.getEvents(function(e)
			if e.etype == 'Move' or e.etype == 'Blanket' then return 'break' end
			return e.etype ~= 'Attrib'
		end)
		local paths = list.getPaths(function(etype, path, path2) return etype .. ':' .. path end)
		table.sort(paths)
		local srcs = list.getSourcePaths()
		table.sort(srcs)
		spawn(list, rec, log_, 'list', table.concat(paths, ' '), table.concat(srcs, ' '),
			list.getPaths(','), tostring(list.isList), tostring(inlet.getConfig() == list.config))
	end,
	collect = function(agent, exitcode)
		if agent.isList then
			local key = table.concat(agent.getPaths(), ' ')
			if not retried[key] then
				retried[key] = true
				return 'again'
			end
			local b = inlet1.createBlanketEvent()
			b.note = 'after ' .. key
		end
		return 'ok'
	end,
}
EOF
start_daemon "$WS/l1.log" "$WS/l1.lua"
SR=$(realpath "$S")
wait_lines "$L" 1
q init Init 'prepared L1' > "$WS/l1.want"
echo a > "$S/a"; echo b > "$S/b"; mkdir "$S/d"
# Create+Modify collapse to Create (no layer-2 handlers); the list runs,
# collect answers 'again', it runs again, then the blanket made in collect
L1LIST=$(q list 'Create:/a Create:/b Create:/d/' "$SR/a $SR/b $SR/d/" /a,/b,/d/ true true)
printf '%s\n%s\n' "$L1LIST" "$L1LIST" >> "$WS/l1.want"
q blanket 'after /a /b /d/' >> "$WS/l1.want"
wait_lines "$L" 4
chmod 600 "$S/a"                     # Attrib: discarded by the action
sleep 1
mv "$S/a" "$S/d/a2"
q move a d/a2 >> "$WS/l1.want"
wait_lines "$L" 5
echo c > "$S/c"; chmod 600 "$S/b"    # the Attrib is skipped by the test (false)
L1LIST=$(q list 'Create:/c' "$SR/c" /c true true)
printf '%s\n%s\n' "$L1LIST" "$L1LIST" >> "$WS/l1.want"
q blanket 'after /c' >> "$WS/l1.want"
wait_lines "$L" 8
sleep 1
expect_log "L1: init, prepare, getEvent, getEvents(test), getPaths(mutator), getSourcePaths, discardEvent, collect 'again', createBlanketEvent" "$L" "$WS/l1.want"
check_stop "L1"

# ===== L4: default.rsync with a recording rsync =====
S=$WS/l4/src T=$WS/l4/tgt L=$WS/l4/lists
mkdir -p "$S/keep" "$T"; echo k > "$S/keep/k"
cat > "$WS/rsync-rec" <<EOF
#!/bin/bash
# records the include list (stdin, NUL-separated) of batched runs, then runs rsync
case " \$* " in
*' --include-from=- '*) in=\$(mktemp "$WS/l4/in.XXXXXX"); cat > "\$in"
	tr '\0' '\n' < "\$in" | sort | tr '\n' ' ' >> "$L"; echo >> "$L"
	exec rsync "\$@" < "\$in" ;;
*) exec rsync "\$@" ;;
esac
EOF
chmod +x "$WS/rsync-rec"
cat > "$WS/l4.lua" <<EOF
settings { nodaemon = true, logfile = '$WS/l4.file.log' }
sync { default.rsync, source = '$S', target = '$T', delay = 1,
	rsync = { binary = '$WS/rsync-rec' } }
EOF
start_daemon "$WS/l4.log" "$WS/l4.lua"
expect_equal "L4: startup through the recording rsync" "$S" "$T"
mkdir -p "$S/new/sub"; echo n > "$S/new/sub/n"; echo m >> "$S/keep/k"; echo z > "$S/zz"
expect_equal "L4: a batch arrives" "$S" "$T"
first=" $(head -n1 "$L")"
has_all() { local t; for t in "$@"; do [[ $first == *" $t "* ]] || return 1; done; }
check "L4: the batch's include list names the changes (a new dir with /***) and their parents (got:$first)" \
	has_all /keep/ /keep/k '/new/***' /zz
rm -r "$S/new"; mv "$S/zz" "$S/keep/zz2"
expect_equal "L4: deletes and a rename" "$S" "$T"
check_stop "L4"

tap_done
