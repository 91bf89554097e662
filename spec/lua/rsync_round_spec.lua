-- Specs for default.rsync's batches (lua/default_rsync.lua), driven through
-- lua/runner.lua on fake_core: a batch of 100 entries or more that sends
-- no directory with all it holds goes as an rsync --files-from list, a
-- smaller one as lsyncd's include list; a large ready set holding a new
-- directory goes in two rounds (the rest as a list, then the directory).
local fake = require 'fake_core'

local core, mods, runner

local CFG = [[
settings { nodaemon = true }
sync { default.rsync, source = '/src', target = '/dst', delay = 5 }
]]

-- Starts the runner on a config text.
local function start(text) fake.run(core, mods, text) end

local function at(t) core.clock = t; runner.cycle(t) end

local done = {}
local function finishAll()
	for _, c in ipairs(core.spawned) do
		if not done[c.pid] then done[c.pid] = true; runner.collect(c.pid, 0, 0) end
	end
end

local function has(argv, a)
	for _, x in ipairs(argv) do if x == a then return true end end
	return false
end

-- n files /src/fI (made, each with a Modify event)
local function modify(n)
	for i = 1, n do
		core.files['/src/f' .. i] = 1
		runner.inotifyEvent('Modify', false, '/src/f' .. i, nil)
	end
end

describe('default.rsync batches', function()
	before_each(function()
		core, mods = fake.start()
		runner = mods.runner
		done = {}
		start(CFG)
		at(1000)
		finishAll()                      -- the startup transfer
	end)

	it('go as an include list below 100 entries, as --files-from from 100 on', function()
		modify(99)
		at(1005)
		local c = core.spawned[2]
		assert.is_true(has(c.argv, '--include-from=-'))
		assert.is_false(has(c.argv, '--files-from=-'))
		finishAll()
		modify(100)
		at(1011)
		c = core.spawned[3]
		assert.is_true(has(c.argv, '--files-from=-'))
		assert.is_true(has(c.argv, '--delete-missing-args'))
		assert.is_false(has(c.argv, '-r') or has(c.argv, '--include-from=-'))
		assert.truthy(c.stdin:find('f1\0', 1, true) == 1)
		assert.falsy(c.stdin:find('/f1', 1, true))
	end)

	it('take a new directory (sent whole) out of a large batch into the next round', function()
		core.dirs['/src/nd/'] = true
		core.files['/src/nd/x'] = 1
		runner.inotifyEvent('Create', true, '/src/nd', nil)
		modify(120)
		at(1005)
		assert.equal(2, #core.spawned)
		local c = core.spawned[2]
		assert.is_true(has(c.argv, '--files-from=-'))
		assert.falsy(c.stdin:find('nd', 1, true))
		finishAll()
		at(1006)
		assert.equal(3, #core.spawned)
		c = core.spawned[3]
		assert.is_true(has(c.argv, '--include-from=-'))
		assert.truthy(c.stdin:find('/nd/***', 1, true))
		assert.falsy(c.stdin:find('/f1', 1, true))
	end)

	it('keep a new directory in a small batch (one include list)', function()
		core.dirs['/src/nd/'] = true
		runner.inotifyEvent('Create', true, '/src/nd', nil)
		modify(50)
		at(1005)
		assert.equal(2, #core.spawned)
		local c = core.spawned[2]
		assert.is_true(has(c.argv, '--include-from=-'))
		assert.truthy(c.stdin:find('/nd/***', 1, true) and c.stdin:find('/f50', 1, true))
	end)
	it('fall back to include lists for good once the slave refuses --delete-missing-args', function()
		modify(100)
		at(1005)
		local c = core.spawned[2]
		assert.is_true(has(c.argv, '--files-from=-'))
		done[c.pid] = true
		runner.collect(c.pid, 12, 0)      -- rsync < 3.1 on the slave: "unknown option", exit 12
		assert.truthy(core.logged('refuses %-%-delete%-missing%-args', 'Warn'))
		at(1100)                           -- its retry, after the back-off
		c = core.spawned[#core.spawned]
		assert.is_true(c.pid ~= core.spawned[2].pid)
		assert.is_true(has(c.argv, '--include-from=-'))
		assert.is_false(has(c.argv, '--files-from=-'))
		finishAll()
		modify(150)
		at(1200)
		c = core.spawned[#core.spawned]
		assert.is_true(has(c.argv, '--include-from=-'))
		assert.truthy(c.stdin:find('/f150', 1, true))
	end)
end)
