-- definition.lua: a sync's definition (its merged config) as text, for
-- telling whether two definitions are the same. One walk, two modes:
--   fingerprint  in this process (a HUP, lua/reload.lua): functions by
--                their code without line numbers and the values they close
--                over, tables met again by their first path, plus the
--                settings that shape transfers. Never stored: addresses of
--                C functions may appear.
--   hash         stored (lua/state.lua): no addresses, lsyncd-ng's own
--                functions named by their file so an upgrade keeps the
--                state, a config's functions by a hash of their bytecode,
--                every '_' key (bookkeeping such as the per-pid ssh
--                ControlPath), the name and checkgauge left out.
--                Its text must stay byte for byte what it is: a change
--                makes every user's stored state invalid (the full startup
--                transfer for every slave). spec/lua/definition_spec.lua
--                pins it.

local M = {}

-- Settings a running sync does not depend on: a change of these alone
-- leaves every sync as it is (the daemon applies them itself).
M.DAEMON_SETTINGS = {
	logfile = true, logfacility = true, logident = true, pidfile = true, nodaemon = true,
	statusFile = true, statusInterval = true, jsonStatusFile = true, metricsFile = true,
	insist = true, onepass = true, maxBackoff = true, progressInterval = true,
	childTimeout = true, rescanInterval = true, outOfWatches = true,
}

-- A function of lsyncd-ng's own runtime (bundled as lua/NAME.lua).
local function ours(info) return info.source:sub(1, 5) == '@lua/' end

-- How each mode writes what the walk meets (walk: the walk itself, for
-- what a function closes over).
local modes = {}

local MAX_DEPTH = 8        -- fingerprint: deeper tables are '{...}'

-- Keys of a merged sync config that are bookkeeping, not definition.
local RUNNING_SKIP = { _where = true, _inlet = true, _userDelay = true, _fingerprint = true }

modes.fingerprint = {
	maxDepth = MAX_DEPTH,
	remember = true,           -- a table or function met again: '@' and its first path
	skip = function(k) return type(k) == 'string' and RUNNING_SKIP[k] end,
	before = function(a, b)
		local ta, tb = type(a), type(b)
		if ta ~= tb then return ta < tb end
		if ta == 'string' or ta == 'number' then return a < b end
		return tostring(a) < tostring(b)
	end,
	key = function(out, k, walk, seen, depth, path)
		walk(out, k, seen, depth + 1, path .. '.k')
		out[#out + 1] = '='
	end,
	sep = ';',
	string = function(v) return string.format('%q', v) end,
	-- a function of the config is its code (without line numbers, so
	-- moving it in the file does not count) plus what it closes over; one
	-- of lsyncd-ng's own (default.rsync.action, say) is which one it is:
	-- its upvalues are the runtime's state, not the definition
	fn = function(out, v, walk, seen, depth, path)
		local info = debug.getinfo(v, 'S')
		if info.what == 'C' or ours(info) then
			out[#out + 1] = 'rt:' .. info.source .. ':' .. tostring(info.linedefined)
			if info.what == 'C' then out[#out + 1] = tostring(v) end
			return
		end
		local ok, code = pcall(string.dump, v, true)
		out[#out + 1] = ok and ('fn:' .. code) or ('fn?' .. tostring(v))
		if ok and depth <= MAX_DEPTH then
			local i = 1
			while true do
				local name, up = debug.getupvalue(v, i)
				if not name then break end
				out[#out + 1] = '^' .. name .. '='
				walk(out, up, seen, depth + 1, path .. '^' .. i)
				i = i + 1
			end
		end
	end,
}

modes.hash = {
	remember = false,          -- only a cycle is cut ('<cycle>'); shared tables repeat
	skip = function(k)
		return type(k) == 'string' and (k:sub(1, 1) == '_' or k == 'name' or k == 'checkgauge')
	end,
	before = function(a, b) return tostring(a) < tostring(b) end,
	key = function(out, k) out[#out + 1] = tostring(k) .. '=' end,
	sep = ',',
	string = function(v) return 'string:' .. v end,
	fn = function(out, v)
		local info = debug.getinfo(v, 'S')
		if ours(info) then
			out[#out + 1] = info.source
		else
			local ok, code = pcall(string.dump, v)
			out[#out + 1] = ok and core.storeHash(code) or 'cfunction'
		end
	end,
}

-- Appends the text of v in mode m to out. seen: table/function -> its path
-- (fingerprint: everything met; hash: the tables being walked).
local function walker(m)
	local walk
	walk = function(out, v, seen, depth, path)
		local t = type(v)
		if t == 'table' then
			if seen[v] then out[#out + 1] = m.remember and ('@' .. seen[v]) or '<cycle>'; return end
			if m.maxDepth and depth > m.maxDepth then out[#out + 1] = '{...}'; return end
			seen[v] = path
			local keys = {}
			for k in pairs(v) do
				if not m.skip(k) then keys[#keys + 1] = k end
			end
			table.sort(keys, m.before)
			out[#out + 1] = '{'
			for _, k in ipairs(keys) do
				m.key(out, k, walk, seen, depth, path)
				walk(out, v[k], seen, depth + 1, path .. '.' .. tostring(k))
				out[#out + 1] = m.sep
			end
			out[#out + 1] = '}'
			if not m.remember then seen[v] = nil end
		elseif t == 'function' then
			if m.remember then
				if seen[v] then out[#out + 1] = '@' .. seen[v]; return end
				seen[v] = path
			end
			m.fn(out, v, walk, seen, depth, path)
		elseif t == 'string' then
			out[#out + 1] = m.string(v)
		else
			out[#out + 1] = t .. ':' .. tostring(v)
		end
	end
	return walk
end

local walks = { fingerprint = walker(modes.fingerprint), hash = walker(modes.hash) }

-- The text of value v in mode ('fingerprint' or 'hash').
function M.text(v, mode)
	local out = {}
	walks[mode](out, v, {}, 0, 'c')
	return table.concat(out)
end

-- The text two definitions share in this process when (and only when)
-- they are the same: the config and the settings that shape transfers.
function M.fingerprint(cfg, settings)
	local shaping = {}
	for k, v in pairs(settings or {}) do
		if not M.DAEMON_SETTINGS[k] then shaping[k] = v end
	end
	local out = {}
	walks.fingerprint(out, cfg, {}, 0, 'c')
	out[#out + 1] = '|'
	walks.fingerprint(out, shaping, {}, 0, 's')
	return table.concat(out)
end

-- The stored hash of a definition: a change of it invalidates the sync's
-- state (16 hex digits, core.storeHash).
function M.hash(cfg)
	return core.storeHash('lsyncd-ng state 1;' .. M.text(cfg, 'hash'))
end

return M
