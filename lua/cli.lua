-- cli.lua: lsyncd's command line: options with one or two dashes, taking
-- their values verbatim, interleaved with at most one config file.

local M = {}

M.usage = [[
USAGE:
  run a config file:
    lsyncd-ng [OPTIONS] [CONFIG-FILE]
    lsyncd-ng [OPTIONS] -c CONFIG-FILE

  default rsync behaviour:
    lsyncd-ng [OPTIONS] -rsync [SOURCE] [TARGET]

  default rsync with mv's through ssh:
    lsyncd-ng [OPTIONS] -rsyncssh [SOURCE] [HOST] [TARGETDIR]

  default local copying mechanisms (cp|mv|rm):
    lsyncd-ng [OPTIONS] -direct [SOURCE] [TARGETDIR]

OPTIONS:
  -c FILE             Config file to run
  -delay SECS         Override default delay times
  -help               Shows this
  -insist             Continues startup even if it cannot connect
  -log    all         Logs everything (debug)
  -log    scarce      Logs errors only
  -log    [Category]  Turns on logging for a debug category
  -logfile FILE       Writes log to FILE (DEFAULT: uses syslog)
  -nodaemon           Does not detach and logs to stdout/stderr
  -onepass            Sync once and exit
  -fullsync           Full startup transfer to every slave (the state dir is not trusted)
  -pidfile FILE       Writes Lsyncd's PID into FILE
  -sshopts "OPTS"     ssh options for -rsyncssh syncs
  -status [FILE]      Prints a per-slave table from a JSON status file
  -init [FILE]        Asks for source, slaves and options; writes a config
  -check FILE         Checks a config and every slave (ssh key, rsync, dir)
  -checkconfig FILE   Only loads a config (as a HUP does first); exit 0 if good
  -version            Prints versions and exits

SEE:
  `man lsyncd-ng` or the README for further information.
]]

-- Splits a string on whitespace honouring ' and " quoting.
function M.splitQuoted(s)
	local out, cur, q, any = {}, {}, nil, false
	for i = 1, #s do
		local c = s:sub(i, i)
		if q then
			if c == q then q = nil else cur[#cur + 1] = c end
		elseif c == '"' or c == "'" then
			q = c; any = true
		elseif c:match('%s') then
			if #cur > 0 or any then out[#out + 1] = table.concat(cur); cur = {}; any = false end
		else
			cur[#cur + 1] = c
		end
	end
	if #cur > 0 or any then out[#out + 1] = table.concat(cur) end
	return out
end

-- Option name -> number of values it takes, and what it does.
local options = {
	c = 1, delay = 1, help = 0, insist = 0, log = 1, logfile = 1, nodaemon = 0,
	onepass = 0, pidfile = 1, rsync = 2, rsyncssh = 3, direct = 2, version = 0,
	runner = 1, script = 1, sshopts = 1, monitor = -1, status = -1,
	init = -1, check = 1, checkconfig = 1, fullsync = 0,
}

-- lsyncd's options that have no meaning here: -runner FILE (lsyncd-ng's
-- runner is built in) and -monitor [NAME] (inotify is the only one).
local IGNORED = { runner = true, monitor = true }

-- What an option's values are, for "-c needs a config file".
local VALUES = {
	c = 'a config file: -c FILE', delay = 'seconds: -delay SECS', log = 'a category: -log CATEGORY',
	logfile = 'a file: -logfile FILE', pidfile = 'a file: -pidfile FILE',
	rsync = 'a source and a target: -rsync SOURCE TARGET',
	rsyncssh = 'a source, a host and a target dir: -rsyncssh SOURCE HOST TARGETDIR',
	direct = 'a source and a target dir: -direct SOURCE TARGETDIR',
	sshopts = 'ssh options: -sshopts "OPTS"', check = 'a config file: -check FILE',
	checkconfig = 'a config file: -checkconfig FILE', script = 'a Lua file: -script FILE',
	runner = 'a file: -runner FILE',
}

-- The logging categories the daemon writes (lsyncd's; any capitalized
-- name is accepted, as lsyncd does, for configs that log their own).
M.LOG_CATEGORIES = { 'Normal', 'Error', 'Warn', 'Exec', 'Inotify', 'Delay' }

-- " (did you mean -nodaemon?)" for a mistyped option, or "".
function M.suggestOption(name)
	local keys = {}
	for k in pairs(options) do keys[k] = true end
	local hint = require('config').suggest(name, keys)
	return (hint:gsub('"([^"]+)"', '-%1'))
end

-- Parses args; returns a table { settings=, syncs=, logs=, config=, ... }
-- or nil and an error message (exit 255).
function M.parse(args)
	local r = { settings = {}, syncs = {}, logs = {}, scripts = {} }
	local i = 1
	while i <= #args do
		local a = args[i]
		if a:sub(1, 1) == '-' and #a > 1 then
			local name = a:gsub('^%-%-?', '')
			if name == 'init' then
				-- everything after -init is the generator's (lua/setup.lua)
				r.init = true
				if args[i + 1] and args[i + 1]:sub(1, 1) ~= '-' then r.init = args[i + 1] end
				r.initArgs = { unpack(args, i + 1) }
				return r
			end
			local n = options[name]
			if n == nil then
				return nil, 'Unknown option ' .. a .. M.suggestOption(name) .. '; -help lists them.'
			end
			local vals = {}
			if n == -1 then
				if args[i + 1] and args[i + 1]:sub(1, 1) ~= '-' then vals[1] = args[i + 1]; i = i + 1 end
			else
				for j = 1, n do
					if args[i + j] == nil then
						return nil, '-' .. name .. ' needs ' .. (VALUES[name] or (n .. ' values')) .. '.'
					end
					vals[j] = args[i + j]
				end
				i = i + n
			end
			if name == 'c' then
				if r.config then return nil, 'There can only be one config file in the command line.' end
				r.config = vals[1]
			elseif name == 'delay' then
				local d = tonumber(vals[1])
				if not d or d < 0 then return nil, 'delay must be a number >= 0, not "' .. vals[1] .. '"' end
				r.delay = d
			elseif name == 'help' then r.help = true
			elseif name == 'version' then r.version = true
			elseif name == 'insist' then r.settings.insist = true
			elseif name == 'nodaemon' then r.settings.nodaemon = true
			elseif name == 'onepass' then r.settings.onepass = true
			elseif name == 'fullsync' then r.settings.fullsync = true
			elseif name == 'logfile' then r.settings.logfile = vals[1]
			elseif name == 'pidfile' then r.settings.pidfile = vals[1]
			elseif name == 'log' then r.logs[#r.logs + 1] = vals[1]
			elseif name == 'script' then r.scripts[#r.scripts + 1] = vals[1]
			elseif name == 'sshopts' then r.sshopts = M.splitQuoted(vals[1])
			elseif IGNORED[name] then -- luacheck: ignore 542
				-- lsyncd's: accepted (with its value) so its command lines run
			elseif name == 'status' then r.status = vals[1] or true
			elseif name == 'check' then r.check = vals[1]
			elseif name == 'checkconfig' then r.check = vals[1]; r.checkConfigOnly = true
			else
				r.syncs[#r.syncs + 1] = { mode = name, vals }
			end
		else
			if r.config then return nil, 'There can only be one config file in the command line.' end
			r.config = a
		end
		i = i + 1
	end
	if #r.syncs > 0 and r.config then
		return nil, 'There cannot be command line syncs and a config file together.'
	end
	for _, l in ipairs(r.logs) do
		if l ~= 'all' and l ~= 'scarce' and not l:match('^%u') then
			return nil, "-log " .. l .. ": not a logging category. Use all, scarce or a category: "
				.. table.concat(M.LOG_CATEGORIES, ', ') .. '.'
		end
	end
	return r
end

return M
