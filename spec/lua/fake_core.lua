-- fake_core.lua: the engine's `core` table for Lua specs, without a kernel:
-- a clock the spec sets, a file system of the paths the spec declares,
-- children that are recorded (the spec ends them through the runner),
-- log lines, notifications and written files kept for reading.
--
--   local fake = require 'fake_core'
--   local core = fake.install()          -- a fresh _G.core
--   core.dirs['/src/'] = true             -- a directory that exists
--   local mods = fake.fresh()             -- lua/ modules loaded anew
--
-- core.terminate raises { terminated = code } (the real one does not
-- return); core.terminated keeps the code.

local M = {}

-- Every module of the runtime (lua/NAME.lua) that is loaded is dropped:
-- the next require loads it anew, with fresh state.
function M.fresh()
	for name in pairs(package.loaded) do
		local f = type(name) == 'string' and io.open('lua/' .. name .. '.lua', 'r')
		if f then
			f:close()
			package.loaded[name] = nil
		end
	end
	return setmetatable({}, { __index = function(t, k)
		local v = require(k)
		rawset(t, k, v)
		return v
	end })
end

function M.install()
	local c = {
		clock = 1000, wall = 1700000000, version = 'test',
		dirs = {}, files = {},           -- path -> true / path -> size
		spawned = {}, byPid = {}, killed = {}, logs = {}, notified = {}, written = {},
		watched = {}, nextPid = 100, failSpawn = false, pid = 4242, uid = 1000,
		enabled = { Normal = true, Error = true, Warn = true },
	}
	function c.now() return c.clock end
	function c.time() return c.wall + c.clock end
	function c.log(cat, msg) c.logs[#c.logs + 1] = { cat = cat, msg = msg } end
	function c.logEnabled(cat) return c.enabled[cat] == true end
	function c.logEnable(cat) c.enabled[cat] = true end
	function c.logSetup() return true end
	function c.notify(s) c.notified[#c.notified + 1] = s end
	function c.terminate(code)
		c.terminated = code or 0
		error({ terminated = c.terminated }, 0)
	end
	-- children: recorded; spawn fails with failSpawn set (a string: the error)
	function c.spawn(argv, stdin)
		if c.failSpawn then return nil, c.failSpawn end
		c.nextPid = c.nextPid + 1
		local child = { pid = c.nextPid, argv = argv, stdin = stdin }
		c.spawned[#c.spawned + 1] = child
		c.byPid[child.pid] = child
		return child.pid
	end
	function c.exiting() return c.terminated ~= nil end
	function c.kill(pid, sig) c.killed[#c.killed + 1] = { pid = pid, sig = sig } end
	function c.run() return 0, '' end
	-- file system: dirs end in '/' or not, both are looked up
	local function isDir(p) return c.dirs[p] or c.dirs[p .. '/'] or c.dirs[(p:gsub('/$', ''))] end
	function c.lstat(p)
		if isDir(p) then return { type = 'directory' } end
		if c.files[p] then return { type = 'file', size = c.files[p] } end
		return nil
	end
	function c.realpath(p)
		if isDir(p) or c.files[p] then return (p:gsub('(.)/$', '%1')) end
		return nil, 'No such file or directory'
	end
	function c.readdir(p)
		local out, base = {}, p:gsub('/*$', '') .. '/'
		for q in pairs(c.dirs) do
			local name = q:sub(1, #base) == base and q:sub(#base + 1):match('^([^/]+)/?$')
			if name then out[name] = true end
		end
		for q in pairs(c.files) do
			local name = q:sub(1, #base) == base and q:sub(#base + 1):match('^([^/]+)$')
			if name then out[name] = false end
		end
		return out
	end
	function c.mkdir(p) c.dirs[p] = true; return true end
	function c.rundir(p) c.dirs[p] = true; return true end
	function c.writeFile(path, text) c.written[path] = text; return true end
	function c.getpid() return c.pid, c.uid end
	function c.isatty() return false end
	-- watches
	function c.watchInit() return true end
	function c.watch(p) c.watched[#c.watched + 1] = p; return true end
	-- the engine's one-directory watch (lua/watchtree.lua walks with it):
	-- { name, isdir, ... } of the directory's entries, and whether it was
	-- watched already
	function c.watchDir(p)
		if not isDir(p) then return nil, p .. ': No such file or directory', 2 end
		local known = false
		for _, w in ipairs(c.watched) do if w == p then known = true end end
		if not known then c.watched[#c.watched + 1] = p end
		local names, list = {}, {}
		local entries = c.readdir(p)
		for n in pairs(entries) do names[#names + 1] = n end
		table.sort(names)
		for _, n in ipairs(names) do list[#list + 1] = n; list[#list + 1] = entries[n] end
		return list, known
	end
	function c.unwatch(p)
		for i = #c.watched, 1, -1 do if c.watched[i] == p then table.remove(c.watched, i) end end
	end
	function c.watchCount() return #c.watched, c.unwatched or 0 end
	function c.watchList()
		local l = {}
		for i, p in ipairs(c.watched) do l[i] = { i, p } end
		return l
	end
	-- the engine's core.storeHash (engine/api_store.c): FNV-1a over 64 bits
	-- from its offset 1469598103934665603 (a digit short of FNV's own
	-- 14695981039346656037; stored hashes depend on it)
	function c.storeHash(text)
		local h = 1469598103934665603ULL
		for i = 1, #text do h = bit.bxor(h, text:byte(i)) * 1099511628211ULL end
		return bit.tohex(h, 16)
	end
	function c.daemonize() return true end
	function c.pidfile() return true end
	function c.setReloadArgs() end
	function c.reload() c.reloaded = true end
	-- the spec's helpers (not the engine's)
	function c.logged(pattern, cat)
		for _, l in ipairs(c.logs) do
			if (not cat or l.cat == cat) and l.msg:find(pattern) then return l.msg end
		end
		return nil
	end
	_G.core = c
	return c
end

-- The usual start of a spec: a fresh core with the source dir '/src/' and
-- the runtime's modules loaded anew; returns core, modules.
function M.start()
	local c = M.install()
	c.dirs['/src/'] = true
	return c, M.fresh()
end

-- Starts the runner (mods.runner) on a config text, as the command line
-- would with a file holding it.
function M.run(c, mods, text)
	local path = os.tmpname()
	local f = assert(io.open(path, 'w'))
	f:write(text)
	f:close()
	c.files[path] = #text
	mods.runner.initialize({ path }, false)
	os.remove(path)
end

return M
