-- log.lua: lsyncd's log(category, ...) for configs and the runtime: the
-- values are joined, nil and booleans shown in parentheses.

local timestamp = require 'timestamp'

local M = {}

local function show(v)
	local t = type(v)
	if t == 'string' or t == 'number' then return v end
	if t == 'nil' then return '(nil)' end
	if t == 'boolean' then return v and '(true)' or '(false)' end
	if timestamp.is(v) then return tostring(v) end
	return '(' .. tostring(v) .. ')'
end

-- Logs the values joined to category cat (nothing when cat is off).
function M.log(cat, ...)
	if not core.logEnabled(cat) then return end
	local n = select('#', ...)
	local parts = { ... }
	for i = 1, n do parts[i] = show(parts[i]) end
	core.log(cat, table.concat(parts, '', 1, n))
end

-- Ends the daemon on an error it cannot go on with: logged, exit 255.
function M.die(msg)
	core.log('Error', msg)
	core.terminate(255)
end

return M
