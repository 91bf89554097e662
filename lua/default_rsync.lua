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
	spawn(event, cfg.rsync.binary, '<', stdin or '', stats, argv)
end

local function notBarrier(ev)
	local t = ev.etype
	return t ~= 'Init' and t ~= 'Blanket' and t ~= 'Full'
end
rsync._notBarrier = notBarrier

-- Spawns one batched rsync for a list of events.
function rsync._spawnList(elist, cfg, target)
	local inlet = cfg._inlet or elist.inlet
	local recursive = not inlet.hasFilters() and #inlet.getExcludes() == 0
	local entries = {}
	for _, d in ipairs(elist.getList()) do
		local etype = d.etype
		-- With excludes a new dir's content comes as its own events, so
		-- the dir itself is sent without "***" (which would bypass them).
		if etype == 'Create' and d.isdir and not recursive then etype = 'Attrib' end
		entries[#entries + 1] = { etype = etype, path = d.path, path2 = d.path2, isdir = d.isdir }
	end
	local list = rsyncopts.includeList(entries)
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
		'--force', '--from0', '--include-from=-', '--exclude=*',
		inlet.getSync().source, target or cfg.target)
end

-- Takes every ready event and syncs them in one rsync.
function rsync.action(inlet)
	local elist = inlet.getEvents(notBarrier)
	if elist.size() == 0 then return end
	local cfg = inlet.getConfig()
	rsync._spawnList(elist, cfg)
end

return rsync
