-- deadline.lua: the time limit of children (settings{ childTimeout = s },
-- default 3600, 0 or false: none). A child spawned for events that outlives
-- it (a copy stuck on a FIFO, an rsync that neither moves data nor exits)
-- is ended, TERM and 5 s later KILL; the runner then counts it as failed
-- and retries its paths with back-off, like any failed transfer. Startup
-- and full transfers have no limit here (they may rightly take hours;
-- rsync's --timeout watches their I/O).

local M = {}

local DEFAULT = 3600
local GRACE = 5

local due = {}          -- pid -> { at = time, termed = bool }

-- The limit in seconds, or nil for none.
function M.limit(settings)
	local t = settings.childTimeout
	if t == nil then t = DEFAULT end
	if not t or t <= 0 then return nil end
	return t
end

-- A child was spawned at now; limit nil: none.
function M.started(pid, now, limit)
	if limit then due[pid] = { at = now + limit } end
end

-- A child ended.
function M.ended(pid)
	due[pid] = nil
end

-- Ends the children whose time is up; log(cat, ...) says so once each.
function M.tick(now, log)
	for pid, d in pairs(due) do
		if now >= d.at then
			if not d.termed then
				log('Error', 'child ', pid, ' outlived childTimeout; ending it (its paths are retried)')
				core.kill(pid, 15)
				d.termed = true
			else
				core.kill(pid, 9)
			end
			d.at = now + GRACE
		end
	end
end

-- The earliest time tick has something to do, or nil.
function M.nextAlarm()
	local best
	for _, d in pairs(due) do
		if not best or d.at < best then best = d.at end
	end
	return best
end

return M
