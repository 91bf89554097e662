-- default_rsyncssh.lua: default.rsyncssh: like default.rsync to host:targetdir,
-- but moves are done on the slave with `ssh host mv`, not re-sent.

local default = require 'default'
local drsync = require 'default_rsync'

local rsyncssh = { drsync }

rsyncssh.checkgauge = {
	drsync.checkgauge,
	target = false, host = true, targetdir = true, onMove = true,
	sshExitCodes = true, rsyncExitCodes = true,
	ssh = { binary = true, identityFile = true, options = true, port = true, _extra = true },
}

rsyncssh.delay = 15
rsyncssh.maxProcesses = 1
rsyncssh.onMove = true
rsyncssh.exitcodes = false
rsyncssh.rsyncExitCodes = default.rsyncExitCodes
rsyncssh.sshExitCodes = default.sshExitCodes
rsyncssh.ssh = { binary = 'ssh', _extra = {} }

-- Checks host/targetdir and computes the ssh arguments.
function rsyncssh.prepare(cfg, level)
	drsync.prepare(cfg, level, true)
	if type(cfg.host) ~= 'string' then error('default.rsyncssh needs "host" configured', 0) end
	if type(cfg.targetdir) ~= 'string' then error('default.rsyncssh needs "targetdir" configured', 0) end
	-- (lsyncd insists on maxProcesses = 1; more is honoured, see compat.lua)
	if type(cfg.maxProcesses) ~= 'number' or cfg.maxProcesses < 1 then
		error('maxProcesses must be a number >= 1', 0)
	end
	if not cfg.targetdir:match('[/:]$') then cfg.targetdir = cfg.targetdir .. '/' end
	local ssh = cfg.ssh
	local args = {}
	if ssh.identityFile then args[#args + 1] = '-i'; args[#args + 1] = ssh.identityFile end
	if type(ssh.options) == 'table' then
		local keys = {}
		for k in pairs(ssh.options) do keys[#keys + 1] = k end
		table.sort(keys)
		for _, k in ipairs(keys) do
			args[#args + 1] = '-o'; args[#args + 1] = k .. '=' .. tostring(ssh.options[k])
		end
	end
	if ssh.port then args[#args + 1] = '-p'; args[#args + 1] = tostring(ssh.port) end
	for _, x in ipairs(ssh._extra or {}) do args[#args + 1] = x end
	ssh._computed = args
	if #args > 0 then
		local computed = cfg.rsync._computed
		computed[#computed + 1] = '--rsh=' .. (ssh.binary or 'ssh') .. ' ' .. table.concat(args, ' ')
	end
	cfg.target = cfg.host .. ':' .. cfg.targetdir
end

-- A round to the slave: the renames worth it as `mv` there (one ssh
-- command), then everything else in one rsync (see default_rsync._round).
-- lsyncd runs `mv A B || rm -rf A`, which loses B when mv fails (its parent
-- not there yet); here the destination is sent again by rsync instead.
function rsyncssh.action(inlet)
	local cfg = inlet.getConfig()
	return drsync._round(inlet,
		{ binary = cfg.ssh.binary, args = cfg.ssh._computed, dest = cfg.host }, cfg.targetdir)
end

-- Init and lists are judged by rsync's codes, moves by ssh's.
function rsyncssh.collect(agent, exitcode)
	local a = require('events').dataOf(agent)
	if (a and a.moves) or (not agent.isList and agent.etype == 'Move') then
		return drsync.collect(agent, exitcode)   -- 0 ok, 255 again, else re-send
	end
	local cfg = agent.config
	local rsyncs = agent.isList or agent.etype == 'Init' or agent.etype == 'Full'
	return default.collect(agent, exitcode, rsyncs and cfg.rsyncExitCodes or cfg.sshExitCodes)
end

return rsyncssh
