-- delays.lua: one sync's queue of delayed events ("delays"), with lsyncd's
-- collapse and blocking rules, and every per-event step indexed.
--
-- A delay is { etype, path, path2, alarm, status, seq, isdir }, paths are
-- sync-relative internal paths ('/a/f', dirs '/a/d/'). status is 'wait'
-- (ready once its alarm is due), 'block' (waits for older delays it
-- interacts with) or 'active' (a child runs for it).
--
-- Indexes: a doubly linked list in arrival order; a trie of path components
-- whose nodes hold the delays on that exact path and the number of delays in
-- their subtree, so "same path", "a queued parent dir" and "anything queued
-- below this dir" are all look-ups along one path, never a queue scan.

local Delays = {}
Delays.__index = Delays

local BARRIER = { Init = true, Blanket = true, Full = true }

-- Collapse table (old etype -> new etype -> action) for two non-move events
-- on the same path while the old one is not active.
local COLLAPSE = {
	Attrib = { Attrib = 'absorb', Modify = 'replace', Create = 'replace', Delete = 'replace' },
	Modify = { Attrib = 'absorb', Modify = 'absorb', Create = 'replace', Delete = 'replace' },
	Create = { Attrib = 'absorb', Modify = 'absorb', Create = 'absorb', Delete = 'replace' },
	Delete = { Attrib = 'absorb', Modify = 'absorb', Create = 'replace', Delete = 'absorb' },
}

-- opts.collapse: apply the whole table (true) or only lsyncd 2.2's
-- Delete->Create replacement (false); opts.splitMoves: turn every Move into
-- Delete + Create at once (syncs without onMove).
function Delays.new(opts)
	opts = opts or {}
	return setmetatable({
		collapse = opts.collapse ~= false,
		splitMoves = opts.splitMoves and true or false,
		head = nil, tail = nil, size = 0, seq = 0,
		root = { n = 0 },   -- trie root: the sync root '/'
		barrier = nil,      -- newest queued Init/Blanket
		barriers = {},      -- set of queued barriers (few): hasQueued looks only here
	}, Delays)
end

-- Returns the trie node of path, creating it (and its ancestors) if asked.
function Delays:node(path, create)
	local node = self.root
	local pos, len = 2, #path
	while pos <= len do
		local slash = path:find('/', pos, true)
		local c = path:sub(pos, (slash or len + 1) - 1)
		local kids = node.kids
		if not kids then
			if not create then return nil end
			kids = {}; node.kids = kids
		end
		local k = kids[c]
		if not k then
			if not create then return nil end
			k = { n = 0, parent = node, name = c }
			kids[c] = k
		end
		node = k
		if not slash then break end
		pos = slash + 1
	end
	return node
end

local function index(self, d, path)
	local node = self:node(path, true)
	local at = node.delays
	if not at then at = {}; node.delays = at end
	at[#at + 1] = d
	while node do node.n = node.n + 1; node = node.parent end
end

local function unindex(self, d, path)
	local node = self:node(path, false)
	if not node or not node.delays then return end
	local at = node.delays
	for i = #at, 1, -1 do
		if at[i] == d then table.remove(at, i); break end
	end
	if #at == 0 then node.delays = nil end
	-- walk up, dropping counts and pruning empty nodes
	while node do
		node.n = node.n - 1
		local parent = node.parent
		if parent and node.n == 0 then parent.kids[node.name] = nil end
		node = parent
	end
end

local function link(self, d)
	self.seq = self.seq + 1
	d.seq = self.seq
	if not self.hint then self.hint = d end
	d.prev = self.tail
	if self.tail then self.tail.next = d else self.head = d end
	self.tail = d
	self.size = self.size + 1
end

local function unlink(self, d)
	if self.hint == d then self.hint = d.next end
	if d.prev then d.prev.next = d.next else self.head = d.next end
	if d.next then d.next.prev = d.prev else self.tail = d.prev end
	d.prev, d.next = nil, nil
	self.size = self.size - 1
end

-- Makes d wait for blocker (older, still queued).
local function block(d, blocker)
	if blocker == d or blocker.removed then return end
	local b = blocker.blocks
	if not b then b = {}; blocker.blocks = b end
	if b[#b] == d then return end
	b[#b + 1] = d
	d.nblock = (d.nblock or 0) + 1
	d.blockers = d.blockers or {}
	d.blockers[#d.blockers + 1] = blocker
	if d.status == 'wait' then d.status = 'block' end
end

-- Calls fn(q) for every queued delay that interacts with path by the
-- parent/child rule or the same path: delays on path's ancestors that are
-- directories, delays on path itself, and (if path is a dir) everything below.
local function interacting(self, path, isdir, fn)
	local node = self.root
	local pos, len = 2, #path
	if len < 2 then return end
	while pos <= len do
		local slash = path:find('/', pos, true)
		local c = path:sub(pos, (slash or len + 1) - 1)
		node = node.kids and node.kids[c]
		if not node then return end
		local last = not slash or slash == len
		local at = node.delays
		if at then
			if not last then
				for j = 1, #at do if at[j].isdir then fn(at[j], 'parent') end end
			else
				-- fn may unindex a delay from this very node (a move
				-- turned into a delete): walk a copy
				if #at > 1 then at = { unpack(at) } end
				for j = 1, #at do fn(at[j], 'same') end
			end
		end
		if last then break end
		pos = slash + 1
	end
	if isdir and node.kids then
		local stack = {}
		for _, k in pairs(node.kids) do stack[#stack + 1] = k end
		while #stack > 0 do
			local k = table.remove(stack)
			if k.delays then for j = 1, #k.delays do fn(k.delays[j], 'child') end end
			if k.kids then for _, kk in pairs(k.kids) do stack[#stack + 1] = kk end end
		end
	end
end

local function newDelay(etype, path, path2, alarm)
	return {
		etype = etype, path = path, path2 = path2, alarm = alarm,
		status = 'wait', isdir = path:sub(-1) == '/',
	}
end

-- Queues a barrier (Init, Blanket, Full): it waits for everything queued and
-- everything queued later waits for it.
function Delays:pushBarrier(etype, alarm)
	local d = newDelay(etype, '', nil, alarm)
	local q = self.head
	while q do block(d, q); q = q.next end
	link(self, d)
	self.barrier = d
	self.barriers[d] = true
	return d
end

local function enqueue(self, d)
	link(self, d)
	index(self, d, d.path)
	if d.path2 then index(self, d, d.path2) end
	if self.barrier then block(d, self.barrier) end
	return d
end

-- Queues a non-move event, collapsing it with the newest delay on the same
-- path when the rules allow; returns the delay that now stands for it.
function Delays:pushSimple(etype, path, alarm)
	local isdir = path:sub(-1) == '/'
	-- The newest not-active delay on the same path decides collapsing.
	local node = self:node(path, false)
	local same = node and node.delays and node.delays[#node.delays]
	if same and not same.removed and same.path == path and same.etype ~= 'Move' then
		if same.status ~= 'active' and not same.blocks then
			local action = COLLAPSE[same.etype] and COLLAPSE[same.etype][etype]
			if not self.collapse then
				if same.etype == 'Delete' and etype == 'Create' then
					action = not isdir and 'replace' or nil
				elseif same.etype == 'Create' and etype == 'Create' then
					-- the same entry twice: a new directory's scan and the
					-- kernel both saw it (the watch comes before the read)
					action = 'absorb'
				else
					action = nil
				end
			end
			if action == 'absorb' then return same end
			if action == 'replace' and not (same.etype == 'Delete' and isdir) then
				same.etype = etype
				return same
			end
		end
	end
	local d = newDelay(etype, path, nil, alarm)
	local blockers, seen = {}, {}
	interacting(self, path, isdir, function(q, rel)
		if seen[q] then return end
		seen[q] = true
		if q.etype == 'Move' then
			if rel == 'same' and q.path2 == path and q.status ~= 'active'
			and (etype == 'Create' or etype == 'Delete') then
				-- the move's destination is overwritten: keep only its origin's delete
				self:moveToDelete(q)
			end
			blockers[#blockers + 1] = q
		elseif rel == 'same' and not self.collapse and not isdir
		and not q.isdir and q.status ~= 'active' then
			return -- lsyncd 2.2: same-path file events stay independent
		else
			blockers[#blockers + 1] = q
		end
	end)
	enqueue(self, d)
	for i = 1, #blockers do block(d, blockers[i]) end
	return d
end

-- True when a directory above path (not path itself; inclusive: path, a
-- directory ending in '/', too) has a queued Create that has not started: a
-- transfer that sends that directory with all it holds (rsync's 'dir/***')
-- covers an event on path too. Cost: the depth.
function Delays:underNewDir(path, inclusive)
	local node = self.root
	local pos, len = 2, #path
	while pos <= len do
		local slash = path:find('/', pos, true)
		if not slash or (slash == len and not inclusive) then return false end
		node = node.kids and node.kids[path:sub(pos, slash - 1)]
		if not node then return false end
		local at = node.delays
		if at then
			for j = 1, #at do
				local q = at[j]
				if q.etype == 'Create' and q.isdir and q.status ~= 'active' and not q.removed then
					return true
				end
			end
		end
		pos = slash + 1
	end
	return false
end

-- Turns a queued (not active) Move into a Delete of its origin.
function Delays:moveToDelete(q)
	unindex(self, q, q.path2)
	q.etype, q.path2 = 'Delete', nil
end

-- Queues an event. Moves are split into Delete + Create when the sync has no
-- onMove, or when either end touches something already queued.
function Delays:push(etype, path, path2, alarm)
	if BARRIER[etype] then return self:pushBarrier(etype, alarm) end
	if etype ~= 'Move' then return self:pushSimple(etype, path, alarm) end
	if self.splitMoves then
		self:pushSimple('Delete', path, alarm)
		return self:pushSimple('Create', path2, alarm)
	end
	-- a chained rename (a -> b, then b -> c) collapses into a -> c, plus a
	-- delete of b: the first rename may have replaced a file b, which the
	-- slave still holds and the source no longer has
	local node = self:node(path, false)
	if node and node.delays then
		for i = #node.delays, 1, -1 do
			local q = node.delays[i]
			if q.etype == 'Move' and q.path2 == path and q.status == 'wait'
			and not q.blocks and q.path ~= path2 then
				unindex(self, q, q.path2)
				q.path2 = path2
				index(self, q, path2)
				self:pushSimple('Delete', path, alarm)
				return q
			end
		end
	end
	-- Anything queued on either end splits the move, except an earlier move
	-- whose destination is this move's origin (a chain already under way):
	-- this one then waits for it.
	local touched, chain = false, {}
	local function seen(q, rel)
		if q.etype == 'Move' and rel == 'same' and q.path2 == path then
			chain[#chain + 1] = q
		else
			touched = true
		end
	end
	interacting(self, path, path:sub(-1) == '/', seen)
	if not touched then interacting(self, path2, path2:sub(-1) == '/', seen) end
	if touched then
		self:pushSimple('Delete', path, alarm)
		return self:pushSimple('Create', path2, alarm)
	end
	local d = enqueue(self, newDelay('Move', path, path2, alarm))
	for i = 1, #chain do block(d, chain[i]) end
	return d
end

-- Removes a finished or discarded delay and releases what it blocked.
function Delays:remove(d)
	if d.removed then return end
	d.removed = true
	unlink(self, d)
	if d.path ~= '' then unindex(self, d, d.path) end
	if d.path2 then unindex(self, d, d.path2) end
	if self.barrier == d then self.barrier = nil end
	self.barriers[d] = nil
	local blocks = d.blocks
	if blocks then
		for i = 1, #blocks do
			local b = blocks[i]
			b.nblock = b.nblock - 1
			if b.nblock == 0 and b.status == 'block' then
				b.status = 'wait'
				self:waiting(b)
			end
		end
		d.blocks = nil
	end
end

-- True when delay d is queued and waits (neither active nor removed).
function Delays.waits(d) return not d.removed and d.status == 'wait' end

-- The first queued delay that d waits for and that is not removed, for
-- which pred(b, arg) holds; nil if none.
function Delays.blockerWhere(d, pred, arg)
	local bs = d.blockers
	if not bs then return nil end
	for i = 1, #bs do
		local b = bs[i]
		if not b.removed and pred(b, arg) then return b end
	end
	return nil
end

-- Marks the delays of a spawned child active (their child runs).
function Delays:activate(list)
	for i = 1, #list do list[i].status = 'active' end
end

-- True when a barrier of this etype (Init, Blanket, Full) is queued and not
-- active; orActive: an active one counts too.
function Delays:hasQueued(etype, orActive)
	for d in pairs(self.barriers) do
		if d.etype == etype and (orActive or d.status ~= 'active') then return true end
	end
	return false
end

-- Iterates the queued delays in arrival order: for d in q:each() do ... end
-- (the loop may remove the delay it holds).
function Delays:each()
	local d = self.head
	return function()
		local cur = d
		if cur then d = cur.next end
		return cur
	end
end

-- How many delays are queued.
function Delays:count() return self.size end

-- The oldest queued delay, or nil.
function Delays:first() return self.head end

-- Makes every waiting delay whose alarm lies after now due at now.
function Delays:hurry(now)
	for d in self:each() do
		if d.status ~= 'active' and d.alarm and d.alarm > now then d.alarm = now end
	end
end

-- Drops every delay that is not active (a sync that stops).
function Delays:dropWaiting()
	for d in self:each() do
		if d.status ~= 'active' then self:remove(d) end
	end
end

-- Puts an active delay back to wait (a retry) with a new alarm.
function Delays:retry(d, alarm)
	d.status = (d.nblock or 0) > 0 and 'block' or 'wait'
	d.alarm = alarm
	if d.status == 'wait' then self:waiting(d) end
end

-- True if d's alarm is due at time now (or the queue is over its limit).
local function due(d, now, full)
	return full or d.alarm == nil or d.alarm <= now
end

-- Notes that d became 'wait': the scan hint must not be behind it.
-- (The hint is never after the first waiting delay, so finding that delay
-- skips the active and blocked ones in front without walking them again:
-- while a batch of thousands is in flight, every loop cycle would.)
function Delays:waiting(d)
	local h = self.hint
	if not h or d.seq < h.seq then self.hint = d end
end

-- The first delay whose status is 'wait' (advancing the hint), or nil.
function Delays:firstWait()
	local d = self.hint or self.head
	while d and d.status ~= 'wait' do d = d.next end
	self.hint = d
	return d
end

-- The first waiting delay that is due, or nil.
function Delays:nextReady(now, maxDelays)
	local full = maxDelays and self.size >= maxDelays
	local d = self:firstWait()
	while d do
		if d.status == 'wait' then
			if due(d, now, full) then return d end
			if not full then return nil end   -- later ones are not due either
		end
		d = d.next
	end
	return nil
end

-- Every delay that is not active and not blocked (transitively) by an active
-- or rejected one; test(d) may return false (skip it) or 'break' (stop).
function Delays:collect(test)
	local list, excluded = {}, {}
	local d = self.head
	while d do
		local ok = d.status ~= 'active'
		if ok and d.blockers then
			for i = 1, #d.blockers do
				local b = d.blockers[i]
				if not b.removed and (b.status == 'active' or excluded[b]) then ok = false; break end
			end
		end
		if ok and test then
			local r = test(d)
			if r == 'break' then break end
			if not r then ok = false end
		end
		if ok then list[#list + 1] = d else excluded[d] = true end
		d = d.next
	end
	return list
end

-- The alarm of the first waiting delay (nil: none; true: at once).
function Delays:nextAlarm(maxDelays)
	local d = self:firstWait()
	if not d then return nil end
	if maxDelays and self.size >= maxDelays then return true end
	return d.alarm or true
end

return Delays
