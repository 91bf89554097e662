-- default_direct.lua: default.direct: a local mirror kept by copying,
-- moving and removing single paths after a startup rsync (lsyncd uses cp,
-- mv and rm). Symlinks are copied as symlinks. A created directory is sent
-- with its content (rsync), not just made (lsyncd's mkdir).

local default = require 'default'
local drsync = require 'default_rsync'
local rsyncopts = require 'rsyncopts'
local procs = require 'procs'
local log = require('log').log

local direct = {}

direct.checkgauge = {
	default.checkgauge,
	delete = true, exclude = true, excludeFrom = true, filter = true, filterFrom = true,
	target = true, rsync = drsync.checkgauge.rsync, rsyncExitCodes = true, onMove = true,
}

direct.delay = 1
direct.maxProcesses = 1
direct.onMove = true
direct.delete = true
direct.rsync = drsync.rsync
direct.rsyncExitCodes = default.rsyncExitCodes
direct.init = drsync.init
direct.prepare = drsync.prepare

-- The rsync of some paths from the sync root, excludes and filters first,
-- then the paths and their ancestors, NUL-separated on stdin (names may
-- hold newlines). entries: { {etype=, path='/a/f', isdir=} }. Returns the
-- stdin text and the argv after the binary.
local function rsyncOf(inlet, cfg, entries, delete)
	local rules = inlet.getFilters()        -- filter lines, then '- exclude' lines
	for _, r in ipairs(rsyncopts.includeList(entries)) do rules[#rules + 1] = '+ ' .. r end
	rules[#rules + 1] = '- *'
	local argv = {}
	for _, a in ipairs(cfg.rsync._computed) do argv[#argv + 1] = a end
	argv[#argv + 1] = '-r'
	if delete then
		argv[#argv + 1] = '--delete'
		argv[#argv + 1] = '--force'
	end
	argv[#argv + 1] = '--from0'
	argv[#argv + 1] = '--filter=. -'
	argv[#argv + 1] = inlet.getSync().source
	argv[#argv + 1] = cfg.target
	return table.concat(rules, '\0'), argv
end

-- A created directory, with everything it holds now. A bare mkdir (what
-- lsyncd does) loses the content whenever no Create events come for it:
-- a directory renamed within one delay after something moved into it
-- (the rename is then split into Delete + Create), for instance.
local function sendDir(inlet, ev, cfg)
	local stdin, argv = rsyncOf(inlet, cfg, { { etype = 'Create', path = '/' .. ev.path, isdir = true } })
	procs.spawn(ev, cfg.rsync.binary, '<', stdin, argv)
end

-- Copy, move and remove are done by the daemon's own helper
-- (`lsyncd-ng __lng_fsop`, engine/fsops.c): every path is resolved beneath
-- the source or target root with no symlink on the way, and nothing is
-- followed at the end either. What it cannot do that way (a special file,
-- a symlink on the way because the tree changed since the event was
-- queued, a missing parent, a directory in the way) it hands to the rsync
-- of the same paths given after '--', which checks the tree as it is now.
local SELF = '/proc/self/exe'

local function fsop(ev, cfg, op, args, entries, delete)
	local stdin, argv = rsyncOf(ev.inlet, cfg, entries, delete)
	procs.spawn(ev, SELF, '<', stdin, '__lng_fsop', op, args, '--', cfg.rsync.binary, argv)
end

local function bare(p) return (p:gsub('/$', '')) end

-- One event at a time: rsync (a new directory), or copy, move or remove.
function direct.action(inlet)
	local ev, ev2 = inlet.getEvent()
	if not ev then return end
	local cfg = inlet.getConfig()
	local etype = ev.etype
	local deletes = cfg.delete == true or cfg.delete == 'running'
	local source, target = inlet.getSync().source, cfg.target
	local rel = bare(ev.path)
	if etype == 'Create' or etype == 'Modify' then
		if ev.isdir then
			if etype == 'Create' then
				sendDir(inlet, ev, cfg)
			else
				inlet.discardEvent(ev)
			end
		else
			fsop(ev, cfg, 'copy', { source, target, rel },
				{ { etype = 'Modify', path = '/' .. rel } }, false)
		end
	elseif etype == 'Delete' then
		if not deletes or rel == '' then
			inlet.discardEvent(ev)
		else
			fsop(ev, cfg, 'remove', { target, rel },
				{ { etype = 'Delete', path = '/' .. rel, isdir = ev.isdir } }, true)
		end
	elseif etype == 'Move' then
		local to = bare(ev2.path)
		fsop(ev, cfg, 'move', { target, rel, to },
			{ { etype = 'Move', path = '/' .. rel, path2 = '/' .. to, isdir = ev.isdir } }, deletes)
	else
		log('Warn', 'Ignored an ', etype, ' event on ', ev.path)
		inlet.discardEvent(ev)
	end
end

-- Only the startup transfer is judged; other failures are logged.
function direct.collect(agent, exitcode)
	if agent.etype == 'Init' or agent.etype == 'Full' then
		return default.collect(agent, exitcode, agent.config.rsyncExitCodes)
	end
	-- (24: rsync saw files vanish while sending a directory; their Delete
	-- events follow)
	if exitcode ~= 0 and exitcode ~= 24 then
		-- A copy/move/remove whose rsync fallback failed too
		-- is repaired, not forgotten as lsyncd does: one full rsync of the
		-- tree is queued (behind what is queued already), unless one waits.
		local s = agent.inlet.getSync()
		log('Warn', 'direct: ', agent.etype, ' on ', agent.path, ' failed (exit ', exitcode,
			'); a full sync will repair the target')
		if not s:hasQueued('Init') then s:push('Init', '', nil, core.now()) end
	end
	return 'ok'
end

return direct
