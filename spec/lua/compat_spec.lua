-- Specs for lua/compat.lua and lua/compat_rsync.lua: old config forms
-- read the way they were meant, one warning each.
local compat = require 'compat'
local opts = require 'compat_rsync'

describe('compat', function()
	local warned
	before_each(function()
		warned = {}
		compat.logger = function(msg) warned[#warned + 1] = msg end
	end)

	describe('rsyncOps lists', function()
		it('takes -e and its command as the remote shell, the rest in order', function()
			local rsh, extra = opts.splitOps { '-e', 'ssh -p 2222', '-L', '--bwlimit=100' }
			assert.equal('ssh -p 2222', rsh)
			assert.same({ '-L', '--bwlimit=100' }, extra)
		end)

		it('splits a string on blanks, honouring quotes', function()
			local rsh, extra = opts.splitOps "-avz --rsh='ssh -p 22' -H"
			assert.equal('ssh -p 22', rsh)
			assert.same({ '-avz', '-H' }, extra)
		end)

		it('reads -e at the end of a bundle of short flags, and -eCMD', function()
			local rsh, extra = opts.splitOps { '-avze', 'ssh -i k' }
			assert.equal('ssh -i k', rsh)
			assert.same({ '-avz' }, extra)
			assert.equal('ssh -l u', (opts.splitOps { '-e ssh -l u' }))
		end)

		it('says what is wrong with -e at the end or a number', function()
			local _, _, why = opts.splitOps { '-L', '-e' }
			assert.matches('not followed by a command', why)
			_, _, why = opts.splitOps(3)
			assert.matches('must be a string or a list', why)
		end)
	end)

	describe('ssh commands and tables', function()
		it('reads an ssh command into an ssh table', function()
			local t = opts.sshTable('/usr/bin/ssh -p 2222 -i "/k ey" -o BatchMode=yes -C -l bob')
			assert.same({ binary = '/usr/bin/ssh', port = 2222, identityFile = '/k ey',
				options = { BatchMode = 'yes' }, _extra = { '-C', '-l', 'bob' } }, t)
		end)

		it('writes an ssh table as a remote shell command, quoting what needs it', function()
			assert.equal("ssh -i '/k ey' -o A=1 -o B=2 -p 22 -C",
				opts.rshOf { identityFile = '/k ey', options = { B = 2, A = 1 }, port = 22, _extra = { '-C' } })
			assert.equal('ssh -q -p 22', opts.rshOf({ port = 22 }, 'ssh -q'))
		end)

		it('shows values as Lua', function()
			assert.equal('{ "a", b = 1, c = { d = true } }', opts.show { 'a', b = 1, c = { d = true } })
		end)
	end)

	describe('settings', function()
		it('reads statusIntervall as statusInterval, with a warning', function()
			assert.same({ 'statusInterval', 5 }, { compat.setting('statusIntervall', 5, 'c.lua:3: ') })
			assert.equal(1, #warned)
			assert.matches('^c%.lua:3: settings key "statusIntervall"', warned[1])
		end)

		it('keeps a settings delay, checked, with a warning', function()
			assert.same({ 'delay', 4 }, { compat.setting('delay', '4', 'c.lua:1: ') })
			assert.matches('delay = 4 in each sync', warned[1])
			local ok, err = pcall(compat.setting, 'delay', 'soon', 'c.lua:1: ')
			assert.is_false(ok)
			assert.equal('c.lua:1: setting "delay" must be a number >= 0, not "soon"', err)
		end)

		it('leaves lsyncd\'s inotify modes alone and maps 2.1-style lists', function()
			assert.equal('CloseWrite or Modify', compat.inotifyMode('CloseWrite or Modify', ''))
			assert.equal('CloseWrite', compat.inotifyMode('', ''))
			assert.equal(0, #warned)
			assert.equal('CloseWrite', compat.inotifyMode('CloseWrite or Create or Delete', 'w: '))
			assert.equal('Modify', compat.inotifyMode('Modify or Move', 'w: '))
			assert.equal('CloseWrite or Modify', compat.inotifyMode('CloseWrite after Modify', 'w: '))
			assert.equal(3, #warned)
			assert.has_error(function() compat.inotifyMode('Sometimes', 'w: ') end)
		end)

		it('gives settings\' delay to the syncs that set none', function()
			local a, b = { delay = 15 }, { delay = 1, _userDelay = true }
			compat.applySettingsDelay({ a, b }, { delay = 3 })
			assert.equal(3, a.delay)
			assert.equal(1, b.delay)
			local c = { delay = 15 }
			compat.applySettingsDelay({ c }, { delay = 3 }, 7)
			assert.equal(15, c.delay)    -- the command line's -delay is applied elsewhere
		end)

		it('knows whether the user\'s own tables set a key', function()
			local layer = { delay = 5 }
			assert.is_true(compat.userSets({ layer, source = '/s' }, 'delay'))
			assert.is_false(compat.userSets({ { maxDelays = 1 }, source = '/s' }, 'delay'))
		end)
	end)

	describe('the config text', function()
		it('warns about event paths compared with a leading "/"', function()
			compat.scanPaths(table.concat({
				'if event.path == "/tmp/" then',
				"if '/x' ~= ev.pathname then",
				'if event.path:match("^/cache") then',
				'if string.starts(event.pathdir, "/a") then',
				'-- event.path == "/commented"',
				'if event.sourcePath == "/abs" or event.path:find("/") then',
			}, '\n'), 'c.lua')
			assert.equal(4, #warned)
			assert.matches('^c%.lua:1: compares event%.path with "/tmp/".*Write "tmp/"', warned[1])
			assert.matches('^c%.lua:2: compares event%.pathname with "/x"', warned[2])
			assert.matches('^c%.lua:3: .*Write "%^cache"', warned[3])
			assert.matches('^c%.lua:4: compares event%.pathdir', warned[4])
		end)

		it('names the line of a key within a call', function()
			compat.scanPaths('settings {\n  logfile = "x",\n  statusIntervall = 2,\n}\n', 'k.lua')
			compat.setting('statusIntervall', 2, 'k.lua:1: ')
			assert.matches('^k%.lua:3: ', warned[1])
		end)

		it('warns once per place and text', function()
			compat.warn('a:1: ', 'same')
			compat.warn('a:1: ', 'same')
			assert.equal(1, #warned)
		end)
	end)
end)
