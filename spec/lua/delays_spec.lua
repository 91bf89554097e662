-- Specs for lua/delays.lua: collapse table, blocking, moves, barriers.
local Delays = require 'delays'

local function etypes(q)
	local out, d = {}, q.head
	while d do
		out[#out + 1] = d.status .. ' ' .. d.etype .. ' ' .. d.path .. (d.path2 and ('>' .. d.path2) or '')
		d = d.next
	end
	return out
end

describe('delays', function()
	describe('collapse with the full table', function()
		local q
		before_each(function() q = Delays.new { collapse = true } end)

		it('absorbs Attrib and Modify into a queued Create', function()
			q:push('Create', '/f', nil, 1)
			q:push('Attrib', '/f', nil, 2)
			q:push('Modify', '/f', nil, 3)
			assert.same({ 'wait Create /f' }, etypes(q))
			assert.equal(1, q.size)
		end)

		it('replaces a Create by a Delete in its slot, keeping the first alarm', function()
			q:push('Create', '/f', nil, 1)
			q:push('Create', '/g', nil, 1)
			q:push('Delete', '/f', nil, 5)
			assert.same({ 'wait Delete /f', 'wait Create /g' }, etypes(q))
			assert.equal(1, q.head.alarm)
		end)

		it('turns Delete then Create of a file into Create', function()
			q:push('Delete', '/f', nil, 1)
			q:push('Create', '/f', nil, 2)
			assert.same({ 'wait Create /f' }, etypes(q))
		end)

		it('stacks a new event behind an active one on the same path', function()
			local d = q:push('Modify', '/f', nil, 1)
			d.status = 'active'
			q:push('Modify', '/f', nil, 2)
			assert.same({ 'active Modify /f', 'block Modify /f' }, etypes(q))
			q:remove(d)
			assert.same({ 'wait Modify /f' }, etypes(q))
		end)
	end)

	describe('lsyncd 2.2 compatible collapse', function()
		it('takes a Create reported twice (scan and kernel) once', function()
			local q = Delays.new { collapse = false }
			q:push('Create', '/d/f', nil, 1)
			q:push('Create', '/d/f', nil, 1)
			assert.same({ 'wait Create /d/f' }, etypes(q))
		end)

		it('keeps Create, Attrib and Modify of one file as three independent delays', function()
			local q = Delays.new { collapse = false }
			q:push('Create', '/y', nil, 1)
			q:push('Attrib', '/y', nil, 1)
			q:push('Modify', '/y', nil, 1)
			assert.same({ 'wait Create /y', 'wait Attrib /y', 'wait Modify /y' }, etypes(q))
		end)
	end)

	describe('blocking', function()
		local q
		before_each(function() q = Delays.new {} end)

		it('makes an event below a queued dir wait for it', function()
			q:push('Create', '/d/', nil, 1)
			q:push('Create', '/d/f', nil, 1)
			assert.same({ 'wait Create /d/', 'block Create /d/f' }, etypes(q))
		end)

		it('makes a dir Delete wait for everything queued below it', function()
			q:push('Modify', '/d/a/f', nil, 1)
			q:push('Modify', '/d/g', nil, 1)
			local del = q:push('Delete', '/d/', nil, 1)
			assert.equal('block', del.status)
			assert.equal(2, del.nblock)
		end)

		it('does not relate siblings with a common prefix', function()
			q:push('Create', '/ab/', nil, 1)
			local d = q:push('Create', '/abc', nil, 1)
			assert.equal('wait', d.status)
		end)

		it('collects blocked delays together with their waiting blockers', function()
			q:push('Create', '/d/', nil, 1)
			q:push('Create', '/d/f', nil, 1)
			assert.equal(2, #q:collect())
			q.head.status = 'active'
			assert.equal(0, #q:collect())
		end)

		it('stacks every event behind a queued Init barrier', function()
			local init = q:push('Init', '', nil, 0)
			local d = q:push('Create', '/x', nil, 1)
			assert.equal('block', d.status)
			assert.equal(init, q:nextReady(10, 1000))
			init.status = 'active'
			assert.is_nil(q:nextReady(10, 1000))
			q:remove(init)
			assert.equal(d, q:nextReady(10, 1000))
		end)
	end)

	describe('moves', function()
		it('splits a move into Delete and Create when asked to', function()
			local q = Delays.new { splitMoves = true }
			q:push('Move', '/a', '/b', 1)
			assert.same({ 'wait Delete /a', 'wait Create /b' }, etypes(q))
		end)

		it('keeps a move whole when nothing else touches its ends', function()
			local q = Delays.new {}
			q:push('Move', '/a', '/b', 1)
			assert.same({ 'wait Move /a>/b' }, etypes(q))
		end)

		it('collapses chained renames a -> b -> c into a -> c and a delete of b', function()
			-- the first rename may have replaced a file b that the slave still
			-- holds: after both, b is gone from the source, so it goes there too
			local q = Delays.new {}
			q:push('Move', '/a', '/b', 1)
			q:push('Move', '/b', '/c', 2)
			assert.same({ 'wait Move /a>/c', 'wait Delete /b' }, etypes(q))
			q:push('Create', '/b', nil, 3)
			assert.same({ 'wait Move /a>/c', 'wait Create /b' }, etypes(q))
		end)

		it('queues a rename of an active rename\'s destination behind it', function()
			local q = Delays.new {}
			local first = q:push('Move', '/a', '/b', 1)
			first.status = 'active'
			local second = q:push('Move', '/b', '/c', 2)
			assert.equal('Move', second.etype)
			assert.equal('block', second.status)
			q:remove(first)
			assert.equal('wait', second.status)
		end)

		it('splits a move that touches a queued event', function()
			local q = Delays.new {}
			q:push('Modify', '/a', nil, 1)
			q:push('Move', '/a', '/b', 1)
			assert.same({ 'wait Delete /a', 'wait Create /b' }, etypes(q))
		end)
	end)

	describe('underNewDir', function()
		local q
		before_each(function() q = Delays.new { collapse = true } end)

		it('is true below a queued Create of a directory, at any depth', function()
			q:push('Create', '/a/', nil, 1)
			assert.is_true(q:underNewDir('/a/f'))
			assert.is_true(q:underNewDir('/a/b/c/'))
			assert.is_true(q:underNewDir('/a/b/c/f'))
		end)

		it('is false for the directory itself, beside it and above it', function()
			q:push('Create', '/a/b/', nil, 1)
			assert.is_false(q:underNewDir('/a/b/'))
			assert.is_false(q:underNewDir('/a/bb'))
			assert.is_false(q:underNewDir('/a/f'))
			assert.is_false(q:underNewDir('/x/y'))
		end)

		it('inclusive: true for the directory itself too, not for a file of that name', function()
			q:push('Create', '/a/b/', nil, 1)
			assert.is_true(q:underNewDir('/a/b/', true))
			assert.is_false(q:underNewDir('/a/', true))
			assert.is_false(q:underNewDir('/a/b', true))
		end)

		it('is false once that Create is active or gone, or for other etypes', function()
			local d = q:push('Create', '/a/', nil, 1)
			d.status = 'active'
			assert.is_false(q:underNewDir('/a/f'))
			q:remove(d)
			assert.is_false(q:underNewDir('/a/f'))
			q:push('Modify', '/m/', nil, 1)
			q:push('Delete', '/d/', nil, 1)
			assert.is_false(q:underNewDir('/m/f'))
			assert.is_false(q:underNewDir('/d/f'))
			q:push('Create', '/file', nil, 1)
			assert.is_false(q:underNewDir('/file/x'))
		end)
	end)

	describe('readiness', function()
		it('waits for alarms unless the queue is over maxDelays', function()
			local q = Delays.new {}
			q:push('Create', '/a', nil, 10)
			q:push('Create', '/b', nil, 11)
			assert.is_nil(q:nextReady(5, 1000))
			assert.equal(10, q:nextAlarm(1000))
			assert.is_not_nil(q:nextReady(5, 2))
			assert.is_true(q:nextAlarm(2))
		end)

		it('indexes paths so removal prunes the trie', function()
			local q = Delays.new {}
			local ds = {}
			for i = 1, 100 do ds[i] = q:push('Create', '/d' .. i .. '/x/f', nil, 1) end
			for i = 1, 100 do q:remove(ds[i]) end
			assert.equal(0, q.size)
			assert.is_nil(next(q.root.kids))
		end)
	end)
end)
