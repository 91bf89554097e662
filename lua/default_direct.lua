-- default_direct.lua: default.direct: a local mirror kept with cp, mv and rm
-- after a startup rsync. Symlinks are copied as symlinks (cp -P). A created
-- directory is sent with its content (rsync), not just made (lsyncd's mkdir).

local default = require 'default'
local drsync = require 'default_rsync'
local rsyncopts = require 'rsyncopts'

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

-- A created directory, with everything it holds now. A bare mkdir (what
-- lsyncd does) loses the content whenever no Create events come for it:
-- a directory renamed within one delay after something moved into it
-- (the rename is then split into Delete + Create), for instance. rsync
-- from the sync root, excludes and filters first, then the directory and
-- its ancestors, NUL-separated (names may hold newlines).
local function sendDir(inlet, ev, cfg)
	local rules = inlet.getFilters()        -- filter lines, then '- exclude' lines
	local list = rsyncopts.includeList { { etype = 'Create', path = '/' .. ev.path, isdir = true } }
	for _, r in ipairs(list) do rules[#rules + 1] = '+ ' .. r end
	rules[#rules + 1] = '- *'
	spawn(ev, cfg.rsync.binary, '<', table.concat(rules, '\0'), cfg.rsync._computed, '-r',
		'--from0', '--filter=. -', ev.source, cfg.target)
end

-- One event at a time: rsync (a new directory), cp, mv or rm on the target.
function direct.action(inlet)
	local ev, ev2 = inlet.getEvent()
	if not ev then return end
	local cfg = inlet.getConfig()
	local etype = ev.etype
	local deletes = cfg.delete == true or cfg.delete == 'running'
	if etype == 'Create' or etype == 'Modify' then
		if ev.isdir then
			if etype == 'Create' then
				sendDir(inlet, ev, cfg)
			else
				inlet.discardEvent(ev)
			end
		else
			spawn(ev, 'cp', '-P', '-p', '--remove-destination', '--', ev.sourcePathname, ev.targetPathname)
		end
	elseif etype == 'Delete' then
		local t = ev.targetPathname
		if not deletes or t == '' or t == '/' then
			inlet.discardEvent(ev)
		else
			spawn(ev, 'rm', '-rf', '--', t)
		end
	elseif etype == 'Move' then
		local from, to = ev.targetPathname, ev2.targetPathname
		if deletes then
			spawn(ev, 'sh', '-c', 'mv -- "$1" "$2" || { rm -rf -- "$1"; exit 1; }', 'sh', from, to)
		else
			spawn(ev, 'mv', '--', from, to)
		end
	else
		log('Warn', 'Ignored an ', etype, ' event on ', ev.path)
		inlet.discardEvent(ev)
	end
end

-- Only the startup transfer is judged; cp/mv/rm failures are logged.
function direct.collect(agent, exitcode)
	if agent.etype == 'Init' or agent.etype == 'Full' then
		local cfg = agent.config
		cfg.exitcodes = cfg.rsyncExitCodes
		local rc = default.collect(agent, exitcode)
		cfg.exitcodes = nil
		return rc
	end
	-- (24: rsync saw files vanish while sending a directory; their Delete
	-- events follow)
	if exitcode ~= 0 and exitcode ~= 24 then
		-- A cp/mv/rm that failed (a parent not there yet, a file gone meanwhile)
		-- is repaired, not forgotten as lsyncd does: one full rsync of the
		-- tree is queued (behind what is queued already), unless one waits.
		local s = agent.inlet.getSync()
		log('Warn', 'direct: ', agent.etype, ' on ', agent.path, ' failed (exit ', exitcode,
			'); a full sync will repair the target')
		local d = s.delays.head
		while d do
			if d.etype == 'Init' and d.status ~= 'active' then return 'ok' end
			d = d.next
		end
		s:push('Init', '', nil, core.now())
	end
	return 'ok'
end

return direct
