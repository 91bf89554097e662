-- state.lua: what survives a restart (issue 15). A store in the state dir
-- (engine/store.c, LMDB) holds a stat index of each source and, per sync
-- (one slave), a pending set: the paths that slave may lack. At start one
-- local walk compares the tree with the index; a sync whose state is valid
-- gets its pending set queued instead of the full startup transfer.
--
-- Why a kill -9 (or a power loss) cannot make a change be skipped:
--   Claim, for every valid sync S and path p: the slave holds p as the index
--   describes it, or p is in S's pending set, or p's lstat differs from its
--   index entry (which the start-up walk sees: ctime cannot be set back).
--   - An event's index update and its pending entries go in ONE transaction
--     (a batch of the events since the last commit, committed before
--     anything is spawned, at least once a second also when idle, and at
--     a TERM). Killed before it
--     commits: the index still holds the old stat, the file's ctime moved,
--     the walk finds it. Killed after: pending.
--   - A pending entry carries the generation (commit number) that wrote
--     it; a transfer remembers the last committed generation when it is
--     spawned and, once it succeeded (exit 0 or 24), removes only entries of
--     its paths with generation <= that one: a change recorded while it ran
--     stays pending. A partial transfer (exit 23) removes nothing. Only an
--     rsync (of a list, or the startup one) removes entries: it sends each
--     path as the source holds it when it runs. A command replaying one
--     event (ssh mv of a rename, ssh rm) removes none: a later change of
--     the same path may have been recorded before it was spawned without
--     being part of it (seen in the kill -9 test: a rename moved on the
--     slave, the deletion of its destination recorded before, then lost).
--   - A directory sent with all it holds (rsync 'dir/***') clears the
--     entries below it too; anything else clears its exact paths only.
--   - A sync that sends a new directory with all it holds gets no entry
--     for an event below a directory whose Create it has queued and not
--     started (Sync:coveredByNewDir: the event is not queued either).
--     That Create's transfer is spawned after the commit, so it reads the
--     path as it is then, and the directory's own entry ('d', written
--     when the Create was recorded, at the same or an earlier commit)
--     leaves only with a transfer of it with all it holds (or a newer
--     kind: 'x' once it is gone): a transfer of the directory alone
--     leaves it pending.
--   - Renames move the index entries and pending entries below the old
--     name to the new one, so the claim holds for the moved subtree.
--   - The start-up walk writes index updates and the differing paths into
--     every valid sync's pending set in one transaction. It reports every
--     entry below a directory that is new or differs and the top-most of
--     those that vanished, so a directory changed in place (same type and
--     inode) is pending flat: its own entry; what changed in it is pending
--     on its own. A directory pending with all it holds stays so.
--   - A sync that is not valid (first run, definition changed, -fullsync,
--     state missing or damaged) loses its pending set and its mark before
--     anything else; it gets the full startup transfer and is marked valid
--     only after that transfer succeeded, keeping what changed meanwhile.
--   LMDB commits are atomic and ordered, and a power loss loses at most the
--   last commits (MDB_NOMETASYNC): a lost index update is seen by the walk,
--   a lost removal costs a transfer again, never a missed change.
-- What a kill leaves on a slave besides: rsync's temporary files of the
-- files a transfer was writing (lua/tempsweep.lua); each list transfer's
-- file names are committed with it and swept at the next start.
-- What it cannot know: changes made on a slave behind the daemon's back.

local config = require 'config'
local definition = require 'definition'

local state = {}

-- systemd's StateDirectory= sets $STATE_DIRECTORY (the first of a list)
state.DEFAULT_DIR = (os.getenv('STATE_DIRECTORY') or ''):match('^[^:]+') or '/var/lib/lsyncd-ng'

local st                  -- the open store, or nil: no state kept
local gen = 0             -- generation of the last commit
local ops = {}            -- operations for the next commit, in order
local tracked = {}        -- Sync -> record { sync, id, pend, meta, hash, valid }
local sources = {}        -- source -> { root, ipfx, list = { records } }
local writeFailed = false

local function log(cat, ...) core.log(cat, table.concat({ ... })) end

-- '/a/d/' -> '/a/d' (keys hold no trailing slash; no gsub: it is run per
-- event and slave, and LuaJIT does not compile it)
local function bare(rel)
	if rel:sub(-1) == '/' then return rel:sub(1, -2) end
	return rel
end

-- True when sync s's transfers are the default rsync layers' (their success
-- means the slave equals the source for the paths sent) and it may skip the
-- full startup transfer. Sync.new sets coversNewDirs for default.rsync and
-- default.rsyncssh without Layer-2 handlers (the action is wrapped later,
-- so it cannot be compared here). default.direct is not tracked yet.
local function trackable(s)
	local cfg = s:getConfig()
	if (cfg.startup or config.settings.startup) == 'full' then return false end
	return s:coversNewDirectories() and cfg.init == require('default_rsync').init and true or false
end

local MAX_KEY = 511       -- LMDB's key size limit (engine/store.c)

-- ~1.1 KB per queued path (BENCHMARKS.md, "Scale runs")
local BYTES_PER_PATH = 1100
state.DEFAULT_MAX_QUEUE_MEMORY = 64 * 1024 * 1024

-- How many paths one sync may hold queued in RAM (settings maxQueueMemory).
local function capOf()
	local m = tonumber(config.settings.maxQueueMemory) or state.DEFAULT_MAX_QUEUE_MEMORY
	return math.max(16, math.floor(m / BYTES_PER_PATH))
end

local function pendKey(r, rel) return core.storeKey(r.pend, bare(rel)) end

local prefixes = {}       -- addPending's pending-set prefixes (reused)

-- Adds rel to the pending set of every valid-or-starting sync of source
-- record src that concerns it, in one store call that makes the keys (a
-- path too long for a key is never indexed: the start-up walk reports it
-- as changed at every start, so it needs no entry). The value is
-- 'GEN:KIND', KIND one of
--   'f'  not a directory;
--   'd'  a directory with all it holds (created, moved in, new to the walk);
--   'a'  flat: a directory's own entry (its attributes; the walk's
--        directories changed in place, whose changed content is pending on
--        its own). 'a' never replaces a 'd' that is pending still;
--   'x'  a directory that is gone (deleted, moved away).
-- skip: how a sync may need no entry because a queued Create of a
-- directory covers rel (Sync:coveredByNewDir): 'above' (a directory
-- above rel), or a table { [record] = true } worked out by the caller.
local function addPending(src, rel, kind, g, skip)
	if rel == '' or rel == '/' then return end
	local b = bare(rel)
	local relS = kind ~= 'f' and (b .. '/') or b
	local n = 0
	for _, r in ipairs(src.list) do
		if not (skip and (skip == 'above' and r.sync:coveredByNewDir(relS)
			or type(skip) == 'table' and skip[r]))
		and not r.sync:isRemoved() and r.sync:concerns(relS) then
			if kind == 'a' then
				local k = pendKey(r, rel)
				if #k <= MAX_KEY then
					local was = st:get(k)
					local ok, err = st:put(k, g .. ':' .. ((was and was:sub(-1) == 'd') and 'd' or 'a'))
					if not ok then error(err, 0) end
				end
			else
				n = n + 1
				prefixes[n] = r.pend
			end
		end
	end
	if n == 0 then return end
	local ok, err = st:putEach(g .. ':' .. kind, b, prefixes, n)
	if not ok then error(err, 0) end
end

-- Removes rel from r's pending set if it was written at generation <= g
-- (below: also every entry under it). For a sync that sends a new
-- directory with all it holds (Sync:sendsNewDirsWhole), an entry 'd' goes only with
-- below: the entries of what it held may have been skipped (addPending),
-- so a transfer of the directory alone leaves it pending.
local function clearPending(r, rel, g, below)
	st:clearPending(r.pend, bare(rel), g, below, not below and r.sync:sendsNewDirsWhole())
end

-- One event (absolute paths) inside source record src, applied in the
-- open transaction with generation g. covered[src]: the paths a directory
-- scan of this commit indexed and made pending since its last Move (what an
-- event on one of them would write is written: the commit reads the tree
-- as it is now either way); the scanned entries are added to it.
local function applyEvent(src, op, g, covered)
	local rel, rel2, isdir = op.rel, op.rel2, op.isdir
	local cov = covered[src]
	if not cov then
		cov = {}
		covered[src] = cov
	end
	if op.etype ~= 'Move' and rel and cov[bare(rel)] then return end
	if op.etype == 'Move' and rel and rel2 then
		if isdir then
			st:renamePrefix(core.storeKey(src.ipfx, rel) .. '\1', core.storeKey(src.ipfx, rel2) .. '\1')
			for _, r in ipairs(src.list) do
				st:renamePrefix(pendKey(r, rel) .. '\1', pendKey(r, rel2) .. '\1')
			end
		end
		st:del(core.storeKey(src.ipfx, rel))
		addPending(src, rel, isdir and 'x' or 'f', g)
		rel = rel2
	elseif op.etype == 'Move' then
		rel = rel or rel2
	end
	if not rel then return end
	local t, err = st:indexRel(src.ipfx, rel, src.root)
	if t == nil then error(err, 0) end
	local came = op.etype == 'Create' or op.etype == 'Move'
	local kind = t == 'd' and (came and 'd' or 'a') or (t == false and isdir) and 'x' or 'f'
	-- a sync whose queued Create of a directory above covers rel needs no
	-- entry: that Create's own entry ('d') stays until it was sent with all
	-- it holds (not for moves: their old name's entries are moved along)
	addPending(src, rel, kind, g, op.etype ~= 'Move' and 'above' or nil)
	-- a directory that came in (created, moved in) with what it holds:
	-- its entries are indexed, and pending for each sync that does not
	-- send the directory with all it holds at once
	if t == 'd' and came then
		local skip, all = {}, true
		for _, r in ipairs(src.list) do
			skip[r] = r.sync:coveredByNewDir(bare(rel) .. '/', true) or nil
			all = all and skip[r]
		end
		-- what it holds is wanted for the entries, and after a Move for
		-- cov (after a Create, state.event records nothing below it)
		local want = not all or op.etype == 'Move'
		local _, list = st:scan(core.storeKey(src.ipfx, rel), #src.ipfx, src.root .. rel, want)
		for _, c in ipairs(want and list or {}) do
			if c:sub(1, 1) ~= '-' then
				local crel = c:sub(2)
				if not all then addPending(src, crel, c:sub(-1) == '/' and 'd' or 'f', g, skip) end
				cov[bare(crel)] = true
			end
		end
	end
end

-- Records an event (runner.inotifyEvent): applied at the next commit. An
-- event on a path already recorded in this batch (since its last rename)
-- adds nothing: the commit reads the path as it is then. A Create stands
-- for a later Modify or Attrib too, not the other way round (a created
-- directory's content is indexed with it). For the same reason an event
-- below a directory created in this batch adds nothing either (not a
-- Move): the commit scans that directory with all it holds then (what is
-- gone by then needs no entry, what was moved away comes as a Move).
local seen = {}           -- src -> { C = { rel = true }, M = {...}, D = { dir = true } } since the last Move
local sourceList          -- the values of sources (nil: to be made again)
local firstOp             -- the first cycle that saw the batch

function state.event(etype, isdir, path, path2)
	if not st or etype == 'Overflow' or etype == 'NoSpace' then return end
	local list = sourceList
	if not list then
		list = {}
		for _, src in pairs(sources) do list[#list + 1] = src end
		sourceList = list
	end
	for i = 1, #list do
		local src = list[i]
		local pfx, n = src.pfx, src.pfxLen
		local rel = path and path:sub(1, n) == pfx and path:sub(n) or nil
		local rel2 = path2 and path2:sub(1, n) == pfx and path2:sub(n) or nil
		if etype == 'Move' then
			seen[src] = nil
		elseif rel then
			local mine = seen[src]
			if not mine then mine = { C = {}, M = {}, D = {} }; seen[src] = mine end
			local b = bare(rel)
			local up                -- b's parent ('/a/b' -> '/a'; '/a' -> none)
			for j = #b, 2, -1 do
				if b:byte(j) == 47 then up = b:sub(1, j - 1); break end
			end
			if up and mine.D[up] then
				if isdir and etype == 'Create' then mine.D[b] = true end
				rel = nil
			elseif mine.C[rel] or (etype ~= 'Create' and mine.M[rel]) then
				rel = nil
			else
				mine[etype == 'Create' and 'C' or 'M'][rel] = true
				if isdir and etype == 'Create' then mine.D[b] = true end
			end
		end
		if rel or rel2 then
			ops[#ops + 1] = { src = src, etype = etype, isdir = isdir, rel = rel, rel2 = rel2 }
		end
	end
end

local FLY_MAX = 2000      -- names in one record of files in flight (see below)

-- Adds names ('\0'-joined) to the record under key k, each once, up to
-- FLY_MAX in all (in the open transaction).
local function mergeNames(k, names)
	local have, list = {}, {}
	for _, text in ipairs { st:get(k) or '', names } do
		for n in text:gmatch('[^%z]+') do
			if #list >= FLY_MAX then break end
			if not have[n] then have[n] = true; list[#list + 1] = n end
		end
	end
	local ok, err = st:put(k, table.concat(list, '\0'))
	if not ok then error(err, 0) end
end

-- Commits what was recorded since the last commit, in one transaction.
-- A failed commit is logged (once) and dropped: its index updates are lost
-- with its pending entries, which the next start-up walk sees again.
function state.commit()
	if not st or #ops == 0 then return end
	local batch = ops
	ops, seen, firstOp = {}, {}, nil
	local g = gen + 1
	local ok, err = st:begin()
	if ok then
		ok, err = pcall(function()
			local covered = {}
			for _, op in ipairs(batch) do
				if op.fly then
					if op.merge then
						mergeNames(op.fly, op.merge)
					elseif op.names then
						local put, perr = st:put(op.fly, op.names)
						if not put then error(perr, 0) end
					else
						st:del(op.fly)
					end
				elseif op.clear then
					local r = op.clear
					if op.establish then
						st:delPrefix(r.pend, op.gen)
						st:put(r.meta, r.hash)
					else
						clearPending(r, op.rel, op.gen, op.below)
					end
				else
					if op.etype == 'Move' then covered = {} end
					applyEvent(op.src, op, g, covered)
				end
			end
			st:put('g', tostring(g))
		end)
		if ok then
			ok, err = st:commit()
		else
			st:abort()
		end
	end
	if ok then
		gen = g
		writeFailed = false
	else
		if not writeFailed then
			writeFailed = true
			log('Error', 'state: cannot write to the state store (', tostring(err), '); the changes',
				' of this moment are found again by the next start-up walk')
		end
		-- a spilling sync had those changes only in the store: send all
		for _, r in pairs(tracked) do
			if r.spilled then
				r.spilled = false
				r.sync:push('Init', '', nil, core.now())
			end
		end
	end
end

-- child record (lua/procs.lua) -> the generation committed when it was
-- spawned (weak: a record procs forgot goes)
local spawnGen = setmetatable({}, { __mode = 'k' })

-- ---- transfers in flight (lua/tempsweep.lua) ----
-- Each rsync of a list that sends files has a record under r.fly: the
-- names of the files it sends (at most FLY_MAX), committed before the
-- fork and deleted when it ended with an exit code. A record a start finds
-- is of a transfer the daemon did not see end (killed with it): the
-- slave may hold rsync's temporary files of those names, which the start
-- sweeps before the sync's queue runs. A transfer that failed (not 23 or
-- 24: the slave's rsync may have been killed or cut off in the middle of a
-- file) leaves its names in the sync's record '/failed' (at most FLY_MAX
-- in all), swept at the next start too.
local flyKey = setmetatable({}, { __mode = 'k' })   -- child record -> { key =, names = }
local flySeq = 0
local nextFly                                        -- the key spawning wrote, for spawned

-- The files a list transfer of delays sends (paths as queued), or nil.
local function filesOf(agent, delays)
	local events = require 'events'
	local _, _, isList = events.resolve(agent)
	local data = events.dataOf(agent)
	if not isList or (data and data.moves) then return nil end
	local names = {}
	for _, d in ipairs(delays) do
		if #names >= FLY_MAX then break end
		if not d.isdir and d.etype ~= 'Delete' and d.etype ~= 'Init' then
			local p = d.etype == 'Move' and d.path2 or d.path
			if p and p ~= '' then names[#names + 1] = p end
		end
	end
	return #names > 0 and names or nil
end

-- A transfer of sync s is about to be spawned (procs.spawn, before the
-- fork, while its delays are still queued): what is recorded is committed
-- first, so the transfer carries everything committed, and a new
-- directory whose Create it sends is still queued when the commit asks
-- (addPending: what it holds needs no entries of its own). The commit
-- holds the transfer's record of files in flight.
function state.spawning(s, agent, delays)
	local r = st and tracked[s]
	if not r then return end
	local names = filesOf(agent, delays)
	if names then
		flySeq = flySeq + 1
		nextFly = { key = core.storeKey(r.fly, '/' .. (gen + 1) .. '.' .. flySeq),
			names = table.concat(names, '\0') }
		ops[#ops + 1] = { fly = nextFly.key, names = nextFly.names }
	end
	state.commit()
end

-- The transfer was spawned (state.spawning committed just before): it
-- carries what was committed.
function state.spawned(p)
	if not st or not tracked[p.sync] then return end
	spawnGen[p] = gen
	flyKey[p], nextFly = nextFly, nil
end

-- Sync r's state is valid from now on (not a second later): its startup
-- transfer, spawned at generation g, sent all.
local function establish(r, g)
	r.awaiting, r.initGen = nil, nil
	ops[#ops + 1] = { clear = r, establish = true, gen = g }
	state.commit()
	if not r.valid then
		r.valid = true
		log('Normal', r.sync.name, ': startup transfer done; state kept from now on')
	end
end

-- A startup transfer that ended in rsync exit 23 sent all but the paths
-- rsync named (exits.partial parks them, each retried on its own, and
-- hands them here). The state waits for them: valid once each was sent by a transfer
-- that succeeded, never before (a restart meanwhile gets the full
-- transfer again).
local function awaitParked(r, g, parked)
	local n = 0
	r.awaiting, r.initGen = {}, g
	for _, rel in ipairs(parked) do
		if not r.awaiting[bare(rel)] then n = n + 1 end
		r.awaiting[bare(rel)] = true
	end
	log('Normal', r.sync.name, ': startup transfer done except ', n, ' path(s); state kept once',
		' they are sent')
end

-- Paths a successful list transfer sent leave r.awaiting (below: a
-- directory sent with all it holds); none left: the state is valid.
local function arrived(r, rel, below)
	local w = r.awaiting
	local b = bare(rel)
	w[b] = nil
	if below then
		for k in pairs(w) do
			if k:sub(1, #b + 1) == b .. '/' then w[k] = nil end
		end
	end
end

-- A transfer of sync s ended (runner.collect): on success its paths leave
-- the pending set (up to the generation it was spawned at); a successful
-- startup transfer makes the sync's state valid (one that ended in exit 23:
-- once what failed of it was sent).
function state.collected(s, p, code, signo, parked)
	local r, g = tracked[s], spawnGen[p]
	spawnGen[p] = nil
	if not r or not g or (signo and signo ~= 0) then return end
	-- it ended: rsync cleaned up after itself (a record of a transfer
	-- killed by a signal stays for the next start)
	local f = flyKey[p]
	if f then
		flyKey[p] = nil
		ops[#ops + 1] = { fly = f.key }
		if code ~= 0 and code ~= 23 and code ~= 24 then
			ops[#ops + 1] = { fly = core.storeKey(r.fly, '/failed'), merge = f.names }
		end
		if code ~= 0 and code ~= 24 then state.commit() end
	end
	local first = p.delays[1]
	local init = first and first.etype == 'Init'
	if init and code == 23 and parked and #parked > 0 and not r.valid then
		return awaitParked(r, g, parked)
	end
	if code ~= 0 and code ~= 24 then return end
	if init then return establish(r, g) end
	-- only an rsync of a list reads the source as it is when it runs; a
	-- command that replays an event (ssh mv, ssh rm) does not: a change
	-- recorded before it was spawned may not be in what it did
	local events = require 'events'
	local _, _, isList = events.resolve(p.agent)
	local data = events.dataOf(p.agent)
	if not isList or (data and data.moves) then return end
	local recursive = s:sendsNewDirsWhole()
	for _, d in ipairs(p.delays) do
		if d.path and d.path ~= '' then
			local below = recursive and d.etype == 'Create' and d.isdir
			ops[#ops + 1] = { clear = r, rel = d.path, gen = g, below = below }
			if r.awaiting then arrived(r, d.path, below) end
		end
		if d.path2 then
			ops[#ops + 1] = { clear = r, rel = d.path2, gen = g }
			if r.awaiting then arrived(r, d.path2) end
		end
	end
	if r.awaiting and next(r.awaiting) == nil then return establish(r, r.initGen) end
	-- at once (one commit per transfer): left to the next cycle's commit
	-- they wait for the next event, and a stop before it would have the
	-- next start send them all again
	state.commit()
end

-- Opens the store file path; a damaged one is logged, removed and made anew.
local function open(path)
	local s, err, damaged = core.storeOpen(path)
	if s then return s end
	if damaged then
		log('Error', 'state: ', path, ' is damaged (', tostring(err), '); it is made anew and every',
			' slave gets the full startup transfer')
		os.remove(path)
		os.remove(path .. '-lock')
		s, err = core.storeOpen(path)
		if s then return s, true end
	end
	log('Error', 'state: cannot open ', path, ' (', tostring(err), '); full startup transfers,',
		' no state kept')
	return nil
end

-- Tracks sync sy: its record (id from source, host and target, unique
-- among ids; its pending set's prefix and its mark's key) in tracked and in
-- its source's record (taken from spare, the records of sources let go in
-- this reload, or made: fresh = true). Returns r, fresh.
local function track(sy, ids, spare)
	local cfg = sy:getConfig()
	local ident = sy.source .. '\0' .. tostring(cfg.host or '') .. '\0'
		.. tostring(cfg.target or cfg.targetdir or '')
	local id = core.storeHash(ident)
	while ids[id] do id = core.storeHash(id) end
	ids[id] = true
	local r = { sync = sy, id = id, pend = 'p' .. id .. ':', meta = 'm' .. id, fly = 't' .. id .. ':',
		hash = definition.hash(cfg) }
	tracked[sy] = r
	local src, fresh = sources[sy.source] or (spare and spare[sy.source]), false
	if spare then spare[sy.source] = nil end
	if src then
		sources[sy.source], sourceList = src, nil
	else
		local root = sy.source:gsub('/$', '')
		src = { root = root, pfx = root .. '/', pfxLen = #root + 1,
			ipfx = 'i' .. core.storeHash(sy.source) .. ':', list = {} }
		sources[sy.source], sourceList = src, nil
		fresh = true
	end
	src.list[#src.list + 1] = r
	return r, fresh
end

-- Stops tracking sync sy: its record goes; returns it and, when no
-- tracked sync uses its source any more, the source's record.
local function forget(sy)
	local r = tracked[sy]
	if not r then return end
	tracked[sy] = nil
	local src = sources[sy.source]
	for i, x in ipairs(src and src.list or {}) do
		if x == r then table.remove(src.list, i); break end
	end
	if src and #src.list == 0 then
		sources[sy.source], sourceList = nil, nil
		return r, src
	end
	return r
end

-- Stops tracking sync sy (removed by a HUP): its pending set and mark go
-- too; a source no tracked sync uses any more goes into spare.
local function untrack(sy, spare)
	local r, src = forget(sy)
	if not r then return end
	st:delPrefix(r.pend)
	st:delPrefix(r.fly)
	st:del(r.meta)
	if src then spare[sy.source] = src end
end

-- Index entries of sources no sync of the config has any more (a sync
-- removed, or its source changed): deleted. The index prefixes in the
-- store are found by seeking from one to the next ('i' + 16 hex + ':').
local function dropOrphanIndexes()
	local used = {}
	for _, src in pairs(sources) do used[src.ipfx] = true end
	local after
	while true do
		local t = st:list('i', after, 1)
		local rel = next(t)
		if not rel then break end
		local ipfx = 'i' .. rel:sub(1, 17)
		if not used[ipfx] then
			local n = st:delPrefix(ipfx)
			log('Normal', 'state: index of a source no sync has any more dropped (', n, ' entries)')
		end
		after = ipfx:sub(1, -2) .. ';'             -- past every key of that prefix
	end
end

-- A HUP (startup.reloadConfig): made lists the syncs the new config added
-- or changed, removed those it dropped (a changed one is in both). The
-- removed are no longer tracked (untrack). The made ones that can keep
-- state are tracked like a sync at start whose state is not valid: their
-- full startup transfer (queued by the caller) makes it valid, and events
-- from now on are indexed and pending for them. A source new to this run
-- is walked first, so that its index is current (else the next start
-- would find every path changed). What is recorded is committed first: no
-- batched event refers to a source that goes.
function state.reload(made, removed)
	if not st then return end
	state.commit()
	local ok, err = st:begin()
	local added = {}
	if ok then
		ok, err = pcall(function()
			local spare = {}
			for _, sy in ipairs(removed) do untrack(sy, spare) end
			local ids = {}
			for _, r in pairs(tracked) do ids[r.id] = true end
			for _, sy in ipairs(made) do
				if trackable(sy) then
					local r, fresh = track(sy, ids, spare)
					added[#added + 1] = sy
					r.why = 'added or changed by a HUP'
					st:delPrefix(r.pend)
					st:del(r.meta)
					if fresh then
						local src = sources[sy.source]
						local n, e = st:scan(src.ipfx, #src.ipfx, src.root, false)
						if not n then error(e, 0) end
					end
				end
			end
			-- sources no tracked sync uses any more: their index goes
			for _, src in pairs(spare) do
				local n = st:delPrefix(src.ipfx)
				log('Normal', 'state: index of ', src.root, ' dropped (', n, ' entries): no sync uses it')
			end
		end)
		if ok then ok, err = st:commit() else st:abort() end
	end
	if not ok then
		log('Error', 'state: cannot write to the state store at the reload (', tostring(err), ');',
			' the syncs it added keep no state until the next start')
		for _, sy in ipairs(added) do forget(sy) end
		return
	end
	for _, sy in ipairs(added) do
		log('Normal', sy.name, ': full startup transfer (', tracked[sy].why, '); state kept after it')
	end
end

-- Queues r's pending set (list: rel -> value) for its sync. types (rel ->
-- the lstat type or false, optional) holds what was looked at for another
-- sync of the same source at this moment: each path is looked at once.
local function queuePending(r, list, now, types)
	local s, n = r.sync, 0
	local rels, dirs = {}, {}
	for rel in pairs(list) do rels[#rels + 1] = rel end
	table.sort(rels)
	-- below a directory sent with all it holds nothing more is queued
	local covers = s:sendsNewDirsWhole()
	local anyDir = false       -- covered() has a directory to find
	local function covered(rel)
		local p = rel:match('^(.*)/[^/]*$')
		while p and p ~= '' do
			if dirs[p] then return true end
			p = p:match('^(.*)/[^/]*$')
		end
		return false
	end
	types = types or {}
	for _, rel in ipairs(rels) do
		local v = list[rel]
		local t = types[rel]
		if t == nil then
			local st1 = core.lstat(s.source .. rel:sub(2))
			t = st1 and st1.type or false
			types[rel] = t
		end
		local etype, path
		if t then
			local dir = t == 'directory'
			-- a flat directory ('a') is its own entry only: an Attrib (the
			-- rsync layers send it without what it holds)
			etype = dir and (v:sub(-1) == 'a' and 'Attrib' or 'Create') or 'Modify'
			path = rel .. (dir and '/' or '')
		else
			etype, path = 'Delete', rel .. (v:sub(-1) ~= 'f' and '/' or '')
		end
		if s:concerns(path) and not (anyDir and covered(rel)) then
			if covers and etype == 'Create' then dirs[rel], anyDir = true, true end
			s:pushDue(etype, path, now)
			if etype == 'Create' and s:needsScan() then s:scanCreates(path, now) end
			n = n + 1
		end
	end
	return n
end

-- Sweeps the slave of r for what the transfers of records (rel -> names,
-- '\0'-joined) may have left (lua/tempsweep.lua); once that is done, the
-- records go.
local function sweep(r, records)
	local names = {}
	for _, v in pairs(records) do
		for n in v:gmatch('[^%z]+') do names[#names + 1] = n end
	end
	if #names == 0 then return end
	require('tempsweep').start(r.sync, names, function()
		if not st then return end
		for rel in pairs(records) do ops[#ops + 1] = { fly = core.storeKey(r.fly, rel) } end
		state.commit()
	end)
end

-- Start-up (replaces each sync's startup transfer where the state allows),
-- in two parts around the watches (lua/startup.lua): state.open opens the
-- store and checks each sync's state; then the watches, each tree's walk
-- done with them where it can (state.walker); then state.startup walks
-- what is left once every watch is in place and queues either the pending
-- set or the full transfer (Init).
local boot                -- between state.open and state.startup: { g =, full = }

-- Part 1, before the watches: opens the store, checks each sync's state.
function state.open(syncs, configPath)
	local settings = config.settings
	local given = { settings.startup or false }
	for _, sy in ipairs(syncs) do given[#given + 1] = sy:getConfig().startup or false end
	for _, val in ipairs(given) do
		if val and val ~= 'full' and val ~= 'changed' then
			core.log('Error', 'startup = "' .. tostring(val) .. '" is not known (use "full" or'
				.. ' "changed", the default)')
			core.terminate(255)
		end
	end
	boot = { full = true }
	local dir = settings.stateDir or state.DEFAULT_DIR
	local function full(reason)
		if reason then log('Normal', 'state: ', reason, '; full startup transfers') end
	end
	local want = {}
	for _, s in ipairs(syncs) do
		if trackable(s) then want[#want + 1] = s end
	end
	if #want == 0 then return full() end
	local dst = core.lstat(dir)
	if not dst then
		if not settings.stateDir then return full('no state dir ' .. dir) end
		local ok, err = core.mkdir(dir, 448)
		if not ok then return full('cannot make the state dir ' .. dir .. ' (' .. tostring(err) .. ')') end
	elseif dst.type ~= 'directory' then
		return full('state dir ' .. dir .. ' is not a directory')
	end
	local path = dir:gsub('/$', '') .. '/state-' .. core.storeHash(configPath or 'command line'):sub(1, 12)
		.. '.mdb'
	local s, remade = open(path)
	if not s then return full() end
	st = s
	assert(st:begin())
	gen = tonumber(st:get('g') or '') or 0
	boot = { g = gen + 1 }
	local ids, keep = {}, {}
	for _, sy in ipairs(syncs) do
		if not tracked[sy] and trackable(sy) then
			local r = track(sy, ids)
			keep[r.meta] = true
			local had = st:get(r.meta)
			r.valid = had == r.hash and not settings.fullsync and not remade
			r.why = remade and 'state file made anew' or settings.fullsync and '-fullsync'
				or not had and 'no state yet' or had ~= r.hash and 'its definition changed' or nil
			if not r.valid then
				st:delPrefix(r.pend)
				st:del(r.meta)
			end
		end
	end
	-- syncs no longer in the config: their state goes
	for k in pairs(st:list('m')) do
		if not keep['m' .. k] then
			st:del('m' .. k)
			st:delPrefix('p' .. k .. ':')
			st:delPrefix('t' .. k .. ':')
		end
	end
	dropOrphanIndexes()
end

-- Does source record src have a sync whose state is valid?
local function anyValid(src)
	for _, r in ipairs(src.list) do if r.valid then return true end end
	return false
end

-- The walk of source record src: the index follows the tree; with watch,
-- every directory is watched before it is read. Kept in src.walked
-- ({ n =, list =, secs = }), or src.walkErr.
local function walk(src, watch)
	local t0 = core.now()
	local n, list, nospace, rooterr = st:scan(src.ipfx, #src.ipfx, src.root, anyValid(src), watch)
	if not n then
		src.walkErr = list
		return nil
	end
	src.walked = { n = n, list = list, secs = core.now() - t0, watched = watch }
	return true, nospace, rooterr
end

-- The start-up walk of the tree root (no trailing '/'), done with its
-- watches (lua/watchtree.lua calls it when every directory below root is
-- wanted), or nil when root is no tracked source. The function returns
-- true, the count of directories the watch limit left unwatched and the
-- errno of root's own watch if it failed; nil when the store failed.
function state.walker(root)
	local src = st and boot and not boot.full and sources[root .. '/']
	if not src or src.walked or src.walkErr then return nil end
	return function() return walk(src, true) end
end

-- Part 2, every watch in place: walks each source not walked yet (one walk
-- per source: what differs is pending for every valid sync of that
-- source) and queues the pending sets or the full transfers.
function state.startup(syncs, now)
	local b = boot or { full = true }
	boot = nil
	local function full()
		for _, s in ipairs(syncs) do s:addInit(now) end
	end
	if b.full then return full() end
	local g = b.g
	for _, src in pairs(sources) do
		if not src.walked and not src.walkErr then walk(src, false) end
		if src.walkErr then
			st:abort()
			st = nil
			log('Error', 'state: start-up walk of ', src.root, ' failed (', tostring(src.walkErr), ')')
			return full()
		end
		local w, all = src.walked, src.list
		src.walked = nil
		src.list = {}
		for _, r in ipairs(all) do if r.valid then src.list[#src.list + 1] = r end end
		-- a directory changed in place is pending flat: what changed in
		-- it is reported on its own (new entries, vanished ones as gone)
		for _, c in ipairs(w.list) do
			local how, dir = c:sub(1, 1), c:sub(-1) == '/'
			addPending(src, c:sub(2), not dir and 'f' or how == '~' and 'a' or how == '-' and 'x' or 'd', g)
		end
		src.list = all
		src.changed = w.list
		log('Normal', 'state: walked ', src.root, w.watched and ' (and watched it)' or '', ' in ',
			string.format('%.2f', w.secs), ' s: ', w.n, ' entr', w.n == 1 and 'y' or 'ies',
			' changed since the index was written')
	end
	st:put('g', tostring(g))
	local pending, flying = {}, {}
	for _, r in pairs(tracked) do
		flying[r] = st:list(r.fly)
		if r.valid then
			-- at most a queue's share of memory; the rest follows in pages
			local last
			pending[r], last = st:list(r.pend, nil, capOf())
			if last then r.spilled, r.after, r.peak = true, last, 0 end
		end
	end
	-- paths too long for a key have no pending entry: queued from the walk
	for _, src in pairs(sources) do
		for _, c in ipairs(src.changed or {}) do
			local rel, isdir = bare(c:sub(2)), c:sub(-1) == '/'
			for _, r in ipairs(src.list) do
				if pending[r] and #pendKey(r, rel) > MAX_KEY then
					pending[r][rel] = g .. ':' .. (isdir and 'd' or 'f')
				end
			end
		end
		src.changed = nil
	end
	local ok, err = st:commit()
	if not ok then
		st = nil
		log('Error', 'state: cannot write the state store (', tostring(err), ')')
		tracked, sources, sourceList = {}, {}, nil
		return full()
	end
	gen = g
	local types = {}          -- source -> what queuePending looked at
	for _, sy in ipairs(syncs) do
		local r = tracked[sy]
		if r then sweep(r, flying[r]) end
		if r and r.valid then
			types[sy.source] = types[sy.source] or {}
			local n = queuePending(r, pending[r], now, types[sy.source])
			-- like the startup transfer it stands for, it does not wait the delay
			sy:hurry(now)
			sy:startupDone()
			log('Normal', sy.name, ': state is valid: ', n, ' path(s) queued instead of the full',
				' startup transfer', r.spilled and ' (more follow from the state store)' or '')
		else
			if r then log('Normal', sy.name, ': full startup transfer (', r.why or '?', ')') end
			sy:addInit(now)
		end
	end
end

-- ---- bounded queues (settings maxQueueMemory) ----
-- A tracked sync whose queue reaches its share of memory stops queueing
-- new events in RAM: they are in its pending set already (committed at the
-- start of each cycle, before anything is spawned). Once the queue has
-- drained to half, pages of the pending set are queued again, in key order
-- and round again from the start, until one page from the start holds all
-- that is left: then events go to RAM again. Nothing is dropped: a page
-- queues every entry, also paths that are queued already (the queue merges
-- them), and a failed commit turns the spill into a full transfer.

-- May an event be queued in RAM for sync s (runner.inotifyEvent)? False
-- while s spills to the store.
function state.admit(s)
	local r = tracked[s]
	if not r or not st then return true end
	if r.spilled then return false end
	local n = s:queueSize()
	if n < capOf() then return true end
	r.spilled, r.after, r.peak = true, nil, n
	log('Normal', s.name, ': ', n, ' paths queued (maxQueueMemory): further changes',
		' wait in the state store')
	return false
end

-- Queues the next page of a spilling sync's pending set once its queue
-- drained to half. Pages follow until one queued something (its transfer
-- brings the next cycle; nothing else would wake the loop) or a page from
-- the start held all that is left (then events go to RAM again).
local function refill(r, now)
	local s, cap = r.sync, capOf()
	if s:queueSize() > cap / 2 then return end
	if not st:begin() then return end
	local n, wraps = 0, 0
	while n == 0 and wraps < 2 do
		local from = r.after
		local list, last = st:list(r.pend, from and core.storeKey(r.pend, from),
			math.max(1, cap - s:queueSize()))
		n = n + queuePending(r, list, now)
		if s:queueSize() > (r.peak or 0) then r.peak = s:queueSize() end
		if last then
			r.after = last
		elseif from then
			r.after, wraps = nil, wraps + 1     -- round again from the start
		else
			r.spilled = false
			log('Normal', s.name, ': queue back in memory (', n, ' paths from the state store;',
				' at most ', r.peak, ' queued at once)')
			break
		end
	end
	st:abort()
end

-- Once per cycle, before anything is spawned: commit, then refill.
-- Commits are due before a spawn (state.spawned), before a refill reads
-- the pending set (a spilling sync's events are only there), and here
-- once the batch is a second old or large: not every cycle, which in a
-- burst would be an fdatasync per read of inotify (also while a sync
-- spills). An uncommitted batch lost in a kill is seen by the start-up
-- walk like any change the daemon did not record.
function state.cycle(now)
	if not st then return end
	local spilling, refilling = false, false
	for _, r in pairs(tracked) do
		if r.spilled then
			spilling = true
			if r.sync:queueSize() <= capOf() / 2 then refilling = true end
		end
	end
	require('tempsweep').cycle(now)
	if #ops > 0 then firstOp = firstOp or now end
	if #ops > 0 and (refilling or #ops >= 10000 or now - firstOp >= 1) then state.commit() end
	if not spilling then return end
	for _, r in pairs(tracked) do
		if r.spilled then refill(r, now) end
	end
end

-- When the next commit is due: what was recorded waits at most a second,
-- also when no further event comes (nil: nothing waits).
function state.nextAlarm()
	local sw = require('tempsweep').nextAlarm()
	if not st or #ops == 0 then return sw end
	local t = (firstOp or core.now()) + 1
	return (sw and sw < t) and sw or t
end

-- For tests and the status: is sync s's state valid?
function state.valid(s)
	local r = tracked[s]
	return r and r.valid or false
end

return state
