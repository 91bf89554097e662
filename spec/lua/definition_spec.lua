-- Specs for lua/definition.lua's stored mode: the hash of a sync's
-- definition is kept in every user's state store, so it must not change
-- with a refactor or an upgrade (a changed hash costs every slave its full
-- startup transfer). The values below were computed by state.definitionHash
-- as it was at commit f6a3a74, before lua/definition.lua took it over.

-- lsyncd-ng's own functions are named by their file ('@lua/NAME.lua', the
-- name the bundled bytecode carries): the runtime is loaded under that
-- name here too, not as './lua/NAME.lua'.
package.path = 'lua/?.lua;' .. package.path

local fake = require 'fake_core'

-- spec/lua/definition_pinned.conf.lua: default.rsync with excludes,
-- default.rsyncssh, and a layer of the config's own (functions in a table)
local PINNED = {
	Sync1 = '7a9f14c35dc77deb',
	Sync2 = '72e121771cd2b2ce',
	Sync3 = '321361ce4b7efe57',
}

describe('definition.hash', function()
	local core, mods

	before_each(function()
		core, mods = fake.start()
	end)

	it('uses the engine\'s storeHash (value from the lsyncd-ng binary)', function()
		assert.equal('44bd8ad473cd9906', core.storeHash('a'))
	end)

	it('gives the syncs of a fixed config the hashes stored before', function()
		local path = 'spec/lua/definition_pinned.conf.lua'
		core.files[path] = 1
		mods.runner.initialize({ path }, false)
		local got = {}
		for _, s in ipairs(mods.syncset.all()) do got[s.name] = mods.definition.hash(s.config) end
		assert.same(PINNED, got)
		-- what makes them differ is in the text: the layers by file, the
		-- config's own function by its bytecode's hash
		local s1, s3 = mods.syncset.all()[1], mods.syncset.all()[3]
		assert.truthy(mods.definition.text(s1.config, 'hash'):find('action=@lua/', 1, true))
		assert.truthy(mods.definition.text(s3.config, 'hash'):find('onModify=%x+,'))
	end)

	it('writes a table as it was stored: sorted keys, no _ keys, name or checkgauge', function()
		local shared = { 'a', 'b' }
		local t = { source = '/s/', name = 'n', checkgauge = true, _x = 1, [1] = 'one', [2] = false,
			delay = 2.5, list = shared, again = shared, rsync = { _computed = { '-a' }, compress = true } }
		t.self = t
		assert.equal('{1=string:one,2=boolean:false,again={1=string:a,2=string:b,},delay=number:2.5,'
			.. 'list={1=string:a,2=string:b,},rsync={compress=boolean:true,},self=<cycle>,'
			.. 'source=string:/s/,}', mods.definition.text(t, 'hash'))
		assert.equal('65a6415c04bb7696', mods.definition.hash(t))
	end)
end)
