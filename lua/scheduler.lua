-- scheduler.lua: what is due when: which sync runs what (round robin, the
-- caps on children, back-off pauses, ssh masters), user alarms, periodic
-- re-scans while out of watches, the watchdog, the status outputs; and when
-- the engine must wake the runner next.

local config = require 'config'
local events = require 'events'
local procs = require 'procs'
local syncset = require 'syncset'
local exits = require 'exits'
local userenv = require 'userenv'
local status = require 'status'
local sshmux = require 'sshmux'
local deadline = require 'deadline'
local log = require('log').log
local state = require 'state'

local M = {}

local rr = 0              -- round-robin start among the syncs
local nextStatus = 0
local degraded, nextRescan
local watchdog, nextWatchdog

local die = require('log').die

-- The global cap on children (settings{maxProcesses}), or nil.
local function globalMax() return config.settings.maxProcesses end

-- The status outputs are rewritten at the next cycle (USR1, a reload).
function M.statusNow() nextStatus = 0 end

-- systemd's watchdog (WatchdogSec=): a keep-alive every `interval` s from now.
function M.startWatchdog(interval, now)
	watchdog, nextWatchdog = interval, now
end

-- A full re-scan of every sync (after an inotify overflow).
local function rescanAll(now)
	local syncs = syncset.all()
	for _, s in ipairs(syncs) do
		if s:hasInit() then s:push('Init', '', nil, now) end
	end
end

M.rescanAll = rescanAll

-- Out of inotify watches: by default keep syncing, degraded: the error
-- names the sysctl (logged by the engine), the status says "degraded" with
-- the count of unwatched directories, and every sync is re-scanned
-- (a full rsync) every rescanInterval seconds so nothing stays stale.
-- settings{ outOfWatches = 'exit' } makes it fatal instead.
function M.outOfWatches(where)
	if config.settings.outOfWatches == 'exit' then
		die('Terminating since out of inotify watches (' .. where .. ').'
			.. ' Raise fs.inotify.max_user_watches.')
	end
	local _, unwatched = core.watchCount()
	if not degraded then
		log('Error', 'Out of inotify watches: ', unwatched, ' directories below ', where,
			' are not watched. Continuing DEGRADED: every sync is re-scanned every ',
			config.settings.rescanInterval or 60, ' s until fs.inotify.max_user_watches is',
			' raised and the daemon reloaded (HUP).')
	end
	degraded = true
	nextRescan = nextRescan or (core.now() + (config.settings.rescanInterval or 60))
end

-- A periodic full re-scan while degraded.
local function rescanDue(now)
	local syncs = syncset.all()
	if not degraded or now < nextRescan then return end
	nextRescan = now + (config.settings.rescanInterval or 60)
	for _, s in ipairs(syncs) do
		if s:hasInit() and not s:isStopped() and not s:hasQueued('Init', true) then
			s:push('Init', '', nil, now)
		end
	end
end

-- Runs what one sync can run now.
local function runSync(s, now)
	if s:isStopped() or s:isHeld() then return end
	local cap = globalMax()
	local mux = s:master()
	while s:hasRoom() and (not cap or procs.running() < cap) do
		if s:isPaused(now) then return end
		if mux and not sshmux.ready(mux, now) then return end
		s:unpark(now)
		local d = s:readyDelay(now)
		if not d then return end
		local ok
		if d.etype == 'Init' then
			ok = exits.guarded(s, 'init', events.event(s, d))
		else
			ok = exits.guarded(s, 'action', s.inlet)
		end
		if not ok then return end
		if s:waits(d) and s:readyDelay(now) == d then
			-- the action neither spawned for nor discarded it: don't spin
			s:pause(now + 1)
			return
		end
	end
end

-- Does what is due at time now.
function M.cycle(now)
	local syncs = syncset.all()
	state.cycle(now)
	while procs.hasFailed() do exits.collect(procs.nextFailed(), 255, 0) end
	userenv.runAlarms(now)
	rescanDue(now)
	deadline.tick(now, log)
	if watchdog and now >= nextWatchdog then
		core.notify('WATCHDOG=1')
		nextWatchdog = now + watchdog
	end
	syncset.sweep(sshmux.prune)
	sshmux.tick(now, procs.spawnService, syncset.linkBack)
	local n = #syncs
	for k = 1, n do
		local s = syncs[(rr + k - 1) % n + 1]
		runSync(s, now)
	end
	rr = rr + 1
	local st = config.settings
	if (st.statusFile or st.jsonStatusFile or st.metricsFile) and now >= nextStatus then
		M.writeStatus()
		nextStatus = now + (st.statusInterval or 10)
	end
end

-- When the next cycle is due: a time, true (at once) or false (nothing
-- waits for the clock).
function M.getAlarm()
	local syncs = syncset.all()
	if procs.hasFailed() then return true end
	local best = userenv.nextAlarm()
	local mux = sshmux.nextAlarm(core.now())
	if mux and (not best or mux < best) then best = mux end
	if degraded and (not best or nextRescan < best) then best = nextRescan end
	local dl = deadline.nextAlarm()
	if dl and (not best or dl < best) then best = dl end
	local sc = state.nextAlarm()
	if sc and (not best or sc < best) then best = sc end
	if watchdog and (not best or nextWatchdog < best) then best = nextWatchdog end
	local cap = globalMax()
	for _, s in ipairs(syncs) do
		local m = s:master()
		if s:hasRoom() and (not cap or procs.running() < cap) and not s:isStopped() and not s:isHeld()
		and (not m or sshmux.ready(m, core.now())) then
			local a = s:nextAlarm()
			if a == true then a = core.now() end
			local pk = s:nextParked()
			if pk and (not a or pk < a) then a = pk end
			local pause = s:pauseEnd()
			if a and pause and a < pause then a = pause end
			if a and (not best or a < best) then best = a end
		end
	end
	local st = config.settings
	if (st.statusFile or st.jsonStatusFile or st.metricsFile)
	and (not best or nextStatus < best) then best = nextStatus end
	return best or false
end

-- Rewrites every status output that is configured.
function M.writeStatus()
	local syncs = syncset.all()
	local st = config.settings
	if st.statusFile then status.write(st.statusFile, syncs) end
	if st.jsonStatusFile or st.metricsFile then
		local snap = status.snapshot(syncs)
		if st.jsonStatusFile then status.writeJson(st.jsonStatusFile, snap) end
		if st.metricsFile then status.writeMetrics(st.metricsFile, snap) end
	end
end

return M
