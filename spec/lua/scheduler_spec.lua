-- Specs for the scheduler (lua/scheduler.lua, driven through lua/runner.lua):
-- which sync runs what when, the caps on children, back-off after a
-- failure. The runner runs a real config against fake_core: children are
-- recorded spawns, ended by calling runner.collect as the engine would.
local fake = require 'fake_core'

local core, mods, runner

-- Starts the runner on a config text.
local function start(text) fake.run(core, mods, text) end

-- The children spawned since index `from`, as { target, argv, stdin, pid }.
local function spawnedSince(from)
	local out = {}
	for i = from + 1, #core.spawned do
		local c = core.spawned[i]
		out[#out + 1] = { target = c.argv[#c.argv], argv = c.argv, stdin = c.stdin, pid = c.pid }
	end
	return out
end

-- target -> child, of a list from spawnedSince (the syncs take turns
-- in which one goes first, so the order of spawns varies)
local function byTarget(list)
	local m = {}
	for _, c in ipairs(list) do m[c.target] = c end
	return m
end

local function at(t) core.clock = t; runner.cycle(t) end

-- Ends every child spawned so far that still runs with exit code `code`.
local done = {}
local function finishAll(code)
	for _, c in ipairs(core.spawned) do
		if not done[c.pid] then done[c.pid] = true; runner.collect(c.pid, code, 0) end
	end
end

local TWO = [[
settings { nodaemon = true }
sync { default.rsync, source = '/src', target = '/dst1', delay = 5 }
sync { default.rsync, source = '/src', target = '/dst2', delay = 5 }
]]

describe('scheduler', function()
	before_each(function()
		core, mods = fake.start()
		runner = mods.runner
		done = {}
		math.randomseed(7)
	end)

	it('runs the startup transfer of every sync first, then events after their delay', function()
		start(TWO)
		at(1000)
		local init = spawnedSince(0)
		assert.equal(2, #init)
		assert.truthy(byTarget(init)['/dst1/'] and byTarget(init)['/dst2/'])
		finishAll(0)
		assert.truthy(core.logged('Startup of /src/ %-> /dst1/ finished'))
		runner.inotifyEvent('Modify', false, '/src/a', nil)
		at(1004.9)
		assert.equal(0, #spawnedSince(2))
		assert.equal(1005, runner.getAlarm())
		at(1005)
		local batch = spawnedSince(2)
		-- one rsync per target for the batch, the path on stdin
		assert.equal(2, #batch)
		assert.truthy(byTarget(batch)['/dst1/'] and byTarget(batch)['/dst2/'])
		assert.truthy(batch[1].stdin:find('/a', 1, true))
	end)

	it('holds events behind a running startup transfer', function()
		start(TWO)
		at(1000)
		runner.inotifyEvent('Create', false, '/src/new', nil)
		at(1010)
		assert.equal(2, #spawnedSince(0))      -- only the two Init rsyncs
		finishAll(0)
		at(1010)
		assert.equal(2, #spawnedSince(2))
	end)

	it('keeps to settings maxProcesses across syncs', function()
		start('settings { nodaemon = true, maxProcesses = 1 }\n' .. TWO:gsub('^[^\n]*\n', ''))
		at(1000)
		assert.equal(1, #spawnedSince(0))
		assert.is_false(runner.getAlarm() == 1000)
		finishAll(0)
		at(1000)
		local second = spawnedSince(1)
		assert.equal(1, #second)
		assert.equal('/dst2/', second[1].target)
	end)

	it('runs one child per sync at a time (maxProcesses 1)', function()
		start(TWO)
		at(1000)
		finishAll(0)
		runner.inotifyEvent('Modify', false, '/src/a', nil)
		at(1005)
		assert.equal(2, #spawnedSince(2))
		runner.inotifyEvent('Modify', false, '/src/b', nil)
		at(1011)
		assert.equal(2, #spawnedSince(2))      -- both syncs still busy with /a
		finishAll(0)
		at(1011)
		local next = spawnedSince(4)
		assert.equal(2, #next)
		assert.truthy(next[1].stdin:find('/b', 1, true))
		assert.falsy(next[1].stdin:find('/a', 1, true))
	end)

	it('retries a failed transfer with a growing back-off, and only that slave', function()
		start(TWO)
		at(1000)
		finishAll(0)
		runner.inotifyEvent('Modify', false, '/src/a', nil)
		at(1005)
		local b = byTarget(spawnedSince(2))
		done[b['/dst2/'].pid] = true
		runner.collect(b['/dst2/'].pid, 0, 0)          -- /dst2 ok
		done[b['/dst1/'].pid] = true
		runner.collect(b['/dst1/'].pid, 10, 0)         -- /dst1: rsync exit 10 (socket I/O): again
		assert.truthy(core.logged('transfer to /dst1/ failed %(exit code 10'))
		-- first retry: delay 5 s * (0.75 .. 1.25)
		at(1005 + 3.7)
		assert.equal(0, #spawnedSince(4))
		at(1005 + 6.3)
		local r1 = spawnedSince(4)
		assert.equal(1, #r1)
		assert.equal('/dst1/', r1[1].target)
		done[r1[1].pid] = true
		runner.collect(r1[1].pid, 10, 0)
		-- second retry: 10 s * (0.75 .. 1.25)
		local t = core.clock
		at(t + 7.4)
		assert.equal(0, #spawnedSince(5))
		at(t + 12.6)
		local r2 = spawnedSince(5)
		assert.equal(1, #r2)
		done[r2[1].pid] = true
		runner.collect(r2[1].pid, 0, 0)
		assert.truthy(core.logged('/dst1/ is back after 2 failed attempt'))
	end)

	it('holds new events of a failing slave until its back-off ends (no retry storm)', function()
		start(TWO)
		at(1000)
		finishAll(0)
		runner.inotifyEvent('Modify', false, '/src/a', nil)
		at(1005)
		local b = byTarget(spawnedSince(2))
		done[b['/dst2/'].pid] = true
		runner.collect(b['/dst2/'].pid, 0, 0)
		done[b['/dst1/'].pid] = true
		runner.collect(b['/dst1/'].pid, 255, 0)        -- ssh: the slave is down
		at(1005 + 6.3)
		local r1 = byTarget(spawnedSince(4))['/dst1/']
		done[r1.pid] = true
		runner.collect(r1.pid, 255, 0)                 -- still down: back-off 10 s
		-- changes keep coming: none of them goes to /dst1 before its back-off
		-- ends (10 s * 0.75 at least)
		local t = core.clock
		local base = #core.spawned
		-- more than maxDelays (1000) queued: ready at once, as in lsyncd
		for i = 1, 1001 do runner.inotifyEvent('Modify', false, '/src/n' .. i, nil) end
		at(t + 0.1)
		local function toDst1()
			local n = 0
			for _, c in ipairs(spawnedSince(base)) do
				if c.target == '/dst1/' then n = n + 1; done[c.pid] = true end
			end
			return n
		end
		at(t + 5.5)
		at(t + 7.4)
		assert.equal(0, toDst1())
		at(t + 12.6)
		assert.equal(1, toDst1())                      -- one retry carries them all
	end)

	it('stops a sync whose child says its config cannot work, the others go on', function()
		start(TWO)
		at(1000)
		local init = byTarget(spawnedSince(0))
		done[init['/dst1/'].pid] = true
		runner.collect(init['/dst1/'].pid, 1, 0)       -- rsync exit 1: syntax or usage error: die
		assert.is_nil(core.terminated)
		assert.truthy(core.logged('Sync1: stopped'))
		done[init['/dst2/'].pid] = true
		runner.collect(init['/dst2/'].pid, 0, 0)
		runner.inotifyEvent('Modify', false, '/src/a', nil)
		at(1010)
		local after = spawnedSince(2)
		assert.equal(1, #after)
		assert.equal('/dst2/', after[1].target)
	end)

	it('collects a spawn that failed as exit 255 in the next cycle', function()
		start(TWO)
		core.failSpawn = 'No such file'
		at(1000)
		assert.equal(0, #core.spawned)
		assert.is_true(runner.getAlarm())
		core.failSpawn = false
		core.enabled.Delay = true
		at(1000)
		-- exit 255 of rsync is "again" (startup retried: the other sync lives)
		assert.truthy(core.logged('Retrying startup of /src/'))
	end)

	it('judges a re-scan and a crontab Full like the startup: exit 23 is retried, never finished', function()
		start(TWO)
		at(1000)
		finishAll(0)
		local function toDst1(from)
			for _, c in ipairs(spawnedSince(from)) do
				if c.target == '/dst1/' then return c end
			end
		end
		-- an overflow: every sync is re-scanned
		runner.inotifyEvent('Overflow', false, '', nil)
		local base = #core.spawned
		at(1001)
		local c = toDst1(base)
		done[c.pid] = true
		runner.collect(c.pid, 23, 0)                   -- the slave refused it all
		assert.truthy(core.logged('Full re%-scan of /src/ %-> /dst1/ incomplete'))
		assert.falsy(core.logged('Full re%-scan of /src/ %-> /dst1/ finished'))
		base = #core.spawned
		at(1001 + 0.7)
		assert.is_nil(toDst1(base))                    -- back-off: not at once
		at(1001 + 10)
		c = toDst1(base)
		assert.truthy(c)                               -- retried
		done[c.pid] = true
		runner.collect(c.pid, 0, 0)
		-- a Full (crontab's) that ends with exit 23 is retried the same way
		require('syncset').all()[1].inlet.createFullEvent()
		base = #core.spawned
		at(core.clock + 0.1)
		c = toDst1(base)
		done[c.pid] = true
		runner.collect(c.pid, 23, 0)
		assert.truthy(core.logged('Full transfer of /src/ %-> /dst1/ incomplete'))
		assert.falsy(core.logged('Finished Full'))
		base = #core.spawned
		at(core.clock + 30)
		assert.truthy(toDst1(base))
	end)

	it('names the last line rsync wrote on stderr with a failure', function()
		start(TWO)
		at(1000)
		finishAll(0)
		runner.inotifyEvent('Modify', false, '/src/a', nil)
		at(1005)
		local b = byTarget(spawnedSince(2))['/dst1/']
		runner.childOutput(b.pid, 2, 'rsync: connection unexpectedly closed')
		done[b.pid] = true
		runner.collect(b.pid, 12, 0)
		assert.truthy(core.logged('transfer to /dst1/ failed %(exit code 12: rsync: connection unexpectedly closed%)'))
	end)

	it('parks the paths rsync names after exit 23 and retries them alone', function()
		start(TWO)
		at(1000)
		finishAll(0)
		runner.inotifyEvent('Modify', false, '/src/a', nil)
		runner.inotifyEvent('Modify', false, '/src/b', nil)
		at(1005)
		local b = byTarget(spawnedSince(2))['/dst1/']
		runner.childOutput(b.pid, 2, 'rsync: send_files failed to open "/src/a": Permission denied (13)')
		done[b.pid] = true
		runner.collect(b.pid, 23, 0)
		assert.truthy(core.logged('Sync1: 1 path%(s%) could not be transferred.*: /a$', 'Warn'))
		finishAll(0)
		-- /a comes back alone after its back-off (5 s * 0.75 .. 1.25)
		at(1005 + 6.3)
		local again = spawnedSince(4)
		assert.equal(1, #again)
		assert.equal('/dst1/', again[1].target)
		assert.truthy(again[1].stdin:find('/a', 1, true))
		assert.falsy(again[1].stdin:find('/b', 1, true))
	end)

	it('moves a rename on an ssh slave with connection reuse off too', function()
		start([[
settings { nodaemon = true, sshReuse = false }
sync { default.rsync, source = '/src', target = 'h:/dst', delay = 1 }
]])
		at(1000)
		finishAll(0)
		core.files['/src/b'] = 300000
		runner.inotifyEvent('Move', false, '/src/a', '/src/b')
		at(1002)
		assert.falsy(core.logged('Lua error'))
		local mv = spawnedSince(1)[1]
		assert.equal('ssh', mv.argv[1])
		assert.equal('h', mv.argv[#mv.argv - 1])
		assert.truthy(mv.argv[#mv.argv]:find('a', 1, true))
	end)
end)
