-- Specs for lua/syncset.lua: the daemon's syncs as a whole: whether others
-- live when one fails, the service manager's status line, a stop.
local fake = require 'fake_core'

describe('syncset', function()
	local core, mods, syncset

	-- builds n syncs into the one list, as startup does
	local function build(n, extra)
		local list = syncset.all()
		for i = 1, n do
			local cfg = { source = '/src', target = '/t' .. i .. '/' }
			for k, v in pairs(extra or {}) do cfg[k] = v end
			list[i] = mods.sync.new(cfg, i)
		end
		return list
	end

	before_each(function()
		core, mods = fake.start()
		syncset = mods.syncset
	end)

	it('says whether more than one sync lives', function()
		local list = build(1)
		assert.is_false(syncset.othersAlive())
		list[2] = mods.sync.new({ source = '/src', target = '/t2/' }, 2)
		assert.is_true(syncset.othersAlive())
		list[2]:stop()
		assert.is_false(syncset.othersAlive())
	end)

	it('stops one sync, the others go on; the last one ends the daemon', function()
		local list = build(2)
		syncset.stopSync(list[1], 12)
		assert.is_true(list[1]:isStopped())
		assert.is_nil(core.terminated)
		assert.truthy(core.logged('Sync1: stopped: /t1/ failed with exit code 12'))
		assert.matches('Sync1 stopped', syncset.statusLine())
		assert.has_error(function() syncset.stopSync(list[2], 'a Lua error 5 times in a row', 'boom') end)
		assert.equal(255, core.terminated)
		assert.equal('boom', list[2]:errorLine())
	end)

	it('counts the startup transfers under way in the status line', function()
		local list = build(2, { init = function() end })
		assert.equal('startup transfers under way: 0 of 2 done', syncset.statusLine())
		list[1]:startupDone()
		list[2]:failed()
		assert.equal('startup transfers under way: 1 of 2 done; Sync2 retrying', syncset.statusLine())
	end)
end)
