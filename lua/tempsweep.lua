-- tempsweep.lua: removes the temporary files an interrupted rsync may leave
-- on a slave, before a restart sends those files again.
--
-- rsync's receiver writes a file to '.NAME.XXXXXX' next to it and renames
-- it when complete. Interrupted, it normally deletes that file, but not
-- between the end of the data and the rename (its cleanup forgets the name
-- first): a daemon killed then (kill -9, power loss, its slave's link cut)
-- leaves '.NAME.XXXXXX' on the slave. lsyncd's full startup transfer
-- deletes such files; a restart from the state store does not run one, so
-- lua/state.lua keeps, per transfer, the names of the files it sends
-- (committed before the fork, dropped when it ended) and hands the names
-- of transfers that never ended to start() here.
--
-- The sweep is one rsync per sync, run before anything else of that sync
-- (it is held meanwhile):
--   rsync COMPUTED -r --delete --from0 --filter='. -' SOURCE TARGET
-- reading filter rules from stdin:
--   R /a/.NAME.??????   receiver side only: such a file may be deleted
--   + /a/               the directories down to each name
--   - *                 nothing else is sent, nothing else deleted
-- The sender sends directories only, so the receiver deletes just the
-- names that match an R rule. A name whose pattern matches an entry the
-- source holds is left out (its rule would delete that entry's copy).
-- Only syncs whose transfers may delete (delete ~= false) are swept.

local sshmux = require 'sshmux'
local rsyncopts = require 'rsyncopts'
local log = require('log').log

local M = {}

local pending = {}        -- sync -> { rules =, done =, tries =, at = }
local running = {}        -- pid -> sync
-- seconds between tries of a sweep that could not reach its slave (a
-- slave reached through an ssh master is tried as soon as it is back)
local retries = { 2, 5, 10 }

-- rsync names its temporary file '.' .. NAME .. '.XXXXXX', NAME cut to 246
-- bytes (rsync's receiver.c: NAME_MAX - 8, less its '\0'; a cut name may
-- lose a few more bytes of a split UTF-8 character).
local MAX_NAME = 246

-- What of directory path's entries looks like rsync's temporary file of
-- some name: the set of NAMEs of the '.NAME.XXXXXX', and the list of the
-- entries long enough to be that of a cut name; nil when path cannot be
-- read. One pass over the entries, whatever the count of names asked.
local function tempsIn(path)
	local entries = core.readdir(path)
	if not entries then return nil end
	local short, long = {}, {}
	for e in pairs(entries) do
		if e:byte(1) == 46 then                          -- '.'
			if #e >= 9 and e:byte(-7) == 46 then short[e:sub(2, -8)] = true end
			if #e > MAX_NAME - 8 then long[#long + 1] = e end
		end
	end
	return { short = short, long = long }
end

-- Does directory listing t (tempsIn) hold an entry of base's temporary form?
local function holds(t, base)
	if #base <= MAX_NAME then return t.short[base] == true end
	local p = '.' .. base:sub(1, MAX_NAME - 8)
	for _, e in ipairs(t.long) do
		if e:sub(1, #p) == p then return true end
	end
	return false
end

-- The filter rules of a sweep of the files names ({ '/a/f', ... }, paths
-- relative to source, which ends in '/'): R rules first, then each
-- directory above a name once, parents first (rsyncopts.includeList), then
-- '- *'. Nil when no name needs one (every directory gone, or every
-- pattern matched by the source).
function M.rules(source, names)
	local risk, dirs, listed, seenName, ruled = {}, {}, {}, {}, {}
	for _, rel in ipairs(names) do
		local dir, base = rel:match('^(.*)/([^/]+)$')
		if dir and not seenName[rel] then
			seenName[rel] = true
			local t = listed[dir]
			if t == nil then
				t = tempsIn(source .. dir:sub(2)) or false
				listed[dir] = t
			end
			if t and not holds(t, base) then
				local pat = #base > MAX_NAME and (rsyncopts.escapeWild(base:sub(1, MAX_NAME - 8)) .. '*')
					or (rsyncopts.escapeWild(base) .. '.??????')
				risk[#risk + 1] = 'R ' .. rsyncopts.escapeWild(dir) .. '/.' .. pat
				if dir ~= '' and not ruled[dir] then
					ruled[dir] = true
					dirs[#dirs + 1] = { path = dir .. '/', isdir = true }
				end
			end
		end
	end
	if #risk == 0 then return nil end
	for _, d in ipairs(rsyncopts.includeList(dirs)) do risk[#risk + 1] = '+ ' .. d end
	risk[#risk + 1] = '- *'
	return risk
end

-- The argv of a sweep for sync s: its rsync options without those that
-- would widen what is deleted (--delete-excluded) or sent (-m could prune
-- the directories the rules name), then the sweep's own.
local function argvOf(s)
	local cfg = s:getConfig()
	local argv = { cfg.rsync.binary }
	for _, a in ipairs(cfg.rsync._computed or {}) do
		if a:match('^%-%a+$') then a = a:gsub('m', '') end
		if a ~= '-' and a ~= '--delete-excluded' and a ~= '--prune-empty-dirs' then
			argv[#argv + 1] = a
		end
	end
	for _, a in ipairs { '-r', '--delete', '--from0', '--filter=. -', s.source, cfg.target } do
		argv[#argv + 1] = a
	end
	return argv
end

-- Sweeps sync s's slave for the temporary files of names before its queue
-- runs, holding s until then; done() is called once nothing is left to do
-- for those names (swept, or no sweep applies), not when s was removed.
function M.start(s, names, done)
	local cfg = s:getConfig()
	if cfg.delete == false or not cfg.target or not cfg.rsync then return done() end
	local rules = M.rules(s.source, names)
	if not rules then return done() end
	pending[s] = { rules = rules, done = done, tries = 0, at = 0, n = #names }
	s:hold(true)
end

local function spawn(s, w, now)
	local argv = argvOf(s)
	local pid, err = core.spawn(argv, table.concat(w.rules, '\0'), {})
	w.tries = w.tries + 1
	if not pid then
		log('Error', s.name, ': cannot start the sweep of rsync\'s temporary files (', tostring(err), ')')
		w.at = now + retries[math.min(w.tries, #retries)]
		return
	end
	w.pid, w.lines = pid, {}
	running[pid] = s
end

-- Starts the sweeps that are due (their ssh master up).
function M.cycle(now)
	for s, w in pairs(pending) do
		if s:isRemoved() then
			pending[s] = nil
			s:hold(false)
		elseif not w.pid and now >= w.at then
			-- its ssh master still logging in: looked at again shortly
			if sshmux.ready(s:master(), now) then spawn(s, w, now) else w.at = now + 0.05 end
		end
	end
end

-- Ssh master m came back after failures: the sweeps waiting for it run now.
function M.linkBack(m, now)
	for s, w in pairs(pending) do
		if not w.pid and s:master() == m then w.at = now end
	end
end

-- When the next sweep is due (nil: none waits).
function M.nextAlarm()
	local best
	for _, w in pairs(pending) do
		if not w.pid and (not best or w.at < best) then best = w.at end
	end
	return best
end

-- A line of a sweep's output: kept for its log line. True when pid is a sweep.
function M.output(pid, line)
	local s = running[pid]
	if not s then return false end
	local w = pending[s]
	if w and #w.lines < 5 then w.lines[#w.lines + 1] = line end
	return true
end

-- rsync's exit codes of a slave it could not reach or lost (ssh's 255):
-- the sweep is tried again, the sync held (its transfers could not run
-- either).
local UNREACHED = { [5] = true, [10] = true, [12] = true, [30] = true, [35] = true, [255] = true }

-- A child ended: true when it was a sweep. Success (0, or 24: a file
-- vanished) releases the sync and drops the names; a slave not reached
-- (or a signal) has the sweep tried again after a back-off, the sync held;
-- any other failure (rsync skips deletes after an I/O error on the
-- source: 23) releases the sync and keeps the names for the next start,
-- so that no error of the sweep can stop a sync for good.
function M.collect(pid, code, signo, now)
	local s = running[pid]
	if not s then return false end
	running[pid] = nil
	local w = pending[s]
	if not w then return true end
	w.pid = nil
	local signaled = signo and signo ~= 0
	if not signaled and (code == 0 or code == 24) then
		pending[s] = nil
		s:hold(false)
		log('Normal', s.name, ': removed what rsync may have left of ', w.n,
			' interrupted file transfer(s) on the slave', w.tries > 1 and ' (after failures)' or '')
		w.done()
		return true
	end
	local how = signaled and ('signal ' .. signo) or ('exit code ' .. tostring(code))
	local said = table.concat(w.lines, ' ')
	if signaled or UNREACHED[code] then
		local wait = retries[math.min(w.tries, #retries)]
		w.at = now + wait
		log(w.tries == 1 and 'Error' or 'Delay', s.name, ': the sweep of rsync\'s temporary files',
			' failed (', how, '; ', said, '); again in ', wait, ' s, its transfers wait')
		return true
	end
	pending[s] = nil
	s:hold(false)
	log('Error', s.name, ': the sweep of rsync\'s temporary files failed (', how, '; ', said,
		'); its transfers go on, the sweep is tried again at the next start')
	return true
end

-- True while a sweep is pending or runs (tests).
function M.busy() return next(pending) ~= nil end

return M
