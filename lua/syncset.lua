-- syncset.lua: the daemon's syncs as a whole: the one list (config order;
-- every Sync holds it), the line for the service manager's STATUS=, the end
-- of the startup transfers, a sync that stops, a slave that is back.

local config = require 'config'
local log = require('log').log

local M = {}

local syncs = {}          -- Sync objects in config order: always this table
local retiring = {}       -- syncs a reload removed, until their last transfer ends
local startupDone = false

-- The list of syncs (startup fills it; a reload refills it in place).
function M.all() return syncs end

-- A reload brought syncs with a startup transfer of their own.
function M.startupAgain() startupDone = false end

-- One line for the service manager's STATUS=: startup progress and the
-- slaves that are not well.
function M.statusLine()
	local pending, ill = 0, {}
	for _, s in ipairs(syncs) do
		if s:awaitingStartup() then pending = pending + 1 end
		if s:errorLine() then ill[#ill + 1] = s.name .. ' error'
		elseif s:isStopped() then ill[#ill + 1] = s.name .. ' stopped'
		elseif s:failureCount() > 0 then ill[#ill + 1] = s.name .. ' retrying' end
	end
	local line = pending > 0
		and ('startup transfers under way: ' .. (#syncs - pending) .. ' of ' .. #syncs .. ' done')
		or ('watching ' .. #syncs .. ' sync(s)')
	if #ill > 0 then line = line .. '; ' .. table.concat(ill, ', ', 1, math.min(#ill, 8)) end
	return line
end

-- Once every sync finished its startup transfer: tell the service manager,
-- and make later re-scans insist (as lsyncd does after a restart). READY=1
-- went out before (config loaded, watches in place, transfers under way).
function M.checkStartup()
	if startupDone then return end
	for _, s in ipairs(syncs) do
		if s:awaitingStartup() then
			core.notify('STATUS=' .. M.statusLine())
			return
		end
	end
	startupDone = true
	config.settings.insist = true
	if config.settings.onepass then
		log('Normal', 'Onepass: all startup transfers done, exiting.')
		core.terminate(0)
	end
	core.notify('STATUS=' .. M.statusLine())
end

-- True when more than one sync of the daemon has not stopped (a failed
-- startup may then stay local to its sync instead of ending the daemon).
function M.othersAlive()
	local alive = 0
	for _, s in ipairs(syncs) do
		if not s:isStopped() then alive = alive + 1 end
	end
	return alive > 1
end

-- A sync whose child said its config cannot work (rsync usage errors and
-- the like): it stops, the others go on; the daemon ends only when no sync
-- is left. code: the exit code or what happened; errorLine: a Lua error's
-- first line when that stopped it.
function M.stopSync(s, code, errorLine)
	s:stop(errorLine)
	log('Error', s.name, ': stopped: ', s:target() or s.source, ' failed with ',
		type(code) == 'number' and ('exit code ' .. code) or code,
		', which retrying cannot fix (see the lines above).',
		' The other syncs go on; fix the config and reload (HUP).')
	for _, o in ipairs(syncs) do
		if not o:isStopped() then
			M.checkStartup()
			return
		end
	end
	log('Error', 'Critical exitcode: no sync is left.')
	core.terminate(255)
end

-- A reload removed sync s: it finishes what runs, then its ssh master
-- ends unless another sync uses it.
function M.retire(s)
	retiring[#retiring + 1] = s
end

-- Forgets the removed syncs whose last transfer ended and ends the ssh
-- masters that neither a sync nor a removed one still finishing uses
-- (prune(used), sshmux.prune).
function M.sweep(prune)
	if #retiring == 0 then return end
	local gone = false
	for i = #retiring, 1, -1 do
		if retiring[i]:processCount() == 0 then
			table.remove(retiring, i)
			gone = true
		end
	end
	if not gone then return end
	local used = {}
	for _, list in ipairs { syncs, retiring } do
		for _, s in ipairs(list) do
			local m = s:master()
			if m then used[m] = true end
		end
	end
	prune(used)
end

-- A slave's ssh master came back after failures: retry what waits for it now
-- instead of at the end of its back-off.
function M.linkBack(m)
	local now = core.now()
	require('tempsweep').linkBack(m, now)
	for _, s in ipairs(syncs) do
		if s:master() == m and s:failureCount() > 0 then
			s:pause(nil)
			s:hurry(now)
			log('Normal', s.name, ': link to ', m.dest, ' is back, catching up')
		end
	end
end

return M
