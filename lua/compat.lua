-- compat.lua: configs from the wild. Forms of lsyncd 2.0/2.1 and common
-- slips whose meaning is plain are run the way they were meant, each with
-- one warning that names the config's file:line, says what was understood
-- and shows the modern form. Called by config.lua while the config loads
-- (settings keys, each sync before and after its prepare, the object sync{}
-- returns, the config's source text); rsync/ssh option lists are read by
-- compat_rsync.lua. What has no single meaning stays an error.

local opts = require 'compat_rsync'

local M = {}

local show = opts.show

-- ---- warnings ----

local said = {}

-- Where warnings go (core.log; the specs replace it).
function M.logger(msg) core.log('Warn', msg) end

-- The config's lines (set by scanPaths), to find the line of a key.
local source = { path = nil, lines = {} }

-- where ("file:line: " of a settings{} or sync{} call) moved to the line
-- of key within that call, when it can be found there.
local function keyWhere(where, key)
	local path, line = (where or ''):match('^(.*):(%d+): $')
	if not key or not path or path ~= source.path then return where end
	line = tonumber(line)
	for n = line, math.min(line + 80, #source.lines) do
		local l = source.lines[n]
		if n > line and (l:match('^%s*sync%s*[{(]') or l:match('^%s*settings%s*[{(=]')) then break end
		if l:find('%f[%w_]' .. key .. '%s*=') then return path .. ':' .. n .. ': ' end
	end
	return where
end

-- Logs msg once per config place ("file:line: "); key: the key the
-- message is about (its own line is named when it has one).
function M.warn(where, msg, key)
	where = keyWhere(where, key)
	local text = (where or '') .. msg
	if said[text] then return end
	said[text] = true
	M.logger(text)
end

-- ---- settings{} ----

local INOTIFY_MODES = { CloseWrite = true, Modify = true, ['CloseWrite or Modify'] = true }

-- Events lsyncd always watches, and words joining mode names.
local INOTIFY_WORDS = {
	['or'] = true, ['and'] = true, after = true, create = true, delete = true,
	move = true, moved = true, moves = true, movedfrom = true, movedto = true,
	attrib = true,
}

-- An inotifyMode value: lsyncd's own three (and '', its default) as they
-- are; a 2.1-style list of event names mapped to the nearest mode.
function M.inotifyMode(v, where)
	if type(v) ~= 'string' or INOTIFY_MODES[v] then return v end
	if v == '' then return 'CloseWrite' end
	local close, modify = false, false
	for w in v:gmatch('[%a_]+') do
		local l = w:lower():gsub('_', '')
		if l == 'closewrite' then
			close = true
		elseif l == 'modify' then
			modify = true
		elseif not INOTIFY_WORDS[l] then
			error(where .. 'inotifyMode "' .. v .. '" is not known ("' .. w .. '" is no inotify'
				.. ' event lsyncd watches); use "CloseWrite", "Modify" or "CloseWrite or Modify"', 0)
		end
	end
	local mode = modify and (close and 'CloseWrite or Modify' or 'Modify') or 'CloseWrite'
	M.warn(where, 'inotifyMode "' .. v .. '" is not one of lsyncd\'s modes; understood as "'
		.. mode .. '" (creates, deletes, moves and attributes are always watched).'
		.. ' Write inotifyMode = "' .. mode .. '"', 'inotifyMode')
	return mode
end

-- A settings{} key and value of an old config, as the key and value to
-- set (unchanged when nothing is old about them).
function M.setting(k, v, where)
	where = where or ''
	if k == 'statusIntervall' then
		M.warn(where, 'settings key "statusIntervall" (the spelling of old lsyncd examples) is'
			.. ' understood as "statusInterval". Write statusInterval = ' .. show(v), k)
		return 'statusInterval', v
	end
	if k == 'delay' then
		local n = tonumber(v)
		if not n or n < 0 then
			error(where .. 'setting "delay" must be a number >= 0, not ' .. show(v), 0)
		end
		M.warn(where, 'delay is a sync{} key, not a setting (lsyncd 2.2 refuses it); understood as'
			.. ' the delay of every sync{} that sets none. Write delay = ' .. show(n)
			.. ' in each sync{}', k)
		return 'delay', n
	end
	if k == 'inotifyMode' then return k, M.inotifyMode(v, where) end
	return k, v
end

-- True if the user's sync table t (or a table of its own it inherits)
-- sets key; lsyncd-ng's built-in layers (default, default.rsync, ...) do
-- not count.
function M.userSets(t, key, seen)
	seen = seen or {}
	if type(t) ~= 'table' or seen[t] then return false end
	seen[t] = true
	local d = rawget(_G, 'default')
	if type(d) == 'table' and (t == d or t == d.rsync or t == d.rsyncssh or t == d.direct) then
		return false
	end
	if rawget(t, key) ~= nil then return true end
	for i = 1, #t do
		if M.userSets(t[i], key, seen) then return true end
	end
	return false
end

-- settings{ delay = N }: the delay of every sync whose own table sets none
-- (after the whole config ran, so the order of settings and sync does not
-- matter). The command line's -delay wins over both.
function M.applySettingsDelay(cfgs, settings, cliDelay)
	if settings.delay == nil or cliDelay ~= nil then return end
	for _, c in ipairs(cfgs) do
		if not c._userDelay then c.delay = settings.delay end
	end
end

-- ---- sync{} ----

local function isRsyncssh(cfg)
	return cfg.prepare == require('default_rsyncssh').prepare
end

-- 2.0's raw rsync options: rsyncOps / rsyncOpts (2.1 warned about both,
-- 2.2 refuses them) and rsyncBinary.
local function rsyncOps(cfg, where)
	local r = cfg.rsync
	if type(r) ~= 'table' then return end
	for _, key in ipairs { 'rsyncOps', 'rsyncOpts' } do
		local v = cfg[key]
		if v ~= nil then
			local rsh, extra, why = opts.splitOps(v)
			if why then error(key .. ' ' .. why, 0) end
			cfg[key] = nil
			local modern = {}
			if #extra > 0 then
				local e = r._extra
				if type(e) ~= 'table' then e = { e } end
				for _, x in ipairs(extra) do e[#e + 1] = x end
				r._extra = e
				modern._extra = extra
			end
			local form = 'rsync = ' .. show(modern)
			if rsh and isRsyncssh(cfg) then
				local ssh = opts.sshTable(rsh)
				M.mergeSsh(cfg, ssh)
				form = (#extra > 0 and form .. ' and ' or '') .. 'ssh = ' .. show(ssh)
			elseif rsh then
				r.rsh = rsh
				modern.rsh = rsh
				form = 'rsync = ' .. show(modern)
			end
			M.warn(where, key .. ' = ' .. show(v) .. ' is lsyncd 2.0\'s form (lsyncd 2.2 refuses it);'
				.. ' understood as ' .. form .. ', after the layer\'s own options. Write that instead', key)
		end
	end
	if cfg.rsyncBinary ~= nil then
		r.binary = cfg.rsyncBinary
		M.warn(where, 'rsyncBinary is lsyncd 2.0\'s form; understood as rsync = { binary = '
			.. show(cfg.rsyncBinary) .. ' }. Write that instead', 'rsyncBinary')
		cfg.rsyncBinary = nil
	end
end

-- Merges an ssh = {...} table into the sync's (keys the sync sets win;
-- options merge, _extra appends).
function M.mergeSsh(cfg, ssh)
	local own = cfg.ssh
	if type(own) ~= 'table' then own = {}; cfg.ssh = own end
	for k, v in pairs(ssh) do
		if k == 'options' then
			own.options = own.options or {}
			for ok, ov in pairs(v) do
				if own.options[ok] == nil then own.options[ok] = ov end
			end
		elseif k == '_extra' then
			local e = own._extra
			if type(e) ~= 'table' then e = { e } end
			for _, x in ipairs(type(v) == 'table' and v or { v }) do e[#e + 1] = x end
			own._extra = e
		elseif k == 'binary' then
			if own.binary == nil or own.binary == 'ssh' then own.binary = v end
		elseif own[k] == nil then
			own[k] = v
		end
	end
end

-- rsync = { ssh = {...} }: ssh options nested in the rsync table.
local function nestedSsh(cfg, where)
	local r = cfg.rsync
	if type(r) ~= 'table' or r.ssh == nil then return end
	local ssh = r.ssh
	if type(ssh) ~= 'table' then error('rsync.ssh must be a table (ssh options belong in ssh = { ... })', 0) end
	r.ssh = nil
	if isRsyncssh(cfg) then
		M.mergeSsh(cfg, ssh)
		M.warn(where, 'rsync.ssh: ssh options do not belong in the rsync table; understood as'
			.. ' ssh = ' .. show(ssh) .. ' of the sync. Write that instead', 'ssh')
	else
		r.rsh = opts.rshOf(ssh, r.rsh)
		M.warn(where, 'rsync.ssh: ssh options do not belong in the rsync table; understood as'
			.. ' rsync = { rsh = ' .. show(r.rsh) .. ' }. Write that instead', 'ssh')
	end
end

-- rsync.password_file is for rsync daemon targets only: rsync refuses to
-- start with it elsewhere.
local function passwordFile(cfg, where)
	local r = cfg.rsync
	if type(r) ~= 'table' or not r.password_file then return end
	local target, how = cfg.target
	if isRsyncssh(cfg) then
		target = tostring(cfg.host) .. ':' .. tostring(cfg.targetdir)
		how = 'is reached over ssh'
	elseif type(target) ~= 'string' then
		return
	elseif target:find('::', 1, true) or target:match('^rsync://') then
		return
	else
		how = require('sshmux').remoteOf(target) and 'is reached over ssh' or 'is a local directory'
	end
	r.password_file = nil
	M.warn(where, 'rsync.password_file is only for rsync daemon targets (host::module,'
		.. ' rsync://host/module), and target ' .. show(target) .. ' ' .. how
		.. ' (rsync would refuse to start); it is left out. Remove password_file', 'password_file')
end

-- maxProcesses > 1 with default.rsyncssh: lsyncd refuses it; here changes
-- to the same paths still run in order, so it is honoured.
local function rsyncsshProcesses(cfg, where, settings)
	local n = cfg.maxProcesses
	if not isRsyncssh(cfg) or type(n) ~= 'number' or n <= 1 then return end
	local from = settings.maxProcesses == n and ' (from settings{})' or ''
	M.warn(where, 'maxProcesses = ' .. n .. from .. ' with default.rsyncssh: lsyncd refuses it'
		.. ' (it needs 1); lsyncd-ng runs up to ' .. n .. ' transfers to the slave at once,'
		.. ' changes to the same paths still in order. Write maxProcesses = 1 to run it with lsyncd too',
		'maxProcesses')
end

local HANDLERS = { 'onStartup', 'onCreate', 'onModify', 'onAttrib', 'onDelete', 'onMove' }

local function handlersOf(cfg)
	local set = {}
	for _, k in ipairs(HANDLERS) do
		local t = type(cfg[k])
		if t == 'string' or t == 'function' then set[#set + 1] = k end
	end
	return set
end

-- Layer-3/2 handlers set on top of default.direct (lsyncd 2.2 refuses
-- them, 2.0 ignored them): they run for their events in place of
-- default.direct's own cp/mv/rm; without a target only they run.
local function directHandlers(cfg, where)
	local direct = require 'default_direct'
	if cfg.action ~= direct.action then return end
	local set = handlersOf(cfg)
	if #set == 0 then return end
	local default = require 'default'
	local names = table.concat(set, ', ')
	if cfg.target == nil then
		cfg.action, cfg.init, cfg.prepare = default.action, default.init, default.prepare
		M.warn(where, names .. ' on default.direct without a target: understood as a Layer-3 sync'
			.. ' that runs only these handlers (no startup transfer, no cp/mv/rm). Write it without'
			.. ' default.direct: sync{ source = ..., ' .. set[1] .. ' = ... }', set[1])
		return
	end
	local own = cfg.action
	cfg.action = function(inlet)
		local ev = inlet.getEvent()
		if ev and type(cfg['on' .. ev.etype]) == 'function' then return default.action(inlet) end
		return own(inlet)
	end
	if type(cfg.onStartup) == 'string' or type(cfg.onStartup) == 'function' then
		cfg.init = default.init
	end
	M.warn(where, names .. ' on default.direct: lsyncd 2.2 refuses these (2.0 ignored them);'
		.. ' lsyncd-ng runs them for their events in place of default.direct\'s own'
		.. (cfg.init == default.init and ' startup rsync and' or '') .. ' cp/mv/rm.'
		.. ' The modern form is a Layer-3 sync of its own, without default.direct', set[1])
end

-- Before the sync's prepare (after inheritance and the settings'
-- overrides): the old forms become the modern ones.
function M.beforePrepare(cfg, where, settings)
	rsyncOps(cfg, where)
	nestedSsh(cfg, where)
	passwordFile(cfg, where)
	rsyncsshProcesses(cfg, where, settings)
	directHandlers(cfg, where)
end

-- After prepare: a Layer-3 command that needs a target the sync lacks is
-- refused now, not when it first runs.
function M.afterPrepare(cfg)
	if cfg.target ~= nil then return end
	local layer3 = require 'layer3'
	for _, k in ipairs(HANDLERS) do
		if type(cfg[k]) == 'string' then
			for _, p in ipairs(layer3.tokenize(cfg[k])) do
				if p.var and p.var.field:sub(1, 6) == 'target' then
					error(k .. ' uses ^' .. p.var.name .. ', but this sync has no target:'
						.. ' add target = ... to sync{}', 0)
				end
			end
		end
	end
end

-- ---- the object sync{} returns, while the config loads ----

local LOAD_TIME = {
	addExclude = function(a) return 'the pattern is added before the sync starts (the same as'
		.. ' exclude = { ..., ' .. show(a) .. ' } in sync{})' end,
	rmExclude = function(a) return 'the pattern is removed before the sync starts (the same as'
		.. ' leaving ' .. show(a) .. ' out of exclude = { ... } in sync{})' end,
	appendFilter = function(a, b) return 'the rule is appended before the sync starts (the same as'
		.. ' filter = { ..., ' .. show(b and (a .. ' ' .. b) or a) .. ' } in sync{})' end,
}

-- inlet.NAME of the syncs cfgs (one sync{} call) before they are built:
-- exclude and filter changes are kept and done when the sync is built
-- (lsyncd builds syncs at once); getConfig gives the config.
function M.loadInlet(cfgs, name, where)
	if name == 'getConfig' then return function() return cfgs[1] end end
	local explain = LOAD_TIME[name]
	if not explain then
		error(where .. 'inlet.' .. tostring(name) .. ' is usable once the daemon runs (while the'
			.. ' config loads: addExclude, rmExclude, appendFilter, getConfig)', 0)
	end
	return function(...)
		local call = { name = name, n = select('#', ...), ... }
		for _, c in ipairs(cfgs) do
			c._inletCalls = c._inletCalls or {}
			c._inletCalls[#c._inletCalls + 1] = call
		end
		M.warn(where, name .. '(' .. show(call[1]) .. (call.n > 1 and (', ' .. show(call[2])) or '')
			.. ') on what sync{} returned, while the config loads: ' .. explain(...))
	end
end

-- Runs the inlet calls kept for a sync, now that it is built.
function M.replayInlet(cfg, inlet)
	for _, call in ipairs(cfg._inletCalls or {}) do
		inlet[call.name](unpack(call, 1, call.n))
	end
	cfg._inletCalls = nil
end

-- ---- the config's text: 2.1's event paths ----

local PATH_FIELDS = { path = true, pathname = true, pathdir = true }

-- A literal compared with an event path field on this line: field, literal.
local function pathCompare(line)
	local f, lit = line:match('%.(path%a*)%s*[=~]=%s*[\'"](/[^\'"]*)[\'"]')
	if f and PATH_FIELDS[f] then return f, lit end
	lit, f = line:match('[\'"](/[^\'"]*)[\'"]%s*[=~]=%s*[%w_%.]*%.(path%a*)%f[^%w_]')
	if f and PATH_FIELDS[f] then return f, lit end
	f, lit = line:match('%.(path%a*)%s*:%s*[mf][ai][tn][cd]h?%s*%(%s*[\'"](%^/[^\'"]*)[\'"]')
	if f and PATH_FIELDS[f] then return f, lit end
	f, lit = line:match('starts%s*%(%s*[%w_%.]*%.(path%a*)%s*,%s*[\'"](/[^\'"]*)[\'"]')
	if f and PATH_FIELDS[f] then return f, lit end
	return nil
end

-- Warns about lines of a config's source that compare event.path (or
-- pathname, pathdir) with a literal starting with '/': lsyncd 2.1's paths
-- began with '/', 2.2's do not, so such a test never matches. The meaning
-- of the config is left as 2.2 has it.
function M.scanPaths(src, path)
	local n = 0
	source.path, source.lines = path, {}
	for line in (src .. '\n'):gmatch('([^\n]*)\n') do
		n = n + 1
		source.lines[n] = line
		if not line:match('^%s*%-%-') then
			local f, lit = pathCompare(line)
			if f then
				local modern = lit:sub(1, 1) == '^' and ('^' .. lit:sub(3)) or lit:sub(2)
				M.warn(path .. ':' .. n .. ': ', 'compares event.' .. f .. ' with ' .. show(lit)
					.. ', as lsyncd 2.1 wrote paths; since lsyncd 2.2 they have no leading \'/\','
					.. ' so this never matches (lsyncd-ng keeps 2.2\'s meaning). Write '
					.. show(modern))
			end
		end
	end
end

return M
