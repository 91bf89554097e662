-- default_rsync.lua: default.rsync, the layer-4 config that mirrors the
-- source with rsync: one recursive startup transfer, then one batched rsync
-- per ready set of events with the NUL-separated include list on stdin.

local default = require 'default'
local rsyncopts = require 'rsyncopts'
local roundplan = require 'roundplan'
local procs = require 'procs'
local config = require 'config'
local log = require('log').log

local rsync = {}

local rsyncGauge = { _merge = false }
for k in pairs(rsyncopts.validKeys) do rsyncGauge[k] = true end

rsync.checkgauge = {
	default.checkgauge,
	onCreate = false, onModify = false, onDelete = false, onStartup = false, onMove = false,
	delete = true, exclude = true, excludeFrom = true, filter = true, filterFrom = true,
	target = true, batchSizeLimit = true,
	rsync = rsyncGauge,
}

rsync.delay = 15
rsync.delete = true
rsync.exitcodes = default.rsyncExitCodes
rsync.maxProcesses = 1
rsync.maxDelays = 1000
rsync.rsync = { binary = 'rsync', links = true, times = true, protect_args = true }

local DELETE = { [true] = true, [false] = true, startup = true, running = true }

-- rsync reports --stats when a status output counts files and bytes.
local function wantStats()
	local st = config.settings
	return st.jsonStatusFile or st.metricsFile
end

-- Checks the config and computes the rsync arguments.
function rsync.prepare(cfg, level, skipTarget)
	default.prepare(cfg, level)
	if not skipTarget then
		if type(cfg.target) ~= 'string' then
			error('default.rsync needs "target" configured', 0)
		end
		if not cfg.target:match('[/:]$') then cfg.target = cfg.target .. '/' end
	end
	if not DELETE[cfg.delete] then
		error('delete must be true, false, "startup" or "running", not ' .. tostring(cfg.delete), 0)
	end
	if type(cfg.rsync) ~= 'table' then error('rsync must be a table', 0) end
	if cfg.rsync._computed then error('please do not use the internal rsync._computed parameter', 0) end
	cfg.rsync._computed = rsyncopts.computeArgs(cfg.rsync)
end

-- The startup (Init) transfer: the whole tree, excludes on stdin.
function rsync.init(event)
	local cfg, inlet = event.config, event.inlet
	local argv, stdin = rsyncopts.startupArgs {
		computed = cfg.rsync._computed, source = event.source, target = event.target,
		delete = cfg.delete, excludes = inlet.getExcludes(),
		filters = inlet.hasFilters() and inlet.getFilters() or nil,
		deleteExcluded = cfg.rsync.delete_excluded,
	}
	log('Normal', event.sync:isStartedUp() and 'recursive full re-scan rsync: ' or 'recursive startup rsync: ',
		event.source, ' -> ', event.target)
	local stats = wantStats() and '--stats' or nil
	-- overall progress of the startup transfer, for the log and the status
	local prog = not cfg.rsync.quiet and '--info=progress2' or nil
	procs.spawn(event, cfg.rsync.binary, '<', stdin or '', stats, prog, argv)
end

-- True for an event or a delay (both carry etype) that is not a barrier.
local function notBarrier(ev)
	local t = ev.etype
	return t ~= 'Init' and t ~= 'Blanket' and t ~= 'Full'
end

local KIND_WORDS = { 'Create', 'created', 'Modify', 'modified', 'Attrib', 'changed attributes',
	'Delete', 'deleted', 'Move', 'renamed' }

-- "3 created, 1 deleted": what a batch holds, for its log line.
local function kinds(entries)
	local n = {}
	for _, e in ipairs(entries) do n[e.etype] = (n[e.etype] or 0) + 1 end
	local out = {}
	for i = 1, #KIND_WORDS, 2 do
		local c = n[KIND_WORDS[i]]
		if c then out[#out + 1] = c .. ' ' .. KIND_WORDS[i + 1] end
	end
	return table.concat(out, ', ')
end

-- A batch of at least this many entries that sends no directory with all
-- it holds goes as rsync's --files-from list of names instead of an
-- include list: rsync matches every name of each included directory
-- against the include rules one by one (BENCHMARKS.md, "Restarts"), while
-- a list of names costs a look-up per name. The result is the same: the
-- names and the directories above them are sent, a name the source no
-- longer has is deleted on the slave (with all it holds: --force) when
-- running deletes are on, nothing else is touched. Smaller batches keep
-- lsyncd's include list.
local FILES_FROM_MIN = 100

-- True when rsync = {...} holds no _extra options: they could make the
-- --files-from transfer recursive (-r, -a does not) or ask for deletes
-- that need it (--delete-after), so such configs keep the include list.
local function noExtra(r)
	local x = r._extra
	return x == nil or x == false or (type(x) == 'table' and #x == 0)
end

-- --delete-missing-args needs rsync 3.1 or newer on the slave too; an
-- older one refuses it (the local rsync then ends with exit code 12, or 1,
-- 2 or 4). A sync whose --files-from transfer ended so sends include lists
-- from then on (until a restart): filesFromOff[sync] = true. A network cut
-- may end one with 12 as well: that only costs the faster form.
local FILES_FROM_REFUSED = { [1] = true, [2] = true, [4] = true, [12] = true }
local filesFromOff = setmetatable({}, { __mode = 'k' })
local filesFromLists = setmetatable({}, { __mode = 'k' })   -- elist -> true

-- Spawns one batched rsync of a --files-from list (see FILES_FROM_MIN).
local function spawnFilesFrom(s, elist, cfg, target, entries, ignoreTimes, stats)
	filesFromLists[elist] = true
	local names = rsyncopts.filesFromList(entries)
	local argv = rsyncopts.filesFromArgs {
		computed = cfg.rsync._computed, source = s.source, target = target or cfg.target,
		delete = cfg.delete, ignoreTimes = ignoreTimes, stats = stats,
	}
	log('Normal', s.name, ': calling rsync with a list of ', #names, ' name(s) for ',
		kinds(elist.getList()), '\n', table.concat(names, '\n'))
	procs.spawn(elist, cfg.rsync.binary, '<', table.concat(names, '\000'), argv)
end

-- True when delay d of sync s would be sent with all it holds ('dir/***')
-- and is not a rename: a new directory (recursive: new directories come
-- whole) or a deleted directory path the source holds again as one.
local function sendsWhole(s, d, recursive)
	if not d.isdir then return false end
	if d.etype == 'Create' then return recursive end
	if d.etype ~= 'Delete' then return false end
	local st = core.lstat(s.source .. d.path:sub(2, -2))
	return st ~= nil and st.type == 'directory'
end

-- Syncs whose last round left its whole directories for the next one.
local leftWhole = setmetatable({}, { __mode = 'k' })

-- The ready delays of sync s for one round. A ready set holding a
-- directory sent whole (rsync's --delete must run inside it) next to at
-- least FILES_FROM_MIN other entries (a restart after a directory was
-- renamed) is taken without such directories and what waits for them: the
-- rest goes as a --files-from list, the directories in the next round,
-- which takes everything (so nothing is put off twice). One pass over the
-- queue, two when a whole directory is there with fewer others.
local function roundList(s)
	if leftWhole[s] then
		leftWhole[s] = nil
		return s:readyList(notBarrier)
	end
	local recursive = not s:needsScan()
	local whole = false
	local list = s:readyList(function(d)
		if not notBarrier(d) then return false end
		if sendsWhole(s, d, recursive) then whole = true; return false end
		return true
	end)
	if not whole then return list end
	if #list >= FILES_FROM_MIN then
		leftWhole[s] = true
		return list
	end
	return s:readyList(notBarrier)
end

-- Spawns one batched rsync for a list of events.
function rsync._spawnList(elist, cfg, target)
	local inlet = cfg._inlet or elist.inlet
	local recursive = not inlet.getSync():needsScan()
	local entries = {}
	for _, d in ipairs(elist.getList()) do
		local etype = d.etype
		-- With excludes a new dir's content comes as its own events, so
		-- the dir itself is sent without "***" (which would bypass them).
		if etype == 'Create' and d.isdir and not recursive then etype = 'Attrib' end
		entries[#entries + 1] = { etype = etype, path = d.path, path2 = d.path2, isdir = d.isdir }
	end
	-- A deleted path that came back as another type which the sync excludes
	-- (a file replaced by an excluded dir 'cache/'): its include rule would
	-- match the new, excluded entry too, so that entry is excluded first.
	local guards = {}
	local s = inlet.getSync()
	-- does any entry send a directory with all it holds ('dir/***' below)?
	local whole = false
	for _, e in ipairs(entries) do
		if e.etype == 'Delete' then
			local bare = e.path:gsub('/$', '')
			local st = core.lstat(s.source .. bare:sub(2))
			if st then
				local now = bare .. (st.type == 'directory' and '/' or '')
				if now ~= e.path and s:getFilter():isExcluded(now) then
					guards[#guards + 1] = '--exclude=' .. rsyncopts.includeRule(now, false)
				end
				whole = whole or (e.isdir and st.type == 'directory')
			else
				e.gone = true
			end
		elseif e.isdir and (e.etype == 'Create' or e.etype == 'Move') then
			whole = true
		end
	end
	-- Paths that had an event are compared in full (-I): rsync's quick check
	-- (size and mtime) would miss a same-size rewrite within one second.
	local ignoreTimes = not config.settings.quickCheck
	local stats = wantStats() and '--stats' or nil
	if not whole and #guards == 0 and #entries >= FILES_FROM_MIN and noExtra(cfg.rsync)
	and not filesFromOff[s] then
		return spawnFilesFrom(s, elist, cfg, target, entries, ignoreTimes, stats)
	end
	local list = rsyncopts.includeList(entries)
	local stdin = table.concat(list, '\000')
	log('Normal', s.name, ': calling rsync for ', kinds(elist.getList()), '\n', table.concat(list, '\n'))
	local delete = cfg.delete == true or cfg.delete == 'running'
	local full = ignoreTimes and '--ignore-times' or nil
	procs.spawn(elist, cfg.rsync.binary, '<', stdin, cfg.rsync._computed, full, stats, '-r',
		delete and '--delete' or nil, delete and '--ignore-errors' or nil,
		'--force', '--from0', guards, '--include-from=-', '--exclude=*',
		inlet.getSync().source, target or cfg.target)
end

local quote = require('shquote').quote

-- Exit status of the slave's move script when some move failed or was
-- refused: the destinations it names are then sent again by rsync.
local MOVE_FAILED = 97

-- The longest script one round of moves makes: the slave's shell gets it
-- as one argument, which Linux caps at 128 KiB.
local MOVE_BATCH_BYTES = 64 * 1024

-- The slave's side of a round of moves (POSIX sh), paths relative to $T:
--   u P    fails when a directory between $T and P is a symlink (a move or
--          a delete through it would reach outside the target);
--   m I A B  moves A to B (mv -T: a symlink at B is replaced, never
--          followed); when mv fails the origin is removed as lsyncd does;
--          when it fails or is refused, "lng-move-failed I" tells the
--          daemon to send B (and the delete of A) with rsync instead.
local MOVE_FUNCS = 'f=0; '
	.. 'u() { case $1 in */*) set -- "${1%/*}"; [ -L "$T$1" ] && return 1; u "$1";; esac; }; '
	.. 'm() { if u "$2" && u "$3"; then mv -T -- "$T$2" "$T$3" && return 0; '
	.. 'rm -rf -- "$T$2"; fi; f=' .. MOVE_FAILED .. '; echo "lng-move-failed $1"; };'

-- '/a/d/' -> 'a/d': a queue path as the script names it.
-- Sync -> true when its last command was one of moves (weak: a sync a
-- reload dropped goes).
local movedLast = setmetatable({}, { __mode = 'k' })

local function scriptPath(p) return (p:sub(2):gsub('/$', '')) end

-- Runs moves (delays of sync s, in queue order) on an ssh slave as one
-- command, each in turn, so a chain keeps its order.
-- ssh: { binary, args, dest }; td: the target dir ('' or ending in '/').
function rsync._remoteMoves(s, moves, ssh, td)
	local events = require 'events'
	local script, shown = { 'T=' .. quote(td) .. ';', MOVE_FUNCS }, {}
	for i, d in ipairs(moves) do
		script[#script + 1] = 'm ' .. i .. ' ' .. quote(scriptPath(d.path)) .. ' '
			.. quote(scriptPath(d.path2)) .. ';'
		shown[#shown + 1] = d.path .. ' -> ' .. d.path2
	end
	script[#script + 1] = 'exit $f'
	local a = { moves = true, failed = {} }
	local elist = events.list(s, moves, a)
	a.onOutput = function(stream, line)
		local i = stream == 1 and tonumber(line:match('^lng%-move%-failed (%d+)$') or '')
		if not i then return false end
		a.failed[#a.failed + 1] = moves[i]
		return true
	end
	log('Normal', s.name, ': moving ', #moves, ' entr', #moves == 1 and 'y' or 'ies', ' on ',
		ssh.dest, '\n', table.concat(shown, '\n'))
	procs.spawn(elist, ssh.binary, ssh.args, ssh.dest, table.concat(script, ' '))
end

-- One step of a round to a slave that moves: everything queued for it goes
-- in at most two commands, the renames worth moving (one ssh, see
-- roundplan) and then the rest (one rsync). After a command of moves the
-- next command is the rsync, so renames arriving all the time cannot
-- starve the other changes.
function rsync._round(inlet, ssh, td)
	local s, cfg = inlet.getSync(), inlet.getConfig()
	local list = roundList(s)
	local src = s.source
	local opts = {
		sizeOf = function(d)
			local st = core.lstat(src .. d.path2:sub(2))
			if not st or st.type == 'directory' then return nil end
			return st.size
		end,
		minSize = config.settings.moveMinSize,
		keepOrigins = not (cfg.delete == true or cfg.delete == 'running'),
		maxBytes = MOVE_BATCH_BYTES - #td,
	}
	local kind, batch = roundplan.step(list, opts, movedLast[s])
	movedLast[s] = kind == 'moves' or nil
	if kind == 'moves' then
		rsync._remoteMoves(s, batch, ssh, td)
	elseif kind == 'rsync' then
		rsync._spawnList(require('events').list(s, batch), cfg)
	end
end

-- Takes every ready event and syncs them in one rsync; to an ssh slave,
-- renames worth it are moved there first (see _round).
function rsync.action(inlet)
	local cfg = inlet.getConfig()
	local s = inlet.getSync()
	if s:movesOnSlave() then
		return rsync._round(inlet, s:sshCommand(), cfg.target:match('^[^:]*:(.*)$') or '')
	end
	local list = roundList(s)
	if #list == 0 then return end
	rsync._spawnList(require('events').list(s, list), cfg)
end

-- Judges exits; a move that failed or was refused on the slave falls back
-- to sending the change the way lsyncd would have: a delete of the origin
-- and the destination anew.
function rsync.collect(agent, exitcode)
	local events = require 'events'
	if filesFromLists[agent] and FILES_FROM_REFUSED[exitcode] then
		local s = events.resolve(agent)
		if not filesFromOff[s] then
			filesFromOff[s] = true
			log('Warn', s.name, ': a --files-from transfer ended with exit code ', exitcode,
				' (a slave with rsync older than 3.1 refuses --delete-missing-args);',
				' its batches go as include lists from now on')
		end
		return 'again'
	end
	local a = events.dataOf(agent)
	if not (a and a.moves) and (agent.isList or agent.etype ~= 'Move') then
		return default.collect(agent, exitcode)
	end
	if exitcode == 0 then return 'ok' end
	if exitcode == 255 then return 'again' end       -- ssh could not reach the slave
	local s, delays = events.resolve(agent)
	local now = core.now()
	-- the script names what failed; without its word every move is re-sent
	local failed = (exitcode == MOVE_FAILED and a and #a.failed > 0) and a.failed or delays
	for _, d in ipairs(failed) do
		log('Warn', s.name, ': moving ', d.path, ' -> ', d.path2, ' on the slave failed or was',
			' refused (exit code ', exitcode, '); sending it with rsync')
		s:push('Delete', d.path, nil, now)
		s:push('Create', d.path2, nil, now)
		if d.isdir and s:needsScan() then s:scanCreates(d.path2, now) end
	end
	return 'ok'
end

return rsync
