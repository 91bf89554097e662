-- default_rsync.lua: default.rsync, the layer-4 config that mirrors the
-- source with rsync: one recursive startup transfer, then one batched rsync
-- per ready set of events with the NUL-separated include list on stdin.

local default = require 'default'
local rsyncopts = require 'rsyncopts'

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
	log('Normal', 'recursive startup rsync: ', event.source, ' -> ', event.target)
	local stats = (settings('jsonStatusFile') or settings('metricsFile')) and '--stats' or nil
	-- overall progress of the startup transfer, for the log and the status
	local prog = not cfg.rsync.quiet and '--info=progress2' or nil
	spawn(event, cfg.rsync.binary, '<', stdin or '', stats, prog, argv)
end

local function notBarrier(ev)
	local t = ev.etype
	return t ~= 'Init' and t ~= 'Blanket' and t ~= 'Full'
end
rsync._notBarrier = notBarrier

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
	local list = rsyncopts.includeList(entries)
	-- A deleted path that came back as another type which the sync excludes
	-- (a file replaced by an excluded dir 'cache/'): its include rule would
	-- match the new, excluded entry too, so that entry is excluded first.
	local guards = {}
	local s = inlet.getSync()
	for _, e in ipairs(entries) do
		if e.etype == 'Delete' then
			local bare = e.path:gsub('/$', '')
			local st = core.lstat(s.source .. bare:sub(2))
			if st then
				local now = bare .. (st.type == 'directory' and '/' or '')
				if now ~= e.path and s.filter:isExcluded(now) then
					guards[#guards + 1] = '--exclude=' .. rsyncopts.includeRule(now, false)
				end
			end
		end
	end
	local stdin = table.concat(list, '\000')
	log('Normal', 'Calling rsync with filter-list of new/modified files/dirs\n',
		table.concat(list, '\n'))
	local delete = cfg.delete == true or cfg.delete == 'running'
	-- Paths that had an event are compared in full (-I): rsync's quick check
	-- (size and mtime) would miss a same-size rewrite within one second.
	local full = not settings('quickCheck') and '--ignore-times' or nil
	local stats = (settings('jsonStatusFile') or settings('metricsFile')) and '--stats' or nil
	spawn(elist, cfg.rsync.binary, '<', stdin, cfg.rsync._computed, full, stats, '-r',
		delete and '--delete' or nil, delete and '--ignore-errors' or nil,
		'--force', '--from0', guards, '--include-from=-', '--exclude=*',
		inlet.getSync().source, target or cfg.target)
end

-- Wraps s in single quotes for the slave's shell (exact for every byte).
local function quote(str)
	return "'" .. str:gsub("'", "'\"'\"'") .. "'"
end
rsync._quote = quote

-- Exit status of the remote move command when mv failed (and the origin was
-- removed): the destination is then sent again by rsync.
local MOVE_FAILED = 97

-- The longest script one batch of moves makes: the slave's shell gets it
-- as one argument, which Linux caps at 128 KiB.
local MOVE_BATCH_BYTES = 64 * 1024

-- Runs the ready moves at the head of the queue as `mv` on an ssh slave:
-- one move as lsyncd does (mv A B, falling back as described at
-- MOVE_FAILED), a run of them in one ssh command (each mv in turn, so a
-- chain keeps its order; 200 renames cost one ssh round trip, not 200).
-- ssh: { binary, args, dest }; td: the target dir ('' or ending in '/').
function rsync._remoteMoves(inlet, ssh, td)
	local agents = require('events').agents
	local bytes, n = 0, 0
	local elist = inlet.getEvents(function(e)
		if e.etype ~= 'Move' then return 'break' end
		local d = agents[e].delay
		local cost = 2 * (#td + #d.path + #d.path2) + 64
		if n > 0 and bytes + cost > MOVE_BATCH_BYTES then return 'break' end
		bytes, n = bytes + cost, n + 1
		return true
	end)
	local list = elist.getList()
	if #list == 0 then return end
	if #list == 1 then
		local ev, ev2 = require('events').events(inlet.getSync(), list[1])
		local from, to = td .. ev.path, td .. ev2.path
		log('Normal', 'Moving ', ev.path, ' -> ', ev2.path, ' on ', ssh.dest)
		return spawn(ev, ssh.binary, ssh.args, ssh.dest,
			'mv', '--', quote(from), quote(to), '||', '{', 'rm', '-rf', '--', quote(from) .. ';',
			'exit', tostring(MOVE_FAILED) .. ';', '}')
	end
	local script, shown = { 'f=0;' }, {}
	for _, d in ipairs(list) do
		local from, to = quote(td .. d.path:sub(2)), quote(td .. d.path2:sub(2))
		script[#script + 1] = 'mv -- ' .. from .. ' ' .. to .. ' || { rm -rf -- ' .. from
			.. '; f=' .. MOVE_FAILED .. '; };'
		shown[#shown + 1] = d.path .. ' -> ' .. d.path2
	end
	script[#script + 1] = 'exit $f'
	agents[elist].moves = true
	log('Normal', 'Moving ', #list, ' entries on ', ssh.dest, '\n', table.concat(shown, '\n'))
	spawn(elist, ssh.binary, ssh.args, ssh.dest, table.concat(script, ' '))
end

-- Takes every ready event and syncs them in one rsync; with moves done on
-- the slave, the batch stops at the first move so order is kept.
function rsync.action(inlet)
	local cfg = inlet.getConfig()
	local s = inlet.getSync()
	if s.remoteMoves then
		local ev = inlet.getEvent()
		if not ev then return end
		if ev.etype == 'Move' then
			return rsync._remoteMoves(inlet, s.ssh, cfg.target:match('^[^:]*:(.*)$') or '')
		end
		local elist = inlet.getEvents(function(e)
			if e.etype == 'Move' then return 'break' end
			return notBarrier(e)
		end)
		if elist.size() > 0 then rsync._spawnList(elist, cfg) end
		return
	end
	local elist = inlet.getEvents(notBarrier)
	if elist.size() == 0 then return end
	rsync._spawnList(elist, cfg)
end

-- Judges exits; a failed remote move falls back to sending the change the
-- way lsyncd would have: a delete of the origin and the destination anew.
function rsync.collect(agent, exitcode)
	local a = require('events').agents[agent]
	if not (a and a.moves) and (agent.isList or agent.etype ~= 'Move') then
		return default.collect(agent, exitcode)
	end
	if exitcode == 0 then return 'ok' end
	if exitcode == 255 then return 'again' end       -- ssh could not reach the slave
	local s = a.sync
	local now = core.now()
	for _, d in ipairs(a.delays) do
		log('Warn', 'Moving ', d.path, ' on the slave failed (', exitcode, '); sending it again')
		s:push('Delete', d.path, nil, now)
		s:push('Create', d.path2, nil, now)
		if d.isdir and s:needsScan() then s:scanCreates(d.path2, now) end
	end
	return 'ok'
end

return rsync
