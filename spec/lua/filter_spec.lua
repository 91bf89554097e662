-- Specs for lua/filter.lua: lsyncd exclude/filter rules, and agreement with
-- a real rsync fed the same patterns.
local Filter = require 'filter'
local fs = require 'fsutil'

local function excl(...)
	local f = Filter.new()
	for _, p in ipairs { ... } do f:addExclude(p) end
	return f
end

local function filt(...)
	local f = Filter.new()
	for _, l in ipairs { ... } do f:addFilter(l) end
	return f
end

-- Paths of list that pass f.
local function passing(f, list)
	local out = {}
	for _, p in ipairs(list) do
		if not f:isExcluded(p) then out[#out + 1] = p end
	end
	return out
end

describe('filter', function()
	describe('rule bookkeeping', function()
		it('keeps excludes in insertion order without duplicates', function()
			local f = excl('b', 'a', 'b', 'c')
			assert.same({ 'b', 'a', 'c' }, f:getExcludes())
			assert.is_true(f:hasExcludes())
			assert.is_false(f:hasFilters())
		end)

		it('getExcludes returns a copy', function()
			local f = excl('a')
			f:getExcludes()[2] = 'x'
			assert.same({ 'a' }, f:getExcludes())
		end)

		it('removes an exclude and stops matching it', function()
			local f = excl('a', 'b')
			assert.is_true(f:isExcluded('/a'))
			assert.is_true(f:rmExclude('a'))
			assert.is_false(f:isExcluded('/a'))
			assert.is_true(f:isExcluded('/b'))
			assert.same({ 'b' }, f:getExcludes())
			assert.is_false(f:rmExclude('nope'))
		end)

		it('rmExclude drops cached directory verdicts (filter mode)', function()
			local f = filt('+ /keep')
			f:addExclude('d/')
			assert.is_true(f:isExcluded('/d/x'))
			f:rmExclude('d/')
			assert.is_false(f:isExcluded('/d/x'))
			f:addExclude('d/')
			assert.is_true(f:isExcluded('/d/x'))
		end)

		it('ignores an empty exclude and rejects non-strings', function()
			local f = excl('')
			assert.is_false(f:hasExcludes())
			assert.has_error(function() f:addExclude(5) end)
		end)

		it('getFilters lists filter lines, then "- pat" per exclude', function()
			local f = filt('+ /a**', '-  /b')
			f:addExclude('x')
			f:addExclude('/y/')
			assert.same({ '+ /a**', '- /b', '- x', '- /y/' }, f:getFilters())
			assert.is_true(f:hasFilters())
		end)

		it('rejects unknown filter lines', function()
			local f = Filter.new()
			for _, bad in ipairs { 'x', '* a', '-a', '+', '- ', 'include a' } do
				local ok, err = pcall(f.addFilter, f, bad)
				assert.is_false(ok, bad)
				assert.equal("Unknown filter rule: '" .. bad .. "'", err)
			end
		end)
	end)

	describe('files', function()
		local dir
		before_each(function() dir = fs.tempdir() end)
		after_each(function() fs.rmrf(dir) end)

		it('loads an exclude file', function()
			fs.writefile(dir .. '/ex', table.concat({
				'# comment', '', '   ', '*.tmp', '- /build/', '+ keep', '-node_modules/',
				'  - spaced', '; also a comment', 'win\r',
			}, '\n'))
			local f = Filter.new()
			f:loadExcludeFile(dir .. '/ex')
			assert.same({ '*.tmp', '/build/', 'node_modules/', 'spaced', 'win' }, f:getExcludes())
			assert.is_true(f:isExcluded('/x/a.tmp'))
			assert.is_true(f:isExcluded('/build/x'))
			assert.is_false(f:isExcluded('/keep'))
		end)

		it('errors clearly on an unreadable exclude file', function()
			local ok, err = pcall(Filter.loadExcludeFile, Filter.new(), dir .. '/missing')
			assert.is_false(ok)
			assert.matches("^cannot open exclude file '" .. dir:gsub('%p', '%%%0') .. "/missing': ", err)
		end)

		it('loads a filter file', function()
			fs.writefile(dir .. '/fl', '# c\n- /ab**\n\n+ /a**\n- /**\n')
			local f = Filter.new()
			f:loadFilterFile(dir .. '/fl')
			assert.same({ '- /ab**', '+ /a**', '- /**' }, f:getFilters())
		end)

		it('errors on a bad line in a filter file and on a missing one', function()
			fs.writefile(dir .. '/fl', '- a\nbogus\n')
			assert.has_error(function() Filter.new():loadFilterFile(dir .. '/fl') end,
				"Unknown filter rule: 'bogus'")
			local ok, err = pcall(Filter.loadFilterFile, Filter.new(), dir .. '/nope')
			assert.is_false(ok)
			assert.matches("cannot open filter file '.*/nope'", err)
		end)
	end)

	describe('matching', function()
		it('never excludes the root', function()
			assert.is_false(excl('**', '/*', '*'):isExcluded('/'))
			assert.is_false(filt('- **'):isExcluded('/'))
		end)

		it('excludes nothing without rules', function()
			assert.is_false(Filter.new():isExcluded('/a/b'))
		end)

		it('follows the exclude-rsync test expectations', function()
			local f = excl('erf', '/eaf', 'erd/', '/ead/')
			assert.is_true(f:isExcluded('/erf'))
			assert.is_true(f:isExcluded('/d/erf'))
			assert.is_true(f:isExcluded('/eaf'))
			assert.is_false(f:isExcluded('/d/eaf'))
			assert.is_false(f:isExcluded('/erd'))        -- files named like dir-only patterns
			assert.is_false(f:isExcluded('/ead'))
			assert.is_false(f:isExcluded('/d/erd'))
			assert.is_true(f:isExcluded('/erd/'))
			assert.is_true(f:isExcluded('/d/erd/'))
			assert.is_true(f:isExcluded('/d/erd/x'))     -- content of excluded dirs
			assert.is_true(f:isExcluded('/ead/'))
			assert.is_true(f:isExcluded('/ead/y/z'))
			assert.is_false(f:isExcluded('/d/ead/'))
			assert.is_false(f:isExcluded('/d/ead/z'))
			assert.is_false(f:isExcluded('/d/'))
			assert.is_false(f:isExcluded('/erfx'))
		end)

		it('follows the filter-rsync test expectations', function()
			local f = filt('- /ab**', '+ /a**', '- /**')
			local all = { '/a', '/b', '/ab', '/abc', '/acc', '/acx/', '/acx/x', '/abx/', '/abx/x',
				'/bcc', '/bcx/', '/bcx/x' }
			assert.same({ '/a', '/acc', '/acx/', '/acx/x' }, passing(f, all))
		end)

		it('handles common real-world patterns', function()
			local f = excl('*.tmp', 'node_modules/', '.git/', 'sitemap_*.xml*', 'runtime/*')
			assert.is_true(f:isExcluded('/a.tmp'))
			assert.is_true(f:isExcluded('/x/y/.tmp'))
			assert.is_false(f:isExcluded('/a.tmpx'))
			assert.is_false(f:isExcluded('/atmp'))
			assert.is_true(f:isExcluded('/x/node_modules/'))
			assert.is_true(f:isExcluded('/x/node_modules/p/q.js'))
			assert.is_false(f:isExcluded('/x/node_modules'))
			assert.is_true(f:isExcluded('/.git/HEAD'))
			assert.is_false(f:isExcluded('/.gitignore'))
			assert.is_false(f:isExcluded('/xgit/a'))
			assert.is_true(f:isExcluded('/sitemap_1.xml'))
			assert.is_true(f:isExcluded('/s/sitemap_a.xml.gz'))
			assert.is_false(f:isExcluded('/sitemap.xml'))
			assert.is_false(f:isExcluded('/runtime/'))
			assert.is_true(f:isExcluded('/runtime/log'))
			assert.is_true(f:isExcluded('/runtime/cache/'))
			assert.is_true(f:isExcluded('/app/runtime/x/y'))
		end)

		it('treats Lua magic characters literally', function()
			local f = excl('a.b', '(x)', '%d', 'c+', '^e$', 'f-g')
			assert.is_true(f:isExcluded('/a.b'))
			assert.is_false(f:isExcluded('/axb'))
			assert.is_true(f:isExcluded('/(x)'))
			assert.is_false(f:isExcluded('/x'))
			assert.is_true(f:isExcluded('/%d'))
			assert.is_false(f:isExcluded('/5'))
			assert.is_true(f:isExcluded('/c+'))
			assert.is_false(f:isExcluded('/cc'))
			assert.is_true(f:isExcluded('/^e$'))
			assert.is_false(f:isExcluded('/e'))
			assert.is_true(f:isExcluded('/f-g'))
		end)

		it('supports ? and * that stop at slashes, ** that does not', function()
			assert.is_true(excl('/a?c'):isExcluded('/abc'))
			assert.is_false(excl('/a?c'):isExcluded('/a/c'))
			assert.is_false(excl('/a?c'):isExcluded('/ac'))
			assert.is_true(excl('/a*'):isExcluded('/a/x'))      -- /a itself matches
			assert.is_false(excl('/x*y'):isExcluded('/x/y'))
			assert.is_true(excl('/x**y'):isExcluded('/x/y'))
			assert.is_true(excl('/a/**/b'):isExcluded('/a/x/y/b'))
			assert.is_false(excl('/a/**/b'):isExcluded('/a/b'))
			assert.is_true(excl('**/foo'):isExcluded('/foo'))  -- rsync: also at root
			assert.is_false(excl('/**/foo'):isExcluded('/foo'))
			assert.is_true(excl('/**/foo'):isExcluded('/d/foo'))
		end)

		it('supports dir/*** (the dir and everything below)', function()
			local f = filt('+ /d/***', '- *')
			assert.is_false(f:isExcluded('/d/'))
			assert.is_false(f:isExcluded('/d/x/y'))
			assert.is_true(f:isExcluded('/d'))     -- a file named d: no
			assert.is_true(f:isExcluded('/e'))
		end)

		it('supports character classes', function()
			local f = excl('[abc]', 'x[!0-9]', 'y[^a]', 'z[[:digit:]]', 'w[]]', 'v[a-]')
			assert.is_true(f:isExcluded('/b'))
			assert.is_false(f:isExcluded('/d'))
			assert.is_true(f:isExcluded('/xq'))
			assert.is_false(f:isExcluded('/x5'))
			assert.is_true(f:isExcluded('/yb'))
			assert.is_false(f:isExcluded('/ya'))
			assert.is_true(f:isExcluded('/z7'))
			assert.is_false(f:isExcluded('/zq'))
			assert.is_true(f:isExcluded('/w]'))
			assert.is_true(f:isExcluded('/v-'))
			assert.is_false(f:isExcluded('/vb'))
			-- a negated class never matches '/'
			assert.is_false(excl('/p[!x]q'):isExcluded('/p/q'))
			-- an unterminated class matches nothing
			assert.is_false(excl('[q'):isExcluded('/[q'))
		end)

		it('escapes with a backslash in wildcard patterns only', function()
			assert.is_true(excl('a\\*'):isExcluded('/a*'))
			assert.is_false(excl('a\\*'):isExcluded('/ab'))
			assert.is_true(excl('\\[x]*'):isExcluded('/[x]y'))
			assert.is_true(excl('a\\b'):isExcluded('/a\\b'))    -- no wildcard: literal
			assert.is_false(excl('a\\b'):isExcluded('/ab'))
			assert.is_true(excl('a\\b*'):isExcluded('/abc'))    -- wildcard: \b is b
		end)

		it('accepts paths without the leading slash', function()
			assert.is_true(excl('/x'):isExcluded('x'))
		end)

		it('decides filter levels top-down like rsync', function()
			-- the parent dir is excluded before the include for its child is seen
			local f = filt('+ /a/b', '- /a/')
			assert.is_true(f:isExcluded('/a/b'))
			-- ...but an include of the parent lets the child be judged itself
			f = filt('+ /a/', '+ /a/b', '- *')
			assert.is_false(f:isExcluded('/a/b'))
			assert.is_true(f:isExcluded('/a/c'))
			-- no filter line matches: the excludes decide
			f = filt('+ /keep*')
			f:addExclude('*.o')
			assert.is_true(f:isExcluded('/x.o'))
			assert.is_false(f:isExcluded('/keep.o'))
			assert.is_false(f:isExcluded('/x.c'))
		end)

		it('is fast enough per event', function()
			local f = excl('*.tmp', '*.swp', '.git/', 'node_modules/', '/build/', 'cache/*', '*~',
				'sitemap_*.xml*', '[#]*#', '/a/**/z')
			local t0 = os.clock()
			local n = 0
			for i = 1, 20000 do
				if f:isExcluded('/src/module' .. (i % 50) .. '/sub/dir/file' .. i .. '.c') then n = n + 1 end
			end
			assert.equal(0, n)
			assert.is_true(os.clock() - t0 < 2, 'too slow')
			local g = filt('- *.tmp', '+ /src/***', '- /**')
			t0 = os.clock()
			for i = 1, 20000 do
				if g:isExcluded('/src/module' .. (i % 50) .. '/sub/dir/file' .. i .. '.c') then n = n + 1 end
			end
			assert.equal(0, n)
			assert.is_true(os.clock() - t0 < 2, 'too slow')
		end)
	end)

	describe('agrees with rsync', function()
		if not fs.sh('rsync --version >/dev/null 2>&1') then
			pending('rsync is not installed')
			return
		end

		local TREE = {
			'/a/', '/a/b', '/a/x/', '/a/x/b', '/ab/', '/ab/c', '/axb', '/zz', '/q', '/[q',
			'/foo/', '/foo/f', '/d/', '/d/foo/', '/d/foo/g', '/d/foo/foo', '/d/erf',
			'/erf', '/eaf', '/d/eaf', '/erd/', '/erd/x', '/d/erd/', '/d/erd/x', '/ead/', '/ead/y',
			'/d/ead/', '/d/ead/y', '/y/', '/y/erd', '/y/ead',
			'/f.tmp', '/a/g.tmp', '/a/g.tmpx', '/node_modules/', '/node_modules/m',
			'/src/', '/src/node_modules/', '/src/node_modules/m', '/src/node_modules2',
			'/.git/', '/.git/config', '/.gitignore', '/runtime/', '/runtime/r', '/runtime/c/',
			'/runtime/c/z', '/d/runtime/', '/d/runtime/r', '/sitemap_1.xml', '/sitemap_1.xml.gz',
			'/d/sitemap_2.xml', '/sitemap.xml',
			'/acc', '/acx/', '/acx/x', '/abc', '/abx/', '/abx/y', '/bcc',
			'/a.b', '/aXb', '/a%b', '/(p)', '/a+b', '/c^d', '/$e', '/a\\b', '/st*r', '/qu?st',
			'/br[1]', '/br1', '/-dash', '/sp ace', '/1', '/9', '/A', '/]', '/w-',
			'/p/', '/p/q', '/pxq', '/d/a/', '/d/a/b', '/d/a/x/', '/d/a/x/b',
			'/x/', '/x/y/', '/x/y/z', '/x/y/z.tmp', '/we[ird]/', '/we[ird]/f',
		}
		-- Each case: excludes (handed to rsync with --exclude-from) or
		-- filters (handed with --filter='. FILE').
		local CASES = {
			{ ex = { 'erf', '/eaf', 'erd/', '/ead/' } },
			{ fl = { '- /ab**', '+ /a**', '- /**' } },
			{ ex = { '*.tmp', 'node_modules/', '.git/', 'sitemap_*.xml*', 'runtime/*' } },
			{ ex = { '/a[!x]b', '/a?b', '**/foo', '[q', '/a/**/b' } },
			{ ex = { '/**/foo' } }, { ex = { '**foo' } }, { ex = { '**/a/b' } },
			{ ex = { '*/b' } }, { ex = { 'a/**' } }, { ex = { '*' } }, { ex = { '/*' } },
			{ ex = { '**' } }, { ex = { 'x/' } }, { ex = { 'a/*/' } }, { ex = { 'a*/*' } },
			{ ex = { '/a/***' } }, { ex = { 'x/***' } }, { ex = { '[abc]', '[0-5]', '[]]' } },
			{ ex = { '[!a-z]', 'p?q' } }, { ex = { '[[:upper:]]', '[[:digit:]]' } },
			{ ex = { 'a.b', '(p)', 'a%b', 'a+b', 'c^d', '$e', '-dash', 'sp ace' } },
			{ ex = { 'a\\b', 'st\\*r', 'qu\\?st', 'br\\[1]' } },
			{ ex = { 'st\\*r*', 'br[[]1]' } }, { ex = { 'we\\[ird]/' } }, { ex = { 'w[a-]' } },
			{ ex = { 'x/y/', 'y/z' } }, { ex = { '/x/y' } }, { ex = { '/src/node_modules' } },
			{ fl = { '+ /a/b', '- /a/' } }, { fl = { '+ /a/', '+ /a/b', '- /a/*' } },
			{ fl = { '+ /d/***', '- /*' } }, { fl = { '+ */', '+ *.tmp', '- *' } },
			{ fl = { '- *.tmp', '+ /x/**', '- /x*' } }, { fl = { '+ foo/', '- *' } },
			{ fl = { '+ /d/a/', '- /d/*' }, ex = { 'x/' } },
			{ fl = { '+ *.xml', '+ /runtime/' }, ex = { 'sitemap*', 'runtime/*', '/d/' } },
		}

		local root, src
		setup(function()
			root = fs.tempdir()
			src = root .. '/src'
			fs.mktree(src, TREE)
		end)
		teardown(function() fs.rmrf(root) end)

		-- What rsync copies with the given rule file argument.
		local function rsyncCopy(n, opt)
			local dst = root .. '/dst' .. n
			assert(fs.sh('rsync -r ' .. opt .. ' ' .. fs.q(src .. '/') .. ' ' .. fs.q(dst .. '/')
				.. ' 2>' .. fs.q(root .. '/err')), fs.readfile(root .. '/err'))
			return fs.listtree(dst)
		end

		for n, case in ipairs(CASES) do
			local label = table.concat(case.fl or {}, ', ') .. ' | ' .. table.concat(case.ex or {}, ', ')
			it('#' .. n .. ' ' .. label, function()
				local f = Filter.new()
				for _, l in ipairs(case.fl or {}) do f:addFilter(l) end
				for _, p in ipairs(case.ex or {}) do f:addExclude(p) end
				local opt
				if f:hasFilters() then
					fs.writefile(root .. '/rules' .. n, table.concat(f:getFilters(), '\n') .. '\n')
					opt = fs.q('--filter=. ' .. root .. '/rules' .. n)
				else
					fs.writefile(root .. '/rules' .. n, table.concat(f:getExcludes(), '\n') .. '\n')
					opt = '--exclude-from=' .. fs.q(root .. '/rules' .. n)
				end
				local got = rsyncCopy(n, opt)
				local wrong = {}
				for _, p in ipairs(TREE) do
					local lua = not f:isExcluded(p)
					if lua ~= (got[p] == true) then
						wrong[#wrong + 1] = p .. (lua and ' (lua copies, rsync not)' or ' (rsync copies, lua not)')
					end
				end
				assert.same({}, wrong)
				-- the same rules as filter lines take the per-level path: same verdicts
				local g = Filter.new()
				for _, l in ipairs(f:getFilters()) do g:addFilter(l) end
				for _, p in ipairs(TREE) do
					assert.equal(f:isExcluded(p), g:isExcluded(p), p)
				end
			end)
		end
	end)
end)
