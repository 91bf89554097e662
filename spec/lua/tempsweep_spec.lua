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

	it('names each directory above the names once, parents first', function()
		fs.mktree(src, { '/a/', '/a/b/', '/a/b/c/' })
		local rules = tempsweep.rules(src .. '/', { '/a/b/c/f', '/a/b/g', '/a/b/c/f', '/h' })
		assert.same({ 'R /a/b/c/.f.??????', 'R /a/b/.g.??????', 'R /.h.??????', '+ /a/', '+ /a/b/',
			'+ /a/b/c/', '- *' }, rules)
	end)
end)
