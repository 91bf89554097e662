-- sync.lua: one sync{}: its config, filter, queue of delays, inlet and
-- running children; turns file system events into delays; its state
-- (failures and back-off, startup, stopped, counters for the status).
--
-- Other modules read three fields, which never change once built: name,
-- source (the real path, ending in '/') and inlet. Everything else is
-- this file's own and goes through the methods below.

local Delays = require 'delays'
local Filter = require 'filter'
local events = require 'events'
local config = require 'config'
local compat = require 'compat'

local Sync = {}
Sync.__index = Sync

-- Builds a sync from a merged config table (number n for its default name).
function Sync.new(cfg, n)
	local s = setmetatable({}, Sync)
	s.config = cfg
	s.name = cfg.name or ('Sync' .. n)
	local real, err = core.realpath(cfg.source)
	if not real then
		error('Cannot access source directory: ' .. cfg.source .. ' (' .. tostring(err) .. ')', 0)
	end
	local st = core.lstat(real)
	if not st or st.type ~= 'directory' then
		error('Source is not a directory: ' .. cfg.source, 0)
	end
	cfg._source = cfg.source
	s.source = real:sub(-1) == '/' and real or real .. '/'
	cfg.source = s.source
	s.filter = Filter.new()
	local ex = cfg.exclude
	if type(ex) == 'string' then ex = { ex } end
	for _, p in ipairs(ex or {}) do s.filter:addExclude(p) end
	if cfg.excludeFrom then s.filter:loadExcludeFile(cfg.excludeFrom) end
	local fl = cfg.filter
	if type(fl) == 'string' then fl = { fl } end
	for _, l in ipairs(fl or {}) do s.filter:addFilter(l) end
	if cfg.filterFrom then s.filter:loadFilterFile(cfg.filterFrom) end
	-- default.rsync to an ssh slave: renames become `mv` on the slave
	-- (lsyncd sends them as a delete plus a full re-send)
	s.remoteMoves = not cfg.onMove and cfg.action == require('default_rsync').action
		and config.settings.moves ~= false and require('sshmux').sshOf(cfg) ~= nil
	-- Layer 2/3 handlers (functions or command strings) see every event as
	-- lsyncd 2.2 delivers them; the default layers get the full collapse table
	local userActions = false
	for _, k in ipairs { 'onCreate', 'onModify', 'onAttrib', 'onDelete' } do
		local t = type(cfg[k])
		if t == 'function' or t == 'string' then userActions = true end
	end
	s.delays = Delays.new {
		collapse = not userActions,
		splitMoves = not cfg.onMove and not s.remoteMoves,
	}
	-- default.rsync and default.rsyncssh send a new directory with all it
	-- holds (rsync's 'dir/***', when there are no excludes or filters): an
	-- event below a new directory whose transfer has not started yet is
	-- covered by it and not queued (a burst into new directories is then
	-- one rule per directory, not one per file, and nothing is sent twice)
	s.coversNewDirs = not userActions
		and (cfg.action == require('default_rsync').action
			or cfg.action == require('default_rsyncssh').action)
	s.processes = 0
	s.maxProcesses = cfg.maxProcesses or 1
	s.maxDelays = cfg.maxDelays or 1000
	s.delay = cfg.delay
	s.subdirs = cfg.subdirs ~= false
	s.inlet = events.inlet(s)
	cfg._inlet = s.inlet
	-- what the config did with sync{}'s result while it loaded
	compat.replayInlet(cfg, s.inlet)
	return s
end

-- The path relative to the sync root ('/a/f', dirs '/a/d/') or nil if
-- path lies outside it.
function Sync:relative(path, isdir)
	local root = self.source
	if path .. '/' == root then return nil end
	if path:sub(1, #root) ~= root then return nil end
	local rel = '/' .. path:sub(#root + 1)
	if isdir then rel = rel .. '/' end
	return rel
end

-- True if the sync cares about the relative path rel.
function Sync:concerns(rel)
	if not self.subdirs and rel:find('/', 2, true) and rel:find('/', 2, true) < #rel then
		return false
	end
	return not self.filter:isExcluded(rel)
end

-- True when every path below the source concerns the sync: no exclude or
-- filter, subdirectories taken (the start-up walk may then watch them all).
function Sync:concernsAll()
	return self.subdirs and not self.filter:hasFilters() and not self.filter:hasExcludes()
end

-- Alarm for an event at time now.
function Sync:alarmFor(now)
	if self.delay == nil then return now end
	return now + self.delay
end

-- Queues one event, remembering when the oldest change behind it happened.
function Sync:push(etype, rel, rel2, now)
	-- Init (startup and re-scans) is due at once; events wait their delay
	local alarm = etype == 'Init' and now or self:alarmFor(now)
	local d = self.delays:push(etype, rel, rel2, alarm)
	d.created = d.created or now
	return d
end

-- Queues the Init delay for the startup transfer.
function Sync:addInit(now)
	if self.config.init then self:push('Init', '', nil, now) end
end

-- Pushes Create events for everything below a directory that moved in
-- (only needed where rsync's "dir/***" cannot be used: excludes present).
function Sync:scanCreates(rel, now)
	local abs = self.source .. rel:sub(2)
	local entries = core.readdir(abs)
	if not entries then return end
	for name, isdir in pairs(entries) do
		local sub = rel .. name .. (isdir and '/' or '')
		if self:concerns(sub) then
			self:push('Create', sub, nil, now)
			if isdir then self:scanCreates(sub, now) end
		end
	end
end

-- Takes one file system event if it concerns this sync. rel and rel2 are
-- its paths made relative by Sync:relative (false: outside the sync).
function Sync:event(etype, isdir, rel, rel2, now)
	if etype == 'Move' then
		local c1 = rel and self:concerns(rel)
		local c2 = rel2 and self:concerns(rel2)
		if c1 and c2 then
			if not self.config.onMove and not self.remoteMoves then
				self:push('Delete', rel, nil, now)
				self:push('Create', rel2, nil, now)
				if isdir and self:needsScan() then self:scanCreates(rel2, now) end
			else
				-- the queue splits a move that touches queued events into
				-- Delete + Create: a directory's content then needs its events
				local d = self:push('Move', rel, rel2, now)
				if isdir and d and d.etype == 'Create' and self:needsScan() then
					self:scanCreates(rel2, now)
				end
			end
			return
		elseif c1 then
			etype, rel = 'Delete', rel
		elseif c2 then
			etype, rel = 'Create', rel2
			if isdir and self:needsScan() then
				self:push('Create', rel, nil, now)
				self:scanCreates(rel, now)
				return
			end
		else
			return
		end
	end
	if not rel or not self:concerns(rel) then return end
	if self:coveredByNewDir(rel) then return end
	self:push(etype, rel, nil, now)
end

-- True when an event on rel needs no transfer of its own: a directory above
-- it (inclusive: or rel itself, a directory) has a queued Create, not
-- started yet, that this sync sends with all it holds. Its transfer is
-- spawned after now and reads rel as it is then.
function Sync:coveredByNewDir(rel, inclusive)
	return self:sendsNewDirsWhole() and self.delays:underNewDir(rel, inclusive)
end

-- True when a new directory goes in one transfer with all it holds.
function Sync:sendsNewDirsWhole()
	return self.coversNewDirs and not self:needsScan()
end

-- True when a directory's content must arrive as single events.
function Sync:needsScan()
	local r = self.config.rsync
	if type(r) ~= 'table' or not r._computed then return true end
	return self.filter:hasFilters() or self.filter:hasExcludes()
end

-- The first delay ready to be handled now, or nil.
function Sync:readyDelay(now)
	return self.delays:nextReady(now or core.now(), self.maxDelays)
end

-- Paths whose transfer failed on their own (rsync exit 23: unreadable,
-- vanished parent, ...) wait outside the queue, each with its own back-off
-- (base * 2^(n-1) after n failures, capped, +-25 % jitter), so one bad file
-- neither holds the queue nor is retried every cycle. Returns n.
function Sync:park(path, now, base, cap, created)
	local f = self.pathFailures
	if not f then f = {}; self.pathFailures = f end
	local n = (f[path] or 0) + 1
	f[path] = n
	local wait = math.min(cap, base * 2 ^ (n - 1)) * (0.75 + 0.5 * math.random())
	self.parked = self.parked or {}
	local old = self.parked[path]
	self.parked[path] = { alarm = now + wait, created = old and old.created or created or now }
	return n
end

-- Queues the parked paths whose back-off is over (as Modify events).
function Sync:unpark(now)
	local parked = self.parked
	if not parked or not next(parked) then return end
	for path, e in pairs(parked) do
		if e.alarm <= now then
			parked[path] = nil
			-- a directory that failed goes again with all it holds
			local isdir = path:sub(-1) == '/'
			local d = self.delays:push(isdir and 'Create' or 'Modify', path, nil, now)
			if not d.created or d.created > e.created then d.created = e.created end
			if isdir and self:needsScan() then self:scanCreates(path, now) end
		end
	end
end

-- The earliest back-off end of a parked path, or nil.
function Sync:nextParked()
	local best
	for _, e in pairs(self.parked or {}) do
		if not best or e.alarm < best then best = e.alarm end
	end
	return best
end

-- Changes not yet on the slave: queued and parked; the oldest one's time.
function Sync:pending()
	local first = self.delays:first()
	local n, oldest = self.delays:count(), first and first.created
	for _, e in pairs(self.parked or {}) do
		n = n + 1
		if not oldest or e.created < oldest then oldest = e.created end
	end
	return n, oldest
end

-- A path that had failed went through: forgets its failures; returns how
-- many there were (nil: it had not failed).
function Sync:recovered(path)
	local f = self.pathFailures
	local n = f and f[path]
	if n then f[path] = nil end
	return n
end

-- The delays one batch may take now, in queue order: none active, none
-- waiting for an active one or for one that test(d) turned away.
function Sync:readyList(test)
	return self.delays:collect(test)
end

-- Drops a delay (finished or discarded).
function Sync:removeDelay(d)
	self.delays:remove(d)
end

-- Queues a barrier (Blanket, Full) due at alarm, as a config's inlet asks.
function Sync:pushBarrier(etype, alarm)
	return self.delays:push(etype, '', nil, alarm)
end

-- True when delay d is queued and waits (not active, not removed).
function Sync:waits(d) return Delays.waits(d) end

-- The delays of a child just spawned are active.
function Sync:activate(list) self.delays:activate(list) end

-- Puts a delay whose child failed back into the queue, due at alarm.
function Sync:retry(d, alarm) self.delays:retry(d, alarm) end

-- True when an Init/Blanket/Full is queued (orActive: or running).
function Sync:hasQueued(etype, orActive) return self.delays:hasQueued(etype, orActive) end

-- Iterates the queued delays in arrival order.
function Sync:eachDelay() return self.delays:each() end

-- How many delays are queued.
function Sync:queueSize() return self.delays:count() end

-- When the queue next has something due (nil: nothing; true: at once).
function Sync:nextAlarm() return self.delays:nextAlarm(self.maxDelays) end

-- The slave is back: what waits for a retry is due now.
function Sync:hurry(now) self.delays:hurry(now) end

-- The sync stops: what is queued and not running is dropped.
function Sync:dropWaiting() self.delays:dropWaiting() end

-- ---- what others ask of a sync ----

-- The config of sync{} as merged (what configs see as inlet.getConfig()).
function Sync:getConfig() return self.config end

-- The target as the config names it (nil for default.rsyncssh, which has
-- host and targetdir).
function Sync:target() return self.config.target end

-- True when the sync has a startup transfer (its layer has an init).
function Sync:hasInit() return self.config.init and true or false end

-- The layer's function `what` ('init', 'action', 'collect') of the config.
function Sync:handler(what) return self.config[what] end

-- The sync's excludes and filters (lua/filter.lua).
function Sync:getFilter() return self.filter end

-- The config's delay (seconds; nil: none).
function Sync:delaySeconds() return self.delay end

-- True when renames go to the slave as `mv` (default.rsync to ssh).
function Sync:movesOnSlave() return self.remoteMoves end

-- True when the sync's layer is default.rsync or default.rsyncssh without
-- handlers of the config's own: a new directory is sent with all it holds.
function Sync:coversNewDirectories() return self.coversNewDirs end

-- Queues an event due at once (a pending path of the state store, a
-- startup's replacement); returns its delay.
function Sync:pushDue(etype, rel, now)
	local d = self.delays:push(etype, rel, nil, now)
	d.created = d.created or now
	return d
end

-- ssh to the slave ({ binary, args, dest }, for commands run there) and
-- the ssh master its transfers go through (lua/sshmux.lua), or nil.
function Sync:useSsh(ssh, master) self.ssh, self.mux = ssh, master end
function Sync:sshCommand() return self.ssh end
function Sync:master() return self.mux end

-- Children: one started, one ended; how many run; room for one more.
function Sync:childStarted() self.processes = self.processes + 1 end
function Sync:childEnded() self.processes = self.processes - 1 end
function Sync:processCount() return self.processes end
function Sync:hasRoom() return self.processes < self.maxProcesses end

-- A transfer failed as a whole: returns the failures in a row.
function Sync:failed()
	self.failures = (self.failures or 0) + 1
	return self.failures
end

-- A transfer of n events went through: returns the failures in a row
-- before it (0: none).
function Sync:succeeded(n)
	local before = self.failures or 0
	self.failures = 0
	self.luaErrors = 0
	self.lastSuccess = core.time()
	self.eventsDone = (self.eventsDone or 0) + n
	return before
end

-- Failed transfers in a row.
function Sync:failureCount() return self.failures or 0 end

-- A Lua error in the config's functions: returns the errors in a row.
function Sync:luaFailed()
	self.luaErrors = (self.luaErrors or 0) + 1
	return self.luaErrors
end

-- Nothing is started before time t (a back-off; nil: no pause).
function Sync:pause(t) self.pausedUntil = t end
function Sync:pauseEnd() return self.pausedUntil end
function Sync:isPaused(now) return self.pausedUntil ~= nil and self.pausedUntil > now end

-- Held: nothing of the queue runs (lua/tempsweep.lua sweeps the slave first).
function Sync:hold(on) self.held = on or nil end
function Sync:isHeld() return self.held ~= nil end

-- The sync stops (its config cannot work; errorLine: a Lua error's first
-- line, the status's "error"): what waits is dropped, its startup counts
-- as over.
function Sync:stop(errorLine)
	self.stopped = true
	if errorLine then self.error = errorLine end
	self:dropWaiting()
	self.initDone = true
end

function Sync:isStopped() return self.stopped == true end

-- The first line of the Lua error that stopped the sync, or nil.
function Sync:errorLine() return self.error end

-- A reload dropped the sync: what waits is dropped, what runs finishes.
function Sync:retire()
	self.removed = true
	self:dropWaiting()
end

function Sync:isRemoved() return self.removed == true end

-- The startup transfer (or what stood for it) is over.
function Sync:startupDone() self.initDone = true end
function Sync:isStartedUp() return self.initDone == true end

-- True while the startup transfer the sync has is not over.
function Sync:awaitingStartup()
	return self.config.init and not self.initDone and true or false
end

-- The startup transfer's progress (rsync --info=progress2, as
-- lua/rsync_output.lua reads it): keeps report (nil: forget it); returns
-- true when a log line is due, every `interval` s from the first report.
function Sync:noteProgress(report, now, interval)
	self.progress = report
	if not report then self.progressLogged = nil; return false end
	if not self.progressLogged then
		self.progressLogged = now
		return false
	end
	if now - self.progressLogged < interval then return false end
	self.progressLogged = now
	return true
end

function Sync:progressReport() return self.progress end

-- rsync's --stats of a transfer: files and bytes sent.
function Sync:countSent(files, bytes)
	self.filesSent = (self.filesSent or 0) + (files or 0)
	self.bytesSent = (self.bytesSent or 0) + (bytes or 0)
end

-- The counters of the status outputs.
function Sync:report()
	return { lastSuccess = self.lastSuccess or 0, eventsDone = self.eventsDone or 0,
		filesSent = self.filesSent or 0, bytesSent = self.bytesSent or 0,
		failures = self.failures or 0, processes = self.processes, progress = self.progress }
end

return Sync
