-- default.lua: the `default` table configs inherit from: the generic
-- action, init, collect and prepare (key checking), exit-code tables.

local config = require 'config'
local syncset = require 'syncset'

local default = {}

default._merge = {
	action = true, checkgauge = true, collect = true, delay = true, init = true,
	maxDelays = true, maxProcesses = true, prepare = true,
}
default.maxDelays = 1000
default.maxProcesses = 1
default.statusInterval = 10

-- Keys every sync may have (lsyncd's, plus name/monitor/subdirs which real
-- configs carry and lsyncd-ng accepts everywhere).
default.checkgauge = {
	action = true, checkgauge = true, collect = true, delay = true, exitcodes = true,
	init = true, maxDelays = true, maxProcesses = true, onAttrib = true,
	onCreate = true, onModify = true, onDelete = true, onStartup = true,
	onMove = true, prepare = true, source = true, target = true,
	name = true, monitor = true, subdirs = true, onFull = true, full = true,
	crontab = true, startup = true,
}

default.rsyncExitCodes = {
	_merge = false, _verbatim = true,
	[0] = 'ok', [1] = 'die', [2] = 'die', [3] = 'again', [4] = 'die', [5] = 'again',
	[6] = 'again', [10] = 'again', [11] = 'again', [12] = 'again', [14] = 'again',
	[20] = 'again', [21] = 'again', [22] = 'again', [23] = 'ok', [24] = 'ok',
	[25] = 'die', [30] = 'again', [35] = 'again', [255] = 'again',
}

default.sshExitCodes = {
	_merge = false, _verbatim = true,
	[0] = 'ok', [255] = 'again',
}

local log = require('log').log

-- Checks every key of t against gauge; prefix names nested keys.
local function checkKeys(t, gauge, prefix)
	for k, v in pairs(t) do
		if type(k) == 'string' and k:sub(1, 1) ~= '_' then
			local g = gauge[k]
			if not g then
				error('Parameter "' .. prefix .. k .. '" unknown.' .. config.suggest(k, gauge)
					.. ' ( if this is not a typo add it to checkgauge )', 0)
			end
			if type(g) == 'table' and type(v) == 'table' then
				checkKeys(v, g, prefix .. k .. '.')
			end
		end
	end
end
default.checkKeys = checkKeys

-- Validates a merged sync config against its checkgauge.
function default.prepare(cfg, level)
	local gauge = cfg.checkgauge
	if type(gauge) ~= 'table' then return end
	checkKeys(cfg, gauge, '')
	if cfg.crontab ~= nil then require('cron').check(cfg.crontab) end
end

-- Calls on<Etype> for the next ready event; discards what nobody took.
function default.action(inlet)
	local ev, ev2 = inlet.getEvent()
	if not ev then return end
	local cfg = inlet.getConfig()
	local fn = cfg['on' .. ev.etype]
	if type(fn) == 'function' then fn(ev, ev2) end
	if ev.status == 'wait' then inlet.discardEvent(ev) end
end

-- Runs onStartup for the Init event, or drops it.
function default.init(event)
	local cfg = event.config
	local inlet = event.inlet
	if type(cfg.onStartup) == 'function' then cfg.onStartup(event) end
	if event.status == 'wait' then inlet.discardEvent(event) end
end


-- Judges a child's exit code: 'ok', 'again' or 'die'. exitcodes: the table
-- to judge by (a layer with two kinds of children: rsync's codes or ssh's),
-- else the config's exitcodes.
function default.collect(agent, exitcode, exitcodes)
	local cfg = agent.config
	local rc
	exitcodes = exitcodes or cfg.exitcodes
	if type(exitcodes) == 'table' then
		rc = exitcodes[exitcode]
	elseif exitcode == 0 then
		rc = 'ok'
	else
		rc = 'die'
	end
	if rc == nil then
		log('Error', 'Unknown exitcode ', exitcode, '.')
		rc = 'die'
	end
	-- every line about a slave names it (the sync's name holds its target)
	local who = agent.inlet.getSync().name .. ': '
	if agent.isList then
		if rc == 'ok' then
			log('Normal', who, 'Finished a list after exitcode: ', exitcode)
		elseif rc == 'again' then
			log('Normal', who, 'Retrying a list after exitcode: ', exitcode)
		else
			log('Error', who, 'Failure on list with exitcode: ', exitcode)
		end
		return rc
	end
	if agent.etype == 'Init' or agent.etype == 'Full' then
		local target = cfg.target or ((cfg.host or '') .. ':' .. (cfg.targetdir or ''))
		-- an Init after the startup is a re-scan (overflow, out of watches);
		-- a Full is a crontab's full transfer: judged alike
		local what = agent.etype == 'Full' and 'Full transfer'
			or agent.sync:isStartedUp() and 'Full re-scan' or 'Startup'
		if exitcode == 23 then
			-- some paths failed: not finished (the runner retries them)
			log('Error', what, ' of ', agent.source, ' -> ', target, ' incomplete: some paths',
				' could not be transferred (exit code 23)')
			return 'again'
		end
		if rc == 'ok' then
			log('Normal', what, ' of ', agent.source, ' -> ', target, ' finished.')
			return 'ok'
		elseif rc == 'again' and (config.settings.insist or syncset.othersAlive()) then
			-- with insist, or when other syncs run (one dead slave must not
			-- take the others down), the startup is retried with back-off
			log('Normal', 'Retrying startup of ', agent.source, ' -> ', target, ': ', exitcode)
			return 'again'
		end
		log('Error', 'Failure on startup of ', agent.source, ' -> ', target,
			' (exitcode ', exitcode, ')')
		if rc == 'die' and syncset.othersAlive() then return 'die' end
		core.terminate(-1)
	end
	if rc == 'ok' then
		log('Normal', who, 'Finished ', agent.etype, ' on ', agent.sourcePath, ' = ', exitcode)
	elseif rc == 'again' then
		log('Normal', who, 'Retrying ', agent.etype, ' on ', agent.sourcePath, ' = ', exitcode)
	else
		log('Error', who, 'Failure on ', agent.etype, ' on ', agent.sourcePath, ' = ', exitcode)
	end
	return rc
end

return default
