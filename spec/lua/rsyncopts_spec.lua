-- Specs for lua/rsyncopts.lua: rsync option lists, the startup and batched
-- command lines, and the include list (checked against a real rsync with
-- hostile file names).
local rsyncopts = require 'rsyncopts'
local Filter = require 'filter'
local fs = require 'fsutil'

local function has(list, x)
	for _, v in ipairs(list) do if v == x then return true end end
	return false
end

describe('rsyncopts', function()
	describe('computeArgs', function()
		it('bundles lsyncd\'s default flags into one sorted arg', function()
			assert.same({ '-lst' }, rsyncopts.computeArgs { binary = '/usr/bin/rsync', links = true,
				times = true, protect_args = true })
		end)

		it('gives an empty list without options', function()
			assert.same({}, rsyncopts.computeArgs {})
			assert.same({}, rsyncopts.computeArgs { links = false, binary = 'rsync' })
		end)

		it('maps every boolean key to its letter', function()
			local t, want = {}, {}
			for k, l in pairs(rsyncopts.SHORT) do
				assert.same({ '-' .. l }, rsyncopts.computeArgs { [k] = true }, k)
				t[k] = true
				want[#want + 1] = l
			end
			table.sort(want)
			assert.equal(30, #want)
			assert.same({ '-' .. table.concat(want) }, rsyncopts.computeArgs(t))
			assert.same({ '-46ACEHIJKLOSWXbcgklmnopqstuvxz' }, rsyncopts.computeArgs(t))
		end)

		it('expands archive, keeping explicit settings', function()
			assert.same({ '-Dglopt' }, rsyncopts.computeArgs { archive = true })
			assert.same({ '-Dglpt' },
				rsyncopts.computeArgs { archive = true, owner = false })
			assert.same({ '-AHXglopt', '--devices' },
				rsyncopts.computeArgs { archive = true, specials = false, acls = true,
					hard_links = true, xattrs = true })
		end)

		it('does not modify the table it is given', function()
			local t = { archive = true }
			rsyncopts.computeArgs(t)
			assert.same({ archive = true }, t)
		end)

		it('uses D for devices+specials, long options for only one', function()
			assert.same({ '-D' }, rsyncopts.computeArgs { devices = true, specials = true })
			assert.same({ '--devices' }, rsyncopts.computeArgs { devices = true })
			assert.same({ '-t', '--specials' }, rsyncopts.computeArgs { specials = true, times = true })
		end)

		it('orders short flags, _extra, devices/specials, long options', function()
			local args = rsyncopts.computeArgs {
				usermap = 'a:b', timeout = 30, temp_dir = '/tmp/x', suffix = '~', rsync_path = 'sudo rsync',
				rsh = 'ssh -p 22', password_file = '/pw', inplace = true, existing = true,
				groupmap = 'g:h', copy_unsafe_links = true, chown = 'u:g', chmod = 'Du+rwx',
				bwlimit = 100, backup_dir = '/bk', append_verify = true, append = true,
				_extra = { '--info=progress2', '-vv' }, devices = true, compress = true,
			}
			assert.same({ '-z', '--info=progress2', '-vv', '--devices', '--append', '--append-verify',
				'--backup-dir=/bk', '--bwlimit=100', '--chmod=Du+rwx', '--chown=u:g',
				'--copy-unsafe-links', '--groupmap=g:h', '--existing', '--inplace',
				'--password-file=/pw', '--rsh=ssh -p 22', '--rsync-path=sudo rsync', '--suffix=~',
				'--temp-dir=/tmp/x', '--timeout=30', '--usermap=a:b' }, args)
		end)

		it('leaves out long options that are false', function()
			assert.same({}, rsyncopts.computeArgs { inplace = false, bwlimit = false })
		end)

		it('exports the valid keys', function()
			for _, k in ipairs { 'binary', '_extra', 'archive', 'recursive', 'devices', 'specials',
				'delete_excluded', 'links', 'rsh', 'bwlimit', 'copy_unsafe_links', 'xattrs' } do
				assert.is_true(rsyncopts.validKeys[k], k)
			end
			assert.is_nil(rsyncopts.validKeys.rsyncOps)
			assert.is_nil(rsyncopts.validKeys.delete)
		end)
	end)

	describe('startupArgs', function()
		local base = { computed = { '-lst' }, source = '/abs/src/', target = 't/' }
		local function with(t)
			local c = {}
			for k, v in pairs(base) do c[k] = v end
			for k, v in pairs(t) do c[k] = v end
			return c
		end

		it('without excludes or filters', function()
			local argv, stdin = rsyncopts.startupArgs(with { delete = true })
			assert.same({ '--delete', '--ignore-errors', '-lst', '-r', '/abs/src/', 't/' }, argv)
			assert.is_nil(stdin)
			argv = rsyncopts.startupArgs(with { delete = false, excludes = {} })
			assert.same({ '-lst', '-r', '/abs/src/', 't/' }, argv)
		end)

		it('deletes at startup iff delete is true or "startup"', function()
			for d, want in pairs { [true] = true, startup = true, running = false, [false] = false } do
				local argv = rsyncopts.startupArgs(with { delete = d })
				assert.equal(want, has(argv, '--delete'), tostring(d))
				assert.equal(want, has(argv, '--ignore-errors'), tostring(d))
			end
		end)

		it('with excludes: --exclude-from=- and the patterns on stdin', function()
			local argv, stdin = rsyncopts.startupArgs(with { delete = 'startup', excludes = { '*.tmp', '/x/' } })
			assert.same({ '--exclude-from=-', '--delete', '--ignore-errors', '-lst', '-r', '/abs/src/', 't/' }, argv)
			assert.equal('*.tmp\n/x/', stdin)
		end)

		it('with filters: --filter=. - and filter lines then the excludes', function()
			local argv, stdin = rsyncopts.startupArgs(with {
				excludes = { 'a', 'b' }, filters = { '+ /k', '- a' }, deleteExcluded = true })
			assert.same({ '--filter=. -', '--delete-excluded', '-lst', '-r', '/abs/src/', 't/' }, argv)
			assert.equal('+ /k\n- a\n- b', stdin)
		end)

		it('protects exclude patterns rsync would read as comments or prefixes', function()
			assert.equal('[#]*#', rsyncopts.excludeLine('#*#'))
			assert.equal('[;]x', rsyncopts.excludeLine(';x'))
			assert.equal('[+] z', rsyncopts.excludeLine('+ z'))
			assert.equal('[-] a\\\\b', rsyncopts.excludeLine('- a\\b'))
			assert.equal('-x', rsyncopts.excludeLine('-x'))
			assert.equal('x#', rsyncopts.excludeLine('x#'))
		end)
	end)

	describe('includeList', function()
		local L = rsyncopts.includeList

		it('adds ancestors before paths, without duplicates', function()
			assert.same({ '/d1/', '/d1/d2/', '/d1/d2/f', '/d1/g', '/f1' }, L {
				{ etype = 'Modify', path = '/d1/d2/f' }, { etype = 'Create', path = '/d1/g' },
				{ etype = 'Modify', path = '/d1/d2/f' }, { etype = 'Attrib', path = '/f1' },
			})
		end)

		it('uses dir/*** for created, deleted and moved directories', function()
			assert.same({ '/a/***', '/b/', '/b/c/***', '/m/', '/n/***', '/o/***', '/p/' }, L {
				{ etype = 'Create', path = '/a/' }, { etype = 'Delete', path = '/b/c/' },
				{ etype = 'Modify', path = '/m/' }, { etype = 'Move', path = '/n/', path2 = '/o/' },
				{ etype = 'Attrib', path = '/p', isdir = true },
			})
		end)

		it('moves contribute both paths, files plainly', function()
			assert.same({ '/a/', '/a/f', '/b/', '/b/g', '/h' }, L {
				{ etype = 'Move', path = '/a/f', path2 = '/b/g' }, { etype = 'Delete', path = '/h' },
			})
		end)

		it('skips Init/Blanket entries', function()
			assert.same({}, L { { etype = 'Init', path = '' }, { etype = 'Blanket', path = '' } })
		end)

		it('escapes wildcard characters only in rules with wildcards', function()
			assert.same({ '/st\\*r', '/a\\b', '/w\\[1\\]\\\\b', '/br]', '/d\\\\/***' }, L {
				{ etype = 'Modify', path = '/st*r' }, { etype = 'Modify', path = '/a\\b' },
				{ etype = 'Modify', path = '/w[1]\\b' }, { etype = 'Modify', path = '/br]' },
				{ etype = 'Create', path = '/d\\/' },
			})
			assert.same({ '/x\\?/', '/x\\?/y' }, L { { etype = 'Create', path = '/x?/y' } })
			assert.same({ '/d\\*/', '/d\\*/e/', '/d\\*/e/f' }, L { { etype = 'Modify', path = '/d*/e/f' } })
		end)

		it('is linear in the size of its output', function()
			-- 2000 files in one deep directory: each ancestor is built once
			local deep = '/' .. string.rep('d/', 200)
			local entries = {}
			for i = 1, 2000 do entries[i] = { etype = 'Modify', path = deep .. 'f' .. i } end
			local t0 = os.clock()
			local list = L(entries)
			assert.equal(2200, #list)
			assert.is_true(os.clock() - t0 < 1, 'too slow')
		end)
	end)

	describe('runningArgs', function()
		it('builds the batched command line and its stdin', function()
			local argv, stdin = rsyncopts.runningArgs { computed = { '-lst' }, source = '/s/',
				target = 'h:/t/', delete = 'running', includes = { '/a/', '/a/b' } }
			assert.same({ '-lst', '-r', '--delete', '--ignore-errors', '--force', '--from0',
				'--include-from=-', '--exclude=*', '/s/', 'h:/t/' }, argv)
			assert.equal('/a/\0/a/b', stdin)
		end)

		it('deletes iff delete is true or "running"', function()
			for d, want in pairs { [true] = true, running = true, startup = false, [false] = false } do
				local argv, stdin = rsyncopts.runningArgs { computed = {}, source = '/s/', target = '/t/', delete = d }
				assert.equal(want, has(argv, '--delete'), tostring(d))
				assert.is_nil(stdin)
			end
		end)
	end)

	describe('filesFromList', function()
		it('names each path once, relative, without trailing slash, moves by both ends', function()
			assert.same({ 'a/f', 'd', 'x', 'y', '-lead', 'n\nl' }, rsyncopts.filesFromList {
				{ etype = 'Modify', path = '/a/f' }, { etype = 'Attrib', path = '/d/' },
				{ etype = 'Modify', path = '/a/f' }, { etype = 'Move', path = '/x', path2 = '/y' },
				{ etype = 'Modify', path = '/-lead' }, { etype = 'Create', path = '/n\nl' },
			})
		end)

		it('leaves out a gone path below another gone path, in any order', function()
			assert.same({ 'g/sub/f', 'g', 'keep/f', 'gx' }, rsyncopts.filesFromList {
				{ etype = 'Delete', path = '/g/sub/f' }, { etype = 'Delete', path = '/g/', gone = true },
				{ etype = 'Delete', path = '/g/sub/', gone = true }, { etype = 'Modify', path = '/keep/f' },
				{ etype = 'Delete', path = '/g/x', gone = true }, { etype = 'Delete', path = '/gx', gone = true },
			})
		end)
	end)

	describe('filesFromArgs', function()
		it('lists names on stdin, no -r; deletes the missing ones iff deletes run', function()
			local argv = rsyncopts.filesFromArgs { computed = { '-lst' }, source = '/s/',
				target = 'h:/t/', delete = true, ignoreTimes = true, stats = '--stats' }
			assert.same({ '-lst', '--ignore-times', '--stats', '--files-from=-', '--from0',
				'--delete-missing-args', '--ignore-errors', '--force', '/s/', 'h:/t/' }, argv)
			for d, want in pairs { [true] = true, running = true, startup = false, [false] = false } do
				argv = rsyncopts.filesFromArgs { computed = {}, source = '/s/', target = '/t/', delete = d }
				assert.equal(want, has(argv, '--delete-missing-args'), tostring(d))
				assert.equal(not want, has(argv, '--ignore-missing-args'), tostring(d))
				assert.is_false(has(argv, '-r'))
			end
		end)
	end)

	describe('with a real rsync', function()
		if not fs.sh('rsync --version >/dev/null 2>&1') then
			pending('rsync is not installed')
			return
		end
		local root, src, dst
		before_each(function()
			root = fs.tempdir()
			src, dst = root .. '/src', root .. '/dst'
			assert(fs.sh('mkdir ' .. fs.q(src) .. ' ' .. fs.q(dst)))
		end)
		after_each(function() fs.rmrf(root) end)

		local function run(argv, stdin)
			local words = { 'rsync' }
			for i, a in ipairs(argv) do words[i + 1] = fs.q(a) end
			fs.writefile(root .. '/stdin', stdin or '')
			local ok = fs.sh(table.concat(words, ' ') .. ' < ' .. fs.q(root .. '/stdin')
				.. ' 2>' .. fs.q(root .. '/err'))
			assert(ok, fs.readfile(root .. '/err'))
		end

		local function batch(entries, delete)
			local list = rsyncopts.includeList(entries)
			local argv, stdin = rsyncopts.runningArgs {
				computed = rsyncopts.computeArgs { links = true, times = true, protect_args = true },
				source = src .. '/', target = dst .. '/', delete = delete, includes = list }
			run(argv, stdin)
		end

		it('transfers exactly the listed hostile names', function()
			local H = {
				'/plain', '/new\nline', '/st*r', '/q?m', '/[x]', '/back\\slash', '/-lead',
				'/sp ace', '/$(x)', '/bad\255byte', '/br]', "/a'q\"uote", '/tab\tname',
				'/ lead space', '/trail space ', '/#hash', '/w[1]\\b',
			}
			-- siblings that an unescaped rule would also match
			local DECOY = { '/stXr', '/qZm', '/x', '/backslash', '/br', '/w1b', '/w1\\b', '/-x' }
			local tree = {}
			for _, p in ipairs(H) do tree[#tree + 1] = p end
			for _, p in ipairs(DECOY) do tree[#tree + 1] = p end
			for _, p in ipairs { '/d*ir/', '/d*ir/f1', '/d*ir/s[1]/', '/d*ir/s[1]/f2', '/dXir/',
				'/dXir/f', '/d1/', '/d1/d2?/', '/d1/d2?/deep*f', '/d1/d2?/other', '/d1/other',
				'/nl\n/', '/nl\n/in', '/nl\n/out' } do
				tree[#tree + 1] = p
			end
			fs.mktree(src, tree)
			local entries = {}
			for _, p in ipairs(H) do entries[#entries + 1] = { etype = 'Modify', path = p } end
			entries[#entries + 1] = { etype = 'Create', path = '/d*ir/' }
			entries[#entries + 1] = { etype = 'Create', path = '/d1/d2?/deep*f' }
			entries[#entries + 1] = { etype = 'Modify', path = '/nl\n/in' }
			batch(entries, true)
			local want = {}
			for _, p in ipairs(H) do want[p] = true end
			for _, p in ipairs { '/d*ir/', '/d*ir/f1', '/d*ir/s[1]/', '/d*ir/s[1]/f2', '/d1/',
				'/d1/d2?/', '/d1/d2?/deep*f', '/nl\n/', '/nl\n/in' } do
				want[p] = true
			end
			assert.same(fs.keys(want), fs.keys(fs.listtree(dst)))
		end)

		it('propagates deletes and moves through --delete', function()
			fs.mktree(src, { '/keep', '/new*dir/', '/new*dir/f', '/d/', '/d/x' })
			fs.mktree(dst, { '/keep', '/gone?', '/gone*dir/', '/gone*dir/f', '/old[1]/', '/old[1]/f',
				'/extra', '/d/', '/d/x', '/d/stale' })
			batch({
				{ etype = 'Delete', path = '/gone?' }, { etype = 'Delete', path = '/gone*dir/' },
				{ etype = 'Move', path = '/old[1]/', path2 = '/new*dir/' },
			}, 'running')
			assert.same({ '/d/', '/d/stale', '/d/x', '/extra', '/keep', '/new*dir/', '/new*dir/f' },
				fs.keys(fs.listtree(dst)))
		end)

		it('does not delete without delete', function()
			fs.mktree(dst, { '/gone' })
			batch({ { etype = 'Delete', path = '/gone' } }, 'startup')
			assert.same({ '/gone' }, fs.keys(fs.listtree(dst)))
		end)

		-- the same batch both ways into two copies of one slave tree
		local function bothWays(entries, delete)
			local dst2 = root .. '/dst2'
			assert(fs.sh('cp -a ' .. fs.q(dst) .. ' ' .. fs.q(dst2)))
			batch(entries, delete)
			for _, e in ipairs(entries) do
				if e.etype == 'Delete' and not fs.sh('test -e ' .. fs.q(src .. e.path)) then e.gone = true end
			end
			local stdin = table.concat(rsyncopts.filesFromList(entries), '\0')
			run(rsyncopts.filesFromArgs {
				computed = rsyncopts.computeArgs { links = true, times = true, protect_args = true },
				source = src .. '/', target = dst2 .. '/', delete = delete, ignoreTimes = true,
			}, stdin)
			assert.same(fs.keys(fs.listtree(dst)), fs.keys(fs.listtree(dst2)))
			assert(fs.sh('diff -r ' .. fs.q(dst) .. ' ' .. fs.q(dst2)), 'contents differ')
			return fs.keys(fs.listtree(dst2))
		end

		it('a --files-from batch ends as the include list does: named entries only', function()
			local H = { '/new\nline', '/st*r', '/[x]', '/-lead', '/sp ace', '/bad\255byte' }
			local t = { '/d/', '/d/old', '/d/changed', '/d/new', '/e/', '/e/f', '/deep/', '/deep/a/',
				'/deep/a/f' }
			for _, p in ipairs(H) do t[#t + 1] = p end
			fs.mktree(src, t)
			-- the slave: d holds old (unchanged, stale content: not named, so not
			-- sent), gone files and dirs, something not named that the source lacks
			fs.mktree(dst, { '/d/', '/d/old', '/d/changed', '/d/gone', '/e/', '/gonedir/',
				'/gonedir/sub/', '/gonedir/sub/f', '/st*r', '/stXr', '/unnamed' })
			fs.writefile(dst .. '/d/old', 'stale')
			fs.writefile(dst .. '/d/changed', 'stale')
			local entries = {
				{ etype = 'Attrib', path = '/d/' }, { etype = 'Modify', path = '/d/changed' },
				{ etype = 'Create', path = '/d/new' }, { etype = 'Delete', path = '/d/gone' },
				{ etype = 'Delete', path = '/gonedir/' }, { etype = 'Delete', path = '/gonedir/sub/f' },
				{ etype = 'Modify', path = '/deep/a/f' },
			}
			for _, p in ipairs(H) do entries[#entries + 1] = { etype = 'Modify', path = p } end
			local got = bothWays(entries, true)
			local want = { '/d/', '/d/changed', '/d/new', '/d/old', '/deep/', '/deep/a/', '/deep/a/f',
				'/e/', '/stXr', '/unnamed' }
			for _, p in ipairs(H) do want[#want + 1] = p end
			table.sort(want)
			assert.same(want, got)
			assert.equal('stale', fs.readfile(dst .. '/d/old'))
			assert.equal('/d/changed', fs.readfile(dst .. '/d/changed'))
		end)

		it('a --files-from batch without deletes leaves what the source lacks', function()
			fs.mktree(src, { '/f' })
			fs.mktree(dst, { '/gone', '/gdir/', '/gdir/x' })
			assert.same({ '/f', '/gdir/', '/gdir/x', '/gone' }, bothWays({
				{ etype = 'Modify', path = '/f' }, { etype = 'Delete', path = '/gone' },
				{ etype = 'Delete', path = '/gdir/' } }, 'startup'))
		end)

		it('startup transfer with protected excludes agrees with the filter', function()
			local names = { '/#a#', '/;x', '/- y', '/+ z', '/plain', '/ok', '/k#', '/- a\\b', '/- ab' }
			fs.mktree(src, names)
			local ex = { '#*#', ';x', '- y', '+ z', 'plain', '- a\\b' }
			local argv, stdin = rsyncopts.startupArgs { computed = {}, source = src .. '/',
				target = dst .. '/', delete = true, excludes = ex }
			run(argv, stdin)
			local f = Filter.new()
			for _, p in ipairs(ex) do f:addExclude(p) end
			local want = {}
			for _, p in ipairs(names) do
				if not f:isExcluded(p) then want[#want + 1] = p end
			end
			table.sort(want)
			assert.same({ '/- ab', '/k#', '/ok' }, want)
			assert.same(want, fs.keys(fs.listtree(dst)))
		end)

		it('startup transfer with filters', function()
			fs.mktree(src, { '/a', '/ab', '/abc', '/acc', '/acx/', '/acx/x', '/b', '/a.tmp' })
			local f = Filter.new()
			for _, l in ipairs { '- /ab**', '+ /a**', '- /**' } do f:addFilter(l) end
			f:addExclude('*.tmp')
			local argv, stdin = rsyncopts.startupArgs { computed = { '-t' }, source = src .. '/',
				target = dst .. '/', excludes = f:getExcludes(), filters = f:getFilters() }
			assert.equal('- /ab**\n+ /a**\n- /**\n- *.tmp', stdin)
			run(argv, stdin)
			-- a.tmp matches '+ /a**' before the exclude: rsync and the filter both keep it
			assert.is_false(f:isExcluded('/a.tmp'))
			assert.same({ '/a', '/a.tmp', '/acc', '/acx/', '/acx/x' }, fs.keys(fs.listtree(dst)))
		end)
	end)
end)
