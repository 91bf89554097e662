-- procs.lua: the daemon's children: spawn() for configs and layers (one
-- child for an event or event list, its "agent"), services (children of the
-- daemon itself: ssh masters), and the table of those running.

local events = require 'events'
local config = require 'config'
local deadline = require 'deadline'
local log = require('log').log
local state = require 'state'

local M = {}

-- In spawn(agent, binary, ARGS_ONLY, ...) the arguments hold no '<' marker
-- (Layer 3 passes it when its first argument came from a file name).
M.ARGS_ONLY = setmetatable({}, { __tostring = function() return 'ARGS_ONLY' end })

local pids = {}           -- pid -> { sync=, agent=, delays=, stats= }
local services = {}       -- pid -> true
local failed = {}         -- pids (fake, < 0) of spawns that failed: exit 255 next cycle
local total = 0           -- children running for agents
local fakePid = 0
local refuse = function() return false end

-- How the engine reads a transfer's output: a progress display (rsync's
-- --info=progress2, a '\r' line per file) rests 0.1 s between reads, so it
-- costs a wake-up per 0.1 s, not per file; only its newest line is read.
local SPAWN_OPTS = { rest = 0.1 }

-- fn() true: spawns are ignored (the daemon winds down).
function M.refuseWhen(fn) refuse = fn end

-- spawn() for configs: agent is an event or event list of some sync.
function M.spawn(agent, binary, ...)
	local s, delays = events.resolve(agent)
	if not s then error('spawning with an invalid/unknown agent', 2) end
	if refuse() then
		log('Normal', 'ignored a spawn while fading')
		return
	end
	for _, d in ipairs(delays) do
		if d.status == 'active' then error('spawning for an active event', 2) end
	end
	local argv = { binary }
	local n = select('#', ...)
	local args = { ... }
	-- spawn(agent, binary, '<', text, ...): text is the child's stdin. Only
	-- a '<' given as that argument is the marker (not one inside a table);
	-- a Layer-3 command whose first argument came from a file name passes
	-- M.ARGS_ONLY there instead, so a file named '<' is an argument.
	local stdin, first = nil, 1
	if args[1] == '<' then
		stdin, first = args[2], 3
		if stdin ~= nil then stdin = tostring(stdin) end
		if stdin == '' then stdin = nil end
	elseif args[1] == M.ARGS_ONLY then
		first = 2
	end
	for i = first, n do
		local v = args[i]
		if type(v) == 'table' then
			for _, x in ipairs(v) do argv[#argv + 1] = tostring(x) end
		elseif v ~= nil then
			argv[#argv + 1] = tostring(v)
		end
	end
	if type(binary) ~= 'string' then error('spawn: binary must be a string', 2) end
	if core.logEnabled('Exec') then
		local shown = {}
		for i = 2, #argv do shown[#shown + 1] = '[' .. argv[i] .. ']' end
		core.log('Exec', binary .. ' ' .. (stdin and '[<] [' .. stdin:gsub('%z', '\n') .. '] ' or '')
			.. table.concat(shown, ' '))
	end
	state.spawning(s, agent, delays)
	local pid, err = core.spawn(argv, stdin, SPAWN_OPTS)
	if not pid then
		log('Error', 'Failed executing [', binary, ']: ', err)
		fakePid = fakePid - 1
		pid = fakePid
		failed[#failed + 1] = pid
	end
	s:activate(delays)
	local et = delays[1] and delays[1].etype
	if pid > 0 and et ~= 'Init' and et ~= 'Full' then
		deadline.started(pid, core.now(), deadline.limit(config.settings))
	end
	local st = config.settings
	pids[pid] = { sync = s, agent = agent, delays = delays,
		stats = (st.jsonStatusFile or st.metricsFile) and true or false }
	state.spawned(pids[pid])
	s:childStarted()
	total = total + 1
end

-- spawnShell() for configs: cmd run by sh -c, the rest its $1, $2, ...
function M.spawnShell(agent, cmd, ...)
	return M.spawn(agent, 'sh', '-c', cmd, 'sh', ...)
end

-- Starts a child that belongs to the daemon, not to any event; its pid or nil.
function M.spawnService(argv)
	local pid, err = core.spawn(argv)
	if not pid then
		log('Error', 'Failed executing [', argv[1], ']: ', err)
		return nil
	end
	services[pid] = true
	return pid
end

-- True (once) when pid was a service: it is forgotten.
function M.endService(pid)
	if not services[pid] then return false end
	services[pid] = nil
	return true
end

-- True when pid is a running service.
function M.isService(pid) return services[pid] == true end

-- The record of a running child of an agent, or nil.
function M.get(pid) return pids[pid] end

-- The child pid ended: its record ({ sync=, agent=, delays=, stats=,
-- stderr= }), forgotten and no longer counted; nil if pid was none of ours.
function M.take(pid)
	deadline.ended(pid)
	local p = pids[pid]
	if not p then return nil end
	pids[pid] = nil
	p.sync:childEnded()
	total = total - 1
	return p
end

-- Keeps a line of child p's stderr (after exit 23 the rsync layer reads
-- the paths rsync named; the last line goes into the failure's log line);
-- bounded at 64 KiB per child.
function M.keepStderr(p, line)
	local e = p.stderr
	if not e then e = {}; p.stderr = e; p.stderrBytes = 0 end
	if p.stderrBytes + #line <= 65536 then
		e[#e + 1] = line
		p.stderrBytes = p.stderrBytes + #line
	end
end

-- How many children of agents run.
function M.running() return total end

-- The next spawn that failed (its fake pid, to be collected as exit 255),
-- or nil.
function M.nextFailed() return table.remove(failed, 1) end

-- True when a failed spawn waits to be collected.
function M.hasFailed() return #failed > 0 end

return M
