-- reload.lua: what a HUP changes. A sync's definition is reduced to a
-- fingerprint (its merged config, functions by their bytecode and upvalues,
-- and the settings that shape transfers); the new config's syncs are
-- matched against the running ones by it. A sync whose definition did not
-- change keeps its queue, retry state and ssh master, and gets no startup
-- transfer; a changed or new one starts afresh; a removed one finishes what
-- runs and stops.

local M = {}

-- Settings a running sync does not depend on: a change of these alone
-- leaves every sync as it is (the daemon applies them itself).
M.DAEMON_SETTINGS = {
	logfile = true, logfacility = true, logident = true, pidfile = true, nodaemon = true,
	statusFile = true, statusInterval = true, jsonStatusFile = true, metricsFile = true,
	insist = true, onepass = true, maxBackoff = true, progressInterval = true,
	childTimeout = true, rescanInterval = true, outOfWatches = true,
}

-- Keys of a merged sync config that are bookkeeping, not definition.
local SKIP = { _where = true, _inlet = true, _userDelay = true, _fingerprint = true }

local MAX_DEPTH = 8

-- Appends a canonical text of v to out (tables with sorted keys; a table
-- met again is named by its first path, so cycles end).
local function put(out, v, seen, depth, path)
	local t = type(v)
	if t == 'table' then
		if seen[v] then out[#out + 1] = '@' .. seen[v]; return end
		if depth > MAX_DEPTH then out[#out + 1] = '{...}'; return end
		seen[v] = path
		local keys = {}
		for k in pairs(v) do
			if not (type(k) == 'string' and SKIP[k]) then keys[#keys + 1] = k end
		end
		table.sort(keys, function(a, b)
			local ta, tb = type(a), type(b)
			if ta ~= tb then return ta < tb end
			if ta == 'string' or ta == 'number' then return a < b end
			return tostring(a) < tostring(b)
		end)
		out[#out + 1] = '{'
		for _, k in ipairs(keys) do
			put(out, k, seen, depth + 1, path .. '.k')
			out[#out + 1] = '='
			put(out, v[k], seen, depth + 1, path .. '.' .. tostring(k))
			out[#out + 1] = ';'
		end
		out[#out + 1] = '}'
	elseif t == 'function' then
		if seen[v] then out[#out + 1] = '@' .. seen[v]; return end
		seen[v] = path
		-- a function of the config is its code (without line numbers, so
		-- moving it in the file does not count) plus what it closes over; one
		-- of lsyncd-ng's own (default.rsync.action, say) is which one it is:
		-- its upvalues are the runtime's state, not the definition
		local info = debug.getinfo(v, 'S')
		if info.what == 'C' or info.source:sub(1, 5) == '@lua/' then
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
				put(out, up, seen, depth + 1, path .. '^' .. i)
				i = i + 1
			end
		end
	elseif t == 'string' then
		out[#out + 1] = string.format('%q', v)
	else
		out[#out + 1] = t .. ':' .. tostring(v)
	end
end

-- The text two definitions share when (and only when) they are the same.
function M.fingerprint(cfg, settings)
	local out = {}
	put(out, cfg, {}, 0, 'c')
	local shaping = {}
	for k, v in pairs(settings or {}) do
		if not M.DAEMON_SETTINGS[k] then shaping[k] = v end
	end
	out[#out + 1] = '|'
	put(out, shaping, {}, 0, 's')
	return table.concat(out)
end

-- Matches the new configs (each with _fingerprint) against the running
-- syncs (each s.config._fingerprint): returns plan, removed. plan[i] is
-- { keep = sync } or { new = cfg } in the new config's order; removed
-- lists the running syncs nothing matched. Equal definitions pair up in
-- order (two identical syncs stay two).
function M.plan(running, cfgs)
	local free = {}
	for _, s in ipairs(running) do
		local fp = s.config._fingerprint
		local l = free[fp]
		if not l then l = {}; free[fp] = l end
		l[#l + 1] = s
	end
	local plan = {}
	for i, c in ipairs(cfgs) do
		local l = free[c._fingerprint]
		local s = l and table.remove(l, 1)
		plan[i] = s and { keep = s } or { new = c }
	end
	local removed = {}
	for _, s in ipairs(running) do
		local l = free[s.config._fingerprint]
		for _, x in ipairs(l or {}) do
			if x == s then removed[#removed + 1] = s end
		end
	end
	return plan, removed
end

return M
