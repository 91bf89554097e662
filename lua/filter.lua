-- filter.lua: lsyncd's exclude and filter rules, matched the way rsync
-- matches them, so the runner's decisions and the startup rsync agree.
--
-- Paths are sync-relative with a leading '/', directories with a trailing
-- '/': '/a/b/f', '/a/d/'.

local Filter = {}
Filter.__index = Filter

-- Turns an rsync pattern into a Lua pattern (and whether it is dir-only).
local function compile(pat)
	local dirOnly = false
	if pat:sub(-1) == '/' and #pat > 1 then
		dirOnly = true
		pat = pat:sub(1, -2)
	end
	local anchored = pat:sub(1, 1) == '/'
	if anchored then pat = pat:sub(2) end
	local out, i, n = {}, 1, #pat
	while i <= n do
		local c = pat:sub(i, i)
		if c == '\\' and i < n then
			local nx = pat:sub(i + 1, i + 1)
			out[#out + 1] = nx:match('%w') and nx or ('%' .. nx)
			i = i + 2
		elseif c == '*' then
			if pat:sub(i + 1, i + 1) == '*' then
				out[#out + 1] = '.*'
				i = i + 2
				if pat:sub(i, i) == '*' then i = i + 1 end
			else
				out[#out + 1] = '[^/]*'
				i = i + 1
			end
		elseif c == '?' then
			out[#out + 1] = '[^/]'
			i = i + 1
		elseif c == '[' then
			local close = pat:find(']', i + 2, true)
			if close then
				local body = pat:sub(i + 1, close - 1)
				local neg = body:sub(1, 1) == '!' or body:sub(1, 1) == '^'
				if neg then body = body:sub(2) end
				body = body:gsub('[%%%]%^]', '%%%0')
				out[#out + 1] = '[' .. (neg and '^' or '') .. body .. ']'
				i = close + 1
			else
				out[#out + 1] = '%['
				i = i + 1
			end
		else
			out[#out + 1] = (c:gsub('[%^%$%(%)%%%.%[%]%+%-]', '%%%0'))
			i = i + 1
		end
	end
	local body = table.concat(out)
	-- anchored: the whole path from the root; else a tail of it that
	-- starts at a '/' boundary
	local lp = (anchored and '^/' or '/') .. body .. '$'
	return { lua = lp, dirOnly = dirOnly }
end

-- True if rule r matches exactly path p (not through a parent).
local function matches(r, p)
	local isdir = p:sub(-1) == '/'
	if r.dirOnly and not isdir then return false end
	if isdir then p = p:sub(1, -2) end
	return p:find(r.lua) ~= nil
end

function Filter.new()
	return setmetatable({ excludes = {}, exList = {}, filters = {} }, Filter)
end

function Filter:addExclude(pat)
	if type(pat) ~= 'string' then error('exclude patterns must be strings', 2) end
	if self.excludes[pat] then return end
	self.excludes[pat] = compile(pat)
	self.exList[#self.exList + 1] = pat
end

function Filter:rmExclude(pat)
	if not self.excludes[pat] then
		core.log('Normal', 'Did not remove exclude "' .. pat .. '" as it was not set.')
		return
	end
	self.excludes[pat] = nil
	for i, p in ipairs(self.exList) do
		if p == pat then table.remove(self.exList, i); break end
	end
end

-- Reads excludes from a file: one per line; '#', '+' lines and blanks skipped.
function Filter:loadExcludeFile(path)
	local f, err = io.open(path, 'r')
	if not f then error("cannot open exclude file '" .. path .. "': " .. tostring(err), 0) end
	for line in f:lines() do
		line = line:gsub('\r$', '')
		if line ~= '' and not line:match('^%s*#') and not line:match('^%s*%+') then
			local p = line:gsub('^%s*%-?%s*', '')
			if p ~= '' then self:addExclude(p) end
		end
	end
	f:close()
end

function Filter:addFilter(line)
	if type(line) ~= 'string' then error('filter rules must be strings', 2) end
	local sign, pat = line:match('^([%+%-])%s+(.+)$')
	if not sign then error("Unknown filter rule: '" .. line .. "'", 0) end
	local r = compile(pat)
	r.sign, r.text = sign, line
	self.filters[#self.filters + 1] = r
end

function Filter:loadFilterFile(path)
	local f, err = io.open(path, 'r')
	if not f then error("cannot open filter file '" .. path .. "': " .. tostring(err), 0) end
	for line in f:lines() do
		line = line:gsub('\r$', '')
		if line ~= '' and not line:match('^%s*#') then self:addFilter(line) end
	end
	f:close()
end

-- The verdict of the rules on path itself: true excluded, false included.
function Filter:decide(path)
	for _, r in ipairs(self.filters) do
		if matches(r, path) then return r.sign == '-' end
	end
	for _, p in ipairs(self.exList) do
		if matches(self.excludes[p], path) then return true end
	end
	return false
end

-- True if path (see the top) is excluded: it, or a directory above it
-- (rsync never descends into an excluded directory).
function Filter:isExcluded(path)
	if path == '/' then return false end
	if #self.filters == 0 and #self.exList == 0 then return false end
	local i = 2
	while true do
		local j = path:find('/', i, true)
		if not j or j == #path then break end
		if self:decide(path:sub(1, j)) then return true end
		i = j + 1
	end
	return self:decide(path)
end

function Filter:getExcludes()
	local out = {}
	for i, p in ipairs(self.exList) do out[i] = p end
	return out
end

function Filter:getFilters()
	local out = {}
	for _, r in ipairs(self.filters) do out[#out + 1] = r.text end
	for _, p in ipairs(self.exList) do out[#out + 1] = '- ' .. p end
	return out
end

function Filter:hasFilters() return #self.filters > 0 end
function Filter:hasExcludes() return #self.exList > 0 end

return Filter
