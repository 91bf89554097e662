-- Specs for lua/cli.lua: lsyncd's command-line grammar.
local cli = require 'cli'

describe('cli.parse', function()
	it('takes one or two dashes and interleaved non-options', function()
		local r = assert(cli.parse { 'cfg.lua', '--log', 'all', '-nodaemon' })
		assert.equal('cfg.lua', r.config)
		assert.same({ 'all' }, r.logs)
		assert.is_true(r.settings.nodaemon)
	end)

	it('consumes option values verbatim even when they start with a dash', function()
		local r = assert(cli.parse { '-rsync', '-src', '--tgt' })
		assert.equal('rsync', r.syncs[1].mode)
		assert.same({ '-src', '--tgt' }, r.syncs[1][1])
	end)

	it('accepts -c FILE', function()
		assert.equal('x.lua', cli.parse { '-c', 'x.lua' }.config)
	end)

	it('rejects unknown options, missing values, two config files, syncs plus config', function()
		local _, e1 = cli.parse { '-bogus' }
		assert.matches('Unknown option', e1)
		local _, e2 = cli.parse { '-delay' }
		assert.matches('%-delay needs seconds: %-delay SECS', e2)
		local _, e3 = cli.parse { 'a.lua', 'b.lua' }
		assert.matches('only be one config file', e3)
		local _, e4 = cli.parse { '-rsync', 's', 't', 'a.lua' }
		assert.matches('command line syncs and a config file', e4)
	end)

	it('checks log categories and delay values', function()
		local _, e = cli.parse { '-log', 'bad' }
		assert.matches("%-log bad: not a logging category%. Use all, scarce or a category: Normal, Error", e)
		assert.equal(2.5, cli.parse { '-delay', '2.5', '-rsync', 'a', 'b' }.delay)
		local _, e2 = cli.parse { '-delay', 'x' }
		assert.matches('delay must be a number', e2)
	end)

	it('says plainly what an option needs and suggests the nearest for a typo', function()
		local _, e1 = cli.parse { '-nodeamon', 'x.lua' }
		assert.equal('Unknown option -nodeamon (did you mean -nodaemon?); -help lists them.', e1)
		local _, e2 = cli.parse { '-c' }
		assert.equal('-c needs a config file: -c FILE.', e2)
		local _, e3 = cli.parse { '-rsync', 'a' }
		assert.equal('-rsync needs a source and a target: -rsync SOURCE TARGET.', e3)
	end)

	it('splits -sshopts honouring quotes', function()
		assert.same({ '-i', 'my key', '-p', '22' }, cli.splitQuoted([[-i 'my key' -p 22]]))
		assert.same({ 'a', '' , 'b' }, cli.splitQuoted([[a "" b]]))
	end)
end)
