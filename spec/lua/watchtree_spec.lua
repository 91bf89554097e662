-- watchtree: the runner's walk of the watched tree over a fake core.watchDir
-- (a tree in a table), and the handling of one batch of events.
describe('watchtree', function()
	local watchtree = require 'watchtree'
	local tree, watched, got, logs, full

	-- path -> { name = true (dir) | false (file) }
	local function dir(path) return tree[path] end

	setup(function() _G.core = _G.core or {} end)
	before_each(function()
		tree = {
			['/r'] = { a = true, f = false, skip = true },
			['/r/a'] = { b = true, g = false },
			['/r/a/b'] = {},
			['/r/skip'] = { x = true },
			['/r/skip/x'] = {},
		}
		watched, got, logs, full = {}, {}, {}, false
		core.watchInit = function() return true end
		core.watchCount = function() return 0, 0 end
		core.log = function(cat, msg) logs[#logs + 1] = cat .. ': ' .. msg end
		core.unwatch = function(p) for w in pairs(watched) do
			if w == p or w:sub(1, #p + 1) == p .. '/' then watched[w] = nil end end end
		core.watchDir = function(path, all)
			local d = dir(path)
			if not d then return nil, path .. ': No such file or directory', 2 end
			if full then return nil, path .. ': No space left on device', 28 end
			local known = watched[path] or false
			watched[path] = true
			local names = {}
			for n in pairs(d) do names[#names + 1] = n end
			table.sort(names)
			local list = {}
			for _, n in ipairs(names) do
				if all or d[n] then list[#list + 1] = n; list[#list + 1] = d[n] end
			end
			return list, known
		end
		watchtree.init(0, function(etype, isdir, path, path2)
			got[#got + 1] = etype .. ' ' .. path .. (path2 and (' ' .. path2) or '') .. (isdir and '/' or '')
		end, function(p) return not p:find('skip', 1, true) end)
	end)

	it('watches the wanted directories below a root', function()
		assert.is_true(watchtree.watch('/r'))
		assert.same({ ['/r'] = true, ['/r/a'] = true, ['/r/a/b'] = true }, watched)
		assert.same({}, got)
	end)

	it('reports a new directory\'s content before the next event of the batch', function()
		watchtree.watch('/r')
		tree['/r/n'] = { c = true, h = false }
		tree['/r/n/c'] = { i = false }
		watchtree.batch { 'Create', true, '/r/n', false, 0, 'Modify', false, '/r/f', false, 0 }
		assert.same({ 'Create /r/n/', 'Create /r/n/c/', 'Create /r/n/c/i', 'Create /r/n/h',
			'Modify /r/f' }, got)
		assert.is_true(watched['/r/n/c'])
	end)

	it('drops the watches of a directory renamed to an unwanted name', function()
		watchtree.watch('/r')
		watched['/r/skipped'], watched['/r/skipped/b'] = true, true   -- the engine renamed them
		watched['/r/a'], watched['/r/a/b'] = nil, nil
		watchtree.batch { 'Move', true, '/r/a', '/r/skipped', 1 }
		assert.same({ 'Move /r/a /r/skipped/' }, got)
		assert.is_nil(watched['/r/skipped'])
		assert.is_nil(watched['/r/skipped/b'])
	end)

	it('treats a directory moved in from an unwatched place as new', function()
		watchtree.watch('/r')
		tree['/r/in'] = { y = false }
		watchtree.batch { 'Move', true, '/r/skip/in', '/r/in', 0 }
		assert.same({ 'Move /r/skip/in /r/in/', 'Create /r/in/y' }, got)
		assert.is_true(watched['/r/in'])
	end)

	it('after a lost directory walks a moved one for directories without a watch', function()
		watchtree.watch('/r')
		tree['/r/a/b'].lost = true
		tree['/r/a/b/lost'] = { z = false }
		watchtree.batch { 'Move', true, '/r/old', '/r/a', 2 }
		assert.same({ 'Move /r/old /r/a/', 'Create /r/a/b/lost/', 'Create /r/a/b/lost/z' }, got)
	end)

	it('out of watches: NoSpace once per directory, the error logged once', function()
		watchtree.watch('/r')
		full = true
		tree['/r/n1'], tree['/r/n2'] = {}, {}
		watchtree.batch { 'Create', true, '/r/n1', false, 0, 'Create', true, '/r/n2', false, 0 }
		assert.same({ 'Create /r/n1/', 'NoSpace /r/n1/', 'Create /r/n2/', 'NoSpace /r/n2/' }, got)
		assert.equal(1, #logs)
		assert.truthy(logs[1]:find('fs.inotify.max_user_watches', 1, true))
		local ok, err = watchtree.watch('/r/n1')
		assert.is_nil(ok)
		assert.truthy(err:find('No space', 1, true))
	end)
end)
