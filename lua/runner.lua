-- runner.lua: the runner's entry points (called by the C engine, see
-- engine/api.h) and the loop policy: which sync runs what when, children's
-- exits, signals, user alarms and the status file.

local cli = require 'cli'
local config = require 'config'
local events = require 'events'
local Sync = require 'sync'
local userenv = require 'userenv'
local status = require 'status'
local sshmux = require 'sshmux'
local deadline = require 'deadline'
local layer3 = require 'layer3'
local reload = require 'reload'
local exit = require 'exit'
local watchtree = require 'watchtree'
local state = require 'state'

local runner = {}

runner.DEFAULT_CONFIG = '/etc/lsyncd-ng/lsyncd-ng.conf.lua'
runner.LSYNCD_CONFIG = '/etc/lsyncd/lsyncd.conf.lua'

local syncs = {}          -- Sync objects in config order
local pids = {}           -- pid -> { sync=, agent=, delays= }
local services = {}       -- pid -> true: daemon-owned children (ssh masters)
local checking = nil      -- { pid =, lines = {} } while a HUP's new config is checked
local pendingExits = {}   -- spawn failures, reported as exit 255 next cycle
local total = 0           -- children running
local fading = nil        -- nil, 'TERM', 'INT'
local fadeStart
local rr = 0              -- round-robin start among syncs
local nextStatus = 0
local startupDone = false
local fakePid = 0

local function log(cat, ...) userenv.log(cat, ...) end

local function die(msg)
	core.log('Error', msg)
	core.terminate(255)
end

-- The global cap on children (settings{maxProcesses}), or nil.
local function globalMax() return config.settings.maxProcesses end

-- How the engine reads a transfer's output: a progress display (rsync's
-- --info=progress2, a '\r' line per file) rests 0.1 s between reads, so it
-- costs a wake-up per 0.1 s, not per file; only its newest line is read.
local SPAWN_OPTS = { rest = 0.1 }

-- spawn() for configs: agent is an event or event list of some sync.
function runner.spawn(agent, binary, ...)
	local a = events.agents[agent]
	if not a then error('spawning with an invalid/unknown agent', 2) end
	local s = a.sync
	if fading then
		log('Normal', 'ignored a spawn while fading')
		return
	end
	for _, d in ipairs(a.delays) do
		if d.status == 'active' then error('spawning for an active event', 2) end
	end
	local argv = { binary }
	local n = select('#', ...)
	local args = { ... }
	-- spawn(agent, binary, '<', text, ...): text is the child's stdin. Only
	-- a '<' given as that argument is the marker (not one inside a table);
	-- a Layer-3 command whose first argument came from a file name passes
	-- layer3.ARGS_ONLY there instead, so a file named '<' is an argument.
	local stdin, first = nil, 1
	if args[1] == '<' then
		stdin, first = args[2], 3
		if stdin ~= nil then stdin = tostring(stdin) end
		if stdin == '' then stdin = nil end
	elseif args[1] == layer3.ARGS_ONLY then
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
	local pid, err = core.spawn(argv, stdin, SPAWN_OPTS)
	if not pid then
		log('Error', 'Failed executing [', binary, ']: ', err)
		fakePid = fakePid - 1
		pid = fakePid
		pendingExits[#pendingExits + 1] = pid
	end
	for _, d in ipairs(a.delays) do d.status = 'active' end
	local et = a.delays[1] and a.delays[1].etype
	if pid > 0 and et ~= 'Init' and et ~= 'Full' then
		deadline.started(pid, core.now(), deadline.limit(config.settings))
	end
	pids[pid] = { sync = s, agent = agent, delays = a.delays, stats = runner.wantStats }
	state.spawned(pids[pid])
	s.processes = s.processes + 1
	total = total + 1
end

-- Starts a child that belongs to the daemon, not to any event.
local function spawnService(argv)
	local pid, err = core.spawn(argv)
	if not pid then
		log('Error', 'Failed executing [', argv[1], ']: ', err)
		return nil
	end
	services[pid] = true
	return pid
end

-- Back-off before a retry: exponential from max(delay, 1) s up to a cap
-- (settings maxBackoff, default 300 s), with +-25% jitter so many slaves
-- that failed together do not retry in lockstep.
local function retryAlarm(s, now)
	local base = math.max(s.delay or 0, 1)
	local cap = config.settings.maxBackoff or 300
	local wait = math.min(cap, base * 2 ^ math.max(0, (s.failures or 1) - 1))
	return now + wait * (0.75 + 0.5 * math.random())
end

-- Notes a failure or success of sync s, logging only changes of state.
local function judged(s, rc, code, p)
	if rc == 'again' then
		s.failures = (s.failures or 0) + 1
		if s.failures == 1 then
			local e = p and p.stderr
			log('Error', s.name, ': transfer to ', s.config.target or '?', ' failed (exit code ',
				code, e and e[#e] and (': ' .. e[#e]) or '', '); retrying with back-off')
			core.notify('STATUS=' .. runner.statusLine())
		end
	elseif rc == 'ok' and (s.failures or 0) > 0 then
		log('Normal', s.name, ': ', s.config.target or '?', ' is back after ', s.failures,
			' failed attempt(s)')
		s.failures = 0
		core.notify('STATUS=' .. runner.statusLine())
	end
end

-- The paths rsync named in its errors after exit 23, relative to the sync
-- ('/a/f'; '/d/' for a directory it could not make, whose content it then
-- skipped): names of the source, or of the target dir (a receiver's error;
-- its temporary '.f.XXXXXX' stands for f).
local function failedPaths(s, p)
	local src, out, seen = s.source, {}, {}
	local tgt = (s.config.target or ''):match('^[^:]*:(/.*)$') or s.config.target
	for _, line in ipairs(p.stderr or {}) do
		local whole = line:find('mkdir', 1, true) ~= nil
		for q in line:gmatch('"([^"]+)"') do
			local rel
			if q:sub(1, #src) == src then
				rel = q:sub(#src + 1)
			elseif tgt and tgt:sub(1, 1) == '/' and q:sub(1, #tgt) == tgt then
				rel = q:sub(#tgt + 1)
				local dir, name = rel:match('^(.-)%.([^/]+)%.[%w]+$')
				if dir and (dir == '' or dir:sub(-1) == '/') then rel = dir .. name end
			end
			if rel and rel ~= '' then
				rel = '/' .. rel:gsub('/$', '')
				local st = whole and core.lstat(src .. rel:sub(2))
				if st and st.type == 'directory' then rel = rel .. '/' end
				if not seen[rel] then
					seen[rel] = true
					out[#out + 1] = rel
				end
			end
		end
	end
	return out
end

-- The paths of transfer p that had failed before and went through now (all
-- but those in failing, a set) are back: logged once each.
local function recoveredAll(s, p, failing)
	if not s.pathFailures then return end
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
-- false and the whole transfer is retried.
function runner.partial(s, p, now, isInit)
	local again = failedPaths(s, p)
	if not isInit then
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
	if #again == 0 and isInit then return false end
	if #again == 0 then
		-- nothing we could read: retry every path of the list
		for _, d in ipairs(p.delays) do
			if d.path ~= '' then again[#again + 1] = d.path end
			if d.path2 then again[#again + 1] = d.path2 end
		end
	end
	local base = math.max(s.delay or 0, 1)
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
	if isInit then
		log('Normal', 'Startup of ', s.source, ' -> ', s.config.target or '?', ' done except ',
			#again, ' path(s) that failed and are retried')
	end
	return true
end

-- Calls fn(...) of sync s's config (init, action, collect): a Lua error in
-- it (a user's onModify indexing nil, say) is logged with its traceback and
-- stays with this sync: returns ok, and the result or nil.
local function guarded(s, what, fn, ...)
	local ok, res = exit.pass(xpcall(fn, debug.traceback, ...))
	if ok then return true, res end
	runner.luaError(s, what, res)
	return false
end

-- How many Lua errors in a row stop a sync (state "error").
local MAX_LUA_ERRORS = 5

-- A Lua error in one sync's config: the sync backs off and tries again;
-- after MAX_LUA_ERRORS in a row it stops with state "error", while the
-- daemon and the other syncs go on.
function runner.luaError(s, what, msg)
	local now = core.now()
	s.luaErrors = (s.luaErrors or 0) + 1
	log('Error', s.name, ': Lua error in ', what, ' (', s.luaErrors, ' in a row): ', tostring(msg))
	if s.luaErrors >= MAX_LUA_ERRORS then
		s.error = tostring(msg):match('^[^\n]*')
		runner.stopSync(s, 'a Lua error ' .. s.luaErrors .. ' times in a row')
		return
	end
	s.failures = (s.failures or 0) + 1
	s.pausedUntil = retryAlarm(s, now)
end

-- A child of ours ended: judge its exit and release or re-queue its delays.
function runner.collect(pid, code, signo)
	if checking and checking.pid == pid then
		return runner.configChecked((signo and signo ~= 0) and 128 + signo or code)
	end
	if services[pid] then
		services[pid] = nil
		sshmux.exited(pid, signo ~= 0 and ('signal ' .. signo) or code, core.now(), fading ~= nil)
		return
	end
	deadline.ended(pid)
	local p = pids[pid]
	if not p then return end
	pids[pid] = nil
	local s = p.sync
	s.processes = s.processes - 1
	total = total - 1
	local now = core.now()
	local rc
	local isInit = p.delays[1] and p.delays[1].etype == 'Init'
	if signo and signo ~= 0 then
		log('Error', s.name, ': child ', pid, ' was killed by signal ', signo)
		if isInit and not config.settings.insist then
			log('Error', 'Failure on startup of ', s.source, '.')
			core.terminate(255)
		end
		rc = 'again'
	elseif fading then
		rc = 'ok'
		exit.pass(pcall(s.config.collect, p.agent, code))
	else
		-- tells default.collect whether a failed startup may stay local
		-- to this sync (another sync lives) or must end the daemon (lsyncd)
		local alive = 0
		for _, o in ipairs(syncs) do if not o.stopped then alive = alive + 1 end end
		_G.default.othersAlive = alive > 1
		local ok
		ok, rc = guarded(s, 'collect', s.config.collect, p.agent, code)
		if not ok then
			if s.stopped then return end
			rc = 'again'
		end
	end
	if rc == 'die' then
		runner.stopSync(s, code)
		return
	end
	-- exit 23 (some paths failed): those paths retry on their own; a
	-- startup transfer is never called finished while paths of it failed
	local a = p.agent and events.agents[p.agent]
	if code == 23 and not fading and (not signo or signo == 0) and rc ~= 'die'
	and (isInit or (a and a.isList)) then
		rc = runner.partial(s, p, now, isInit) and 'ok' or 'again'
	elseif rc == 'ok' then
		recoveredAll(s, p)
	end
	judged(s, rc, signo ~= 0 and ('signal ' .. signo) or code, p)
	if rc == 'ok' then
		s.luaErrors = 0
		s.lastSuccess = core.time()
		s.eventsDone = (s.eventsDone or 0) + #p.delays
	end
	for _, d in ipairs(p.delays) do
		if rc == 'again' and not s.removed then
			s.delays:retry(d, retryAlarm(s, now))
		else
			s:removeDelay(d)
		end
	end
	state.collected(s, p, code, signo)
	if isInit and rc ~= 'again' then
		s.initDone = true
		s.progress, s.progressLogged = nil, nil
		runner.checkStartup()
	end
end

-- A slave's ssh master came back after failures: retry what waits for it now
-- instead of at the end of its back-off.
function runner.linkBack(m)
	local now = core.now()
	for _, s in ipairs(syncs) do
		if s.mux == m and (s.failures or 0) > 0 then
			local d = s.delays.head
			while d do
				if d.status ~= 'active' and d.alarm and d.alarm > now then d.alarm = now end
				d = d.next
			end
			log('Normal', s.name, ': link to ', m.dest, ' is back, catching up')
		end
	end
end

-- A sync whose child said its config cannot work (rsync usage errors and
-- the like): it stops, the others go on; the daemon ends only when no sync
-- is left.
function runner.stopSync(s, code)
	s.stopped = true
	log('Error', s.name, ': stopped: ', s.config.target or s.source, ' failed with ',
		type(code) == 'number' and ('exit code ' .. code) or code,
		', which retrying cannot fix (see the lines above).',
		' The other syncs go on; fix the config and reload (HUP).')
	local d = s.delays.head
	while d do
		local nx = d.next
		if d.status ~= 'active' then s.delays:remove(d) end
		d = nx
	end
	s.initDone = true
	for _, o in ipairs(syncs) do
		if not o.stopped then
			runner.checkStartup()
			return
		end
	end
	log('Error', 'Critical exitcode: no sync is left.')
	core.terminate(255)
end

-- One line for the service manager's STATUS=: startup progress and the
-- slaves that are not well.
function runner.statusLine()
	local pending, ill = 0, {}
	for _, s in ipairs(syncs) do
		if s.config.init and not s.initDone then pending = pending + 1 end
		if s.error then ill[#ill + 1] = s.name .. ' error'
		elseif s.stopped then ill[#ill + 1] = s.name .. ' stopped'
		elseif (s.failures or 0) > 0 then ill[#ill + 1] = s.name .. ' retrying' end
	end
	local line = pending > 0
		and ('startup transfers under way: ' .. (#syncs - pending) .. ' of ' .. #syncs .. ' done')
		or ('watching ' .. #syncs .. ' sync(s)')
	if #ill > 0 then line = line .. '; ' .. table.concat(ill, ', ', 1, math.min(#ill, 8)) end
	return line
end

-- Once every sync finished its startup transfer: tell the service manager,
-- and make later re-scans insist (as lsyncd does after a restart). READY=1
-- went out before (config loaded, watches in place, transfers under way).
function runner.checkStartup()
	if startupDone then return end
	for _, s in ipairs(syncs) do
		if s.config.init and not s.initDone then
			core.notify('STATUS=' .. runner.statusLine())
			return
		end
	end
	startupDone = true
	config.settings.insist = true
	if config.settings.onepass then
		log('Normal', 'Onepass: all startup transfers done, exiting.')
		core.terminate(0)
	end
	core.notify('STATUS=' .. runner.statusLine())
end

-- rsync --stats lines we read (and keep out of the log).
local STATS = {
	['Number of regular files transferred'] = 'files',
	['Total transferred file size'] = 'bytes',
}

-- rsync --info=progress2 of a startup transfer:
-- "  1,234,567  45%   12.34MB/s    0:01:10 (xfr#12, ir-chk=100/2000)"
local function progress(p, line)
	local bytes, pct, rate, eta = line:match('^%s*([%d,]+)%s+(%d+)%%%s+(%S+)%s+(%d+:%d%d:%d%d)')
	if not bytes then return false end
	local s = p.sync
	local files = tonumber(line:match('xfr#(%d+)') or '') or (s.progress and s.progress.files) or 0
	local left, all = line:match('%-chk=(%d+)/(%d+)')
	s.progress = { bytes = tonumber((bytes:gsub(',', ''))), percent = tonumber(pct), rate = rate,
		eta = eta, files = files, checked = all and (tonumber(all) - tonumber(left)) or nil,
		total = tonumber(total or '') }
	local now = core.now()
	if not s.progressLogged then
		s.progressLogged = now                 -- the first line after an interval
	elseif now - s.progressLogged >= (config.settings.progressInterval or 10) then
		s.progressLogged = now
		log('Normal', s.name, ': startup transfer to ', s.config.target or '?', ': ', pct, '%, ',
			s.progress.bytes, ' bytes, ', files, ' files sent, ', rate, ', ETA ', eta)
	end
	return true
end

function runner.childOutput(pid, stream, line)
	if checking and checking.pid == pid then
		local l = checking.lines
		if #l < 20 then l[#l + 1] = line end
		return
	end
	if services[pid] and sshmux.output(pid, line) then return end
	local p = pids[pid]
	-- a layer that reads its child's output (default_rsync's move script)
	local a = p and events.agents[p.agent]
	if a and a.onOutput and a.onOutput(stream, line) then return end
	if p and stream == 1 and p.delays[1] and p.delays[1].etype == 'Init'
	and (line == '' or progress(p, line)) then
		return
	end
	if p and stream == 1 then
		local key, num = line:match('^([%a ]+): ([%d,]+)')
		if key and STATS[key] then
			local s = p.sync
			local n = tonumber((num:gsub(',', ''))) or 0
			if STATS[key] == 'files' then s.filesSent = (s.filesSent or 0) + n
			else s.bytesSent = (s.bytesSent or 0) + n end
			return
		end
		if p.stats and (line == '' or line:match('^[%a ]+: ') or line:match('^sent %d')
			or line:match('^total size is')) then
			if core.logEnabled('Exec') then core.log('Exec', line) end
			return
		end
	end
	if p and stream == 2 then
		-- kept for runner.partial; bounded (64 KiB), a chatty child is logged only
		local e = p.stderr
		if not e then e = {}; p.stderr = e; p.stderrBytes = 0 end
		if p.stderrBytes + #line <= 65536 then
			e[#e + 1] = line
			p.stderrBytes = p.stderrBytes + #line
		end
		-- a slave already known to fail: its errors were logged once, with
		-- the failure (judged); each retry's repeat goes to the Delay category
		if (p.sync.failures or 0) > 0 then
			core.log('Delay', p.sync.name .. ': ' .. line)
			return
		end
	end
	local prefix = p and (p.sync.name .. ': ') or ''
	core.log(stream == 2 and 'Error' or 'Normal', prefix .. line)
end

function runner.signal(name)
	if name == 'USR1' then
		nextStatus = 0
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
		return runner.reloadConfig()
	end
	checking = { pid = pid, lines = {} }
end

-- The check of a new config ended: apply it, or keep the running config.
function runner.configChecked(code)
	local lines = checking.lines
	checking = nil
	if code == 0 then return runner.reloadConfig() end
	runner.reloadFailed(table.concat(lines, ' '))
end

-- A new config that cannot be applied: the running one stays.
function runner.reloadFailed(msg)
	msg = tostring(msg):gsub('%s+', ' ')
	log('Error', 'HUP: the new config has an error; the running config stays: ', msg)
	core.notify('READY=1\nSTATUS=config reload failed, running the previous config: ' .. msg:sub(1, 200))
end

-- Watches root of a sync (a new one after a reload, or one at startup).
local function watchRoot(root)
	local r = root:sub(1, -2)
	local ok, err = watchtree.watch(r)
	if ok then return true end
	if tostring(err):find('No space') then
		runner.outOfWatches(r)
		return true
	end
	return nil, 'Cannot watch ' .. r .. ': ' .. tostring(err)
end

-- Builds the syncs of plan that are new (reload.plan): all or none.
local function buildNew(plan)
	local made = {}
	for i, p in ipairs(plan) do
		if p.new then
			local ok, s = pcall(Sync.new, p.new, i)
			if not ok then return nil, (p.new._where or '') .. tostring(s) end
			made[i] = s
		end
	end
	return made
end

-- Applies the config file again without a restart: syncs whose definition
-- did not change keep their queue, retry state and ssh master and get no
-- startup transfer; changed and new syncs start with theirs; removed ones
-- finish what runs and stop. Settings of the daemon itself (status files,
-- back-off, ...) apply at once; a few need a restart, and say so.
function runner.reloadConfig()
	local now = core.now()
	local old = { settings = config.settings, cfgs = config.syncConfigs }
	config.settings, config.syncConfigs, config.syncObjects = {}, {}, nil
	local ok, err = config.loadFile(runner.configPath)
	if ok and #config.syncConfigs == 0 then ok, err = nil, 'the config defines no sync{}' end
	local plan, removed, made
	if ok then
		for k, v in pairs(runner.cliSettings or {}) do config.settings[k] = v end
		config.settings.insist = true
		for _, c in ipairs(config.syncConfigs) do
			c._fingerprint = reload.fingerprint(c, config.settings)
		end
		plan, removed = reload.plan(syncs, config.syncConfigs)
		-- the same definition on a source that now resolves elsewhere is new
		for i, p in ipairs(plan) do
			local real = p.keep and core.realpath(config.syncConfigs[i].source)
			if p.keep and (not real or (real:gsub('/$', '') .. '/') ~= p.keep.source) then
				removed[#removed + 1] = p.keep
				plan[i] = { new = config.syncConfigs[i] }
			end
		end
		made, err = buildNew(plan)
		ok = made ~= nil
	end
	if not ok then
		config.settings, config.syncConfigs, config.syncObjects = old.settings, old.cfgs, syncs
		return runner.reloadFailed(err)
	end
	for _, k in ipairs { 'nodaemon', 'pidfile', 'inotifyMode', 'sshReuse' } do
		if config.settings[k] ~= old.settings[k] then
			log('Warn', 'HUP: settings ', k, ' changed; it takes effect at the next restart')
		end
	end
	local st = config.settings
	if st.logfile ~= old.settings.logfile and st.logfile then
		local lok, lerr = core.logSetup { logfile = st.logfile }
		if not lok then log('Error', 'HUP: ', lerr) end
	end
	local list, kept, fresh = {}, 0, 0
	for i, p in ipairs(plan) do
		local s = p.keep or made[i]
		list[i] = s
		if p.keep then
			kept = kept + 1
			p.keep.config._where = config.syncConfigs[i]._where
		else
			fresh = fresh + 1
			userenv.translateLayer3(s.config)
			runner.tune(s)
			if runner.muxing then sshmux.attach(s) end
		end
	end
	-- a removed sync named like a new one is that one's old definition
	local newNames, changed = {}, 0
	for i, p in ipairs(plan) do if p.new then newNames[list[i].name] = true end end
	for _, s in ipairs(removed) do
		if newNames[s.name] then changed = changed + 1 end
		runner.retire(s, newNames[s.name])
	end
	syncs = list
	config.syncObjects = syncs
	runner.wantStats = (st.jsonStatusFile or st.metricsFile) and true or false
	for i, p in ipairs(plan) do
		if p.new then
			local wok, werr = watchRoot(list[i].source)
			if not wok then log('Error', 'HUP: ', werr) end
			list[i]:addInit(now)
			startupDone = false
		end
	end
	for _, s in ipairs(removed) do runner.unwatchRemoved(s) end
	log('Normal', '--- HUP: config reloaded: ', kept, ' sync(s) unchanged (queue and state kept), ',
		changed, ' changed and ', fresh - changed, ' new (startup transfer), ', #removed - changed,
		' removed ---')
	nextStatus = 0
	core.notify('READY=1\nSTATUS=' .. runner.statusLine())
	runner.checkStartup()
end

-- A sync the new config no longer has (or has changed: replaced): what
-- waits is dropped, what runs finishes (its collect still runs), then it
-- is gone.
function runner.retire(s, replaced)
	s.removed = true
	local d = s.delays.head
	while d do
		local nx = d.next
		if d.status ~= 'active' then s.delays:remove(d) end
		d = nx
	end
	log('Normal', s.name, replaced and ': changed by the new config, starts afresh'
		or ': removed by the new config', s.processes > 0
		and (', finishing ' .. s.processes .. ' transfer(s) under way') or '')
end

-- Drops the watches of a removed sync's tree, unless a sync still runs on it.
function runner.unwatchRemoved(s)
	for _, o in ipairs(syncs) do
		local a, b = o.source, s.source
		if a:sub(1, #b) == b or b:sub(1, #a) == a then return end
	end
	core.unwatch(s.source:sub(1, -2))
end

-- Decides whether a directory is watched: some sync must be concerned.
function runner.dirWanted(path)
	for _, s in ipairs(syncs) do
		if path .. '/' == s.source then return true end
		local rel = s:relative(path, true)
		if rel and s:concerns(rel) then return true end
	end
	return false
end

-- A full re-scan of every sync (after an inotify overflow).
local function rescanAll(now)
	for _, s in ipairs(syncs) do
		if s.config.init then s:push('Init', '', nil, now) end
	end
end

-- The events of one read of the watch layer, in order (engine/api.h).
function runner.inotifyBatch(batch) watchtree.batch(batch) end

function runner.inotifyEvent(etype, isdir, time, path, path2)
	local now = core.now()
	if etype == 'Overflow' then
		log('Error', '--- OVERFLOW in event queue --- rescanning every sync')
		rescanAll(now)
		return
	end
	if etype == 'NoSpace' then
		runner.outOfWatches(path)
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

-- Out of inotify watches: by default keep syncing, degraded: the error
-- names the sysctl (logged by the engine), the status says "degraded" with
-- the count of unwatched directories, and every sync is re-scanned
-- (a full rsync) every rescanInterval seconds so nothing stays stale.
-- settings{ outOfWatches = 'exit' } makes it fatal instead.
function runner.outOfWatches(where)
	if config.settings.outOfWatches == 'exit' then
		die('Terminating since out of inotify watches (' .. where .. ').'
			.. ' Raise fs.inotify.max_user_watches.')
	end
	local _, unwatched = core.watchCount()
	if not runner.degraded then
		log('Error', 'Out of inotify watches: ', unwatched, ' directories below ', where,
			' are not watched. Continuing DEGRADED: every sync is re-scanned every ',
			config.settings.rescanInterval or 60, ' s until fs.inotify.max_user_watches is',
			' raised and the daemon reloaded (HUP).')
	end
	runner.degraded = true
	runner.nextRescan = runner.nextRescan or (core.now() + (config.settings.rescanInterval or 60))
end

-- A periodic full re-scan while degraded.
local function rescanDue(now)
	if not runner.degraded or now < runner.nextRescan then return end
	runner.nextRescan = now + (config.settings.rescanInterval or 60)
	for _, s in ipairs(syncs) do
		if s.config.init and not s.stopped then
			local queued = false
			local d = s.delays.head
			while d do
				if d.etype == 'Init' then queued = true; break end
				d = d.next
			end
			if not queued then s:push('Init', '', nil, now) end
		end
	end
end

-- Runs what one sync can run now.
local function runSync(s, now)
	if s.stopped then return end
	local cap = globalMax()
	while s.processes < s.maxProcesses and (not cap or total < cap) do
		if s.pausedUntil and s.pausedUntil > now then return end
		if s.mux and not sshmux.ready(s.mux, now) then return end
		s:unpark(now)
		local d = s:readyDelay(now)
		if not d then return end
		local ok
		if d.etype == 'Init' then
			ok = guarded(s, 'init', s.config.init, events.event(s, d))
		else
			ok = guarded(s, 'action', s.config.action, s.inlet)
		end
		if not ok then return end
		if not d.removed and d.status == 'wait' and s:readyDelay(now) == d then
			-- the action neither spawned for nor discarded it: don't spin
			s.pausedUntil = now + 1
			return
		end
	end
end

function runner.cycle(now)
	if fading then
		if total == 0 or now - fadeStart > 30 then
			core.terminate(fading == 'INT' and 130 or 143)
		end
		return
	end
	state.cycle(now)
	while #pendingExits > 0 do
		local pid = table.remove(pendingExits, 1)
		runner.collect(pid, 255, 0)
	end
	userenv.runAlarms(now)
	rescanDue(now)
	deadline.tick(now, log)
	if runner.watchdog and now >= runner.nextWatchdog then
		core.notify('WATCHDOG=1')
		runner.nextWatchdog = now + runner.watchdog
	end
	sshmux.tick(now, spawnService, runner.linkBack)
	local n = #syncs
	for k = 1, n do
		local s = syncs[(rr + k - 1) % n + 1]
		runSync(s, now)
	end
	rr = rr + 1
	local st = config.settings
	if (st.statusFile or st.jsonStatusFile or st.metricsFile) and now >= nextStatus then
		runner.writeStatus()
		nextStatus = now + (st.statusInterval or 10)
	end
end

function runner.getAlarm()
	if fading then return total == 0 and true or (fadeStart + 30) end
	if #pendingExits > 0 then return true end
	local best = userenv.nextAlarm()
	local mux = sshmux.nextAlarm(core.now())
	if mux and (not best or mux < best) then best = mux end
	if runner.degraded and (not best or runner.nextRescan < best) then best = runner.nextRescan end
	local dl = deadline.nextAlarm()
	if dl and (not best or dl < best) then best = dl end
	if runner.watchdog and (not best or runner.nextWatchdog < best) then best = runner.nextWatchdog end
	local cap = globalMax()
	for _, s in ipairs(syncs) do
		if s.processes < s.maxProcesses and (not cap or total < cap) and not s.stopped
		and (not s.mux or sshmux.ready(s.mux, core.now())) then
			local a = s.delays:nextAlarm(s.maxDelays)
			if a == true then a = core.now() end
			local pk = s:nextParked()
			if pk and (not a or pk < a) then a = pk end
			if a and s.pausedUntil and a < s.pausedUntil then a = s.pausedUntil end
			if a and (not best or a < best) then best = a end
		end
	end
	local st = config.settings
	if (st.statusFile or st.jsonStatusFile or st.metricsFile)
	and (not best or nextStatus < best) then best = nextStatus end
	return best or false
end

-- Rewrites every status output that is configured.
function runner.writeStatus()
	local st = config.settings
	if st.statusFile then status.write(st.statusFile, syncs) end
	if st.jsonStatusFile or st.metricsFile then
		local snap = status.snapshot(syncs)
		if st.jsonStatusFile then status.writeJson(st.jsonStatusFile, snap) end
		if st.metricsFile then status.writeMetrics(st.metricsFile, snap) end
	end
end

-- lsyncd-ng's defaults on top of a sync's rsync arguments: an I/O timeout
-- for remote slaves (lsyncd sets none, so a dead link stalls a slave until
-- TCP gives up), unless the config sets its own.
function runner.tune(s)
	local r = s.config.rsync
	if type(r) ~= 'table' or type(r._computed) ~= 'table' then return end
	if r.timeout == nil and sshmux.remoteOf(s.config.target) then
		local t = config.settings.rsyncTimeout or 30
		if t and t > 0 then r._computed[#r._computed + 1] = '--timeout=' .. t end
	end
end

-- Adds the syncs given on the command line (-rsync, -rsyncssh, -direct).
local function cliSyncs(list, sshopts)
	config.loading = true
	for _, c in ipairs(list) do
		local v = c[1]
		if c.mode == 'rsync' then
			_G.sync { _G.default.rsync, source = v[1], target = v[2] }
		elseif c.mode == 'rsyncssh' then
			local t = { _G.default.rsyncssh, source = v[1], host = v[2], targetdir = v[3] }
			if sshopts then t.ssh = { _extra = sshopts } end
			_G.sync(t)
		else
			_G.sync { _G.default.direct, source = v[1], target = v[2] }
		end
	end
	config.loading = false
end

local inotifyModes = { CloseWrite = 0, Modify = 1, ['CloseWrite or Modify'] = 2 }

function runner.initialize(args, reloading)
	local opts, err = cli.parse(args)
	if not opts then die(err) end
	for _, l in ipairs(opts.logs) do core.logEnable(l) end
	runner.logInotify = core.logEnabled('Inotify')   -- asked once: per event it costs
	if opts.help then
		io.stdout:write('lsyncd-ng version: ', core.version, '\n', cli.usage)
		io.stdout:flush()
		core.terminate(255)
	end
	if opts.version then
		io.stdout:write('Version: ', core.version, '\n')
		io.stdout:flush()
		core.terminate(0)
	end
	if opts.init then
		-- operator tooling (lua/setup.lua): the config generator
		userenv.install(runner)
		local code = require('setup').init(opts, args)
		io.stdout:flush()
		core.terminate(code or 0)
	end
	-- -check CONFIG: load and build everything, then check instead of running
	if opts.check then opts.config = opts.check end
	if opts.status then
		core.terminate(status.printTable(opts.status) and 0 or 1)
	end
	userenv.install(runner)
	config.cliDelay = opts.delay
	for _, f in ipairs(opts.scripts) do dofile(f) end
	if not opts.config and #opts.syncs == 0 then
		-- the default config, or lsyncd's when lsyncd-ng has none yet
		if core.lstat(runner.DEFAULT_CONFIG) then
			opts.config = runner.DEFAULT_CONFIG
		elseif core.lstat(runner.LSYNCD_CONFIG) then
			opts.config = runner.LSYNCD_CONFIG
			core.log('Normal', 'No ' .. runner.DEFAULT_CONFIG .. '; running lsyncd\'s '
				.. runner.LSYNCD_CONFIG)
		end
		if opts.config then args[#args + 1] = opts.config end
	end
	if opts.config then
		local path = core.realpath(opts.config)
		if not path then die("Cannot find config file at '" .. opts.config .. "'.") end
		local st = core.lstat(path)
		if st and st.type == 'directory' then
			die("'" .. opts.config .. "' is a directory, not a config file.")
		end
		runner.configPath = path
		local ok, lerr = config.loadFile(path)
		if not ok then die(lerr) end
	elseif #opts.syncs > 0 then
		local ok, serr = pcall(cliSyncs, opts.syncs, opts.sshopts)
		if not ok then die(tostring(serr)) end
	else
		io.stdout:write(cli.usage)
		core.terminate(255)
	end
	for k, v in pairs(opts.settings) do config.settings[k] = v end
	runner.cliSettings = opts.settings
	local settings = config.settings
	if reloading then settings.insist = true end
	if #config.syncConfigs == 0 then die('Nothing to watch: the config defines no sync{}.') end

	for i, cfg in ipairs(config.syncConfigs) do
		cfg._fingerprint = reload.fingerprint(cfg, settings)
		local ok, s = pcall(Sync.new, cfg, i)
		if not ok then die((cfg._where or '') .. tostring(s)) end
		userenv.translateLayer3(cfg)
		syncs[i] = s
	end
	config.syncObjects = syncs
	if opts.checkConfigOnly then
		io.stdout:write('Config ', tostring(runner.configPath or ''), ' is good.\n')
		io.stdout:flush()
		core.terminate(0)
	end
	if opts.check then
		local code = require('setup').check(syncs, runner.configPath)
		io.stdout:flush()
		core.terminate(code)
	end

	local mode = inotifyModes[settings.inotifyMode or 'CloseWrite']
	if not mode then
		die('inotifyMode "' .. tostring(settings.inotifyMode) .. '" is not known'
			.. ' (use "CloseWrite", "Modify" or "CloseWrite or Modify")')
	end

	local ok, lerr = core.logSetup {
		logfile = settings.logfile,
		syslog = not settings.nodaemon and not settings.logfile,
		ident = settings.logident or 'lsyncd', facility = settings.logfacility,
	}
	if not ok then die(lerr) end
	if settings.nodaemon then
		log('Normal', '--- Startup ---')
		core.logSetup { phase = 'console' }
	else
		log('Normal', '--- Startup, daemonizing ---')
		if not reloading then
			local dok, derr = core.daemonize()
			if not dok then die(derr) end
		end
		core.logSetup { phase = 'daemon' }
	end
	if settings.pidfile and not reloading then
		local pok, perr = core.pidfile(settings.pidfile)
		if not pok then die(perr) end
	end

	runner.wantStats = (settings.jsonStatusFile or settings.metricsFile) and true or false
	for _, s in ipairs(syncs) do runner.tune(s) end
	local muxing = sshmux.setup(settings)
	runner.muxing = muxing
	if muxing then
		for _, s in ipairs(syncs) do sshmux.attach(s) end
	end

	local wok, werr = watchtree.init(mode, runner.inotifyEvent, runner.dirWanted)
	if not wok then die('Cannot initialize inotify: ' .. tostring(werr)) end
	local roots = {}
	for _, s in ipairs(syncs) do roots[#roots + 1] = s.source end
	table.sort(roots)
	local last
	for _, root in ipairs(roots) do
		if not (last and root:sub(1, #last) == last) then
			local ok2, e2 = watchRoot(root)
			if not ok2 then die(e2) end
			last = root
		end
	end
	-- the ssh masters start once the watches are in place (events first)
	if muxing then sshmux.tick(core.now(), spawnService) end
	local now = core.now()
	-- systemd's watchdog (WatchdogSec=): a keep-alive at half its interval
	local wd = tonumber(os.getenv('WATCHDOG_USEC') or '')
	local wdpid = tonumber(os.getenv('WATCHDOG_PID') or '')
	if wd and wd > 0 and (not wdpid or wdpid == core.getpid()) then
		runner.watchdog = wd / 2e6
		runner.nextWatchdog = now
	end
	state.startup(syncs, now, runner.configPath)
	-- ready: the config is loaded and the watches are in place; the startup
	-- transfers run on (a slave that is down must not hold systemctl start)
	if not config.settings.onepass then core.notify('READY=1\nSTATUS=' .. runner.statusLine()) end
	runner.checkStartup()
end

return runner
