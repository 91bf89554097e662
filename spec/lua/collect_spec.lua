-- Specs for the exit-code judgement of each layer's collect: default
-- (lsyncd's tables), default.rsync (moves on the slave), default.rsyncssh
-- (rsync's codes for transfers, ssh's for commands) and default.direct.
local fake = require 'fake_core'

describe('collect', function()
	local core, mods, default, events, all

	-- A sync of layer `layer` (its keys copied in as a merged config would).
	local function syncOf(layer, extra)
		local cfg = { source = '/src', target = '/t/' }
		for k, v in pairs(layer) do if type(k) == 'string' then cfg[k] = v end end
		for k, v in pairs(extra or {}) do cfg[k] = v end
		local s = mods.sync.new(cfg, #all + 1)
		all[#all + 1] = s
		return s
	end

	local function event(s, etype, path, path2)
		local d = s:push(etype, path or '', path2, 1)
		s:activate({ d })
		return events.event(s, d), d
	end

	local function list(s, data, ...)
		local ds = {}
		for i, p in ipairs { ... } do ds[i] = s:push('Modify', p, nil, 1) end
		s:activate(ds)
		return events.list(s, ds, data)
	end

	local function queue(s)
		local out = {}
		for d in s:eachDelay() do
			if d.status ~= 'active' then out[#out + 1] = d.etype .. ' ' .. d.path end
		end
		return out
	end

	before_each(function()
		core, mods = fake.start()
		default = mods.default
		events = mods.events
		default.rsync = mods.default_rsync
		all = mods.syncset.all()         -- the daemon's syncs (syncset.othersAlive)
	end)

	describe('default (rsync exit codes)', function()
		it('judges a list by the table', function()
			local s = syncOf(mods.default_rsync)
			assert.equal('ok', default.collect(list(s, nil, '/a'), 0))
			assert.equal('again', default.collect(list(s, nil, '/a'), 10))
			assert.equal('die', default.collect(list(s, nil, '/a'), 1))
			assert.equal('ok', default.collect(list(s, nil, '/a'), 24))
			assert.truthy(core.logged('Retrying a list after exitcode: 10'))
		end)

		it('calls a code the table does not know a failure', function()
			local s = syncOf(mods.default_rsync)
			assert.equal('die', default.collect(list(s, nil, '/a'), 77))
			assert.truthy(core.logged('Unknown exitcode 77', 'Error'))
		end)

		it('takes the table given as third argument over the config\'s', function()
			local s = syncOf(mods.default_rsync)
			assert.equal('again', default.collect(list(s, nil, '/a'), 0, { [0] = 'again' }))
			assert.equal(mods.default.rsyncExitCodes, s.config.exitcodes)
		end)

		it('ends the daemon when the only startup fails, retries it when another sync lives', function()
			local s = syncOf(mods.default_rsync)
			local ok, err = pcall(default.collect, (event(s, 'Init')), 10)
			assert.is_false(ok)
			assert.same({ terminated = -1 }, err)
			local t = syncOf(mods.default_rsync)
			assert.equal('again', default.collect((event(t, 'Init')), 10))
			assert.equal('die', default.collect((event(t, 'Init')), 1))
			-- exit 23 (some paths failed) is never a finished startup
			assert.equal('again', default.collect((event(t, 'Init')), 23))
			assert.equal('ok', default.collect((event(t, 'Init')), 0))
		end)

		it('retries the only startup with settings insist', function()
			mods.config.settings.insist = true
			local s = syncOf(mods.default_rsync)
			assert.equal('again', default.collect((event(s, 'Init')), 10))
		end)
	end)

	describe('default.rsync moves on the slave', function()
		it('re-sends with rsync the moves the script names as failed', function()
			local s = syncOf(mods.default_rsync, { onMove = true })
			local d1 = s:push('Move', '/a', '/b', 1)
			local d2 = s:push('Move', '/c', '/d', 1)
			s:activate({ d1, d2 })
			local data = { moves = true, failed = { d2 } }
			local agent = events.list(s, { d1, d2 }, data)
			assert.equal('ok', mods.default_rsync.collect(agent, 0))
			assert.equal('again', mods.default_rsync.collect(agent, 255))
			assert.same({}, queue(s))
			assert.equal('ok', mods.default_rsync.collect(agent, 97))
			assert.same({ 'Delete /c', 'Create /d' }, queue(s))
		end)

		it('re-sends every move when the script said nothing', function()
			local s = syncOf(mods.default_rsync, { onMove = true })
			local d1 = s:push('Move', '/a', '/b', 1)
			s:activate({ d1 })
			local agent = events.list(s, { d1 }, { moves = true, failed = {} })
			assert.equal('ok', mods.default_rsync.collect(agent, 1))
			assert.same({ 'Delete /a', 'Create /b' }, queue(s))
		end)
	end)

	describe('default.rsyncssh', function()
		it('judges transfers by rsync\'s codes and commands by ssh\'s', function()
			local layer = mods.default_rsyncssh
			local s = syncOf(layer, { exitcodes = false })
			assert.equal('ok', layer.collect(list(s, nil, '/a'), 24))       -- rsync: vanished files
			assert.equal('again', layer.collect(list(s, nil, '/a'), 12))
			assert.equal('again', layer.collect((event(s, 'Delete', '/x')), 255))
			assert.equal('die', layer.collect((event(s, 'Delete', '/x')), 24)) -- not ssh's
			assert.is_false(s.config.exitcodes)                             -- left as it was
		end)
	end)

	describe('default.direct', function()
		it('judges the startup by rsync\'s codes', function()
			local layer = mods.default_direct
			syncOf(layer)
			local s = syncOf(layer)
			assert.equal('again', layer.collect((event(s, 'Init')), 10))
			assert.equal('ok', layer.collect((event(s, 'Init')), 0))
			assert.is_nil(s.config.exitcodes)
		end)

		it('repairs a failed copy with one full sync, queued once', function()
			local layer = mods.default_direct
			local s = syncOf(layer)
			assert.equal('ok', layer.collect((event(s, 'Modify', '/f')), 0))
			assert.same({}, queue(s))
			assert.equal('ok', layer.collect((event(s, 'Modify', '/f')), 1))
			assert.equal('ok', layer.collect((event(s, 'Modify', '/g')), 1))
			assert.same({ 'Init ' }, queue(s))
			assert.truthy(core.logged('a full sync will repair the target', 'Warn'))
		end)
	end)
end)
