-- startup.lua: a config applied: the daemon's start (the command line, the
-- config or the command line's syncs, the syncs built, logging, daemonizing,
-- the pid file, ssh masters, the watches, the startup transfers queued,
-- READY=1), and a HUP's checked config applied in place.

local cli = require 'cli'
local config = require 'config'
local Sync = require 'sync'
local userenv = require 'userenv'
local status = require 'status'
local sshmux = require 'sshmux'
local procs = require 'procs'
local reload = require 'reload'
local definition = require 'definition'
local syncset = require 'syncset'
local scheduler = require 'scheduler'
local log = require('log').log
local watchtree = require 'watchtree'
local state = require 'state'

local M = {}

M.DEFAULT_CONFIG = '/etc/lsyncd-ng/lsyncd-ng.conf.lua'
M.LSYNCD_CONFIG = '/etc/lsyncd/lsyncd.conf.lua'

local configPath          -- the config file (nil: syncs of the command line)
local cliSettings         -- settings given on the command line
local muxing              -- ssh connection reuse is on

local die = require('log').die

-- lsyncd-ng's defaults on top of a sync's rsync arguments: an I/O timeout
-- for remote slaves (lsyncd sets none, so a dead link stalls a slave until
-- TCP gives up), unless the config sets its own.
function M.tune(s)
	local r = s:getConfig().rsync
	if type(r) ~= 'table' or type(r._computed) ~= 'table' then return end
	if r.timeout == nil and sshmux.remoteOf(s:target()) then
		local t = config.settings.rsyncTimeout or 30
		if t and t > 0 then r._computed[#r._computed + 1] = '--timeout=' .. t end
	end
end

-- Adds the syncs given on the command line (-rsync, -rsyncssh, -direct).
local function cliSyncs(list, sshopts)
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
end

local inotifyModes = { CloseWrite = 0, Modify = 1, ['CloseWrite or Modify'] = 2 }

-- Watches root of a sync (a new one after a reload, or one at startup).
local function watchRoot(root)
	local r = root:sub(1, -2)
	local ok, err = watchtree.watch(r)
	if ok then return true end
	if tostring(err):find('No space') then
		scheduler.outOfWatches(r)
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

-- A new config that cannot be applied: the running one stays.
function M.reloadFailed(msg)
	msg = tostring(msg):gsub('%s+', ' ')
	log('Error', 'HUP: the new config has an error; the running config stays: ', msg)
	core.notify('READY=1\nSTATUS=config reload failed, running the previous config: ' .. msg:sub(1, 200))
end

-- A sync the new config no longer has (or has changed: replaced): what
-- waits is dropped, what runs finishes (its collect still runs), then it
-- is gone.
function M.retire(s, replaced)
	s:retire()
	syncset.retire(s)
	local n = s:processCount()
	log('Normal', s.name, replaced and ': changed by the new config, starts afresh'
		or ': removed by the new config', n > 0
		and (', finishing ' .. n .. ' transfer(s) under way') or '')
end

-- Drops the watches of a removed sync's tree, unless a sync still runs on it.
function M.unwatchRemoved(s)
	local syncs = syncset.all()
	for _, o in ipairs(syncs) do
		local a, b = o.source, s.source
		if a:sub(1, #b) == b or b:sub(1, #a) == a then return end
	end
	core.unwatch(s.source:sub(1, -2))
end

-- Applies the config file again without a restart: syncs whose definition
-- did not change keep their queue, retry state and ssh master and get no
-- startup transfer; changed and new syncs start with theirs; removed ones
-- finish what runs and stop. Settings of the daemon itself (status files,
-- back-off, ...) apply at once; a few need a restart, and say so.
function M.reloadConfig()
	local syncs = syncset.all()
	local now = core.now()
	local old = config.fresh()
	local ok, err = config.loadFile(configPath)
	if ok and #config.syncConfigs == 0 then ok, err = nil, 'the config defines no sync{}' end
	local plan, removed, made
	if ok then
		for k, v in pairs(cliSettings or {}) do config.settings[k] = v end
		config.settings.insist = true
		for _, c in ipairs(config.syncConfigs) do
			c._fingerprint = definition.fingerprint(c, config.settings)
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
		config.restore(old)
		return M.reloadFailed(err)
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
			p.keep:getConfig()._where = config.syncConfigs[i]._where
		else
			fresh = fresh + 1
			userenv.translateLayer3(s:getConfig())
			M.tune(s)
			sshmux.attach(s)
		end
	end
	-- a removed sync named like a new one is that one's old definition
	local newNames, changed = {}, 0
	for i, p in ipairs(plan) do if p.new then newNames[list[i].name] = true end end
	for _, s in ipairs(removed) do
		if newNames[s.name] then changed = changed + 1 end
		M.retire(s, newNames[s.name])
	end
	-- the same list object, refilled: syncset and config hold it
	for i = #syncs, 1, -1 do syncs[i] = nil end
	for i, s in ipairs(list) do syncs[i] = s end
	config.bind(syncs)
	local madeList = {}
	for i, p in ipairs(plan) do
		if p.new then
			local wok, werr = watchRoot(list[i].source)
			if not wok then log('Error', 'HUP: ', werr) end
			list[i]:addInit(now)
			syncset.startupAgain()
			madeList[#madeList + 1] = list[i]
		end
	end
	-- (watched first: the index walk of a new source misses no change)
	state.reload(madeList, removed)
	for _, s in ipairs(removed) do M.unwatchRemoved(s) end
	log('Normal', '--- HUP: config reloaded: ', kept, ' sync(s) unchanged (queue and state kept), ',
		changed, ' changed and ', fresh - changed, ' new (startup transfer), ', #removed - changed,
		' removed ---')
	scheduler.statusNow()
	core.notify('READY=1\nSTATUS=' .. syncset.statusLine())
	syncset.checkStartup()
end

-- Starts the daemon on the command line args; hooks: the runner's
-- { inotifyEvent =, dirWanted = } for the watch layer. Returns what the
-- runner keeps: { configPath =, logInotify = }.
function M.initialize(hooks, args, reloading)
	local syncs = syncset.all()
	local kept = {}
	local opts, err = cli.parse(args)
	if not opts then die(err) end
	for _, l in ipairs(opts.logs) do core.logEnable(l) end
	kept.logInotify = core.logEnabled('Inotify')   -- asked once: per event it costs
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
		userenv.install()
		local code = require('setup').init(opts, args)
		io.stdout:flush()
		core.terminate(code or 0)
	end
	-- -check CONFIG: load and build everything, then check instead of running
	if opts.check then opts.config = opts.check end
	if opts.status then
		core.terminate(status.printTable(opts.status) and 0 or 1)
	end
	userenv.install()
	config.cliDelay = opts.delay
	for _, f in ipairs(opts.scripts) do dofile(f) end
	if not opts.config and #opts.syncs == 0 then
		-- the default config, or lsyncd's when lsyncd-ng has none yet
		if core.lstat(M.DEFAULT_CONFIG) then
			opts.config = M.DEFAULT_CONFIG
		elseif core.lstat(M.LSYNCD_CONFIG) then
			opts.config = M.LSYNCD_CONFIG
			core.log('Normal', 'No ' .. M.DEFAULT_CONFIG .. '; running lsyncd\'s '
				.. M.LSYNCD_CONFIG)
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
		configPath = path
		local ok, lerr = config.loadFile(path)
		if not ok then die(lerr) end
	elseif #opts.syncs > 0 then
		local ok, serr = pcall(config.defining, cliSyncs, opts.syncs, opts.sshopts)
		if not ok then die(tostring(serr)) end
	else
		io.stdout:write(cli.usage)
		core.terminate(255)
	end
	for k, v in pairs(opts.settings) do config.settings[k] = v end
	cliSettings = opts.settings
	local settings = config.settings
	if reloading then settings.insist = true end
	if #config.syncConfigs == 0 then die('Nothing to watch: the config defines no sync{}.') end

	for i, cfg in ipairs(config.syncConfigs) do
		cfg._fingerprint = definition.fingerprint(cfg, settings)
		local ok, s = pcall(Sync.new, cfg, i)
		if not ok then die((cfg._where or '') .. tostring(s)) end
		userenv.translateLayer3(cfg)
		syncs[i] = s
	end
	config.bind(syncs)
	if opts.checkConfigOnly then
		io.stdout:write('Config ', tostring(configPath or ''), ' is good.\n')
		io.stdout:flush()
		core.terminate(0)
	end
	if opts.check then
		local code = require('setup').check(syncs, configPath)
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

	for _, s in ipairs(syncs) do M.tune(s) end
	-- every sync to an ssh slave knows its ssh (default.rsync runs renames
	-- there with it); with reuse on, its transfers go through a master
	muxing = sshmux.setup(settings)
	for _, s in ipairs(syncs) do sshmux.attach(s) end

	local wok, werr = watchtree.init(mode, hooks.inotifyEvent, hooks.dirWanted)
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
	if muxing then sshmux.tick(core.now(), procs.spawnService) end
	local now = core.now()
	-- systemd's watchdog (WatchdogSec=): a keep-alive at half its interval
	local wd = tonumber(os.getenv('WATCHDOG_USEC') or '')
	local wdpid = tonumber(os.getenv('WATCHDOG_PID') or '')
	if wd and wd > 0 and (not wdpid or wdpid == core.getpid()) then
		scheduler.startWatchdog(wd / 2e6, now)
	end
	-- each sync's startup transfer, or only what changed where its state
	-- is valid (lua/state.lua)
	state.startup(syncs, now, configPath)
	-- ready: the config is loaded and the watches are in place; the startup
	-- transfers run on (a slave that is down must not hold systemctl start)
	if not config.settings.onepass then core.notify('READY=1\nSTATUS=' .. syncset.statusLine()) end
	syncset.checkStartup()
	kept.configPath = configPath
	return kept
end

return M
