-- runner.lua: the runner's entry points, the only functions the C engine
-- calls (see engine/api.h): collect, childOutput, signal, inotifyBatch,
-- cycle, getAlarm, initialize. Each hands its work on: startup.lua
-- (the start, a reload), scheduler.lua (what is due when), exits.lua (a
-- child's end), procs.lua (children), syncset.lua (the syncs); what stays
-- here is the daemon's winding down (TERM, INT) and a HUP's config check.

local events = require 'events'
local procs = require 'procs'
local syncset = require 'syncset'
local scheduler = require 'scheduler'
local exits = require 'exits'
local startup = require 'startup'
local sshmux = require 'sshmux'
local rsyncOutput = require 'rsync_output'
local log = require('log').log
local watchtree = require 'watchtree'
local state = require 'state'
local tempsweep = require 'tempsweep'

local runner = {}

local checking = nil      -- { pid =, lines = {} } while a HUP's new config is checked
local fading = nil        -- nil, 'TERM', 'INT'
local fadeStart

-- spawn() for configs (lua/procs.lua owns the children)
runner.spawn = procs.spawn
procs.refuseWhen(function() return fading ~= nil end)

-- entry points of the watch layer, given to startup (lua/watchtree.lua
-- takes them there when the engine hands over batches)
local hooks = {}

function runner.initialize(...)
	local kept = startup.initialize(hooks, ...)
	runner.configPath = kept.configPath
	runner.logInotify = kept.logInotify
end

-- Decides whether a directory is watched: some sync must be concerned.
function runner.dirWanted(path)
	local syncs = syncset.all()
	for _, s in ipairs(syncs) do
		if path .. '/' == s.source then return true end
		local rel = s:relative(path, true)
		if rel and s:concerns(rel) then return true end
	end
	return false
end

-- True when every directory below root (no trailing '/') is wanted: a sync
-- on root has no exclusion and takes subdirectories.
function runner.treeWanted(root)
	for _, s in ipairs(syncset.all()) do
		if s.source == root .. '/' and s:concernsAll() then return true end
	end
	return false
end

-- The events of one read of the watch layer, in order (engine/api.h).
function runner.inotifyBatch(batch) watchtree.batch(batch) end

function runner.inotifyEvent(etype, isdir, path, path2)
	local syncs = syncset.all()
	local now = core.now()
	if etype == 'Overflow' then
		log('Error', '--- OVERFLOW in event queue --- rescanning every sync')
		scheduler.rescanAll(now)
		return
	end
	if etype == 'NoSpace' then
		scheduler.outOfWatches(path)
		return
	end
	state.event(etype, isdir, path, path2)
	if runner.logInotify then
		core.log('Inotify', etype .. ' ' .. path .. (path2 and (' -> ' .. path2) or ''))
	end
	-- syncs of one source (a fan-out to many slaves) share the relative paths
	local src, rel, rel2
	for i = 1, #syncs do
		local s = syncs[i]
		if s.source ~= src then
			src = s.source
			rel = s:relative(path, isdir) or false
			rel2 = path2 and s:relative(path2, isdir) or false
		end
		if state.admit(s) then s:event(etype, isdir, rel, rel2, now) end
	end
end

-- A child of ours ended: judge its exit and release or re-queue its delays.
function runner.collect(pid, code, signo)
	if checking and checking.pid == pid then
		return runner.configChecked((signo and signo ~= 0) and 128 + signo or code)
	end
	if tempsweep.collect(pid, code, signo, core.now()) then return end
	if procs.endService(pid) then
		sshmux.exited(pid, signo ~= 0 and ('signal ' .. signo) or code, core.now(), fading ~= nil)
		return
	end
	exits.collect(pid, code, signo, fading)
end

function runner.childOutput(pid, stream, line)
	if checking and checking.pid == pid then
		local l = checking.lines
		if #l < 20 then l[#l + 1] = line end
		return
	end
	if procs.isService(pid) and sshmux.output(pid, line) then return end
	if tempsweep.output(pid, line) then return end
	local p = procs.get(pid)
	-- a layer that reads its child's output (default_rsync's move script)
	if p and events.output(p.agent, stream, line) then return end
	if p and rsyncOutput.line(p, stream, line) then return end
	if p and stream == 2 then
		procs.keepStderr(p, line)
		-- a slave already known to fail: its errors were logged once, with
		-- the failure (judged); each retry's repeat goes to the Delay category
		if p.sync:failureCount() > 0 then
			core.log('Delay', p.sync.name .. ': ' .. line)
			return
		end
	end
	local prefix = p and (p.sync.name .. ': ') or ''
	core.log(stream == 2 and 'Error' or 'Normal', prefix .. line)
end

function runner.signal(name)
	if name == 'USR1' then
		scheduler.statusNow()
		return
	end
	if fading then return end
	if name == 'HUP' then return runner.checkNewConfig() end
	runner.fade(name)
end

-- Winds down for an exit (TERM, INT): children finish, then the cycle
-- terminates.
function runner.fade(name)
	if fading then return end
	log('Normal', '--- ', name, ' signal, fading ---')
	core.notify('STOPPING=1')
	fading = name
	fadeStart = core.now()
end

-- HUP: the config is loaded by a child of ours first (-checkconfig), so a
-- config that hangs or exits cannot take the daemon with it; only a config
-- that loads is then applied, in place (runner.reloadConfig). One with an
-- error is logged (file:line) and shown in the service manager's status,
-- and the daemon goes on with the config it runs.
function runner.checkNewConfig()
	if not runner.configPath then
		log('Normal', '--- HUP signal: the syncs come from the command line, nothing to reload ---')
		return
	end
	if checking then return end          -- a HUP while one is checked: that one counts
	log('Normal', '--- HUP signal: checking ', runner.configPath, ' before reloading ---')
	core.notify('RELOADING=1')
	local pid, err = core.spawn({ '/proc/self/exe', '-checkconfig', runner.configPath })
	if not pid then
		log('Error', 'HUP: cannot check the new config (', tostring(err), '); loading it as asked')
		return startup.reloadConfig()
	end
	checking = { pid = pid, lines = {} }
end

-- The check of a new config ended: apply it, or keep the running config.
function runner.configChecked(code)
	local lines = checking.lines
	checking = nil
	if code == 0 then return startup.reloadConfig() end
	startup.reloadFailed(table.concat(lines, ' '))
end

function runner.cycle(now)
	if fading then
		if procs.running() == 0 or now - fadeStart > 30 then
			state.commit()           -- what was recorded since the last commit
			core.terminate(fading == 'INT' and 130 or 143)
		end
		return
	end
	scheduler.cycle(now)
end

function runner.getAlarm()
	if fading then return procs.running() == 0 and true or (fadeStart + 30) end
	return scheduler.getAlarm()
end

hooks.inotifyEvent, hooks.dirWanted, hooks.treeWanted = runner.inotifyEvent, runner.dirWanted,
	runner.treeWanted

return runner
