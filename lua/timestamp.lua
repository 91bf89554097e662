-- timestamp.lua: lsyncd's timestamps (now(), alarm times): opaque values
-- supporting t + s, t - s, t1 - t2, <, <=, ==, .seconds and .string.

local M = {}

local TS = {}
TS.__index = function(t, k)
	if k == 'seconds' then return rawget(t, 'v') end
	if k == 'string' then return tostring(rawget(t, 'v')) end
	return nil
end
local function ts(v) return setmetatable({ v = v }, TS) end
local function val(x) return type(x) == 'table' and rawget(x, 'v') or x end
TS.__add = function(a, b) return ts(val(a) + val(b)) end
TS.__sub = function(a, b)
	if type(a) == 'table' and type(b) == 'table' then return a.v - b.v end
	return ts(val(a) - val(b))
end
TS.__lt = function(a, b) return val(a) < val(b) end
TS.__le = function(a, b) return val(a) <= val(b) end
TS.__eq = function(a, b) return val(a) == val(b) end
TS.__tostring = function(t) return '(Timestamp: ' .. t.v .. ')' end
TS.__concat = function(a, b) return tostring(a) .. tostring(b) end

-- A timestamp of v seconds (the monotonic clock).
M.new = ts
-- The seconds of a timestamp, or x itself when it is a number.
M.value = val
-- True when v is a timestamp.
function M.is(v) return getmetatable(v) == TS end

return M
