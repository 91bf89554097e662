-- Specs for lua/config.lua: settings{}, inheritance, "did you mean".
local config = require 'config'

describe('config', function()
	before_each(function() config.settings = {} end)

	it('sets settings by key and by name, and reads them back', function()
		config.settingsFunc { logfile = '/tmp/x', 'nodaemon' }
		assert.equal('/tmp/x', config.settingsFunc('logfile'))
		assert.is_true(config.settingsFunc('nodaemon'))
	end)

	it('rejects an unknown setting and suggests the nearest key', function()
		local ok, err = pcall(config.settingsFunc, { statusIntervl = 1 })
		assert.is_false(ok)
		assert.matches('setting "statusIntervl" unknown', err)
		assert.matches('did you mean "statusInterval"', err)
	end)

	it('reads old examples\' statusIntervall as statusInterval, with a warning', function()
		local compat = require 'compat'
		local warned = {}
		compat.logger = function(msg) warned[#warned + 1] = msg end
		config.settingsFunc({ statusIntervall = 3 }, 'c.lua:2: ')
		assert.equal(3, config.settingsFunc('statusInterval'))
		assert.is_nil(config.settings.statusIntervall)
		assert.equal(1, #warned)
	end)

	it('puts a running config aside for a reload and back when the new one fails', function()
		config.settingsFunc { logfile = '/tmp/x' }
		local cfgs, syncs = { {} }, { 'sync' }
		config.syncConfigs = cfgs
		config.bind(syncs)
		local old = config.fresh()
		assert.same({}, config.settings)
		assert.same({}, config.syncConfigs)
		assert.is_nil(config.syncObjects)
		config.settingsFunc { logfile = '/tmp/y' }
		config.restore(old)
		assert.equal('/tmp/x', config.settings.logfile)
		assert.equal(cfgs, config.syncConfigs)
		assert.equal(syncs, config.syncObjects)
	end)

	it('lets sync{} be called only while defining, also after an error in it', function()
		config.syncConfigs = {}
		assert.has_error(function() config.syncFunc { source = '/s', target = '/t' } end)
		assert.has_error(function() config.defining(function() error('boom') end) end, 'boom')
		assert.is_false(config.loading)
	end)

	it('suggests nothing for a key far from every valid one', function()
		assert.equal('', config.suggest('zzzzzzzz', { delay = true }))
	end)

	it('inherits string keys first, then integer parents, merging tables', function()
		local base = { delay = 15, rsync = { links = true, times = true } }
		local cfg = {}
		config.inherit(cfg, { base, delay = 1, rsync = { compress = true } })
		assert.equal(1, cfg.delay)
		assert.same({ links = true, times = true, compress = true }, cfg.rsync)
		assert.is_nil(cfg[1])
	end)

	it('keeps _merge = false tables whole and does not mix them', function()
		local parent = {
			x = { _merge = false, a = 1, b = 2 },
			exitcodes = { [0] = 'ok', [1] = 'die' },
			y = { a = 1, b = 2 },
		}
		-- the child has its own x, exitcodes and y: x and exitcodes stay the
		-- child's alone, y (a table that merges) gets the parent's keys too
		local cfg = {}
		config.inherit(cfg, { parent, x = { c = 3 }, exitcodes = { [0] = 'again' }, y = { c = 3 } })
		assert.same({ c = 3 }, cfg.x)
		assert.same({ [0] = 'again' }, cfg.exitcodes)
		assert.same({ a = 1, b = 2, c = 3 }, cfg.y)
		-- without one of its own, the child gets the parent's whole, as a copy
		local bare = {}
		config.inherit(bare, { parent })
		assert.equal(1, bare.x.a)
		assert.equal(2, bare.x.b)
		assert.are_not.equal(parent.x, bare.x)
		assert.equal('die', bare.exitcodes[1])
	end)

	it('does not share table values with the parent', function()
		local parent = { rsync = { links = true } }
		local cfg = {}
		config.inherit(cfg, { parent })
		cfg.rsync.links = false
		assert.is_true(parent.rsync.links)
	end)
end)
