-- Specs for lua/sync.lua: which events a sync takes and how they are
-- queued, parked paths with their own back-off, and what it reports.
local fake = require 'fake_core'

describe('Sync', function()
	local core, Sync

	local function new(cfg)
		cfg.source = cfg.source or '/src'
		cfg.target = cfg.target or '/t/'
		return Sync.new(cfg, 1)
	end

	-- etype path [-> path2] of every queued delay, in order
	local function queue(s)
		local out = {}
		for d in s:eachDelay() do out[#out + 1] = d.etype .. ' ' .. d.path .. (d.path2 and (' ' .. d.path2) or '') end
		return out
	end

	before_each(function()
		local mods
		core, mods = fake.start()
		Sync = mods.sync
		math.randomseed(3)
	end)

	it('makes paths relative to its source, directories with a slash', function()
		local s = new {}
		assert.equal('/src/', s.source)
		assert.equal('/a/f', s:relative('/src/a/f', false))
		assert.equal('/d/', s:relative('/src/d', true))
		assert.is_nil(s:relative('/other/f', false))
		assert.is_nil(s:relative('/src', true))
	end)

	it('concerns all below its source only without excludes, filters and with subdirs', function()
		assert.is_true(new {}:concernsAll())
		assert.is_false(new { exclude = { '*.tmp' } }:concernsAll())
		assert.is_false(new { filter = { '- /x/' } }:concernsAll())
		assert.is_false(new { subdirs = false }:concernsAll())
	end)

	it('refuses a source that is not a directory', function()
		assert.has_error(function() new { source = '/nope' } end)
	end)

	it('takes only what its excludes and subdirs admit', function()
		local s = new { exclude = { '*.tmp' }, subdirs = false }
		s:event('Modify', false, '/a.tmp', false, 10)
		s:event('Modify', false, '/d/f', false, 10)
		s:event('Modify', false, '/f', false, 10)
		assert.same({ 'Modify /f' }, queue(s))
	end)

	it('splits a move into Delete and Create without onMove, keeps it with onMove', function()
		local s = new {}
		s:event('Move', false, '/a', '/b', 10)
		assert.same({ 'Delete /a', 'Create /b' }, queue(s))
		local m = new { onMove = function() end }
		m:event('Move', false, '/a', '/b', 10)
		assert.same({ 'Move /a /b' }, queue(m))
	end)

	it('turns a move out of its view into a Delete, into its view into a Create', function()
		local s = new { exclude = { '*.tmp' } }
		s:event('Move', false, '/x.tmp', '/x', 10)
		s:event('Move', false, '/y', '/y.tmp', 10)
		assert.same({ 'Create /x', 'Delete /y' }, queue(s))
	end)

	it('sends a directory moved in with its content as single events when it has excludes', function()
		core.dirs['/src/d/'] = true
		core.dirs['/src/d/e/'] = true
		core.files['/src/d/e/f'] = 1
		core.files['/src/d/g.tmp'] = 1
		local s = new { exclude = { '*.tmp' } }
		s:event('Move', true, false, '/d/', 10)
		local q = queue(s)
		assert.equal('Create /d/', q[1])
		table.sort(q)
		assert.same({ 'Create /d/', 'Create /d/e/', 'Create /d/e/f' }, q)
	end)

	it('delays events by its delay, an Init not at all', function()
		local s = new { delay = 7, init = function() end }
		s:addInit(100)
		assert.is_true(s:hasQueued('Init'))
		assert.equal(100, s:nextAlarm())
		local d = s:push('Modify', '/f', nil, 100)
		assert.equal(107, d.alarm)
	end)

	it('parks a failed path with its own back-off and queues it again when due', function()
		local s = new {}
		assert.equal(1, s:park('/f', 100, 2, 60, 90))
		local t = s:nextParked()
		assert.is_true(t >= 101.5 and t <= 102.5, tostring(t))
		assert.same({ 1, 90 }, { s:pending() })
		s:unpark(101)
		assert.same({}, queue(s))
		s:unpark(103)
		assert.same({ 'Modify /f' }, queue(s))
		assert.is_nil(s:nextParked())
		-- the second failure waits twice as long; a success forgets them
		assert.equal(2, s:park('/f', 200, 2, 60))
		t = s:nextParked()
		assert.is_true(t >= 203 and t <= 205, tostring(t))
		assert.equal(2, s:recovered('/f'))
		assert.is_nil(s:recovered('/f'))
	end)

	it('drops what waits when it stops, keeps what runs', function()
		local s = new {}
		local a = s:push('Modify', '/a', nil, 1)
		s:push('Modify', '/b', nil, 1)
		s:activate({ a })
		s:dropWaiting()
		assert.same({ 'Modify /a' }, queue(s))
		assert.equal(1, s:queueSize())
	end)

	it('counts failures in a row until a success, which reports them and counts its events', function()
		local s = new {}
		assert.equal(0, s:failureCount())
		assert.equal(1, s:failed())
		assert.equal(2, s:failed())
		assert.equal(2, s:failureCount())
		core.wall = 1700000500
		assert.equal(2, s:succeeded(3))
		assert.equal(0, s:failureCount())
		assert.equal(0, s:succeeded(4))
		local r = s:report()
		assert.equal(7, r.eventsDone)
		assert.equal(core.time(), r.lastSuccess)
		-- a success ends a run of Lua errors too
		assert.equal(1, s:luaFailed())
		assert.equal(2, s:luaFailed())
		s:succeeded(1)
		assert.equal(1, s:luaFailed())
	end)

	it('pauses until a time, and the pause can be lifted', function()
		local s = new {}
		assert.is_false(s:isPaused(100))
		s:pause(110)
		assert.is_true(s:isPaused(100))
		assert.is_false(s:isPaused(110))
		assert.equal(110, s:pauseEnd())
		s:pause(nil)
		assert.is_false(s:isPaused(100))
		assert.is_nil(s:pauseEnd())
	end)

	it('stops: what waits is dropped, its startup counts as over, a Lua error\'s line is kept', function()
		local s = new { init = function() end }
		assert.is_true(s:awaitingStartup())
		s:push('Modify', '/a', nil, 1)
		s:stop('boom')
		assert.is_true(s:isStopped())
		assert.equal('boom', s:errorLine())
		assert.equal(0, s:queueSize())
		assert.is_false(s:awaitingStartup())
		assert.is_true(s:isStartedUp())
		local t = new {}
		t:stop()
		assert.is_nil(t:errorLine())
	end)

	it('awaits its startup only when its layer has one (init = false has none)', function()
		local s = new { init = function() end }
		assert.is_true(s:hasInit())
		assert.is_true(s:awaitingStartup())
		s:startupDone()
		assert.is_false(s:awaitingStartup())
		local n = new { init = false }
		assert.is_false(n:hasInit())
		assert.is_false(n:awaitingStartup())
	end)

	it('counts its children against maxProcesses', function()
		local s = new { maxProcesses = 2 }
		assert.is_true(s:hasRoom())
		s:childStarted()
		s:childStarted()
		assert.is_false(s:hasRoom())
		assert.equal(2, s:processCount())
		s:childEnded()
		assert.is_true(s:hasRoom())
		assert.equal(1, s:report().processes)
	end)

	it('is retired by a reload: what waits goes, what runs stays', function()
		local s = new {}
		local a = s:push('Modify', '/a', nil, 1)
		s:push('Modify', '/b', nil, 1)
		s:activate({ a })
		assert.is_false(s:isRemoved())
		s:retire()
		assert.is_true(s:isRemoved())
		assert.same({ 'Modify /a' }, queue(s))
	end)

	it('logs the startup progress every interval from the first report, and forgets it', function()
		local s = new {}
		assert.is_false(s:noteProgress({ files = 1 }, 100, 10))
		assert.is_false(s:noteProgress({ files = 2 }, 109, 10))
		assert.is_true(s:noteProgress({ files = 3 }, 110, 10))
		assert.is_false(s:noteProgress({ files = 4 }, 115, 10))
		assert.same({ files = 4 }, s:progressReport())
		s:noteProgress(nil)
		assert.is_nil(s:progressReport())
		assert.is_false(s:noteProgress({ files = 5 }, 200, 10))   -- a new first report
	end)

	it('adds up what rsync sent', function()
		local s = new {}
		s:countSent(2, 0)
		s:countSent(0, 300)
		s:countSent(1, 5)
		local r = s:report()
		assert.same({ 3, 305 }, { r.filesSent, r.bytesSent })
	end)

	it('queues an event due at once, remembering when it happened', function()
		local s = new { delay = 30 }
		local d = s:pushDue('Modify', '/f', 50)
		assert.equal(50, d.alarm)
		assert.equal(50, d.created)
		assert.equal(1, s:queueSize())
	end)

	it('tells whether a delay still waits', function()
		local s = new {}
		local a = s:push('Modify', '/a', nil, 1)
		local b = s:push('Modify', '/b', nil, 1)
		assert.is_true(s:waits(a))
		s:activate({ a })
		assert.is_false(s:waits(a))
		s:removeDelay(b)
		assert.is_false(s:waits(b))
	end)

	it('answers what others ask of its config', function()
		local s = new { target = 'h:/t/', delay = 4 }
		assert.equal('h:/t/', s:target())
		assert.equal(4, s:delaySeconds())
		assert.equal(s.config, s:getConfig())
		assert.is_false(s:movesOnSlave())
		assert.is_false(s:coversNewDirectories())
		local m, ssh = {}, { dest = 'h' }
		s:useSsh(ssh, m)
		assert.equal(m, s:master())
		assert.equal(ssh, s:sshCommand())
	end)
end)
