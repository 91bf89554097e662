-- rsyncopts.lua: the rsync command lines of the rsync family: options from
-- a config's rsync = {...} table, the startup transfer, the include list of
-- a batched transfer.

local M = {}

-- Boolean options bundled into one short-flag argument.
local SHORT = {
	acls = 'A', backup = 'b', checksum = 'c', compress = 'z', copy_dirlinks = 'k',
	copy_links = 'L', cvs_exclude = 'C', dry_run = 'n', executability = 'E',
	group = 'g', hard_links = 'H', ignore_times = 'I', ipv4 = '4', ipv6 = '6',
	keep_dirlinks = 'K', links = 'l', one_file_system = 'x', omit_dir_times = 'O',
	omit_link_times = 'J', owner = 'o', perms = 'p', protect_args = 's',
	prune_empty_dirs = 'm', quiet = 'q', sparse = 'S', times = 't', update = 'u',
	verbose = 'v', whole_file = 'W', xattrs = 'X',
}

-- Long options in lsyncd's order; true: a flag, false: takes a value.
local LONG = {
	{ 'append', true }, { 'append_verify', true }, { 'backup_dir', false },
	{ 'bwlimit', false }, { 'chmod', false }, { 'chown', false },
	{ 'copy_unsafe_links', true }, { 'groupmap', false }, { 'existing', true },
	{ 'inplace', true }, { 'password_file', false }, { 'rsh', false },
	{ 'rsync_path', false }, { 'suffix', false }, { 'temp_dir', false },
	{ 'timeout', false }, { 'usermap', false },
}

M.validKeys = { binary = true, _extra = true, archive = true, recursive = true,
	devices = true, specials = true, delete_excluded = true, _computed = true }
for k in pairs(SHORT) do M.validKeys[k] = true end
for _, l in ipairs(LONG) do M.validKeys[l[1]] = true end

-- The argument list of an rsync = {...} table (lsyncd's rsync._computed).
function M.computeArgs(r)
	local t = {}
	for k, v in pairs(r) do t[k] = v end
	if t.archive then
		for _, k in ipairs { 'recursive', 'links', 'perms', 'times', 'group', 'owner',
			'devices', 'specials' } do
			if t[k] == nil then t[k] = true end
		end
		for _, k in ipairs { 'hard_links', 'acls', 'xattrs' } do
			if t[k] == nil then t[k] = false end
		end
	end
	local letters = {}
	for k, l in pairs(SHORT) do
		if t[k] then letters[#letters + 1] = l end
	end
	if t.devices and t.specials then letters[#letters + 1] = 'D' end
	table.sort(letters)                -- a fixed order, unlike lsyncd's pairs()
	local args = {}
	if #letters > 0 then args[1] = '-' .. table.concat(letters) end
	if type(t._extra) == 'table' then
		for _, x in ipairs(t._extra) do args[#args + 1] = tostring(x) end
	elseif type(t._extra) == 'string' then
		args[#args + 1] = t._extra
	end
	if t.devices and not t.specials then args[#args + 1] = '--devices' end
	if t.specials and not t.devices then args[#args + 1] = '--specials' end
	for _, l in ipairs(LONG) do
		local k, flag = l[1], l[2]
		local v = t[k]
		local name = '--' .. k:gsub('_', '-')
		if flag then
			if v then args[#args + 1] = name end
		elseif v ~= nil and v ~= false then
			args[#args + 1] = name .. '=' .. tostring(v)
		end
	end
	return args
end

-- The startup transfer: argv (without the binary) and stdin text.
-- cfg: computed, source, target, delete, excludes, filters, deleteExcluded.
function M.startupArgs(cfg)
	local argv, stdin = {}, nil
	local excludes = cfg.excludes or {}
	if cfg.filters and #cfg.filters > 0 then
		argv[#argv + 1] = '--filter=. -'
		stdin = table.concat(cfg.filters, '\n')
	elseif #excludes > 0 then
		argv[#argv + 1] = '--exclude-from=-'
		stdin = table.concat(excludes, '\n')
	end
	if cfg.delete == true or cfg.delete == 'startup' then
		argv[#argv + 1] = '--delete'
		argv[#argv + 1] = '--ignore-errors'
		if cfg.deleteExcluded then argv[#argv + 1] = '--delete-excluded' end
	end
	for _, a in ipairs(cfg.computed or {}) do argv[#argv + 1] = a end
	argv[#argv + 1] = '-r'
	argv[#argv + 1] = cfg.source
	argv[#argv + 1] = cfg.target
	return argv, stdin
end

-- Escapes rsync's wildcard characters (and the escape itself) in a name.
local function escape(p)
	return (p:gsub('[%?%*%[%]\\]', '\\%0'))
end
M.escape = escape

-- The include list of a batched transfer: each entry {etype, path, path2,
-- isdir} contributes its path(s) and every ancestor directory; a directory
-- Delete or Create contributes "dir/***" (the dir and all below it).
function M.includeList(entries)
	local list, seen = {}, {}
	local function add(rule)
		if not seen[rule] then
			seen[rule] = true
			list[#list + 1] = rule
		end
	end
	local function addPath(p, etype)
		-- ancestors first: rsync only descends into included directories
		local i = 2
		while true do
			local j = p:find('/', i, true)
			if not j or j == #p then break end
			add(escape(p:sub(1, j)))
			i = j + 1
		end
		if p:sub(-1) == '/' and (etype == 'Delete' or etype == 'Create') then
			add(escape(p) .. '***')
		else
			add(escape(p))
		end
	end
	for _, e in ipairs(entries) do
		if e.path and e.path ~= '' then addPath(e.path, e.etype == 'Move' and 'Delete' or e.etype) end
		if e.path2 then addPath(e.path2, 'Create') end
	end
	return list
end

return M
