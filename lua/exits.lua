-- exits.lua: a child of a sync ended: its exit is judged (by the sync's
-- collect), its delays are released or retried with back-off, paths that
-- failed alone (rsync exit 23) are parked; a Lua error in a sync's config
-- stays with that sync.

local config = require 'config'
local events = require 'events'
local procs = require 'procs'
local syncset = require 'syncset'
local rsyncOutput = require 'rsync_output'
local log = require('log').log
local exit = require 'exit'
local state = require 'state'

local M = {}

-- Back-off before a retry: exponential from max(delay, 1) s up to a cap
-- (settings maxBackoff, default 300 s), with +-25% jitter so many slaves
-- that failed together do not retry in lockstep.
local function retryAlarm(s, now)
	local base = math.max(s:delaySeconds() or 0, 1)
	local cap = config.settings.maxBackoff or 300
	local wait = math.min(cap, base * 2 ^ math.max(0, s:failureCount() - 1))
	return now + wait * (0.75 + 0.5 * math.random())
end

-- Notes a failure or success of sync s (p: the transfer), logging only
-- changes of state.
local function judged(s, rc, code, p)
	if rc == 'again' then
		if s:failed() == 1 then
			local e = p and p.stderr
			log('Error', s.name, ': transfer to ', s:target() or '?', ' failed (exit code ',
				code, e and e[#e] and (': ' .. e[#e]) or '', '); retrying with back-off')
			core.notify('STATUS=' .. syncset.statusLine())
		end
	elseif rc == 'ok' then
		local before = s:succeeded(#p.delays)
		if before > 0 then
			log('Normal', s.name, ': ', s:target() or '?', ' is back after ', before,
				' failed attempt(s)')
			core.notify('STATUS=' .. syncset.statusLine())
		end
	end
end

-- The paths of transfer p that had failed before and went through now (all
-- but those in failing, a set) are back: logged once each.
local function recoveredAll(s, p, failing)
	for _, d in ipairs(p.delays) do
		for _, path in ipairs { d.path, d.path2 } do
			local n = path and not (failing and failing[path]) and s:recovered(path)
			if n then log('Normal', s.name, ': ', path, ' transferred after ', n, ' failed attempt(s)') end
		end
	end
end

-- After a partial transfer (rsync exit 23) the paths rsync named as failed
-- wait with a back-off of their own (Sync:park) and are tried again until
-- they go through, never silently left behind; the log says once that a
-- path fails and once that it is back. When rsync named no source path
-- (the target refused everything, say) nothing can be parked: returns
-- false and the whole transfer is retried; else the parked paths (the
-- state waits for them before a startup transfer counts: lua/state.lua). whole: the log's name of a
-- transfer of the whole tree (startup, re-scan, Full), nil for a list.
function M.partial(s, p, now, whole)
	local again = rsyncOutput.failedPaths(s, p)
	if not whole then
		-- only what this transfer was for: an error about a parent directory's
		-- attributes (its rule comes with every path below it) is not a path
		-- of this list, and would otherwise be retried with each of them
		local mine, dirs = {}, {}
		for _, d in ipairs(p.delays) do
			for _, path in ipairs { d.path, d.path2 } do
				if path then
					mine[(path:gsub('/$', ''))] = true
					if d.isdir then dirs[#dirs + 1] = path end
				end
			end
		end
		local keep = {}
		for _, rel in ipairs(again) do
			local ok = mine[(rel:gsub('/$', ''))]
			for _, dir in ipairs(dirs) do
				if not ok and rel:sub(1, #dir) == dir then ok = true end
			end
			if ok then keep[#keep + 1] = rel end
		end
		again = keep
	end
	if #again == 0 and whole then return false end
	if #again == 0 then
		-- nothing we could read: retry every path of the list
		for _, d in ipairs(p.delays) do
			if d.path ~= '' then again[#again + 1] = d.path end
			if d.path2 then again[#again + 1] = d.path2 end
		end
	end
	local base = math.max(s:delaySeconds() or 0, 1)
	local cap = config.settings.maxBackoff or 300
	local created = p.delays[1] and p.delays[1].created or now
	local new, failing = {}, {}
	for _, rel in ipairs(again) do
		failing[rel] = true
		if s:park(rel, now, base, cap, created) == 1 then new[#new + 1] = rel end
	end
	recoveredAll(s, p, failing)
	if #new > 0 then
		log('Warn', s.name, ': ', #new, ' path(s) could not be transferred (rsync exit 23), ',
			'retrying each with back-off: ', table.concat(new, ', ', 1, math.min(#new, 10)),
			#new > 10 and ', ...' or '')
	end
	if whole then
		log('Normal', whole, ' of ', s.source, ' -> ', s:target() or '?', ' done except ',
			#again, ' path(s) that failed and are retried')
	end
	return again
end

-- Calls the function `what` of sync s's config (init, action, collect): a
-- Lua error in it (a user's onModify indexing nil, say) is logged with its
-- traceback and stays with this sync: returns ok, and the result or nil.
local function guarded(s, what, ...)
	local ok, res = exit.pass(xpcall(s:handler(what), debug.traceback, ...))
	if ok then return true, res end
	M.luaError(s, what, res)
	return false
end

M.guarded = guarded

-- How many Lua errors in a row stop a sync (state "error").
local MAX_LUA_ERRORS = 5

-- A Lua error in one sync's config: the sync backs off and tries again;
-- after MAX_LUA_ERRORS in a row it stops with state "error", while the
-- daemon and the other syncs go on.
function M.luaError(s, what, msg)
	local now = core.now()
	local n = s:luaFailed()
	log('Error', s.name, ': Lua error in ', what, ' (', n, ' in a row): ', tostring(msg))
	if n >= MAX_LUA_ERRORS then
		syncset.stopSync(s, 'a Lua error ' .. n .. ' times in a row', tostring(msg):match('^[^\n]*'))
		return
	end
	s:failed()
	s:pause(retryAlarm(s, now))
end

-- A child of an event or list ended (pid, its exit code or the signal that
-- ended it): judge it and release or re-queue its delays. fading: the
-- daemon winds down (its children's ends are not judged).
function M.collect(pid, code, signo, fading)
	local p = procs.take(pid)
	if not p then return end
	local s = p.sync
	local now = core.now()
	local rc, parked
	local etype = p.delays[1] and p.delays[1].etype
	local isInit = etype == 'Init'
	-- a transfer of the whole tree, by the name the log gives it
	local whole = etype == 'Full' and 'Full transfer'
		or isInit and (s:isStartedUp() and 'Full re-scan' or 'Startup') or nil
	if signo and signo ~= 0 then
		log('Error', s.name, ': child ', pid, ' was killed by signal ', signo)
		if isInit and not config.settings.insist then
			log('Error', 'Failure on startup of ', s.source, '.')
			core.terminate(255)
		end
		rc = 'again'
	elseif fading then
		rc = 'ok'
		exit.pass(pcall(s:handler('collect'), p.agent, code))
	else
		local ok
		ok, rc = guarded(s, 'collect', p.agent, code)
		if not ok then
			if s:isStopped() then return end
			rc = 'again'
		end
	end
	if rc == 'die' then
		syncset.stopSync(s, code)
		return
	end
	-- exit 23 (some paths failed): those paths retry on their own; a
	-- startup transfer is never called finished while paths of it failed
	local _, _, isList = events.resolve(p.agent)
	if code == 23 and not fading and (not signo or signo == 0) and rc ~= 'die'
	and (whole or isList) then
		parked = M.partial(s, p, now, whole)
		rc = parked and 'ok' or 'again'
	elseif rc == 'ok' then
		recoveredAll(s, p)
	end
	judged(s, rc, signo ~= 0 and ('signal ' .. signo) or code, p)
	-- a transfer that failed as a whole holds the slave until its back-off
	-- ends: its paths and everything queued after them (a queue over
	-- maxDelays is ready at once: without the hold, each batch of it would
	-- be tried and fail in turn, a storm of failing rsyncs)
	local alarm = rc == 'again' and not s:isRemoved() and retryAlarm(s, now)
	if alarm then s:pause(math.max(s:pauseEnd() or 0, alarm)) end
	for _, d in ipairs(p.delays) do
		if alarm then
			s:retry(d, alarm)
		else
			s:removeDelay(d)
		end
	end
	state.collected(s, p, code, signo, parked)
	if isInit and rc ~= 'again' then
		s:startupDone()
		s:noteProgress(nil)
		syncset.checkStartup()
	end
end

return M
