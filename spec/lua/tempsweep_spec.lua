-- Specs for lua/tempsweep.lua: the filter rules that remove rsync's
-- temporary files ('.NAME.XXXXXX') of interrupted transfers from a slave,
-- checked against a real rsync (the sweep's own options) with hostile names:
-- exactly those files go, nothing else on the slave changes.
local fake = require 'fake_core'
local fs = require 'fsutil'

describe('tempsweep', function()
	if not fs.sh('rsync --version >/dev/null 2>&1') then
		it('needs rsync', function() error('rsync is not installed') end)
		return
	end
	local tempsweep, root, src, dst

	-- the real directory listing (core.readdir's shape: name -> isdir)
	local function readdir(p)
		local h = io.popen('find ' .. fs.q(p) .. ' -mindepth 1 -maxdepth 1 -printf "%y %f\\0" 2>/dev/null')
		local out = h:read('*a')
		h:close()
		if out == '' and not fs.sh('test -d ' .. fs.q(p)) then return nil end
		local t = {}
		for typ, name in out:gmatch('(%a) ([^%z]*)%z') do t[name] = typ == 'd' end
		return t
	end

	-- runs the sweep for names; the slave's tree afterwards
	local function sweep(names)
		local rules = tempsweep.rules(src .. '/', names)
		if not rules then return fs.listtree(dst), nil end
		fs.writefile(root .. '/stdin', table.concat(rules, '\0'))
		local ok = fs.sh('rsync -r --delete --from0 "--filter=. -" ' .. fs.q(src .. '/') .. ' '
			.. fs.q(dst .. '/') .. ' < ' .. fs.q(root .. '/stdin') .. ' 2>' .. fs.q(root .. '/err'))
		assert(ok, fs.readfile(root .. '/err'))
		return fs.listtree(dst), rules
	end

	before_each(function()
		local core = fake.install()
		core.readdir = readdir
		tempsweep = fake.fresh().tempsweep
		root = fs.tempdir()
		src, dst = root .. '/src', root .. '/dst'
		assert(fs.sh('mkdir ' .. fs.q(src) .. ' ' .. fs.q(dst)))
	end)
	after_each(function() fs.rmrf(root) end)

	it('deletes the temporary files of the names given, whatever bytes they hold', function()
		local long = string.rep('L', 250)
		local tree = { '/top', '/d[1]/', '/d[1]/a*b?c', '/sp ace/', '/sp ace/x\\y', '/nl\ndir/',
			'/nl\ndir/f', '/a/', '/a/b/', '/a/b/' .. long, '/a/b/other' }
		fs.mktree(src, tree)
		fs.mktree(dst, tree)
		local temps = { '/.top.Ab3xZ9', '/d[1]/.a*b?c.q1W2e3', '/sp ace/.x\\y.zzzzzz', '/nl\ndir/.f.000000',
			'/a/b/.' .. long:sub(1, 246) .. '.XyZ123' }
		-- on the slave only: not temporary files of the names given
		local stay = { '/.top.toolong7', '/.top.short', '/d[1]/.a-b?c.q1W2e3', '/a/b/.other.Ab3xZ9',
			}
		fs.mktree(dst, temps)
		fs.mktree(dst, { '/.top.toolong7', '/.top.short', '/d[1]/.a-b?c.q1W2e3', '/a/b/.other.Ab3xZ9' })
		local before = fs.listtree(dst)
		local after = sweep { '/top', '/d[1]/a*b?c', '/sp ace/x\\y', '/nl\ndir/f', '/a/b/' .. long }
		local want = {}
		for k in pairs(before) do want[k] = true end
		for _, t in ipairs(temps) do want[t] = nil end
		assert.same(fs.keys(want), fs.keys(after))
		for _, s in ipairs(stay) do
			if s:sub(-1) ~= '/' then assert.is_true(after[s], s) end
		end
	end)

	it('leaves a name out when the source holds an entry of that form (it is no leftover)', function()
		fs.mktree(src, { '/d/', '/d/f', '/d/.f.backup', '/d/g' })
		fs.mktree(dst, { '/d/', '/d/f', '/d/.f.backup', '/d/g', '/d/.g.Ab3xZ9' })
		local after, rules = sweep { '/d/f', '/d/g' }
		assert.is_true(after['/d/.f.backup'])
		assert.is_nil(after['/d/.g.Ab3xZ9'])
		assert.same({ 'R /d/.g.??????', '+ /d/', '- *' }, rules)
	end)

	it('gives no rules when no name needs one (its directory is gone from the source)', function()
		fs.mktree(src, { '/d/', '/d/.f.ABCDEF' })
		assert.is_nil(tempsweep.rules(src .. '/', { '/gone/f', '/d/f' }))
		assert.is_nil(tempsweep.rules(src .. '/', {}))
	end)

	describe('its life', function()
		local core, s, doneN
		before_each(function()
			core = fake.install()
			core.dirs['/src/'], core.dirs['/src/d/'], core.files['/src/d/f'] = true, true, 1
			tempsweep = fake.fresh().tempsweep
			doneN = 0
			s = { name = 'S1', source = '/src/', m = nil,
				cfg = { delete = true, target = 'h:/t/', rsync = { binary = '/b/rsync',
					_computed = { '-lmts', '--delete-excluded', '-m', '--rsh=ssh -x', '-M--timeout=9' } } } }
			function s.getConfig(self) return self.cfg end
			function s.hold(self, on) self.held = on end
			function s.isRemoved() return false end
			function s.master(self) return self.m end
		end)
		local function start() tempsweep.start(s, { '/d/f' }, function() doneN = doneN + 1 end) end

		it('holds the sync, runs one rsync of the rules, releases it on success', function()
			start()
			assert.is_true(s.held)
			tempsweep.cycle(core.clock)
			assert.equal(1, #core.spawned)
			local c = core.spawned[1]
			assert.same({ '/b/rsync', '-lts', '--rsh=ssh -x', '-M--timeout=9', '-r', '--delete', '--from0', '--filter=. -',
				'/src/', 'h:/t/' }, c.argv)
			assert.equal('R /d/.f.??????\0+ /d/\0- *', c.stdin)
			tempsweep.cycle(core.clock + 1)
			assert.equal(1, #core.spawned)            -- one at a time
			assert.is_true(tempsweep.collect(c.pid, 0, 0, core.clock))
			assert.is_false(s.held)
			assert.equal(1, doneN)
			assert.is_false(tempsweep.collect(c.pid, 0, 0, core.clock))   -- not ours any more
		end)

		it('waits for the ssh master without spinning: its next alarm is ahead', function()
			s.m = { state = 'starting', since = core.clock }
			start()
			tempsweep.cycle(core.clock)
			assert.equal(0, #core.spawned)
			assert.is_true(tempsweep.nextAlarm() > core.clock)
			core.clock = core.clock + 6                -- the master counts as ready after 5 s
			tempsweep.cycle(core.clock)
			assert.equal(1, #core.spawned)
		end)

		it('tries a slave not reached again after a back-off, held; lets any other failure go', function()
			start()
			tempsweep.cycle(core.clock)
			tempsweep.collect(core.spawned[1].pid, 255, 0, core.clock)
			assert.is_true(s.held)
			assert.equal(core.clock + 2, tempsweep.nextAlarm())
			tempsweep.cycle(core.clock + 1)
			assert.equal(1, #core.spawned)
			tempsweep.cycle(core.clock + 2)
			assert.equal(2, #core.spawned)
			tempsweep.collect(core.spawned[2].pid, 255, 0, core.clock + 2)
			assert.equal(core.clock + 7, tempsweep.nextAlarm())
			-- its ssh master came back: at once
			s.m = { state = 'up' }
			tempsweep.linkBack({ state = 'up' }, core.clock + 3)     -- another slave's
			assert.equal(core.clock + 7, tempsweep.nextAlarm())
			tempsweep.linkBack(s.m, core.clock + 3)
			assert.equal(core.clock + 3, tempsweep.nextAlarm())
			tempsweep.cycle(core.clock + 3)
			assert.equal(3, #core.spawned)
			tempsweep.collect(core.spawned[3].pid, 23, 0, core.clock + 3)
			assert.is_false(s.held)
			assert.equal(0, doneN)                   -- the names wait for the next start
			assert.is_false(tempsweep.busy())
		end)

		it('does not sweep a sync that never deletes', function()
			s.cfg.delete = false
			start()
			assert.is_nil(s.held)
			assert.equal(1, doneN)
			assert.is_false(tempsweep.busy())
		end)
	end)

	it('names each directory above the names once, parents first', function()
		fs.mktree(src, { '/a/', '/a/b/', '/a/b/c/' })
		local rules = tempsweep.rules(src .. '/', { '/a/b/c/f', '/a/b/g', '/a/b/c/f', '/h' })
		assert.same({ 'R /a/b/c/.f.??????', 'R /a/b/.g.??????', 'R /.h.??????', '+ /a/', '+ /a/b/',
			'+ /a/b/c/', '- *' }, rules)
	end)
end)
