-- Specs for lua/roundplan.lua: which renames of a round are moved on the
-- slave, which travel in the rsync, and that running the moves first and
-- the rsync second gives the source's tree (checked against a model of the
-- slave for fixed cases and for random mixes of operations).
local Delays = require 'delays'
local roundplan = require 'roundplan'

local BARRIER = { Init = true, Blanket = true, Full = true }
local function ready(q) return q:collect(function(d) return not BARRIER[d.etype] end) end
local function names(list)
	local out = {}
	for i, d in ipairs(list) do out[i] = d.etype .. ' ' .. d.path .. (d.path2 and ('>' .. d.path2) or '') end
	return out
end
local BIG = function() return 10 * 1024 * 1024 end
local SMALL = function() return 10 end

describe('roundplan', function()
	it('moves every rename of a round on the slave once one is worth it', function()
		local q = Delays.new {}
		q:push('Modify', '/x', nil, 1)
		q:push('Move', '/big', '/big2', 1)
		q:push('Create', '/y', nil, 1)
		q:push('Move', '/d/', '/e/', 1)
		local moves, content = roundplan.plan(ready(q), { sizeOf = SMALL })
		assert.same({ 'Move /big>/big2', 'Move /d/>/e/' }, names(moves))
		assert.same({ 'Modify /x', 'Create /y' }, names(content))
	end)

	it('sends a lone small file rename inside the rsync when an rsync runs anyway', function()
		local q = Delays.new {}
		q:push('Modify', '/x', nil, 1)
		q:push('Move', '/a', '/b', 1)
		local moves, content = roundplan.plan(ready(q), { sizeOf = SMALL })
		assert.same({}, moves)
		assert.same({ 'Modify /x', 'Move /a>/b' }, names(content))
	end)

	it('moves a large file, and renames when nothing else is queued', function()
		local q = Delays.new {}
		q:push('Modify', '/x', nil, 1)
		q:push('Move', '/a', '/b', 1)
		assert.equal(1, #roundplan.plan(ready(q), { sizeOf = BIG }))
		local q2 = Delays.new {}
		q2:push('Move', '/a', '/b', 1)
		q2:push('Move', '/c', '/d', 1)
		assert.equal(2, #roundplan.plan(ready(q2), { sizeOf = SMALL }))
	end)

	it('moves every rename when the slave keeps deleted files (no rsync delete)', function()
		local q = Delays.new {}
		q:push('Modify', '/x', nil, 1)
		q:push('Move', '/a', '/b', 1)
		local moves = roundplan.plan(ready(q), { sizeOf = SMALL, keepOrigins = true })
		assert.same({ 'Move /a>/b' }, names(moves))
	end)

	it('a rewrite of the moved file goes in the rsync after the move', function()
		local q = Delays.new {}
		q:push('Move', '/a', '/b', 1)
		local w = q:push('Modify', '/b', nil, 2)
		assert.equal('block', w.status)
		local moves, content = roundplan.plan(ready(q), { sizeOf = BIG })
		assert.same({ 'Move /a>/b' }, names(moves))
		assert.same({ 'Modify /b' }, names(content))
	end)

	it('a delete of the destination before the move ran turns the move into a delete', function()
		local q = Delays.new {}
		q:push('Move', '/a', '/b', 1)
		q:push('Delete', '/b', nil, 2)
		local moves, content = roundplan.plan(ready(q), { sizeOf = BIG })
		assert.same({}, moves)
		assert.same({ 'Delete /a', 'Delete /b' }, names(content))
	end)

	it('a rename into a directory created in the same round travels with it', function()
		local q = Delays.new {}
		q:push('Create', '/new/', nil, 1)
		q:push('Move', '/a', '/new/a', 1)
		local moves, content = roundplan.plan(ready(q), { sizeOf = BIG })
		assert.same({}, moves)
		assert.same({ 'Create /new/', 'Delete /a', 'Create /new/a' }, names(content))
	end)

	it('renames of a parent and then of its child keep their order', function()
		local q = Delays.new {}
		q:push('Move', '/p/', '/r/', 1)
		local c = q:push('Move', '/r/f', '/r/g', 2)
		-- the child's rename touches the moved dir: it is split and waits
		assert.same({ 'Move /p/>/r/', 'Delete /r/f', 'Create /r/g' }, names(ready(q)))
		local moves, content = roundplan.plan(ready(q), { sizeOf = BIG })
		assert.same({ 'Move /p/>/r/' }, names(moves))
		assert.same({ 'Delete /r/f', 'Create /r/g' }, names(content))
		assert.equal('block', c.status)
	end)

	it('a chain whose first move goes in the rsync sends the whole chain there', function()
		local q = Delays.new {}
		q:push('Modify', '/x', nil, 1)
		local first = q:push('Move', '/a', '/b', 1)
		first.status = 'active'
		q:push('Move', '/b', '/c', 2)
		first.status = 'wait'
		local moves, content = roundplan.plan(ready(q), { sizeOf = SMALL })
		assert.same({}, moves)
		assert.same({ 'Modify /x', 'Move /a>/b', 'Move /b>/c' }, names(content))
	end)

	it('hold leaves the moves and what waits for them to the next round', function()
		local q = Delays.new {}
		q:push('Modify', '/x', nil, 1)
		q:push('Move', '/d/', '/e/', 1)
		q:push('Modify', '/e/f', nil, 2)
		local moves, content, left = roundplan.plan(ready(q), {}, true)
		assert.same({}, moves)
		assert.same({ 'Modify /x' }, names(content))
		assert.same({ 'Move /d/>/e/', 'Modify /e/f' }, names(left))
	end)

	it('keeps the script under its byte limit, holding the rest with dependents', function()
		local q = Delays.new {}
		for i = 1, 10 do q:push('Move', '/d' .. i .. '/', '/e' .. i .. '/', 1) end
		q:push('Modify', '/e10/f', nil, 2)
		local moves, content, left = roundplan.plan(ready(q), { maxBytes = 150 })
		assert.equal(4, #moves)
		assert.same({}, content)
		assert.equal(7, #left)
	end)
end)

-- A model of a tree: path ('/a', dirs '/d/') -> content ('' for dirs).
local function copyTree(t) local c = {} for k, v in pairs(t) do c[k] = v end return c end
local function isDir(p) return p:sub(-1) == '/' end
local function parentOf(p) return p:match('^(.*/)[^/]+/?$') end
local function below(t, p)   -- every key at or below p
	local out = {}
	for k in pairs(t) do if k == p or (isDir(p) and k:sub(1, #p) == p) then out[#out + 1] = k end end
	return out
end
local function rmTree(t, p)
	for _, k in ipairs(below(t, p)) do t[k] = nil end
	if not isDir(p) then t[p .. '/'] = nil; for _, k in ipairs(below(t, p .. '/')) do t[k] = nil end
	else t[p:sub(1, -2)] = nil end
end
local function exists(t, p) return t[p] ~= nil or t[isDir(p) and p:sub(1, -2) or (p .. '/')] ~= nil end

-- mv -T on the model: false when it fails (origin gone, no parent, a
-- file over a dir or a dir over a non-empty dir).
local function mvT(t, a, b)
	if t[a] == nil or (parentOf(b) ~= '/' and t[parentOf(b)] == nil) then return false end
	if isDir(a) then
		if t[b:sub(1, -2)] ~= nil then return false end
		if t[b] ~= nil and #below(t, b) > 1 then return false end
	else
		if t[b .. '/'] ~= nil then return false end
	end
	local moved = {}
	for _, k in ipairs(below(t, a)) do moved[b .. k:sub(#a + 1)] = t[k]; t[k] = nil end
	rmTree(t, b)
	for k, v in pairs(moved) do t[k] = v end
	return true
end

-- rsync of an include list on the model: each listed path takes the
-- source's state (a dir/*** rule its whole subtree).
local function rsyncModel(src, dst, list)
	local rsyncopts = require 'rsyncopts'
	for _, r in ipairs(rsyncopts.includeList(list)) do
		local all = r:sub(-3) == '***'
		local p = all and r:sub(1, -4) or r
		local other = isDir(p) and p:sub(1, -2) or (p .. '/')
		if all then
			rmTree(dst, p)
			for _, k in ipairs(below(src, p)) do dst[k] = src[k] end
		elseif src[p] ~= nil then
			if dst[other] ~= nil then rmTree(dst, other) end
			dst[p] = src[p]
		elseif dst[p] ~= nil and src[other] == nil then
			rmTree(dst, p)
		end
		if src[other] ~= nil and src[p] == nil then
			rmTree(dst, p)
			if not isDir(other) then dst[other] = src[other] end
			if isDir(other) then for _, k in ipairs(below(src, other)) do dst[k] = src[k] end end
		end
	end
end

local function diff(a, b)
	local out = {}
	for k, v in pairs(a) do if b[k] ~= v then out[#out + 1] = k .. ' ' .. tostring(v) .. '/' .. tostring(b[k]) end end
	for k in pairs(b) do if a[k] == nil then out[#out + 1] = 'extra ' .. k end end
	table.sort(out)
	return out
end

-- One random run: operations on the source interleaved with rounds that
-- move and rsync to the slave model, then rounds until the queue is empty.
local function simulate(seed)
	local rnd = seed
	local function random(n)
		rnd = (rnd * 1103515245 + 12345) % 2147483648
		return math.floor(rnd / 65536) % n + 1
	end
	local NAMES = { 'a', 'b', 'c' }
	local src = { ['/p/'] = '', ['/q/'] = '', ['/a'] = 'A0', ['/p/a'] = 'PA0' }
	local dst = copyTree(src)
	local q = Delays.new {}
	local version, lastMoved = 0, nil
	local function push(etype, p, p2)
		if q:underNewDir(p) and etype ~= 'Move' then return end
		q:push(etype, p, p2, 0)
	end
	local function anyPath(dirs)
		local all = {}
		for k in pairs(src) do if dirs == nil or isDir(k) == dirs then all[#all + 1] = k end end
		table.sort(all)
		if #all == 0 then return nil end
		return all[random(#all)]
	end
	local function newPath(dir)
		local parents = { '/' }
		for k in pairs(src) do if isDir(k) then parents[#parents + 1] = k end end
		table.sort(parents)
		local parent = parents[random(#parents)]
		return parent .. NAMES[random(#NAMES)] .. (dir and '/' or '')
	end
	local function op()
		local kind = random(6)
		version = version + 1
		if kind == 1 then                       -- rewrite
			local p = anyPath(false)
			if p then src[p] = 'v' .. version; push('Modify', p) end
		elseif kind == 2 then                   -- create a file or a dir
			local dir = random(3) == 1
			local p = newPath(dir)
			if not exists(src, p) then src[p] = dir and '' or ('v' .. version); push('Create', p) end
		elseif kind == 3 then                   -- delete (a dir with all it holds)
			local p = anyPath()
			if p then
				local all = below(src, p)
				table.sort(all, function(x, y) return #x > #y end)
				for _, k in ipairs(all) do src[k] = nil; push('Delete', k) end
			end
		else                                     -- rename, over a file if one is there
			local a = anyPath()
			if lastMoved and src[lastMoved] and random(2) == 1 then a = lastMoved end  -- a chain
			if not a then return end
			local b = newPath(isDir(a))
			if b == a or b:sub(1, #a) == a or not mvT(src, a, b) then return end
			lastMoved = b
			push('Move', a, b)
		end
	end
	local movedLast = false
	local function round()
		local opts = { sizeOf = function(d) return (#d.path2 % 2 == 0) and 10 or 1e9 end, minSize = 100 }
		local kind, batch = roundplan.step(ready(q), opts, movedLast)
		if not kind then return false end
		movedLast = kind == 'moves'
		local moves, content = kind == 'moves' and batch or {}, kind == 'rsync' and batch or {}
		for _, d in ipairs(batch) do d.status = 'active' end
		if #moves > 0 then
			for _ = 1, random(3) - 1 do op() end     -- changes while ssh runs
			local failed = {}
			for _, d in ipairs(moves) do
				if not mvT(dst, d.path, d.path2) then rmTree(dst, d.path); failed[#failed + 1] = d end
			end
			for _, d in ipairs(failed) do q:push('Delete', d.path, nil, 0); q:push('Create', d.path2, nil, 0) end
		else
			rsyncModel(src, dst, content)
			for _ = 1, random(3) - 1 do op() end     -- changes while rsync runs
		end
		for _, d in ipairs(batch) do q:remove(d) end
		return true
	end
	for _ = 1, 40 do
		if random(3) == 1 then round() else op() end
	end
	local n = 0
	while round() do n = n + 1; assert(n < 1000, 'the queue does not drain') end
	return diff(src, dst)
end

describe('roundplan against a model of the slave', function()
	it('moves then rsync give the source tree, for 400 random mixes of operations', function()
		local bad = {}
		for seed = 1, 400 do
			local d = simulate(seed)
			if #d > 0 then bad[#bad + 1] = 'seed ' .. seed .. ': ' .. table.concat(d, ', ') end
		end
		assert.same({}, bad)
	end)
end)
