-- json.lua: the small JSON encoder and decoder the status outputs need.

local M = {}

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
	['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function encodeString(s)
	return '"' .. s:gsub('[%c"\\]', function(c)
		return escapes[c] or string.format('\\u%04x', c:byte())
	end) .. '"'
end

-- Encodes v (tables with a [1] are arrays; keys sorted for stable output).
function M.encode(v)
	local t = type(v)
	if t == 'nil' then return 'null' end
	if t == 'boolean' then return tostring(v) end
	if t == 'number' then
		if v ~= v or v == math.huge or v == -math.huge then return 'null' end
		if v == math.floor(v) and math.abs(v) < 2^53 then return string.format('%d', v) end
		-- the shortest form that reads back as the same number (epoch
		-- seconds with a fraction need 16-17 digits)
		local str = string.format('%.15g', v)
		if tonumber(str) ~= v then str = string.format('%.17g', v) end
		return str
	end
	if t == 'string' then return encodeString(v) end
	if t == 'table' then
		if v[1] ~= nil or next(v) == nil and getmetatable(v) == M.array then
			local out = {}
			for i = 1, #v do out[i] = M.encode(v[i]) end
			return '[' .. table.concat(out, ',') .. ']'
		end
		local keys = {}
		for k in pairs(v) do keys[#keys + 1] = tostring(k) end
		table.sort(keys)
		local out = {}
		for _, k in ipairs(keys) do out[#out + 1] = encodeString(k) .. ':' .. M.encode(v[k]) end
		return '{' .. table.concat(out, ',') .. '}'
	end
	return 'null'
end

M.array = {}   -- metatable marking an empty table as an array

-- Decodes a JSON text; returns the value or nil, error.
function M.decode(s)
	local pos = 1
	local function ws() pos = s:find('[^ \t\r\n]', pos) or #s + 1 end
	local value
	local function str()
		local out, i = {}, pos + 1
		while true do
			local c = s:sub(i, i)
			if c == '' then error('unterminated string') end
			if c == '"' then pos = i + 1; return table.concat(out) end
			if c == '\\' then
				local e = s:sub(i + 1, i + 1)
				local map = { b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' }
				if e == 'u' then
					local n = tonumber(s:sub(i + 2, i + 5), 16)
					out[#out + 1] = n < 128 and string.char(n) or '?'
					i = i + 6
				else
					out[#out + 1] = map[e] or e
					i = i + 2
				end
			else
				out[#out + 1] = c
				i = i + 1
			end
		end
	end
	function value()
		ws()
		local c = s:sub(pos, pos)
		if c == '{' then
			local t = {}
			pos = pos + 1; ws()
			if s:sub(pos, pos) == '}' then pos = pos + 1; return t end
			while true do
				ws()
				local k = str(); ws()
				if s:sub(pos, pos) ~= ':' then error('":" expected at ' .. pos) end
				pos = pos + 1
				t[k] = value(); ws()
				local d = s:sub(pos, pos); pos = pos + 1
				if d == '}' then return t end
				if d ~= ',' then error('"," expected at ' .. pos) end
			end
		elseif c == '[' then
			local t = {}
			pos = pos + 1; ws()
			if s:sub(pos, pos) == ']' then pos = pos + 1; return t end
			while true do
				t[#t + 1] = value(); ws()
				local d = s:sub(pos, pos); pos = pos + 1
				if d == ']' then return t end
				if d ~= ',' then error('"," expected at ' .. pos) end
			end
		elseif c == '"' then
			return str()
		else
			local lit = s:match('^[%w%.%+%-]+', pos)
			if not lit then error('unexpected character at ' .. pos) end
			pos = pos + #lit
			if lit == 'true' then return true elseif lit == 'false' then return false
			elseif lit == 'null' then return nil end
			local n = tonumber(lit)
			if not n then error('bad literal ' .. lit) end
			return n
		end
	end
	local ok, r = pcall(value)
	if not ok then return nil, r end
	return r
end

return M
