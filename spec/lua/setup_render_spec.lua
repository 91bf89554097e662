-- Specs for lua/setup_render.lua (the config -init writes) and the parsing
-- half of lua/setup_flags.lua: the text is loaded and run against
-- recording settings/sync/default globals, so the spec reads what a daemon
-- would get, not the wording.
local render = require 'setup_render'
local flags = require 'setup_flags'

local function answers(over)
	local a = {
		source = '/srv/data', mode = 'rsyncssh', key = '/root/.ssh/id_ed25519', sshOptions = {},
		excludes = {}, delay = '5', delete = 'true', log = '/var/log/l.log', status = '/var/log/l.status',
		file = '/etc/lsyncd-ng/lsyncd-ng.conf.lua',
		slaves = { { user = 'root', host = 'slave1', dir = '/backup' } },
	}
	for k, v in pairs(over or {}) do a[k] = v end
	return a
end

-- Runs the rendered text; returns the settings table and the sync tables.
local function run(text)
	local fn = assert(loadstring(text, '=config'))
	local got = { syncs = {} }
	local env = {
		default = { rsync = 'default.rsync', rsyncssh = 'default.rsyncssh' },
		settings = function(t) got.settings = t end,
		sync = function(t) got.syncs[#got.syncs + 1] = t end,
	}
	setfenv(fn, env)
	fn()
	return got
end

describe('setup_render', function()
	it('writes an rsyncssh sync with the ssh key, port and options', function()
		local a = answers {
			sshOptions = { 'StrictHostKeyChecking=yes' },
			slaves = { { user = 'root', host = 'slave1', port = 2222, dir = '/backup' } },
		}
		local got = run(render.render(a, 'WHEN'))
		assert.equal(1, #got.syncs)
		local s = got.syncs[1]
		assert.equal('default.rsyncssh', s[1])
		assert.equal('/srv/data', s.source)
		assert.equal('root@slave1', s.host)
		assert.equal('/backup', s.targetdir)
		assert.equal(5, s.delay)
		assert.is_true(s.delete)
		assert.same({ port = 2222, identityFile = '/root/.ssh/id_ed25519',
			options = { StrictHostKeyChecking = 'yes' } }, s.ssh)
		assert.same({ archive = true }, s.rsync)
		assert.same({ logfile = '/var/log/l.log', statusFile = '/var/log/l.status', statusInterval = 10,
			insist = true }, got.settings)
	end)

	it('writes default.rsync with an rsh for mode rsync, and a local slave as a target', function()
		local a = answers {
			mode = 'rsync', delete = 'running', excludes = { '*.tmp', 'a "b"' },
			slaves = { { host = 'h', port = 22, dir = '/t' }, { localDir = '/mnt/copy' } },
		}
		local got = run(render.render(a, 'WHEN'))
		assert.equal(2, #got.syncs)
		local r, l = got.syncs[1], got.syncs[2]
		assert.equal('default.rsync', r[1])
		assert.equal('h:/t', r.target)
		assert.equal('/usr/bin/ssh -p 22 -i /root/.ssh/id_ed25519', r.rsync.rsh)
		assert.equal('running', r.delete)
		assert.same({ '*.tmp', 'a "b"' }, r.exclude)
		assert.equal('default.rsync', l[1])
		assert.equal('/mnt/copy', l.target)
		assert.is_nil(l.rsync.rsh)
	end)

	it('marks jsonStatusFile as lsyncd-ng only and says so in the header', function()
		local text = render.render(answers { json = '/run/s.json' }, 'WHEN')
		assert.equal('/run/s.json', run(text).settings.jsonStatusFile)
		assert.truthy(text:find('lsyncd-ng-only setting', 1, true))
		assert.falsy(render.render(answers(), 'WHEN'):find('lsyncd-ng-only', 1, true))
	end)

	it('is pure: the same answers and time give the same text', function()
		assert.equal(render.render(answers(), 'WHEN'), render.render(answers(), 'WHEN'))
		assert.truthy(render.render(answers(), 'WHEN'):find('on WHEN.', 1, true))
	end)

	it('keeps a source with quotes and newlines one Lua string', function()
		local got = run(render.render(answers { source = '/a "b"\n]]c' }, 'WHEN'))
		assert.equal('/a "b"\n]]c', got.syncs[1].source)
	end)
end)

describe('setup_flags', function()
	it('parses slave specs', function()
		assert.same({ user = 'u', host = 'h', port = 2200, dir = '/d' }, flags.parseSlave('u@h:2200:/d'))
		assert.same({ host = 'h', dir = '/d' }, flags.parseSlave('h:/d'))
		assert.same({ localDir = '/x' }, flags.parseSlave('/x'))
		assert.is_nil((flags.parseSlave('h:rel')))
		assert.is_nil((flags.parseSlave('h:70000:/d')))
	end)

	it('parses flags: repeated, inline values, switches, the file', function()
		local f = assert(flags.parse { '--slave', 'a:/x', '--slave=b:/y', '-y', '--delay=3', 'out.lua' })
		assert.same({ 'a:/x', 'b:/y' }, f.slave)
		assert.is_true(f.yes)
		assert.equal('3', f.delay)
		assert.equal('out.lua', f.file)
		assert.is_nil((flags.parse { '--bogus' }))
		assert.is_nil((flags.parse { '--source' }))
	end)
end)
