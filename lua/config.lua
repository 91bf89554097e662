-- config.lua: what a config file means: settings{}, sync{}, lsyncd's
-- inheritance of sync tables, key checking, and loading the file itself
-- with errors that name the file and line. Old forms of configs are
-- translated by compat.lua.

local compat = require 'compat'

local M = {}

M.settings = {}          -- merged settings{} values
M.syncConfigs = {}       -- merged sync{} tables in call order
M.syncObjects = nil      -- the built syncs, in the same order (M.bind)
M.loading = false        -- sync{} may be called (a config file runs)
M.cliDelay = nil         -- -delay of the command line (startup sets it)

-- A config is loaded anew (a HUP): the running one's settings, sync
-- configs and syncs are put aside and returned, for M.restore when the
-- new one cannot be applied.
function M.fresh()
	local old = { settings = M.settings, syncConfigs = M.syncConfigs, syncObjects = M.syncObjects }
	M.settings, M.syncConfigs, M.syncObjects = {}, {}, nil
	return old
end

function M.restore(old)
	M.settings, M.syncConfigs, M.syncObjects = old.settings, old.syncConfigs, old.syncObjects
end

-- The syncs built from M.syncConfigs, in their order: sync{}'s result
-- reaches each one's inlet through them.
function M.bind(syncs) M.syncObjects = syncs end

-- Calls fn(...) as a config file would run: sync{} may be called.
function M.defining(fn, ...)
	M.loading = true
	local ok, err = pcall(fn, ...)
	M.loading = false
	if not ok then error(err, 0) end
end

-- Valid settings{} keys (lsyncd 2.2 + 2.3).
M.settingKeys = {
	logfile = true, pidfile = true, nodaemon = true, statusFile = true,
	statusInterval = true, logfacility = true, logident = true, insist = true,
	inotifyMode = true, maxProcesses = true, maxDelays = true, onepass = true,
	-- lsyncd-ng additions
	jsonStatusFile = true, metricsFile = true, sshReuse = true, maxBackoff = true,
	quickCheck = true, rsyncTimeout = true, outOfWatches = true, rescanInterval = true,
	moves = true, progressInterval = true, moveMinSize = true, childTimeout = true,
	stateDir = true, startup = true, maxQueueMemory = true,
}

-- Levenshtein distance, for "did you mean".
local function distance(a, b)
	local prev = {}
	for j = 0, #b do prev[j] = j end
	for i = 1, #a do
		local cur = { [0] = i }
		for j = 1, #b do
			local cost = a:byte(i) == b:byte(j) and 0 or 1
			cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
		end
		prev = cur
	end
	return prev[#b]
end

-- " (did you mean "x"?)" for the nearest of keys, or "".
function M.suggest(key, keys)
	if type(key) ~= 'string' then return '' end
	local best, bestd
	for k in pairs(keys) do
		if type(k) == 'string' then
			local d = distance(key:lower(), k:lower())
			if not bestd or d < bestd or (d == bestd and k < best) then best, bestd = k, d end
		end
	end
	if best and bestd <= math.max(2, math.floor(#key / 3)) then
		return ' (did you mean "' .. best .. '"?)'
	end
	return ''
end

-- The `settings` global: callable like lsyncd's function, and also a table
-- so that old configs' `settings.nodaemon = true` works (lsyncd 2.1+ fails).
M.settingsObject = setmetatable({}, {
	__call = function(_, t) return M.settingsFunc(t) end,
	__index = function(_, k) return M.settings[k] end,
	__newindex = function(_, k, v)
		local key, val = M.checkSetting(k, v)
		M.settings[key] = val
	end,
})

-- The type a setting's value must have (the others take any value, read
-- as true or false). A number may be given as a numeric string (Lua
-- coerces it where lsyncd uses it); false turns rsyncTimeout or
-- childTimeout off.
local SETTING_TYPES = {
	statusInterval = 'number', maxProcesses = 'number', maxDelays = 'number',
	maxBackoff = 'number', rescanInterval = 'number', progressInterval = 'number',
	rsyncTimeout = 'number', moveMinSize = 'number', childTimeout = 'number', logfile = 'string',
	pidfile = 'string', statusFile = 'string',
	logfacility = 'string', logident = 'string', inotifyMode = 'string',
	jsonStatusFile = 'string', metricsFile = 'string', outOfWatches = 'string',
	stateDir = 'string', startup = 'string', maxQueueMemory = 'number',
}

-- Where the config stands: "file:line: " of stack level `level` (1 is
-- callerWhere itself).
local function callerWhere(level)
	local info = debug.getinfo(level, 'Sl')
	if info and info.currentline and info.currentline > 0 then
		local src = info.source:sub(1, 1) == '@' and info.source:sub(2) or info.short_src
		return src .. ':' .. info.currentline .. ': '
	end
	return ''
end

-- Checks one setting; returns the key and value to store (old forms
-- translated by compat). where: the config's "file:line: " (else found on
-- the stack: the config called settings{} or assigned settings.x).
function M.checkSetting(k, v, where)
	k, v = compat.setting(k, v, where or callerWhere(4))
	if k == 'delay' then return k, v end
	if not M.settingKeys[k] then
		error('setting "' .. tostring(k) .. '" unknown.' .. M.suggest(k, M.settingKeys), 3)
	end
	local want = SETTING_TYPES[k]
	if not want or v == nil or type(v) == want then return k, v end
	if want == 'number' and type(v) == 'string' and tonumber(v) then return k, tonumber(v) end
	if (k == 'rsyncTimeout' or k == 'childTimeout') and v == false then return k, v end
	local got = type(v) == 'string' and ('the string ' .. string.format('%q', v))
		or type(v) == 'boolean' and tostring(v) or ('a ' .. type(v))
	error('setting "' .. k .. '" must be a ' .. want .. ', not ' .. got, 3)
end

-- settings{...} sets keys, settings{'nodaemon'} sets names to true,
-- settings('key') reads one.
function M.settingsFunc(t, where)
	if type(t) == 'string' then return M.settings[t] end
	if type(t) ~= 'table' then error('settings expects a table, got ' .. type(t), 3) end
	for k, v in pairs(t) do
		if type(k) == 'number' then k, v = v, true end
		local key, val = M.checkSetting(k, v, where)
		M.settings[key] = val
	end
end

-- Deep copy of a table value (tables only; functions and others shared).
local function copy(v)
	if type(v) ~= 'table' then return v end
	local c = {}
	for k, x in pairs(v) do c[k] = copy(x) end
	return c
end

-- Merges src into cfg as lsyncd does: string keys first (cfg keeps what it
-- has; tables merge key-wise unless _merge == false), then integer entries
-- as parents.
local function inherit(cfg, src, verbatim)
	for k, v in pairs(src) do
		if type(k) ~= 'number' or verbatim then
			if k == '_merge' or k == '_verbatim' then -- luacheck: ignore 542
				-- control keys are not data
			elseif type(v) == 'table' and k ~= 'exitcodes' and v._merge ~= false then
				if cfg[k] == nil then
					cfg[k] = {}
					inherit(cfg[k], v, v._verbatim)
				elseif type(cfg[k]) == 'table' then
					inherit(cfg[k], v, v._verbatim)
				end
			elseif cfg[k] == nil then
				cfg[k] = copy(v)
			end
		end
	end
	if verbatim then return end
	for i = 1, #src do
		local v = src[i]
		if type(v) == 'table' then
			inherit(cfg, v)
		else
			cfg[#cfg + 1] = v
		end
	end
end
M.inherit = inherit

-- Strips a location our own runtime put in front of a message.
local function bareMessage(msg)
	msg = tostring(msg)
	return (msg:gsub('^[%w_]+%.lua:%d+: ', ''))
end

-- Completes one merged sync config: default keys, overrides, prepare, checks.
local function complete(cfg, where)
	local default = _G.default
	if type(default) == 'table' and type(default._merge) == 'table' then
		for k in pairs(default._merge) do
			if cfg[k] == nil then cfg[k] = copy(default[k]) end
		end
	end
	local s = M.settings
	if s.maxDelays ~= nil then cfg.maxDelays = s.maxDelays end
	if s.maxProcesses ~= nil then cfg.maxProcesses = s.maxProcesses end
	if M.cliDelay ~= nil then cfg.delay = M.cliDelay end
	compat.beforePrepare(cfg, where, s)
	if type(cfg.prepare) == 'function' then cfg.prepare(cfg, 4) end
	compat.afterPrepare(cfg)
	if cfg.source == nil then error('source missing from sync.', 0) end
	if type(cfg.source) ~= 'string' then
		error('source must be a string, got ' .. type(cfg.source), 0)
	end
	if cfg.delay ~= nil and (type(cfg.delay) ~= 'number' or cfg.delay < 0) then
		error('delay must be a number and >= 0', 0)
	end
end

-- lsyncd-ng's fan-out: targets = {...} (rsync family) or hosts = {...}
-- (rsyncssh) make one sync, with its own queue, per slave.
local function expand(cfg)
	local key = cfg.targets ~= nil and 'targets' or (cfg.hosts ~= nil and 'hosts') or nil
	if not key then return { cfg } end
	local list = cfg[key]
	if type(list) ~= 'table' or #list == 0 then
		error(key .. ' must be a non-empty list', 0)
	end
	cfg[key] = nil
	local out = {}
	for i, t in ipairs(list) do
		local c = copy(cfg)
		if key == 'targets' then c.target = t else c.host = t end
		c.name = (cfg.name or ('Sync' .. (#M.syncConfigs + 1))) .. '/' .. tostring(t)
		out[i] = c
	end
	return out
end

-- The sync{} global: merges, checks and records one sync definition.
function M.syncFunc(t)
	local where = callerWhere(3)
	if not M.loading then
		error(where .. 'Sync can only be created during initialization.', 0)
	end
	if type(t) ~= 'table' then error(where .. 'sync expects a table, got ' .. type(t), 0) end
	local list
	local ok, err = pcall(function()
		local cfg = {}
		inherit(cfg, t)
		list = expand(cfg)
		for _, c in ipairs(list) do complete(c, where) end
	end)
	if not ok then error(where .. bareMessage(err), 0) end
	local first = #M.syncConfigs + 1
	local userDelay = compat.userSets(t, 'delay')
	for _, c in ipairs(list) do
		c._where = where
		c._userDelay = userDelay
		M.syncConfigs[#M.syncConfigs + 1] = c
	end
	-- sync{} returns the inlet; it exists once the runner built the sync
	-- (while the config loads, compat keeps exclude changes for then).
	return setmetatable({}, { __index = function(_, k)
		local s = M.syncObjects and M.syncObjects[first]
		if not s then return compat.loadInlet(list, k, callerWhere(3)) end
		return s.inlet[k]
	end })
end

-- Hints for syntax LuaJIT (Lua 5.1) does not have.
local function syntaxHint(msg, src)
	local line = tonumber(msg:match(':(%d+):'))
	local text = ''
	if line then
		local n = 0
		for l in (src .. '\n'):gmatch('([^\n]*)\n') do
			n = n + 1
			if n == line then text = l; break end
		end
	end
	if text:find('//', 1, true) and not text:find('"[^"]*//') and not text:find("'[^']*//") then
		return '\n  integer division "//" is Lua 5.3 syntax that LuaJIT (Lua 5.1) does not have;'
			.. ' write math.floor(a / b) instead.'
	end
	if text:find('[^<]<<[^<]') or text:find('>>') or text:find('[%w%)]%s*~%s*[%w%(]')
	or text:find('[%w%)]%s*[&|]%s*[%w%(]') then
		return '\n  bitwise operators (& | ~ << >>) are Lua 5.3 syntax that LuaJIT does not have;'
			.. ' use bit.band, bit.bor, bit.bxor, bit.lshift, bit.rshift instead.'
	end
	return ''
end

-- Loads and runs the config file. Returns true, or nil and a message that
-- starts with "file:line:".
function M.loadFile(path)
	local f = io.open(path, 'rb')
	if not f then return nil, 'Cannot find config file at \'' .. path .. '\'.' end
	local src = f:read('*a')
	f:close()
	local chunk, lerr = loadstring(src, '@' .. path)
	if not chunk then
		-- Lua shortens long chunk names with "...": put the whole path back.
		local rest = lerr:match('^%.%.%.[^:]*(:%d+:.*)$')
		if rest then lerr = path .. rest end
		return nil, lerr .. syntaxHint(lerr, src)
	end
	compat.scanPaths(src, path)
	M.loading = true
	local ok, rerr = xpcall(chunk, function(e)
		if type(e) == 'string' and not e:match('^[^:]+:%d+:') then
			return callerWhere(3) .. e
		end
		return e
	end)
	M.loading = false
	require('exit').pass(ok, rerr)     -- a terminate() in the config ends here
	if not ok then
		rerr = tostring(rerr)
		local rest = rerr:match('^%.%.%.[^:]*(:%d+:.*)$')
		if rest then rerr = path .. rest end
		return nil, rerr
	end
	-- The pre-2.2 form `settings = { ... }` replaced the function: honour it.
	if type(_G.settings) == 'table' and _G.settings ~= M.settingsObject then
		local old = _G.settings
		_G.settings = M.settingsObject
		local where = path .. ': '
		local n = 0
		for line in (src .. '\n'):gmatch('([^\n]*)\n') do
			n = n + 1
			if line:match('^%s*settings%s*=') then where = path .. ':' .. n .. ': '; break end
		end
		core.log('Warn', where .. '"settings = { ... }" is the old form; write "settings { ... }"'
			.. ' (without the equal sign). Its values are used.')
		local sok, serr = pcall(M.settingsFunc, old, where)
		if not sok then
			serr = bareMessage(serr)
			return nil, serr:sub(1, #path) == path and serr or (where .. serr)
		end
	end
	compat.applySettingsDelay(M.syncConfigs, M.settings, M.cliDelay)
	return true
end

return M
