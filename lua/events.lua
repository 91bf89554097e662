-- events.lua: the objects user actions see: single events, event lists and
-- the inlet (lsyncd's Layer-1 API). Events are proxies over delays; every
-- field is computed when read, as in lsyncd.

local M = {}

-- event/list -> { sync=, delays=, isList=, data= }: private; others ask
-- through M.resolve, M.dataOf and M.output
local agents = setmetatable({}, { __mode = 'k' })

local function stripSlash(p) return (p:gsub('/$', '')) end
local function dirOf(p)        -- '/a/b/f' -> '/a/b/', '/a/d/' -> '/a/'
	return p:match('^(.*/)[^/]+/?$') or ''
end
local function nameOf(p) return p:match('([^/]+/?)$') or '' end

-- Field getters; d: delay, s: sync, p: the internal path this event speaks of.
local getters = {
	etype = function(d) return d.etype end,
	status = function(d) return d.status end,
	isdir = function(d, s, p) return p:sub(-1) == '/' end,
	isList = function() return false end,
	name = function(d, s, p) return nameOf(p) end,
	basename = function(d, s, p) return stripSlash(nameOf(p)) end,
	path = function(d, s, p) return p:sub(2) end,
	pathname = function(d, s, p) return stripSlash(p:sub(2)) end,
	pathdir = function(d, s, p) return dirOf(p):sub(2) end,
	source = function(d, s) return s.source end,
	sourcePath = function(d, s, p) return s.source .. p end,
	sourcePathname = function(d, s, p) return s.source .. stripSlash(p) end,
	sourcePathdir = function(d, s, p) return s.source .. dirOf(p) end,
	target = function(d, s) return s:target() end,
	targetPath = function(d, s, p) return (s:target() or '') .. p end,
	targetPathname = function(d, s, p) return (s:target() or '') .. stripSlash(p) end,
	targetPathdir = function(d, s, p) return (s:target() or '') .. dirOf(p) end,
	config = function(d, s) return s:getConfig() end,
	inlet = function(d, s) return s.inlet end,
	sync = function(d, s) return s end,
}

local eventMeta = {
	__index = function(ev, field)
		local a = agents[ev]
		local g = getters[field]
		if field == 'move' then return a.move end
		if not g then error('event does not have field "' .. tostring(field) .. '"', 2) end
		local p = a.move == 'To' and a.delay.path2 or a.delay.path
		return g(a.delay, a.sync, p)
	end,
	__tostring = function(ev)
		local a = agents[ev]
		return 'Event ' .. a.delay.etype .. ' ' .. (a.delay.path or '')
	end,
}

-- The event object of delay d of sync s (move: nil, 'Fr' or 'To'). It is
-- made once per delay, so fields a config stores in it stay there
-- (lsyncd's lpostcmd example marks its blanket event and reads it back).
function M.event(s, d, move)
	local key = move == 'To' and 'evTo' or 'ev'
	local ev = d[key]
	if ev then return ev end
	ev = setmetatable({}, eventMeta)
	agents[ev] = { sync = s, delay = d, delays = { d }, move = move }
	d[key] = ev
	return ev
end

-- The one or two event objects of a delay (origin and destination of a Move).
function M.events(s, d)
	if d.etype == 'Move' then
		return M.event(s, d, 'Fr'), M.event(s, d, 'To')
	end
	return M.event(s, d)
end

local listMeta
listMeta = {
	__index = function(list, field)
		local a = agents[list]
		if field == 'isList' then return true end
		if field == 'config' then return a.sync:getConfig() end
		if field == 'inlet' then return a.sync.inlet end
		if field == 'getPaths' or field == 'getSourcePaths' then
			-- getPaths(mutator) is lsyncd's (an array; mutator(etype, path,
			-- path2) may return one or two replacements); lsyncd's manual
			-- documents getPaths(delimiter) and getSourcePaths(delimiter)
			-- returning one string, which lsyncd never implemented: a string
			-- argument gives that string here.
			local prefix = field == 'getSourcePaths' and a.sync.source:sub(1, -2) or ''
			return function(mutator)
				if type(mutator) == 'string' then
					local delimiter = mutator
					local paths = {}
					for _, d in ipairs(a.delays) do
						paths[#paths + 1] = prefix .. d.path
						if d.path2 then paths[#paths + 1] = prefix .. d.path2 end
					end
					return table.concat(paths, delimiter)
				end
				local out = {}
				for _, d in ipairs(a.delays) do
					if mutator then
						local p1, p2 = mutator(d.etype, d.path, d.path2)
						if p1 then out[#out + 1] = prefix .. p1 end
						if p2 then out[#out + 1] = prefix .. p2 end
					else
						out[#out + 1] = prefix .. d.path
						if d.path2 then out[#out + 1] = prefix .. d.path2 end
					end
				end
				return out
			end
		end
		if field == 'size' then return function() return #a.delays end end
		if field == 'getList' then return function() return a.delays end end
		error('event list does not have field "' .. tostring(field) .. '"', 2)
	end,
}

-- An event list over delays of sync s. data: the creating layer's own
-- table for this list (M.dataOf gives it back); data.onOutput(stream, line),
-- if set, sees the output of the list's child first (M.output).
function M.list(s, delays, data)
	local l = setmetatable({}, listMeta)
	agents[l] = { sync = s, delays = delays, isList = true, data = data }
	return l
end

-- The sync, the delays and whether it is a list, of an event or event
-- list (an "agent" of spawn); nil when x is none.
function M.resolve(x)
	local a = agents[x]
	if not a then return nil end
	return a.sync, a.delays, a.isList or false
end

-- The layer's table given to M.list for this agent, or nil.
function M.dataOf(x)
	local a = agents[x]
	return a and a.data
end

-- Offers a line of the child of agent x to the layer that made it; true
-- when the layer took it.
function M.output(x, stream, line)
	local data = M.dataOf(x)
	return data and data.onOutput and data.onOutput(stream, line) or false
end

-- The inlet of sync s: the Layer-1 view of its queue.
function M.inlet(s)
	local inlet = {}
	local funcs = {}

	function funcs.getEvent()
		local d = s:readyDelay()
		if not d then return nil end
		return M.events(s, d)
	end

	function funcs.getEvents(test)
		local wrapped
		if test then
			wrapped = function(d)
				local ev = M.event(s, d)
				return test(ev)
			end
		end
		return M.list(s, s:readyList(wrapped))
	end

	function funcs.discardEvent(ev)
		local a = agents[ev]
		if not a then error('discardEvent: not an event of this sync', 2) end
		for _, d in ipairs(a.delays) do
			if d.status == 'active' then
				core.log('Error', 'Discarding a non-waiting event: ' .. d.etype .. ' ' .. d.path)
			end
			s:removeDelay(d)
		end
	end

	function funcs.createBlanketEvent()
		return M.event(s, s:pushBarrier('Blanket', core.now()))
	end

	function funcs.createFullEvent()
		return M.event(s, s:pushBarrier('Full', core.now()))
	end

	local filter = s:getFilter()
	function funcs.getConfig() return s:getConfig() end
	function funcs.getSync() return s end
	function funcs.addExclude(pat) filter:addExclude(pat) end
	function funcs.rmExclude(pat)
		if filter:rmExclude(pat) == false then
			core.log('Normal', 'Did not remove exclude "' .. tostring(pat) .. '" as it was not set.')
		end
	end
	function funcs.appendFilter(a, b) filter:addFilter(b or a) end
	function funcs.getExcludes() return filter:getExcludes() end
	function funcs.getFilters() return filter:getFilters() end
	function funcs.hasFilters() return filter:hasFilters() end

	return setmetatable(inlet, {
		__index = function(_, name)
			local f = funcs[name]
			if not f then error('inlet does not have function "' .. tostring(name) .. '"', 2) end
			return f
		end,
	})
end

return M
