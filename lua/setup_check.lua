-- setup_check.lua: lsyncd-ng -check CONFIG: the config is loaded and its
-- syncs built (no syncing); every slave is checked (setup_slave), one line
-- each, ✔ or ✘ with the fix; then the directories of the daemon's files.

local slaves = require 'setup_slave'
local say = require('setup_tty').say
local quote = require('shquote').quote

local M = {}

-- The slave a built sync reaches: a table for checkSlave, or a local dir,
-- or nil with a note (rsync daemon targets are not checked).
local function slaveOfSync(s)
	local cfg = s:getConfig()
	local binary, args, dest = require('sshmux').sshOf(cfg)
	if binary then
		local dir = cfg.targetdir
		if not (cfg.host and type(cfg.ssh) == 'table') then
			dir = cfg.target:gsub('^[^:]*:', '', 1)
		end
		if dir ~= '/' then dir = dir:gsub('/+$', '') end
		if dir == '' then dir = '.' end
		return { ssh = binary, args = args or {}, dest = dest, dir = dir, key = slaves.optionOf(args or {}, '-i') }
	end
	local t = cfg.target or cfg.targetdir
	if type(t) ~= 'string' then return nil, 'no target to check' end
	if t:find('::') or t:find('^rsync://') then return nil, 'rsync daemon target, not checked' end
	if t:find('^[^/]*:') then return nil, 'remote target reached without ssh, not checked' end
	if t ~= '/' then t = t:gsub('/+$', '') end
	return { localDir = t }
end

-- syncs: the built Sync objects of the config. Returns the exit code.
function M.check(syncs, configPath)
	say('Checking ', configPath or 'the syncs', ': config loaded, ', #syncs,
		#syncs == 1 and ' sync' or ' syncs')
	local bad = 0
	for _, s in ipairs(syncs) do
		local slave, note = slaveOfSync(s)
		local label = s.name .. ' ' .. s.source:sub(1, -2) .. ' -> '
		local problems, good
		if not slave then
			say('• ', label, tostring(s:target() or s:getConfig().host), ': ', note)
			problems = {}
		elseif slave.localDir then
			problems, good = slaves.localProblems(slave.localDir)
			label = label .. slave.localDir
		else
			problems, good = slaves.checkSlave(slave)
			label = label .. slave.dest .. ':' .. slave.dir
		end
		if slave then
			if #problems == 0 then
				say('✔ ', label, ' (', table.concat(good, ', '), ')')
			else
				bad = bad + 1
				for i, p in ipairs(problems) do
					say(i == 1 and '✘ ' or '  ✘ ', i == 1 and (label .. ': ') or '', p.what)
					say('    fix: ', p.fix)
				end
			end
		end
	end
	-- the daemon opens these at start and refuses to run when it cannot
	local files = 0
	local settings = require('config').settings or {}
	for _, key in ipairs { 'logfile', 'statusFile', 'jsonStatusFile', 'metricsFile', 'pidfile' } do
		local p = settings[key]
		local d = type(p) == 'string' and p:match('^(.*)/[^/]*$')
		if d and d ~= '' and not core.lstat(d) then
			files = files + 1
			say('✘ ', key, ' ', p, ': ', d, ' does not exist')
			say('    fix: mkdir -p ', quote(d))
		end
	end
	if bad > 0 then
		say(bad, bad == 1 and ' slave is' or ' slaves are', ' not ready.')
		return 1
	end
	if files > 0 then
		say('All slaves ready, but the daemon cannot write its files.')
		return 1
	end
	say('All slaves ready.')
	return 0
end

return M
