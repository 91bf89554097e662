-- filter.lua: lsyncd's `exclude` / `filter` rules, matched the way rsync
-- matches them, so that the runner's per-event decision and the startup
-- rsync (which gets the same pattern text) agree.
--
-- Paths handed to isExcluded are sync-relative with a leading '/', and
-- directories carry a trailing '/': '/a/b/f', '/a/d/'.
--
-- Semantics (rsync's, verified against a real rsync in spec/lua/filter_spec):
--  * rsync walks the tree top-down and never enters an excluded directory,
--    so a path is excluded when it, or any directory above it, is excluded.
--  * One "level" (a directory above the path, or the path itself) is decided
--    by the filter lines in order, first match wins ('-' excluded, '+'
--    included); when no filter line matches, by the excludes (any match).
--    (The startup rsync gets the filter lines followed by '- pat' for each
--    exclude, which is the same chain.)
--  * Pattern syntax: a leading '/' anchors at the sync root, otherwise the
--    pattern may start after any '/'; a trailing '/' matches directories
--    only; '?' is one non-'/' byte, '*' a run of non-'/' bytes, '**' (or
--    more stars) anything including '/'; '[...]' a character class ('!' or
--    '^' negates, ranges, [:alpha:] style names; a negated class never
--    matches '/'); '\' makes the next character literal.  A pattern with
--    none of '*', '?', '[' is compared literally (a '\' is then an ordinary
--    character, as in rsync).  'dir/***' matches dir itself (as a directory)
--    and everything inside it.  An unanchored pattern starting with '**/'
--    also matches with that prefix removed at the root (rsync does so).
--    A '[' without its ']' makes the pattern match nothing (rsync aborts).
--
-- Cost: excludes alone are decided with one string.find per pattern
-- alternative (the pattern is allowed to end at any '/' of the path, which is
-- the same as matching some directory above the path).  With filter lines
-- every level is decided separately, as rsync does; the verdicts of
-- directories are cached (the cache is dropped whenever the rules change).

local Filter = {}
Filter.__index = Filter

local NEVER = '[^%z%Z]' -- a Lua set no byte matches

-- Lua-pattern escape of one literal byte.
local function lit(c)
	if c:match('%w') then return c end
	if c == '\0' then return '%z' end
	return '%' .. c
end

local POSIX = {
	alpha = '%a', digit = '%d', alnum = '%w', upper = '%u', lower = '%l',
	space = '%s', punct = '%p', xdigit = '%x', cntrl = '%c',
	blank = ' \t', print = ' -~', graph = '!-~',
}

-- Translates the class starting at pat[i] == '['; returns the Lua set and
-- the index after the closing ']', or nil when the class is unterminated or
-- names an unknown [:class:].
local function class(pat, i)
	local n = #pat
	local j = i + 1
	local neg = false
	local c = pat:sub(j, j)
	if c == '!' or c == '^' then neg = true; j = j + 1 end
	local items = {}
	local first = true
	while true do
		if j > n then return nil end
		c = pat:sub(j, j)
		if c == ']' and not first then break end
		first = false
		local lo
		if c == '[' and pat:sub(j + 1, j + 1) == ':' then
			local close = pat:find(':]', j + 2, true)
			local name = close and pat:sub(j + 2, close - 1)
			if not name or not POSIX[name] then return nil end
			items[#items + 1] = POSIX[name]
			j = close + 2
		else
			if c == '\\' then
				j = j + 1
				if j > n then return nil end
				c = pat:sub(j, j)
			end
			lo = c
			j = j + 1
			-- a range lo-hi (a '-' right before ']' is literal)
			local hi
			if pat:sub(j, j) == '-' and j + 1 <= n and pat:sub(j + 1, j + 1) ~= ']' then
				hi = pat:sub(j + 1, j + 1)
				j = j + 2
				if hi == '\\' then
					if j > n then return nil end
					hi = pat:sub(j, j)
					j = j + 1
				end
			end
			if not hi then
				items[#items + 1] = lit(lo)
			elseif lo:match('%w') and hi:match('%w') then
				items[#items + 1] = lo .. '-' .. hi
			else
				for b = lo:byte(), hi:byte() do items[#items + 1] = lit(string.char(b)) end
			end
		end
	end
	local body = table.concat(items)
	if neg then
		return '[^/' .. body .. ']', j + 1
	end
	if body == '' then return NEVER, j + 1 end
	return '[' .. body .. ']', j + 1
end

-- Translates the body of a pattern (no leading '/', no trailing '/') into
-- a Lua pattern fragment, or nil if it can never match.  wild: the whole
-- pattern has a wildcard (else it is compared literally).
local function translate(body, wild)
	if not wild then
		return (body:gsub('[^%w]', lit))
	end
	local out, i, n = {}, 1, #body
	while i <= n do
		local c = body:sub(i, i)
		if c == '\\' and i < n then
			out[#out + 1] = lit(body:sub(i + 1, i + 1))
			i = i + 2
		elseif c == '*' then
			local j = i
			while body:sub(j + 1, j + 1) == '*' do j = j + 1 end
			out[#out + 1] = (j > i) and '.*' or '[^/]*'
			i = j + 1
		elseif c == '?' then
			out[#out + 1] = '[^/]'
			i = i + 1
		elseif c == '[' then
			local set, nx = class(body, i)
			if not set then return nil end
			out[#out + 1] = set
			i = nx
		else
			out[#out + 1] = lit(c)
			i = i + 1
		end
	end
	return table.concat(out)
end

-- One alternative of a rule: `prefix` finds the pattern ending at any '/'
-- of a string that ends in '/'; `exact` matches a whole level string.
local function alt(frag, anchored, dirOnly)
	local head = anchored and '^/' or '/'
	return { prefix = head .. frag .. '/', exact = head .. frag .. '/$', dirOnly = dirOnly }
end

-- Compiles a pattern into { text=, alts = {...} }.
local function compile(pat)
	local alts = {}
	local p = pat
	local anchored = p:sub(1, 1) == '/'
	if anchored then p = p:sub(2) end
	local wild = pat:find('[%*%?%[]') ~= nil
	local dirOnly = false
	local all = false -- dir/*** : the dir itself and everything below
	if p:sub(-4) == '/***' then
		all = true
		p = p:sub(1, -5)
	elseif p:sub(-1) == '/' then
		dirOnly = true
		p = p:sub(1, -2)
	end
	local function add(body, anch)
		if body == '' then return end
		local frag = translate(body, wild)
		if not frag then return end
		alts[#alts + 1] = alt(frag, anch, dirOnly or all)
		if all then
			local sub = translate(body .. '/**', true)
			if sub then alts[#alts + 1] = alt(sub, anch, false) end
		end
	end
	add(p, anchored)
	if not anchored and p:sub(1, 3) == '**/' then add(p:sub(4), true) end
	return { text = pat, alts = alts }
end

function Filter.new()
	return setmetatable({
		exList = {},    -- exclude patterns, insertion order
		exRules = {},   -- compiled, same order
		exSet = {},     -- pattern -> true
		filters = {},   -- compiled filter lines: {sign=, text=, alts=}
		cache = {}, cacheSize = 0,
	}, Filter)
end

local function changed(self)
	self.cache, self.cacheSize = {}, 0
end

function Filter:addExclude(pat)
	if type(pat) ~= 'string' then error('exclude patterns must be strings', 2) end
	if pat == '' or self.exSet[pat] then return end
	self.exSet[pat] = true
	self.exList[#self.exList + 1] = pat
	self.exRules[#self.exRules + 1] = compile(pat)
	changed(self)
end

-- Removes an exclude; returns false if it was not set (the caller logs).
function Filter:rmExclude(pat)
	if not self.exSet[pat] then return false end
	self.exSet[pat] = nil
	for i, p in ipairs(self.exList) do
		if p == pat then
			table.remove(self.exList, i)
			table.remove(self.exRules, i)
			break
		end
	end
	changed(self)
	return true
end

local function readLines(path, what)
	local f, err = io.open(path, 'r')
	if not f then error('cannot open ' .. what .. " file '" .. path .. "': " .. tostring(err), 0) end
	local lines = {}
	for line in f:lines() do lines[#lines + 1] = (line:gsub('\r$', '')) end
	f:close()
	return lines
end

-- Excludes from a file, one per line.  Skipped: blank lines, comments
-- ('#', and ';' as rsync does) and include lines ('+'); a leading '-' and
-- the whitespace around it are stripped.
function Filter:loadExcludeFile(path)
	for _, line in ipairs(readLines(path, 'exclude')) do
		local c = line:sub(1, 1)
		if line:match('%S') and c ~= '#' and c ~= ';' and c ~= '+' then
			local p = line:gsub('^%s*%-?%s*', '')
			self:addExclude(p)
		end
	end
end

-- Adds a filter line: '+ pattern' or '- pattern' (the sign, whitespace,
-- then the pattern).
function Filter:addFilter(line)
	if type(line) ~= 'string' then error('filter rules must be strings', 2) end
	local sign, pat = line:match('^%s*([%+%-])%s+(.-)\r?$')
	if not sign or pat == '' then error("Unknown filter rule: '" .. line .. "'", 0) end
	local r = compile(pat)
	r.sign = sign
	r.text = sign .. ' ' .. pat
	self.filters[#self.filters + 1] = r
	changed(self)
end

-- Filter lines from a file; blank lines and '#'/';' comments skipped.
function Filter:loadFilterFile(path)
	for _, line in ipairs(readLines(path, 'filter')) do
		local c = line:match('^%s*(.)')
		if c and c ~= '#' and c ~= ';' then self:addFilter(line) end
	end
end

-- Does rule r match the whole level string s (ends in '/')?
local function matchesLevel(r, s, isdir)
	for _, a in ipairs(r.alts) do
		if (isdir or not a.dirOnly) and s:find(a.exact) then return true end
	end
	return false
end

-- Verdict on one level (not its parents): true = excluded.
local function decide(self, s, isdir)
	for _, r in ipairs(self.filters) do
		if matchesLevel(r, s, isdir) then return r.sign == '-' end
	end
	for _, r in ipairs(self.exRules) do
		if matchesLevel(r, s, isdir) then return true end
	end
	return false
end

-- Verdict on directory d ('/a/b/') including its parents, cached.
local function dirExcluded(self, d)
	local v = self.cache[d]
	if v ~= nil then return v end
	local parent = d:match('^(.*/)[^/]+/$')
	v = (parent ~= nil and parent ~= '/' and dirExcluded(self, parent)) or decide(self, d, true)
	if self.cacheSize >= 4096 then self.cache, self.cacheSize = {}, 0 end
	self.cache[d] = v
	self.cacheSize = self.cacheSize + 1
	return v
end

-- True if path (see the top) is excluded.
function Filter:isExcluded(path)
	if path:sub(1, 1) ~= '/' then path = '/' .. path end
	if path == '/' then return false end
	local isdir = path:sub(-1) == '/'
	if #self.filters == 0 then
		local rules = self.exRules
		if #rules == 0 then return false end
		local s = isdir and path or path .. '/'
		-- dir-only patterns may only end at a directory's '/'
		local d = isdir and path or path:match('^(.*/)')
		for k = 1, #rules do
			local alts = rules[k].alts
			for m = 1, #alts do
				local a = alts[m]
				if a.dirOnly then
					if d:find(a.prefix) then return true end
				elseif s:find(a.prefix) then
					return true
				end
			end
		end
		return false
	end
	if isdir then return dirExcluded(self, path) end
	local parent = path:match('^(.*/)')
	if parent ~= '/' and dirExcluded(self, parent) then return true end
	return decide(self, path .. '/', false)
end

function Filter:getExcludes()
	local out = {}
	for i, p in ipairs(self.exList) do out[i] = p end
	return out
end

-- The filter lines, then '- pat' for every exclude (what rsync gets).
function Filter:getFilters()
	local out = {}
	for _, r in ipairs(self.filters) do out[#out + 1] = r.text end
	for _, p in ipairs(self.exList) do out[#out + 1] = '- ' .. p end
	return out
end

function Filter:hasFilters() return #self.filters > 0 end
function Filter:hasExcludes() return #self.exList > 0 end

return Filter
