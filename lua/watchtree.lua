-- watchtree.lua: which directories are watched, decided and walked here.
-- The engine's watch layer (engine/watch.c) adds one watch at a time
-- (core.watchDir: a watch, then the directory's entries) and hands over
-- the events of one read in one batch (M.batch). A batch ends after a new
-- or moved directory, so it is watched, and what is in it reported as
-- Creates, before the next event is read: nothing created before its
-- watch existed is missed, and the engine never calls into Lua from
-- inside a walk of its own.

local M = {}

local ENOSPC = 28                -- errno on Linux

-- set by M.init: the runner's per-event entry and its directory question
local onEvent, wanted
local nospaceLogged

local function event(etype, isdir, path, path2)
	onEvent(etype, isdir, path, path2)
end

-- Starts the watch layer: event(etype, isdir, path, path2) takes every
-- event (runner.inotifyEvent), isWanted(dirpath) tells whether a directory
-- is watched (runner.dirWanted). Returns what core.watchInit returns.
function M.init(mode, eventFn, isWanted)
	onEvent, wanted = eventFn, isWanted
	nospaceLogged = false
	return core.watchInit(mode)
end

-- Out of watches: one Error line with the numbers an operator needs.
local function logNoSpace()
	if nospaceLogged then return end
	nospaceLogged = true
	local live, unwatched = core.watchCount()
	local max = -1
	local f = io.open('/proc/sys/fs/inotify/max_user_watches')
	if f then
		max = tonumber(f:read('*l')) or -1
		f:close()
	end
	core.log('Error', string.format('out of inotify watches: fs.inotify.max_user_watches is %d, '
		.. 'this daemon holds %d and needs at least %d more (%d in all); raise it with '
		.. "'sysctl fs.inotify.max_user_watches=%d'", max, live, unwatched, live + unwatched,
		max + unwatched + 1024))
end

-- Watches path and every wanted directory below it; every entry is reported
-- as a Create when creates is set (the directory is new, nothing in it has
-- been seen). False when the watch limit was hit (what could not be watched
-- is counted by the engine); a directory that vanished is no failure.
local function addTree(path, creates)
	local list, _, errno = core.watchDir(path, creates)
	if not list then return errno ~= ENOSPC end
	local ok = true
	for i = 1, #list, 2 do
		local sub, isdir = path .. '/' .. list[i], list[i + 1]
		if creates then event('Create', isdir, sub) end
		if isdir and wanted(sub) and not addTree(sub, creates) then ok = false end
	end
	return ok
end

local function noSpace(path)
	logNoSpace()
	event('NoSpace', true, path)
end

-- A directory appeared at path: watch it (if wanted) and report its content.
local function newDir(path)
	if wanted(path) and not addTree(path, true) then noSpace(path) end
end

-- Looks below the watched directory path (list: its subdirs, as
-- core.watchDir gives them) for directories without a watch (made and
-- moved on before their Create was read) and treats each as new.
local function adopt(path, list)
	for i = 1, #list, 2 do
		local sub = path .. '/' .. list[i]
		if wanted(sub) then
			local sublist, known, errno = core.watchDir(sub, false)
			if sublist and known then
				adopt(sub, sublist)
			elseif sublist then
				event('Create', true, sub)
				newDir(sub)
			elseif errno == ENOSPC then
				noSpace(sub)
			end
		end
	end
end

-- Watches root and every wanted directory below it: true, or nil and an
-- error when the watch limit was hit.
function M.watch(root)
	if addTree(root, false) then return true end
	logNoSpace()
	return nil, root .. ': No space left on device'
end

-- The events of one read (engine/api.h: 5 slots an event), in order.
function M.batch(b)
	for i = 1, #b, 5 do
		local etype, isdir, path, path2, renamed = b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4]
		if etype == 'Move' and isdir then
			-- the engine moved the watches along: keep them only if wanted
			if renamed > 0 and not wanted(path2) then core.unwatch(path2) end
			event('Move', true, path, path2)
			if renamed == 2 and wanted(path2) then
				local list = core.watchDir(path2, false)
				if list then adopt(path2, list) end
			elseif renamed == 0 then
				newDir(path2)              -- from an unwatched place
			end
		else
			event(etype, isdir, path, path2 or nil)
			if etype == 'Create' and isdir then newDir(path) end
		end
	end
end

return M
