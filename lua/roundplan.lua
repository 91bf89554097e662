-- roundplan.lua: what one round of a layer that moves on the slave sends:
-- the renames worth doing there (one ssh command) and everything else (one
-- rsync), chosen so that running the moves first and the rsync second
-- gives the slave the tree the queue describes. Pure: no I/O.
--
-- Why that order is right: the queue splits a rename into Delete + Create
-- when either end touches anything queued before it, so every event older
-- than a queued Move is unrelated to it; events younger than it on its
-- paths (a rewrite of the moved file, a new file at its origin, a delete of
-- its parent) wait for it in the queue, and the rsync after the moves
-- sends them. The only older events a Move may wait for are earlier Moves
-- (a chain a -> b, b -> c): a Move goes to the slave only together with
-- every Move it waits for, so the script keeps the chain's order.
--
-- Where a move is not worth its own command (no other move goes to the
-- slave this round and the rename is a small file while an rsync runs
-- anyway), it travels in the rsync's list as lsyncd sends it: the origin
-- deleted, the destination sent.

local Delays = require 'delays'

local M = {}

local function notIn(b, set) return not set[b] end
local function isIn(b, set) return set[b] end

-- Default size from which a renamed file is moved on the slave even when
-- it is the only rename of the round (below it rsync sends it again).
M.MIN_SIZE = 256 * 1024

-- The bytes one move adds to the slave's script (see default_rsync).
local function scriptCost(d) return #d.path + #d.path2 + 24 end

-- plan(list, opts) -> moves, content, left
--   list: the round's delays in queue order (Delays:collect's result).
--   opts.sizeOf(d): the size of a Move's destination in the source now, or
--     nil when it is gone or a directory (then the move cannot be judged by
--     size: a directory always moves on the slave).
--   opts.minSize: see MIN_SIZE. opts.keepOrigins: the sync does not delete
--     on the slave while running (delete = false / 'startup'): a rename
--     sent by rsync would leave its origin behind, so every rename moves.
--   opts.maxBytes: the script's size limit; moves beyond it and whatever
--     waits for them stay for the next round (left).
-- hold: no move goes this round (the slave just ran some): the moves that
-- would, and whatever waits for them, are left.
-- moves: the Moves for the slave's script, in queue order; content: the
-- rest for one rsync; left: delays of list in neither (the next round's).
function M.plan(list, opts, hold)
	local minSize = opts.minSize or M.MIN_SIZE
	local maxBytes = opts.maxBytes or math.huge
	local movable, candidates = {}, {}
	local worth, others = false, false
	for _, d in ipairs(list) do
		local ok = d.etype == 'Move' and not Delays.blockerWhere(d, notIn, movable)
		if ok then
			movable[d] = true
			candidates[#candidates + 1] = d
			if not worth then
				if d.isdir or opts.keepOrigins then
					worth = true
				else
					local size = opts.sizeOf and opts.sizeOf(d)
					if size == nil or size >= minSize then worth = true end
				end
			end
		else
			others = true
		end
	end
	local moves, content, left = {}, {}, {}
	-- no rename, or only small ones while an rsync runs anyway: all in it
	if #candidates == 0 or (others and not worth) then
		for i, d in ipairs(list) do content[i] = d end
		return moves, content, left
	end
	-- every movable rename goes to the slave (the script is paid for once),
	-- up to the byte limit; what does not fit waits, with its dependents
	local bytes, held = 0, {}
	for _, d in ipairs(list) do
		-- (a delay of the round is not removed: held holds none)
		local wait = Delays.blockerWhere(d, isIn, held) ~= nil
		if not wait and movable[d] then
			local cost = scriptCost(d)
			if hold or (#moves > 0 and bytes + cost > maxBytes) then
				wait = true
			else
				bytes = bytes + cost
				moves[#moves + 1] = d
			end
		end
		if wait then
			held[d] = true
			left[#left + 1] = d
		elseif not movable[d] then
			content[#content + 1] = d
		end
	end
	return moves, content, left
end

-- The next command of a round: 'moves', list (one ssh) or 'rsync', list,
-- or nil when nothing is ready. After a command of moves (movedLast) the
-- next one is the rsync of what does not wait for further moves, so
-- renames that keep arriving cannot starve the other changes.
function M.step(list, opts, movedLast)
	if #list == 0 then return nil end
	local moves, content = M.plan(list, opts)
	if #moves > 0 and movedLast then
		local _, rest = M.plan(list, opts, true)
		if #rest > 0 then return 'rsync', rest end
	end
	if #moves > 0 then return 'moves', moves end
	if #content > 0 then return 'rsync', content end
	return nil
end

return M
