-- Specs for lua/status.lua: the state of each slave, the lsyncd status
-- file, the JSON snapshot and the Prometheus textfile.
local fake = require 'fake_core'

describe('status', function()
	local core, mods, status, all

	local function sync(extra)
		local cfg = { source = '/src', target = '/t' .. (#all + 1) .. '/', init = function() end }
		for k, v in pairs(extra or {}) do cfg[k] = v end
		local s = mods.sync.new(cfg, #all + 1, all)
		all[#all + 1] = s
		return s
	end

	local function states()
		local out = {}
		for _, s in ipairs(status.snapshot(all).syncs) do out[#out + 1] = s.state end
		return out
	end

	before_each(function()
		core, mods = fake.start()
		status = mods.status
		all = {}
	end)

	it('names each slave\'s state', function()
		local a, b, c, d, e, f = sync(), sync(), sync(), sync(), sync(), sync()
		a.initDone = true
		b.initDone, b.failures = true, 1
		c.initDone, c.failures = true, 5
		d.stopped = true
		e.error = 'boom'
		f.initDone = false
		assert.same({ 'ok', 'retrying', 'down', 'down', 'error', 'startup' }, states())
		a:park('/x', 1, 1, 10)
		assert.equal('retrying', states()[1])
	end)

	it('says degraded while directories are unwatched', function()
		local s = sync()
		s.initDone = true
		core.unwatched = 3
		assert.same({ 'degraded' }, states())
		assert.equal(3, status.snapshot(all).unwatched)
	end)

	it('counts the queue and its lag', function()
		local s = sync()
		s.initDone = true
		core.clock = 100
		s:push('Modify', '/a', nil, 90)
		s:push('Modify', '/b', nil, 95)
		local snap = status.snapshot(all).syncs[1]
		assert.equal(2, snap.queue)
		assert.equal(10, snap.lag)
		assert.equal('/t1/', snap.target)
	end)

	it('writes lsyncd\'s status file with every queued delay', function()
		local s = sync { exclude = { '*.tmp' } }
		s:push('Modify', '/a', nil, 1)
		core.watched = { '/src' }
		status.write('/run/st', all)
		local text = core.written['/run/st']
		assert.truthy(text:find('Sync1 source=/src/\nThere are 1 delays\nwait   Modify /a\n', 1, true))
		assert.truthy(text:find('Filtering:\n  - *.tmp\n', 1, true))
		assert.truthy(text:find('Inotify watching 1 directories\n  1: /src/\n', 1, true))
	end)

	it('writes metrics with escaped labels and one state line per state', function()
		local s = sync { name = 'a "b"\\' }
		s.initDone, s.failures = true, 2
		status.writeMetrics('/m', status.snapshot(all))
		local text = core.written['/m']
		assert.truthy(text:find('lsyncd_ng_consecutive_failures{sync="a \\"b\\"\\\\",target="/t1/"} 2\n', 1, true))
		assert.truthy(text:find('state="retrying"} 1\n', 1, true))
		assert.truthy(text:find('state="ok"} 0\n', 1, true))
		assert.truthy(text:find('# TYPE lsyncd_ng_events_synced_total counter\n', 1, true))
	end)

	it('writes JSON that reads back', function()
		sync().initDone = true
		status.writeJson('/j', status.snapshot(all))
		local snap = mods.json.decode(core.written['/j'])
		assert.equal('ok', snap.syncs[1].state)
		assert.equal('test', snap.version)
	end)
end)
