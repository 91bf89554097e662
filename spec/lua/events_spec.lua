-- Specs for lua/events.lua: event fields, event lists and the inlet.
local Delays = require 'delays'
local events = require 'events'

local function fakeSync()
	_G.core = _G.core or { now = function() return 100 end, log = function() end }
	local s = {
		source = '/s/', config = { target = '/t/' }, delays = Delays.new {},
		filter = { getExcludes = function() return { '*.tmp' } end },
	}
	function s:getConfig() return self.config end
	function s:target() return self.config.target end
	function s:getFilter() return self.filter end
	function s:readyDelay() return self.delays:nextReady(1e9, 1000) end
	function s:removeDelay(d) self.delays:remove(d) end
	function s:readyList(test) return self.delays:collect(test) end
	function s:pushBarrier(etype, alarm) return self.delays:push(etype, '', nil, alarm) end
	s.inlet = events.inlet(s)
	s.config._inlet = s.inlet
	return s
end

describe('events', function()
	it('computes lsyncd event fields for a file', function()
		local s = fakeSync()
		local ev = events.event(s, s.delays:push('Modify', '/a/f', nil, 1))
		assert.equal('Modify', ev.etype)
		assert.is_false(ev.isdir)
		assert.equal('f', ev.name)
		assert.equal('a/f', ev.path)
		assert.equal('a/f', ev.pathname)
		assert.equal('a/', ev.pathdir)
		assert.equal('/s/', ev.source)
		assert.equal('/s//a/f', ev.sourcePath)
		assert.equal('/t//a/f', ev.targetPath)
		assert.equal('/s//a/', ev.sourcePathdir)
	end)

	it('computes fields for a directory', function()
		local s = fakeSync()
		local ev = events.event(s, s.delays:push('Create', '/a/d/', nil, 1))
		assert.is_true(ev.isdir)
		assert.equal('d/', ev.name)
		assert.equal('d', ev.basename)
		assert.equal('a/d/', ev.path)
		assert.equal('a/d', ev.pathname)
	end)

	it('errors on unknown fields but allows move', function()
		local s = fakeSync()
		local ev = events.event(s, s.delays:push('Modify', '/f', nil, 1))
		assert.has_error(function() return ev.bogus end, 'event does not have field "bogus"')
		assert.is_nil(ev.move)
	end)

	it('returns origin and destination of a move from getEvent', function()
		local s = fakeSync()
		s.delays:push('Move', '/a', '/b', 1)
		local o, d = s.inlet.getEvent()
		assert.equal('a', o.path)
		assert.equal('b', d.path)
		assert.equal('Fr', o.move)
		assert.equal('To', d.move)
	end)

	it('lists paths with getPaths and a mutator', function()
		local s = fakeSync()
		s.delays:push('Modify', '/x', nil, 1)
		s.delays:push('Move', '/a', '/b', 1)
		local l = s.inlet.getEvents()
		assert.is_true(l.isList)
		assert.same({ '/x', '/a', '/b' }, l.getPaths())
		assert.same({ 'X:/x', 'X:/a' }, l.getPaths(function(e, p) return 'X:' .. p end))
		assert.same({ '/s/x', '/s/a', '/s/b' }, l.getSourcePaths())
	end)

	it('filters getEvents with a test and discards events', function()
		local s = fakeSync()
		s.delays:push('Modify', '/x', nil, 1)
		s.delays:push('Modify', '/y', nil, 1)
		local l = s.inlet.getEvents(function(ev) return ev.path ~= 'x' end)
		assert.same({ '/y' }, l.getPaths())
		local ev = s.inlet.getEvent()
		s.inlet.discardEvent(ev)
		assert.equal(1, s.delays:count())
	end)

	it('rejects unknown inlet functions and serves the config', function()
		local s = fakeSync()
		assert.has_error(function() return s.inlet.bogus end, 'inlet does not have function "bogus"')
		assert.equal(s.config, s.inlet.getConfig())
		assert.same({ '*.tmp' }, s.inlet.getExcludes())
	end)
end)

describe('event identity', function()
	it('gives the same object for a delay each time, keeping stored fields', function()
		_G.core = _G.core or { now = function() return 100 end, log = function() end }
		local Delays2 = require 'delays'
		local ev2 = require 'events'
		local s = { source = '/s/', config = { target = '/t/' }, delays = Delays2.new {} }
		function s:getConfig() return self.config end
	function s:target() return self.config.target end
	function s:getFilter() return self.filter end
	function s:readyDelay() return self.delays:nextReady(1e9, 1000) end
		function s:removeDelay(d) self.delays:remove(d) end
	function s:readyList(test) return self.delays:collect(test) end
	function s:pushBarrier(etype, alarm) return self.delays:push(etype, '', nil, alarm) end
		s.inlet = ev2.inlet(s)
		local b = s.inlet.createBlanketEvent()
		b.isPostcmd = true
		local again = s.inlet.getEvent()
		assert.equal(b, again)
		assert.is_true(rawget(again, 'isPostcmd'))
	end)
end)
