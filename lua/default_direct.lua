-- default_direct.lua: default.direct: a local mirror kept with cp, mv and rm
-- after a startup rsync. Symlinks are copied as symlinks (cp -P).

local default = require 'default'
local drsync = require 'default_rsync'

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

-- One event at a time: mkdir, cp, mv or rm on the target.
function direct.action(inlet)
	local ev, ev2 = inlet.getEvent()
	if not ev then return end
	local cfg = inlet.getConfig()
	local etype = ev.etype
	local deletes = cfg.delete == true or cfg.delete == 'running'
	if etype == 'Create' or etype == 'Modify' then
		if ev.isdir then
			if etype == 'Create' then
				spawn(ev, 'mkdir', '-p', '--', ev.targetPathname)
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
	if agent.etype == 'Init' then
		local cfg = agent.config
		cfg.exitcodes = cfg.rsyncExitCodes
		local rc = default.collect(agent, exitcode)
		cfg.exitcodes = nil
		return rc
	end
	if exitcode ~= 0 then
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
