-- sshmux.lua: one ssh master connection per slave, started and supervised
-- by the daemon, shared by every rsync and ssh command to that slave
-- (OpenSSH ControlMaster). It saves the key exchange and login on every
-- transfer, and its keep-alives notice a dead link within seconds.
--
-- Clients use ControlMaster=no: while the master is down they connect on
-- their own, so a broken master only makes transfers slower, never fail.

local cli = require 'cli'

local M = {}

local dir                 -- private runtime dir (0700), nil = reuse off
local masters = {}        -- key -> master
local byPid = {}          -- pid -> master
local count = 0

-- Options every master gets: foreground, no command, keep-alives.
local MASTER_OPTS = {
	'-M', '-N', '-o', 'ControlMaster=yes', '-o', 'ControlPersist=no',
	'-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3',
	'-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10',
}

-- Picks and creates the runtime dir; returns true if reuse is on.
function M.setup(settings)
	if settings.sshReuse == false then return false end
	local pid, uid = core.getpid()
	local base
	if uid == 0 then
		core.mkdir('/run/lsyncd-ng')
		base = '/run/lsyncd-ng/' .. pid
	else
		local xdg = os.getenv('XDG_RUNTIME_DIR')
		base = (xdg and xdg ~= '' and (xdg .. '/lsyncd-ng-') or ('/tmp/lsyncd-ng-' .. uid .. '-')) .. pid
	end
	local ok, err = core.rundir(base)
	if not ok then
		core.log('Warn', 'ssh connection reuse is off: ' .. tostring(err))
		return false
	end
	dir = base
	return true
end

-- The "host" part of an rsync target ("user@host:/dir"), or nil if local.
function M.remoteOf(target)
	if type(target) ~= 'string' or target:sub(1, 1) == '/' then return nil end
	if target:find('::', 1, true) or target:match('^rsync://') then return nil end
	return target:match('^([^/:]+):')
end

-- Registers (once) a master for ssh binary + args + dest; returns it.
local function master(binary, args, dest)
	local key = binary .. '\0' .. table.concat(args, '\0') .. '\0' .. dest
	local m = masters[key]
	if m then return m end
	count = count + 1
	m = { binary = binary, args = args, dest = dest, path = dir .. '/m' .. count,
		state = 'down', retryAt = 0, failures = 0 }
	masters[key] = m
	return m
end

-- The client options that route an ssh through master m.
local function clientOpts(m)
	return { '-o', 'ControlMaster=no', '-o', 'ControlPath=' .. m.path }
end

-- How sync s reaches its slave with ssh: binary, args, dest; nil when the
-- target is local or reached otherwise (rsync daemon, sshpass, ...).
function M.sshOf(cfg)
	local r = cfg.rsync
	if type(r) ~= 'table' or type(r._computed) ~= 'table' then return nil end
	local dest
	local sshBinary, sshArgs = 'ssh', {}
	if type(cfg.ssh) == 'table' and cfg.host then
		dest = cfg.host
		sshBinary = cfg.ssh.binary or 'ssh'
		sshArgs = cfg.ssh._computed or {}
	else
		dest = M.remoteOf(cfg.target)
		if not dest then return nil end
	end
	local rshIndex
	for i, a in ipairs(r._computed) do
		if a:sub(1, 6) == '--rsh=' then rshIndex = i end
	end
	-- an rsh given by the user (the last --rsh wins in rsync) decides the
	-- ssh; without one, rsync itself takes $RSYNC_RSH (a target host:dir)
	local rsh = rshIndex and r._computed[rshIndex]:sub(7)
	if not rsh and not (type(cfg.ssh) == 'table' and cfg.host) then
		rsh = os.getenv('RSYNC_RSH')
		if rsh == '' then rsh = nil end
	end
	if rsh then
		local words = cli.splitQuoted(rsh)
		if #words == 0 or not words[1]:match('ssh$') then return nil end
		sshBinary = table.remove(words, 1)
		sshArgs = words
	end
	return sshBinary, sshArgs, dest, rshIndex
end

-- Routes sync s's transfers through a master, if reuse is on and the
-- target is reached with ssh. Rewrites the sync's computed arguments and
-- gives the sync { binary, args, dest } for commands run on the slave
-- (Sync:useSsh), and the master.
function M.attach(s)
	local cfg = s:getConfig()
	local sshBinary, sshArgs, dest, rshIndex = M.sshOf(cfg)
	if not sshBinary then return end
	local ssh = { binary = sshBinary, args = sshArgs, dest = dest }
	if not dir then s:useSsh(ssh); return end
	local m = master(sshBinary, sshArgs, dest)
	local opts = clientOpts(m)
	local rsh = { sshBinary }
	for _, a in ipairs(sshArgs) do rsh[#rsh + 1] = a end
	for _, a in ipairs(opts) do rsh[#rsh + 1] = a end
	local quoted = {}
	for i, w in ipairs(rsh) do
		-- rsync splits --rsh on spaces; quotes keep a word, '' is a quote
		quoted[i] = w:find('[%s\'"]') and ("'" .. w:gsub("'", "''") .. "'") or w
	end
	local computed = cfg.rsync._computed
	local rshArg = '--rsh=' .. table.concat(quoted, ' ')
	if rshIndex then computed[rshIndex] = rshArg else computed[#computed + 1] = rshArg end
	local sc = {}
	for _, a in ipairs(sshArgs) do sc[#sc + 1] = a end
	for _, a in ipairs(opts) do sc[#sc + 1] = a end
	if type(cfg.ssh) == 'table' and cfg.host then cfg.ssh._computed = sc end
	ssh.args = sc
	s:useSsh(ssh, m)
end

-- Starts masters that are down and due; spawnService(argv) -> pid|nil.
-- Calls onUp(master) for every master that just came up.
function M.tick(now, spawnService, onUp)
	for _, m in pairs(masters) do
		if m.state == 'down' and now >= m.retryAt then
			local argv = { m.binary }
			for _, a in ipairs(m.args) do argv[#argv + 1] = a end
			for _, a in ipairs(MASTER_OPTS) do argv[#argv + 1] = a end
			argv[#argv + 1] = '-o'; argv[#argv + 1] = 'ControlPath=' .. m.path
			argv[#argv + 1] = m.dest
			local pid = spawnService(argv)
			if pid then
				m.pid, m.state, m.since = pid, 'starting', now
				byPid[pid] = m
			else
				m.retryAt = now + 5
			end
		elseif m.state == 'starting' and core.lstat(m.path) then
			m.state = 'up'
			if m.failures > 0 and onUp then onUp(m) end
			m.failures = 0
			core.log('Normal', 'ssh master connection to ' .. m.dest .. ' is up')
		end
	end
end

-- May a sync using master m spawn now? (Not while its master is starting,
-- for at most 5 s, so transfers ride the shared connection.)
function M.ready(m, now)
	if not m or m.state ~= 'starting' then return true end
	return now - m.since > 5
end

-- When the next look at the masters is due (nil: none needed).
function M.nextAlarm(now)
	local best
	for _, m in pairs(masters) do
		local t
		if m.state == 'starting' then t = now + 0.05
		elseif m.state == 'down' then t = m.retryAt end
		if t and (not best or t < best) then best = t end
	end
	return best
end

-- A line a master wrote (ssh's own "connect to host ... refused"): kept as
-- the reason of its end, logged once with it, not once per probe.
function M.output(pid, line)
	local m = byPid[pid]
	if not m then return false end
	if line ~= '' then m.lastError = line end
	core.log('Delay', 'ssh master ' .. m.dest .. ': ' .. line)
	return true
end

-- Ends the masters no sync uses any more (their syncs were removed by a
-- reload and have no transfer left). used: { [master] = true }.
function M.prune(used)
	for key, m in pairs(masters) do
		if not used[m] then
			masters[key] = nil
			if m.pid then
				m.closing = true
				core.kill(m.pid, 15)
			end
			core.log('Normal', 'ssh master connection to ' .. m.dest .. ' closed: no sync uses it any more')
		end
	end
end

-- A service child exited: if it was a master, schedule its restart.
-- quiet: the daemon is stopping or reloading (its end is expected).
function M.exited(pid, code, now, quiet)
	local m = byPid[pid]
	if not m then return false end
	byPid[pid] = nil
	m.pid = nil
	if m.closing then return true end
	m.failures = m.failures + 1
	m.state = 'down'
	-- a master attempt is also the cheapest probe of a dead link: keep
	-- probing every few seconds, so a slave that returns is caught up at once
	-- (every 2 s for the first two minutes, then every 10 s)
	m.retryAt = now + (m.failures > 60 and 10 or math.min(2, 2 ^ (m.failures - 1)))
	local why = m.lastError and (': ' .. m.lastError) or ''
	m.lastError = nil
	core.log((m.failures == 1 and not quiet) and 'Warn' or 'Delay', 'ssh master connection to '
		.. m.dest .. ' ended (exit ' .. tostring(code) .. why
		.. '); transfers connect directly until it is back')
	return true
end

return M
