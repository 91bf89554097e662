-- Specs for lua/reload.lua: when two sync definitions count as the same
-- (a HUP keeps that sync's queue and state) and how the new config's syncs
-- are paired with the running ones.
local reload = require 'reload'
local definition = require 'definition'

-- A config text loaded the way a config file is (a chunk of its own), so
-- each load makes new functions; returns the table it yields.
local function load(text)
	return assert(loadstring('return ' .. text, '@/etc/test.conf.lua'))()
end

local function fp(text, settings) return definition.fingerprint(load(text), settings or {}) end

describe('definition.fingerprint', function()
	it('is the same for the same text loaded twice', function()
		local t = "{ source = '/s', target = 'h:/t', exclude = { '*.x', '*.y' }, delay = 3,"
			.. " onModify = function(e) return e.path .. '!' end }"
		assert.equal(fp(t), fp(t))
	end)

	it('changes with a value, a list entry or a nested key', function()
		local base = fp("{ source = '/s', target = '/t', exclude = { '*.x' }, rsync = { compress = true } }")
		assert.not_equal(base, fp("{ source = '/s', target = '/u', exclude = { '*.x' }, rsync = { compress = true } }"))
		assert.not_equal(base, fp("{ source = '/s', target = '/t', exclude = { '*.y' }, rsync = { compress = true } }"))
		assert.not_equal(base, fp("{ source = '/s', target = '/t', exclude = { '*.x' }, rsync = { compress = false } }"))
	end)

	it('changes with the body of a function, not with where it stands in the file', function()
		local a = fp("{ onCreate = function(e) return 1 end }")
		assert.equal(a, fp("\n\n\n{ onCreate = function(e) return 1 end }"))
		assert.not_equal(a, fp("{ onCreate = function(e) return 2 end }"))
	end)

	it('changes with a value a function closes over', function()
		local function make(host)
			return load("(function() local h = '" .. host .. "' return { action = function() return h end } end)()")
		end
		assert.equal(definition.fingerprint(make('a'), {}), definition.fingerprint(make('a'), {}))
		assert.not_equal(definition.fingerprint(make('a'), {}), definition.fingerprint(make('b'), {}))
	end)

	it('ignores where the sync stands and the daemon-only settings', function()
		local c1, c2 = load("{ source = '/s' }"), load("{ source = '/s' }")
		c1._where, c2._where = 'a.lua:3: ', 'a.lua:9: '
		assert.equal(definition.fingerprint(c1, { statusFile = '/a', logfile = '/l' }),
			definition.fingerprint(c2, { statusFile = '/b' }))
	end)

	it('changes with a setting that shapes transfers', function()
		local c = load("{ source = '/s' }")
		assert.not_equal(definition.fingerprint(c, { rsyncTimeout = 30 }), definition.fingerprint(c, { rsyncTimeout = 60 }))
	end)

	it('names lsyncd-ng\'s own functions by which they are, not by their state', function()
		local rsync = require 'default_rsync'
		assert.equal(definition.fingerprint({ action = rsync.action }, {}), definition.fingerprint({ action = rsync.action }, {}))
		assert.not_equal(definition.fingerprint({ action = rsync.action }, {}),
			definition.fingerprint({ action = rsync.collect }, {}))
	end)

	it('ends on tables that hold themselves', function()
		local c = load("{ source = '/s' }")
		c.self = c
		assert.is_string(definition.fingerprint(c, {}))
	end)
end)

describe('reload.plan', function()
	local function sync(fpr)
		return { config = { _fingerprint = fpr }, getConfig = function(self) return self.config end }
	end

	it('keeps the same definitions, starts new ones, removes the rest', function()
		local a, b, c = sync('A'), sync('B'), sync('C')
		local plan, removed = reload.plan({ a, b, c }, { { _fingerprint = 'C' }, { _fingerprint = 'D' },
			{ _fingerprint = 'A' } })
		assert.equal(c, plan[1].keep)
		assert.equal('D', plan[2].new._fingerprint)
		assert.equal(a, plan[3].keep)
		assert.same({ b }, removed)
	end)

	it('pairs two identical syncs one to one', function()
		local a1, a2 = sync('A'), sync('A')
		local plan, removed = reload.plan({ a1, a2 }, { { _fingerprint = 'A' } })
		assert.equal(a1, plan[1].keep)
		assert.same({ a2 }, removed)
		plan, removed = reload.plan({ a1 }, { { _fingerprint = 'A' }, { _fingerprint = 'A' } })
		assert.equal(a1, plan[1].keep)
		assert.is_table(plan[2].new)
		assert.same({}, removed)
	end)
end)
