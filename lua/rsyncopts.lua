-- rsyncopts.lua: the rsync command lines of the rsync family of syncs:
--  * computeArgs: the option list of a config's rsync = {...} table
--    (lsyncd's rsync._computed);
--  * startupArgs: the recursive startup (Init) transfer;
--  * includeList / runningArgs: the batched transfer of queued events, whose
--    NUL-separated include list goes to rsync's stdin;
--  * filesFromList / filesFromArgs: a large batch that sends nothing with
--    all it holds, as rsync's --files-from list of names.
-- Pure functions: no I/O.

local M = {}

-- Boolean options that become one letter of the bundled short-flag arg.
local SHORT = {
	acls = 'A', backup = 'b', checksum = 'c', compress = 'z', copy_dirlinks = 'k',
	copy_links = 'L', cvs_exclude = 'C', dry_run = 'n', executability = 'E',
	group = 'g', hard_links = 'H', ignore_times = 'I', ipv4 = '4', ipv6 = '6',
	keep_dirlinks = 'K', links = 'l', one_file_system = 'x', omit_dir_times = 'O',
	omit_link_times = 'J', owner = 'o', perms = 'p', protect_args = 's',
	prune_empty_dirs = 'm', quiet = 'q', sparse = 'S', times = 't', update = 'u',
	verbose = 'v', whole_file = 'W', xattrs = 'X',
}
M.SHORT = SHORT

-- Long options, in the order they follow the short flags.  value: the
-- option takes a value (--name=V), else it is a plain switch.
local LONG = {
	{ key = 'append' }, { key = 'append_verify' }, { key = 'backup_dir', value = true },
	{ key = 'bwlimit', value = true }, { key = 'chmod', value = true },
	{ key = 'chown', value = true }, { key = 'copy_unsafe_links' },
	{ key = 'groupmap', value = true }, { key = 'existing' }, { key = 'inplace' },
	{ key = 'password_file', value = true }, { key = 'rsh', value = true },
	{ key = 'rsync_path', value = true }, { key = 'suffix', value = true },
	{ key = 'temp_dir', value = true }, { key = 'timeout', value = true },
	{ key = 'usermap', value = true },
}
for _, o in ipairs(LONG) do o.opt = '--' .. o.key:gsub('_', '-') end

-- Every key an rsync = {...} table may hold (for the config checkgauge).
-- _computed is listed so that prepare can reject it with its own message.
M.validKeys = {
	binary = true, _extra = true, _computed = true, archive = true, recursive = true,
	devices = true, specials = true, delete_excluded = true,
}
for k in pairs(SHORT) do M.validKeys[k] = true end
for _, o in ipairs(LONG) do M.validKeys[o.key] = true end

local ARCHIVE_ON = { 'recursive', 'links', 'perms', 'times', 'group', 'owner', 'devices', 'specials' }
local ARCHIVE_OFF = { 'hard_links', 'acls', 'xattrs' }

local function set(v) return v ~= nil and v ~= false end

-- The argument list of an rsync = {...} table (not modified):
--   [-LETTERS] [_extra...] [--devices] [--specials] [long options]
-- The letters of all set boolean options are bundled into one argument,
-- sorted by byte value (digits, then upper case, then lower case), so the
-- result is the same on every run and Lua implementation (lsyncd's order
-- follows pairs() and varies).  devices + specials together give 'D'.
-- archive = true turns recursive, links, perms, times, group, owner, devices
-- and specials on (unless given) and hard_links, acls, xattrs off (unless
-- given).  recursive has no letter: every command line has its own -r.
function M.computeArgs(r)
	local t = {}
	for k, v in pairs(r or {}) do t[k] = v end
	if set(t.archive) then
		for _, k in ipairs(ARCHIVE_ON) do if t[k] == nil then t[k] = true end end
		for _, k in ipairs(ARCHIVE_OFF) do if t[k] == nil then t[k] = false end end
	end
	local letters = {}
	for k, letter in pairs(SHORT) do
		if set(t[k]) then letters[#letters + 1] = letter end
	end
	local dev, spec = set(t.devices), set(t.specials)
	if dev and spec then letters[#letters + 1] = 'D' end
	table.sort(letters)
	local args = {}
	if #letters > 0 then args[1] = '-' .. table.concat(letters) end
	local extra = t._extra
	if type(extra) == 'table' then
		for _, x in ipairs(extra) do args[#args + 1] = tostring(x) end
	elseif extra ~= nil and extra ~= false then
		args[#args + 1] = tostring(extra)
	end
	if dev and not spec then args[#args + 1] = '--devices' end
	if spec and not dev then args[#args + 1] = '--specials' end
	for _, o in ipairs(LONG) do
		local v = t[o.key]
		if set(v) then
			args[#args + 1] = o.value and (o.opt .. '=' .. tostring(v)) or o.opt
		end
	end
	return args
end

-- An exclude pattern as a line of rsync's --exclude-from file.  rsync
-- would read a line starting with '#' or ';' as a comment and one starting
-- with '+ ' or '- ' as an include / an exclude of the rest; such patterns
-- get their first character wrapped in a class ('[#]...'), which matches
-- the same names.  (That makes the pattern a wildcard one, so a literal
-- pattern's backslashes are doubled to keep them literal.)
function M.excludeLine(p)
	local c = p:sub(1, 1)
	if c == '#' or c == ';' or ((c == '+' or c == '-') and p:sub(2, 2) == ' ') then
		local rest = p:sub(2)
		if not p:find('[%*%?%[]') then rest = rest:gsub('\\', '\\\\') end
		return '[' .. c .. ']' .. rest
	end
	return p
end

local function deleteOn(delete, phase)
	return delete == true or delete == phase
end

-- The startup transfer.  cfg: computed (computeArgs' list), source,
-- target, delete (true/false/'startup'/'running'), excludes (array of
-- patterns), filters (array of '+ pat'/'- pat' lines), deleteExcluded.
-- Returns argv (without the rsync binary) and the stdin text (or nil):
--   [--delete --ignore-errors] [--delete-excluded] COMPUTED -r SRC TRG
--   --exclude-from=- [...] COMPUTED -r SRC TRG   stdin: patterns, "\n"-joined
--   --filter=. - [...] COMPUTED -r SRC TRG       stdin: filter lines, then
--       "- pat" for every exclude not already among them, "\n"-joined
function M.startupArgs(cfg)
	local argv, stdin = {}, nil
	local excludes = cfg.excludes or {}
	local filters = cfg.filters or {}
	if #filters > 0 then
		local lines, have = {}, {}
		for _, l in ipairs(filters) do
			lines[#lines + 1] = l
			have[l] = true
		end
		for _, p in ipairs(excludes) do
			local l = '- ' .. p
			if not have[l] then
				lines[#lines + 1] = l
				have[l] = true
			end
		end
		argv[1] = '--filter=. -'
		stdin = table.concat(lines, '\n')
	elseif #excludes > 0 then
		local lines = {}
		for i, p in ipairs(excludes) do lines[i] = M.excludeLine(p) end
		argv[1] = '--exclude-from=-'
		stdin = table.concat(lines, '\n')
	end
	if deleteOn(cfg.delete, 'startup') then
		argv[#argv + 1] = '--delete'
		argv[#argv + 1] = '--ignore-errors'
	end
	if cfg.deleteExcluded then argv[#argv + 1] = '--delete-excluded' end
	for _, a in ipairs(cfg.computed or {}) do argv[#argv + 1] = a end
	argv[#argv + 1] = '-r'
	argv[#argv + 1] = cfg.source
	argv[#argv + 1] = cfg.target
	return argv, stdin
end

-- The rsync include rule for one sync-relative path ('/a/f', '/a/d/');
-- all: a directory with everything below it ('/a/d/***').  rsync compares
-- a rule without '*', '?' or '[' literally (a backslash is an ordinary
-- character there) and unescapes a rule with wildcards, so the path's
-- '\ * ? [ ]' are backslash-escaped only when the rule has a wildcard.
-- s with rsync's wildcard characters and backslashes escaped, for a part
-- of a pattern that has wildcards.
function M.escapeWild(s) return (s:gsub('[\\%*%?%[%]]', '\\%0')) end

local function rule(path, all)
	local wild = all or path:find('[%*%?%[]')
	if wild then path = M.escapeWild(path) end
	if all then return path .. '***' end
	return path
end
M.includeRule = rule

local ALL = { Create = true, Delete = true, Move = true }

-- The include list of a batched transfer.  entries: array of
-- { etype=, path=, path2=, isdir= } with sync-relative paths ('/a/f',
-- directories '/a/d/'; isdir adds a missing trailing '/').  Each entry
-- contributes its path (a Move both paths); a directory that is created,
-- deleted or moved (either end) contributes 'dir/***' (the directory and
-- everything below it, so a tree moved in arrives with its content);
-- every directory above a path comes before it ('/d1/d2/f' => '/d1/',
-- '/d1/d2/') as rsync only descends into included directories.  Duplicates
-- are dropped, first occurrence kept.  Entries with an empty path (Init,
-- Blanket) contribute nothing.  Cost: linear in the size of the result.
function M.includeList(entries)
	local list, seen = {}, {}
	local pending = {}
	local function add(r)
		if not seen[r] then
			seen[r] = true
			list[#list + 1] = r
		end
	end
	local function addPath(p, isdir, etype)
		if type(p) ~= 'string' or p == '' or p == '/' then return end
		if p:sub(1, 1) ~= '/' then p = '/' .. p end
		if isdir and p:sub(-1) ~= '/' then p = p .. '/' end
		-- the directories above p, deepest first, up to the first one seen
		local n = 0
		local j = #p - 1
		while j > 1 do
			if p:byte(j) == 47 then -- '/'
				local r = rule(p:sub(1, j), false)
				if seen[r] then break end
				n = n + 1
				pending[n] = r
			end
			j = j - 1
		end
		for k = n, 1, -1 do add(pending[k]) end
		add(rule(p, p:sub(-1) == '/' and ALL[etype] == true))
	end
	for _, e in ipairs(entries) do
		addPath(e.path, e.isdir, e.etype)
		if e.path2 then addPath(e.path2, e.isdir, e.etype) end
	end
	return list
end

-- The names of a batched transfer sent by rsync's --files-from (a batch
-- that sends nothing with all it holds: see default_rsync).  entries as
-- includeList's; gone = true marks a path the source no longer has (the
-- receiver deletes it: --delete-missing-args).  Returns the names relative
-- to the source ('a/f', 'a/d': no leading or trailing '/', a trailing one
-- would send a directory's content), each once, in the entries' order,
-- leaving out a gone path below another gone one (deleted with it).  The
-- directories above a name need no entry: --files-from implies
-- --relative, which sends them along.  Cost: linear in the entries times
-- the depth.
function M.filesFromList(entries)
	local gone = {}
	for _, e in ipairs(entries) do
		if e.gone then gone[(e.path:gsub('^/', ''):gsub('/$', ''))] = true end
	end
	local function under(name)
		local p = name:match('^(.*)/[^/]*$')
		while p do
			if gone[p] then return true end
			p = p:match('^(.*)/[^/]*$')
		end
		return false
	end
	local list, seen = {}, {}
	local function add(p, isGone)
		if type(p) ~= 'string' then return end
		local name = p:gsub('^/', ''):gsub('/$', '')
		if name == '' or seen[name] or (isGone and under(name)) then return end
		seen[name] = true
		list[#list + 1] = name
	end
	for _, e in ipairs(entries) do
		add(e.path, e.gone)
		if e.path2 then add(e.path2, false) end
	end
	return list
end

-- The batched transfer by --files-from (stdin: filesFromList's names,
-- NUL-joined).  cfg: computed, source, target, delete (true/false/
-- 'startup'/'running'), ignoreTimes, stats.  Returns argv (no binary):
--   COMPUTED [--ignore-times] [--stats] --files-from=- --from0
--   (--delete-missing-args --ignore-errors | --ignore-missing-args)
--   --force SOURCE TARGET
-- No -r: a directory named is sent as itself, not with what it holds.
function M.filesFromArgs(cfg)
	local argv = {}
	for _, a in ipairs(cfg.computed or {}) do argv[#argv + 1] = a end
	local del = deleteOn(cfg.delete, 'running')
	for _, a in ipairs { cfg.ignoreTimes and '--ignore-times' or false, cfg.stats and '--stats' or false,
		'--files-from=-', '--from0', del and '--delete-missing-args' or '--ignore-missing-args',
		del and '--ignore-errors' or false, '--force', cfg.source, cfg.target } do
		if a then argv[#argv + 1] = a end
	end
	return argv
end

-- The batched transfer.  cfg: computed, source, target, delete, and
-- optionally includes (from includeList).  Returns argv (without the
-- binary) and, if includes were given, the NUL-joined stdin:
--   COMPUTED -r [--delete --ignore-errors] --force --from0
--   --include-from=- --exclude=* SOURCE TARGET
function M.runningArgs(cfg)
	local argv = {}
	for _, a in ipairs(cfg.computed or {}) do argv[#argv + 1] = a end
	argv[#argv + 1] = '-r'
	if deleteOn(cfg.delete, 'running') then
		argv[#argv + 1] = '--delete'
		argv[#argv + 1] = '--ignore-errors'
	end
	argv[#argv + 1] = '--force'
	argv[#argv + 1] = '--from0'
	argv[#argv + 1] = '--include-from=-'
	argv[#argv + 1] = '--exclude=*'
	argv[#argv + 1] = cfg.source
	argv[#argv + 1] = cfg.target
	local stdin
	if cfg.includes then stdin = table.concat(cfg.includes, '\0') end
	return argv, stdin
end

return M
