-- userenv.lua: the globals a config sees (lsyncd's API: settings, sync,
-- default, spawn, spawnShell, log, terminate, now, alarm, readdir, ...),
-- timestamps, user alarms, and the Lua 5.2/5.3 shims configs rely on.

local config = require 'config'
local default = require 'default'

local M = {}

local timestamp = require 'timestamp'
local ts, val = timestamp.new, timestamp.value
M.timestamp = ts
M.log = require('log').log

-- ---- user alarms ----
local alarms = {}   -- sorted by time: { t=, fn=, extra= }

local function alarm(when, fn, extra)
	local t = val(when)
	local a = { t = t, fn = fn, extra = extra }
	local i = #alarms + 1
	while i > 1 and alarms[i - 1].t > t do i = i - 1 end
	table.insert(alarms, i, a)
end

function M.runAlarms(now)
	while alarms[1] and alarms[1].t <= now do
		local a = table.remove(alarms, 1)
		a.fn(ts(a.t), a.extra)
	end
end

function M.nextAlarm()
	return alarms[1] and alarms[1].t or nil
end

-- ---- Full events (lsyncd 2.3: crontab, inlet.createFullEvent) ----
-- A Full event goes to config.full when there is one (the rsync family:
-- its full transfer, as lsyncd 2.3's rsync.full), else to the action.
-- Without this a Full event queued on a default.rsync sync would never be
-- taken (its action leaves barriers alone) and block the sync for good.
local function dispatchFull(cfg)
	if cfg.full == nil and cfg.init == require('default_rsync').init then cfg.full = cfg.init end
	local action, full = cfg.action, cfg.full
	if type(full) ~= 'function' or type(action) ~= 'function' then return end
	cfg.action = function(inlet)
		local s = inlet.getSync()
		local d = s:readyDelay()
		if d and d.etype == 'Full' then return full(require('events').event(s, d)) end
		return action(inlet)
	end
end

-- crontab = { rules }: Full events at the times the rules name.
local function armCrontab(cfg)
	local ok, err = pcall(require('cron').arm, cfg, alarm)
	if not ok then
		core.log('Error', (cfg._where or '') .. tostring(err))
		core.terminate(255)
	end
end

-- ---- layer 3: string commands become functions ----
-- (called once per sync when the daemon builds it; also routes its Full
-- events and arms its crontab)
function M.translateLayer3(cfg)
	local layer3 = require 'layer3'
	for _, k in ipairs { 'onAttrib', 'onCreate', 'onDelete', 'onModify', 'onMove', 'onStartup' } do
		if type(cfg[k]) == 'string' then cfg[k] = layer3.translate(cfg[k]) end
	end
	if cfg._inlet then
		dispatchFull(cfg)
		if cfg.crontab ~= nil then armCrontab(cfg) end
	end
end

-- Installs the config globals (lsyncd's API for configs).
function M.install()
	local G = _G
	G.settings = config.settingsObject
	G.sync = config.syncFunc
	G.default = default
	default.rsync = require 'default_rsync'
	default.rsyncssh = require 'default_rsyncssh'
	default.direct = require 'default_direct'
	local procs = require 'procs'
	G.spawn = procs.spawn
	G.spawnShell = procs.spawnShell
	G.log = M.log
	G.terminate = function(code) core.terminate(code or 0) end
	G.now = function() return ts(core.now()) end
	G.alarm = alarm
	G.readdir = function(path) return core.readdir(path) end
	G.observefd = function() error('observefd is not supported by lsyncd-ng', 2) end
	G.nonobservefd = G.observefd
	function string.starts(s, prefix) return s:sub(1, #prefix) == prefix end
	function string.ends(s, suffix) return suffix == '' or s:sub(-#suffix) == suffix end
	table.unpack = table.unpack or unpack
	table.pack = table.pack or function(...) return { n = select('#', ...), ... } end
	-- lsyncd 2.3 exposes its core as `lsyncd`; configs call a few of these.
	G.lsyncd = {
		log = function(cat, msg) core.log(cat, msg) end,
		now = G.now, readdir = G.readdir, realdir = core.realpath,
		terminate = G.terminate, kill = core.kill,
		splitQuotedString = require('cli').splitQuoted,
	}
end

return M
