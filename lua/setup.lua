-- setup.lua: the operator tools that run instead of the daemon.
--
--   lsyncd-ng -init [FILE] [flags]   asks for (or takes as flags) the source,
--       the slaves and the options, checks each answer, shows the config and
--       writes it: a commented lsyncd config that lsyncd itself can also run.
--   lsyncd-ng -check CONFIG           loads the config without syncing and
--       checks every slave: key-only ssh login, a known host key, rsync on the
--       slave, a writable target dir. One line per slave, ✔ or ✘ with the fix.
--
-- Both run before any event loop exists, so commands run to completion with
-- core.run (argv arrays, no local shell). The one remote shell command, the
-- slave probe, quotes the target dir exactly (the quoting of the remote mv).

local M = {}

local quote = require('default_rsync')._quote
local out = io.stdout

-- s as one word for a POSIX shell, quoted only when it needs it (for
-- commands shown to the operator to copy and paste).
local function shq(s)
	if s:find('^[%w/._@:+=,%-]+$') then return s end
	if not s:find("'") then return "'" .. s .. "'" end
	if not s:find('[\\"$`]') then return '"' .. s .. '"' end
	return quote(s)
end

local function say(...)
	out:write(...)
	out:write('\n')
	out:flush()
end

local function home()
	return os.getenv('HOME') or '/root'
end

local function exists(path) return core.lstat(path) ~= nil end

-- The key ssh would use when none is named: the first default one there.
local function defaultKey()
	for _, n in ipairs { 'id_ed25519', 'id_ecdsa', 'id_rsa' } do
		local p = home() .. '/.ssh/' .. n
		if exists(p) then return p end
	end
	return nil
end

-- Makes the key at path; its directory first when missing (ssh-keygen
-- does not make it: "Saving key ... failed").
local function keygenCommand(path)
	local dir = path:match('^(.*)/[^/]+$')
	local mkdir = (dir and dir ~= '' and not exists(dir)) and ('mkdir -p -m 700 ' .. shq(dir) .. ' && ') or ''
	return mkdir .. "ssh-keygen -t ed25519 -N '' -f " .. shq(path)
end

-- ---- checking one slave ----
--
-- slave = { ssh = binary, args = { ssh options }, dest = '[user@]host',
--           dir = target dir, key = private key file or nil }
-- Returns a list of problems { what = ..., fix = ... } (empty: all good)
-- and a list of what was found good.

local PROBE = 'command -v rsync >/dev/null 2>&1 && echo LNG_RSYNC=yes || echo LNG_RSYNC=no; '
	.. 'if [ -d %s ]; then if [ -w %s ]; then echo LNG_DIR=ok; else echo LNG_DIR=readonly; fi; '
	.. 'elif [ -d %s ] && [ -w %s ]; then echo LNG_DIR=creatable; '
	.. 'else echo LNG_DIR=missing; fi'

local function optionOf(args, flag)
	for i, a in ipairs(args) do
		if a == flag then return args[i + 1] end
		if a:sub(1, 2) == flag and #a > 2 then return a:sub(3) end
	end
	return nil
end

local function sshArgv(slave, command)
	local argv = { slave.ssh }
	for _, a in ipairs(slave.args) do argv[#argv + 1] = a end
	for _, a in ipairs { '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10' } do
		argv[#argv + 1] = a
	end
	argv[#argv + 1] = slave.dest
	argv[#argv + 1] = command
	return argv
end

-- The sync's ssh options that ssh-copy-id takes as well (-p, -o): so the
-- printed command reaches the slave the way the daemon does.
local function copyIdOptions(args)
	local opts = {}
	local i = 1
	while i <= #args do
		local a = args[i]
		if (a == '-p' or a == '-o') and args[i + 1] then
			opts[#opts + 1] = a .. ' ' .. shq(args[i + 1]); i = i + 1
		elseif a:match('^%-[po].') then
			opts[#opts + 1] = a:sub(1, 2) .. ' ' .. shq(a:sub(3))
		elseif (a == '-i' or a == '-F' or a == '-l') and args[i + 1] then
			i = i + 1   -- -i is the key to install (given apart); -F/-l: ssh-copy-id has no such flag
		end
		i = i + 1
	end
	return opts
end

-- The command that installs the master's key on the slave.
local function copyIdCommand(slave)
	local key = slave.key or defaultKey() or (home() .. '/.ssh/id_ed25519')
	local words = { 'ssh-copy-id', '-i', shq(key .. '.pub') }
	for _, o in ipairs(copyIdOptions(slave.args)) do words[#words + 1] = o end
	words[#words + 1] = shq(slave.dest)
	return table.concat(words, ' ')
end

-- The ssh command line an operator types to run remote words on the slave:
-- the sync's own ssh binary and options (port, key, known hosts file, ...),
-- each remote word quoted for the remote shell, then for the local one.
local function sshCommand(slave, ...)
	local words = { shq(slave.ssh or 'ssh') }
	for _, a in ipairs(slave.args) do words[#words + 1] = shq(a) end
	words[#words + 1] = shq(slave.dest)
	for _, w in ipairs { ... } do words[#words + 1] = shq(shq(w)) end
	return table.concat(words, ' ')
end

-- The known hosts file ssh reads for this slave: the sync's
-- UserKnownHostsFile, else ~/.ssh/known_hosts. Returns the path as the
-- shell should see it and whether ~/.ssh may need making.
local function knownHostsOf(slave)
	local args = slave.args
	for i, a in ipairs(args) do
		local opt = (a == '-o' and args[i + 1]) or a:match('^%-o(.+)$')
		local v = opt and opt:match('^[Uu][Ss][Ee][Rr][Kk][Nn][Oo][Ww][Nn][Hh][Oo][Ss][Tt][Ss][Ff][Ii][Ll][Ee]%s*=%s*(%S+)')
		if v then return shq(v), false end
	end
	return '~/.ssh/known_hosts', true
end

local function hostOf(dest)
	return (dest:gsub('^.*@', ''))
end

-- Why ssh failed, from what it printed.
local function sshProblem(slave, status, output, timedOut)
	local host = hostOf(slave.dest)
	local port = optionOf(slave.args, '-p')
	if timedOut then
		return { what = 'no answer from ' .. host .. ' within 20 s',
			fix = 'check that the slave is up and its sshd reachable from here' }
	end
	if output:find('REMOTE HOST IDENTIFICATION HAS CHANGED') then
		return { what = 'the host key of ' .. host .. ' has CHANGED',
			fix = 'if the slave was reinstalled: ssh-keygen -f ' .. knownHostsOf(slave) .. ' -R '
				.. shq(port and ('[' .. host .. ']:' .. port) or host) .. ', then accept the new key' }
	end
	if output:find('Host key verification failed') or output:find('No %S+ host key is known') then
		local file, mkdir = knownHostsOf(slave)
		return { what = 'the host key of ' .. host .. ' is not known here',
			fix = (mkdir and 'mkdir -p -m 700 ~/.ssh && ' or '') .. 'ssh-keyscan '
				.. (port and ('-p ' .. port .. ' ') or '') .. shq(host) .. ' >> ' .. file
				.. '  (compare its fingerprint with the slave\'s'
				.. ' `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` first)' }
	end
	if output:find('Permission denied') or output:find('Too many authentication failures') then
		return { what = 'key login refused (the master\'s key is not in the slave\'s authorized_keys)',
			fix = copyIdCommand(slave) }
	end
	local reason = output:match('ssh: ([^\n]+)') or output:match('([^\n]+)') or ('exit ' .. status)
	if reason:find('Could not resolve') then
		return { what = 'host name not known: ' .. reason, fix = 'check the host name (or /etc/hosts)' }
	end
	return { what = 'cannot reach ' .. host .. ' over ssh: ' .. reason,
		fix = 'check that sshd runs on ' .. host .. (port and (' port ' .. port) or '')
			.. ' and the network path; try: ' .. sshCommand(slave, 'true') }
end

-- Problems with the master's key: the named one missing, or none at all.
local function keyProblem(slave)
	if slave.key then
		if not exists(slave.key) then
			return { what = 'the ssh key ' .. slave.key .. ' does not exist',
				fix = keygenCommand(slave.key) .. ', then ' .. copyIdCommand(slave) }
		end
		return nil
	end
	if not defaultKey() then
		local k = home() .. '/.ssh/id_ed25519'
		return { what = 'this master has no ssh key',
			fix = keygenCommand(k) .. ', then ' .. copyIdCommand(slave) }
	end
	return nil
end

-- Checks slave; returns problems, good (lists). makeDir: a missing target
-- dir is a problem even when rsync could create it (-init offers to make it).
function M.checkSlave(slave, makeDir)
	local problems, good = {}, {}
	local kp = keyProblem(slave)
	if kp then return { kp }, good end
	local parent = slave.dir:gsub('/+$', ''):match('^(.*)/[^/]*$')
	if parent == '' then parent = '/' end
	parent = parent or '.'
	local probe = PROBE:format(quote(slave.dir), quote(slave.dir), quote(parent), quote(parent))
	local status, output, timedOut = core.run(sshArgv(slave, probe), nil, 20)
	if not status then
		return { { what = 'cannot run ' .. slave.ssh .. ': ' .. tostring(output),
			fix = 'install the ssh client (Debian: apt-get install openssh-client)' } }, good
	end
	if timedOut or not output:find('LNG_RSYNC=') then
		return { sshProblem(slave, status, output, timedOut) }, good
	end
	good[#good + 1] = 'key login'
	if output:find('LNG_RSYNC=yes') then
		good[#good + 1] = 'rsync there'
	else
		problems[#problems + 1] = { what = 'rsync is not installed on the slave',
			fix = sshCommand(slave, 'apt-get', 'install', '-y', 'rsync') .. ' (or its package manager)' }
	end
	if output:find('LNG_DIR=ok') then
		good[#good + 1] = 'target dir writable'
	elseif output:find('LNG_DIR=creatable') and not makeDir then
		good[#good + 1] = 'target dir missing: rsync creates it'
	elseif output:find('LNG_DIR=readonly') then
		problems[#problems + 1] = { what = 'target dir ' .. slave.dir .. ' is not writable by '
			.. (slave.dest:match('^(.*)@') or 'the login user'),
			fix = 'fix its owner or mode on the slave, or log in as its owner' }
	else
		problems[#problems + 1] = { what = 'target dir ' .. slave.dir .. ' does not exist',
			fix = sshCommand(slave, 'mkdir', '-p', '--', slave.dir) }
	end
	return problems, good
end

-- Creates slave.dir on the slave; returns ok, output.
local function makeRemoteDir(slave)
	local status, output = core.run(sshArgv(slave, 'mkdir -p -- ' .. quote(slave.dir)), nil, 20)
	return status == 0, output
end

-- ---- -check CONFIG ----

-- The slave a built sync reaches: a table for checkSlave, or a local dir,
-- or nil with a note (rsync daemon targets are not checked).
local function slaveOfSync(s)
	local cfg = s.config
	local binary, args, dest = require('sshmux').sshOf(cfg)
	if binary then
		local dir = cfg.targetdir
		if not (cfg.host and type(cfg.ssh) == 'table') then
			dir = cfg.target:gsub('^[^:]*:', '', 1)
		end
		if dir ~= '/' then dir = dir:gsub('/+$', '') end
		if dir == '' then dir = '.' end
		return { ssh = binary, args = args or {}, dest = dest, dir = dir, key = optionOf(args or {}, '-i') }
	end
	local t = cfg.target or cfg.targetdir
	if type(t) ~= 'string' then return nil, 'no target to check' end
	if t:find('::') or t:find('^rsync://') then return nil, 'rsync daemon target, not checked' end
	if t:find('^[^/]*:') then return nil, 'remote target reached without ssh, not checked' end
	if t ~= '/' then t = t:gsub('/+$', '') end
	return { localDir = t }
end

local function localProblems(dir)
	local st = core.lstat(dir)
	if not st then
		local parent = dir:gsub('/+$', ''):match('^(.*)/[^/]*$')
		if parent and parent ~= '' and core.lstat(parent) then
			return {}, { 'target dir missing: rsync creates it' }
		end
		return { { what = 'target dir ' .. dir .. ' does not exist', fix = 'mkdir -p ' .. quote(dir) } }, {}
	end
	if st.type ~= 'directory' then
		return { { what = dir .. ' is not a directory', fix = 'point target at a directory' } }, {}
	end
	local status = core.run({ 'test', '-w', dir }, nil, 5)
	if status ~= 0 then
		return { { what = 'target dir ' .. dir .. ' is not writable', fix = 'fix its owner or mode' } }, {}
	end
	return {}, { 'local target dir writable' }
end

-- syncs: the built Sync objects of the config. Returns the exit code.
function M.check(syncs, configPath)
	say('Checking ', configPath or 'the syncs', ': config loaded, ', #syncs,
		#syncs == 1 and ' sync' or ' syncs')
	local bad = 0
	for _, s in ipairs(syncs) do
		local slave, note = slaveOfSync(s)
		local label = s.name .. ' ' .. s.source:sub(1, -2) .. ' -> '
		local problems, good
		if not slave then
			say('• ', label, tostring(s.config.target or s.config.host), ': ', note)
			problems = {}
		elseif slave.localDir then
			problems, good = localProblems(slave.localDir)
			label = label .. slave.localDir
		else
			problems, good = M.checkSlave(slave)
			label = label .. slave.dest .. ':' .. slave.dir
		end
		if slave then
			if #problems == 0 then
				say('✔ ', label, ' (', table.concat(good, ', '), ')')
			else
				bad = bad + 1
				for i, p in ipairs(problems) do
					say(i == 1 and '✘ ' or '  ✘ ', i == 1 and (label .. ': ') or '', p.what)
					say('    fix: ', p.fix)
				end
			end
		end
	end
	-- the daemon opens these at start and refuses to run when it cannot
	local files = 0
	local settings = require('config').settings or {}
	for _, key in ipairs { 'logfile', 'statusFile', 'jsonStatusFile', 'metricsFile', 'pidfile' } do
		local p = settings[key]
		local d = type(p) == 'string' and p:match('^(.*)/[^/]*$')
		if d and d ~= '' and not core.lstat(d) then
			files = files + 1
			say('✘ ', key, ' ', p, ': ', d, ' does not exist')
			say('    fix: mkdir -p ', quote(d))
		end
	end
	if bad > 0 then
		say(bad, bad == 1 and ' slave is' or ' slaves are', ' not ready.')
		return 1
	end
	if files > 0 then
		say('All slaves ready, but the daemon cannot write its files.')
		return 1
	end
	say('All slaves ready.')
	return 0
end

-- ---- -init [FILE] ----

local INIT_USAGE = [[
lsyncd-ng -init [FILE] [flags]   writes a config (default FILE: /etc/lsyncd-ng/lsyncd-ng.conf.lua;
                                 "-" prints it). Asks for what the flags do not give when stdin is
                                 a terminal; otherwise every required flag must be given.
  --source DIR              the directory to replicate (required)
  --slave SPEC              a slave, repeat for more (at least one required):
                              [USER@]HOST[:PORT]:/DIR   over ssh
                              /DIR                      a local directory
  --mode rsync|rsyncssh     rsyncssh (default) applies renames on the slave with mv;
                            rsync sends everything with rsync over ssh
  --key FILE                ssh private key (default: ~/.ssh/id_ed25519 or the first found)
  --create-key              create the key with ssh-keygen if it is missing
  --ssh-option KEY=VALUE    an ssh -o option for every slave (repeat)
  --exclude PATTERN         an rsync exclude pattern (repeat)
  --delay SECONDS           how long events gather before a sync (default 5)
  --delete true|false|startup|running   delete policy (default true)
  --log FILE                log file (default /var/log/lsyncd-ng/lsyncd-ng.log)
  --status FILE             status file (default /var/log/lsyncd-ng/lsyncd-ng.status)
  --json-status FILE        also a JSON status file (lsyncd-ng only)
  --no-check                do not contact the slaves
  --force                   overwrite FILE if it exists
  -y, --yes                 do not ask: defaults for what the flags do not give
]]

local DEFAULTS = {
	mode = 'rsyncssh', delay = '5', delete = 'true',
	log = '/var/log/lsyncd-ng/lsyncd-ng.log', status = '/var/log/lsyncd-ng/lsyncd-ng.status',
	file = '/etc/lsyncd-ng/lsyncd-ng.conf.lua',
}

local MULTI = { slave = true, exclude = true, ['ssh-option'] = true }
local VALUED = { source = true, mode = true, key = true, delay = true, delete = true,
	log = true, status = true, ['json-status'] = true }
local SWITCHES = { ['create-key'] = true, ['no-check'] = true, force = true, yes = true }

local function parseFlags(args)
	local f = { slave = {}, exclude = {}, ['ssh-option'] = {} }
	local i = 1
	while i <= #args do
		local a = args[i]
		local name, inline = a:match('^%-%-?([%w-]+)=(.*)$')
		if not name then name = a:match('^%-%-?([%w-]+)$') end
		if a == '-y' then name = 'yes' end
		if a == '-' or not name then
			if f.file then return nil, 'unexpected argument "' .. a .. '"' end
			f.file = a
		elseif name == 'help' or name == 'h' then
			f.help = true
		elseif SWITCHES[name] then
			f[name] = true
		elseif MULTI[name] or VALUED[name] then
			local v = inline
			if not v then
				i = i + 1
				v = args[i]
				if v == nil then return nil, '--' .. name .. ' needs a value' end
			end
			if MULTI[name] then table.insert(f[name], v) else f[name] = v end
		else
			return nil, 'unknown flag "' .. a .. '"'
		end
		i = i + 1
	end
	return f
end

-- "[user@]host[:port]:/dir" or "/dir" -> slave spec, or nil, why.
function M.parseSlave(spec)
	if type(spec) ~= 'string' or spec == '' then return nil, 'empty' end
	if spec:sub(1, 1) == '/' then return { localDir = spec } end
	local user, rest = spec:match('^([^@:/]+)@(.*)$')
	rest = rest or spec
	local host, port, dir = rest:match('^([^:/]+):(%d+):(.+)$')
	if not host then host, dir = rest:match('^([^:/]+):(.+)$') end
	if not host then
		return nil, 'write it as [user@]host[:port]:/target/dir or /local/dir'
	end
	if dir:sub(1, 1) ~= '/' then return nil, 'the target dir must be absolute (start with /)' end
	port = tonumber(port)
	if port and (port < 1 or port > 65535) then return nil, 'port ' .. port .. ' is out of range' end
	return { user = user, host = host, port = port, dir = dir }
end

local function slaveLabel(sl)
	if sl.localDir then return sl.localDir end
	return (sl.user and (sl.user .. '@') or '') .. sl.host .. (sl.port and (':' .. sl.port) or '') .. ':' .. sl.dir
end

-- The checkSlave table of a parsed slave under the answers a.
local function probeOf(sl, a)
	local args = {}
	if sl.port then args[#args + 1] = '-p'; args[#args + 1] = tostring(sl.port) end
	if a.key then args[#args + 1] = '-i'; args[#args + 1] = a.key end
	for _, o in ipairs(a.sshOptions) do args[#args + 1] = '-o'; args[#args + 1] = o end
	return { ssh = 'ssh', args = args, dest = (sl.user and (sl.user .. '@') or '') .. sl.host,
		dir = sl.dir, key = a.key }
end

-- ---- rendering the config ----

local function lstr(s) return string.format('%q', s) end

local function render(a)
	local L = {}
	local function w(...) L[#L + 1] = table.concat({ ... }) end
	w('-- lsyncd-ng config, written by `lsyncd-ng -init` on ', os.date('!%Y-%m-%d %H:%M UTC'), '.')
	w('-- Replicates ', a.source, ' to ', #a.slaves, #a.slaves == 1 and ' slave' or ' slaves', '.')
	if a.json then
		w('-- Uses a lsyncd-ng-only setting (jsonStatusFile, marked below): lsyncd itself')
		w('-- refuses it; remove that line to run this config under lsyncd 2.2/2.3.')
	else
		w('-- Only lsyncd\'s own keys are used: lsyncd 2.2/2.3 can run it unchanged.')
	end
	w('-- Check the slaves with:  lsyncd-ng -check ', a.file == '-' and 'THIS_FILE' or a.file)
	w('')
	w('settings {')
	w('\tlogfile        = ', lstr(a.log), ',')
	w('\tstatusFile     = ', lstr(a.status), ',')
	w('\tstatusInterval = 10,')
	w('\t-- keep running when a slave is down at startup; it is retried')
	w('\tinsist         = true,')
	if a.json then
		w('\tjsonStatusFile = ', lstr(a.json), ',   -- lsyncd-ng only')
	end
	w('}')
	w('')
	local excl = {}
	for _, e in ipairs(a.excludes) do excl[#excl + 1] = lstr(e) end
	local exclLine = '{ ' .. table.concat(excl, ', ') .. (#excl > 0 and ' }' or '}')
	local delete = (a.delete == 'true' or a.delete == 'false') and a.delete or lstr(a.delete)
	for i, sl in ipairs(a.slaves) do
		w('-- slave ', i, ': ', slaveLabel(sl))
		w('sync {')
		local remote = not sl.localDir
		local mode = remote and a.mode or 'rsync'
		w('\tdefault.', mode, ',')
		w('\tsource    = ', lstr(a.source), ',')
		local dest = remote and ((sl.user and (sl.user .. '@') or '') .. sl.host) or nil
		if not remote then
			w('\ttarget    = ', lstr(sl.localDir), ',')
		elseif mode == 'rsyncssh' then
			w('\thost      = ', lstr(dest), ',')
			w('\ttargetdir = ', lstr(sl.dir), ',')
		else
			w('\ttarget    = ', lstr(dest .. ':' .. sl.dir), ',')
		end
		w('\tdelay     = ', a.delay, ',   -- seconds events gather before a transfer')
		w('\tdelete    = ', delete, ',')
		w('\texclude   = ', exclLine, ',')
		if remote and mode == 'rsync' then
			local rsh = { '/usr/bin/ssh' }
			if sl.port then rsh[#rsh + 1] = '-p ' .. sl.port end
			if a.key then rsh[#rsh + 1] = '-i ' .. a.key end
			for _, o in ipairs(a.sshOptions) do rsh[#rsh + 1] = '-o ' .. o end
			w('\trsync     = { archive = true, rsh = ', lstr(table.concat(rsh, ' ')), ' },')
		else
			w('\trsync     = { archive = true },')
		end
		if remote and mode == 'rsyncssh' then
			local parts = {}
			if sl.port then parts[#parts + 1] = 'port = ' .. sl.port end
			if a.key then parts[#parts + 1] = 'identityFile = ' .. lstr(a.key) end
			if #a.sshOptions > 0 then
				local o = {}
				for _, kv in ipairs(a.sshOptions) do
					local k, v = kv:match('^([^=]+)=(.*)$')
					o[#o + 1] = k .. ' = ' .. lstr(v)
				end
				parts[#parts + 1] = 'options = { ' .. table.concat(o, ', ') .. ' }'
			end
			if #parts > 0 then w('\tssh       = { ', table.concat(parts, ', '), ' },') end
		end
		w('}')
		w('')
	end
	return table.concat(L, '\n')
end

-- ---- asking ----

local function ask(question, default)
	out:write(question, default and default ~= '' and (' [' .. default .. ']') or '', ': ')
	out:flush()
	local line = io.stdin:read('*l')
	if line == nil then
		say('')
		error({ eof = true })
	end
	line = line:gsub('^%s+', ''):gsub('%s+$', '')
	if line == '' then return default or '' end
	return line
end

local function askValid(question, default, valid)
	while true do
		local v = ask(question, default)
		local ok, why = valid(v)
		if ok then return v end
		say('  ', why)
	end
end

local function yes(question, default)
	local v = askValid(question, default and 'Y/n' or 'y/N', function(v)
		v = v:lower()
		if v == 'y/n' or v == 'y' or v == 'yes' or v == 'n' or v == 'no' then return true end
		return false, 'answer y or n'
	end)
	v = v:lower()
	if v == 'y/n' then return default end
	return v == 'y' or v == 'yes'
end

local function validSource(v)
	if v == '' then return false, 'the source directory is required' end
	local st = core.lstat(v)
	if not st then return false, v .. ' does not exist' end
	local real = core.realpath(v)
	st = real and core.lstat(real)
	if not st or st.type ~= 'directory' then return false, v .. ' is not a directory' end
	if v:sub(1, 1) ~= '/' then return false, 'give an absolute path (' .. real .. '?)' end
	return true
end

local function validMode(v)
	if v == 'rsync' or v == 'rsyncssh' then return true end
	return false, 'rsync or rsyncssh'
end

local function validDelay(v)
	local n = tonumber(v)
	if n and n >= 0 and n < 86400 then return true end
	return false, 'a number of seconds (0 or more)'
end

local function validDelete(v)
	if v == 'true' or v == 'false' or v == 'startup' or v == 'running' then return true end
	return false, 'true, false, startup or running'
end

local function validAbs(v)
	if v:sub(1, 1) == '/' then return true end
	return false, 'an absolute path'
end

local function splitList(v)
	local t = {}
	for p in v:gmatch('[^,]+') do
		p = p:gsub('^%s+', ''):gsub('%s+$', '')
		if p ~= '' then t[#t + 1] = p end
	end
	return t
end

-- Makes the key with ssh-keygen; returns ok.
local function createKey(path)
	local dir = path:match('^(.*)/[^/]*$')
	if dir and dir ~= '' and not exists(dir) then core.mkdir(dir, 448) end   -- 0700, as ssh wants ~/.ssh
	local status, output = core.run({ 'ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C',
		'lsyncd-ng master', '-f', path }, nil, 30)
	if status ~= 0 then
		say('  could not create ', path, ': ', tostring(output))
		return false
	end
	say('  created ', path, ' (public part: ', path, '.pub)')
	return true
end

-- Interactive check of one slave: returns 'keep' or 'drop' or 'retry'.
local function checkInteractive(sl, a, interactive)
	if sl.localDir then
		local problems = localProblems(sl.localDir)
		if #problems == 0 then say('  ✔ ', sl.localDir); return 'keep' end
		for _, p in ipairs(problems) do say('  ✘ ', p.what, '  (fix: ', p.fix, ')') end
		if interactive and yes('  Create ' .. sl.localDir .. '?', true) then
			core.run({ 'mkdir', '-p', '--', sl.localDir }, nil, 10)
			return 'retry'
		end
		if not interactive then
			core.run({ 'mkdir', '-p', '--', sl.localDir }, nil, 10)
			return exists(sl.localDir) and 'keep' or 'drop'
		end
		return 'keep'
	end
	local probe = probeOf(sl, a)
	local problems, good = M.checkSlave(probe, true)
	if #problems == 0 then
		say('  ✔ ', slaveLabel(sl), ' (', table.concat(good, ', '), ')')
		return 'keep'
	end
	local p = problems[1]
	say('  ✘ ', slaveLabel(sl), ': ', p.what)
	if p.what:find('does not exist', 1, true) and p.what:find('^target dir') then
		if not interactive or yes('  Create ' .. sl.dir .. ' on ' .. sl.host .. '?', true) then
			local ok, output = makeRemoteDir(probe)
			if ok then say('  created ', sl.dir, ' on ', sl.host); return 'retry' end
			say('  could not create it: ', output)
		end
	end
	for i = 1, #problems do
		if i > 1 then say('  ✘ ', problems[i].what) end
		say('    fix: ', problems[i].fix)
	end
	if not interactive then return 'keep' end
	while true do
		local v = ask('  [r]etry the check, [k]eep this slave anyway, [d]rop it?', 'r'):lower()
		if v == 'r' or v == 'retry' then return 'retry' end
		if v == 'k' or v == 'keep' then return 'keep' end
		if v == 'd' or v == 'drop' then return 'drop' end
		say('  answer r, k or d')
	end
end

-- Gathers the answers from flags f and, when interactive, questions.
local function gather(f, interactive)
	local a = { sshOptions = f['ssh-option'], excludes = f.exclude, slaves = {}, json = f['json-status'] }
	for _, o in ipairs(a.sshOptions) do
		if not o:find('^[%w]+=') then error({ msg = '--ssh-option "' .. o .. '": write it as KEY=VALUE' }) end
	end
	local function value(name, question, default, valid)
		local v = f[name]
		if v ~= nil then
			local ok, why = valid(v)
			if ok then return v end
			if not interactive then error({ msg = '--' .. name .. ' ' .. v .. ': ' .. why }) end
			say('--', name, ' ', v, ': ', why)
		end
		if not interactive then return default end
		return askValid(question, default, valid)
	end
	a.source = value('source', 'Source directory to replicate (absolute path)', nil, validSource)
	a.source = a.source:gsub('/+$', '')
	if a.source == '' then a.source = '/' end
	a.mode = value('mode', 'Mode: rsyncssh (renames done on the slave with mv) or rsync', DEFAULTS.mode, validMode)

	-- the key, only asked when a remote slave may come
	local key = f.key or defaultKey() or (home() .. '/.ssh/id_ed25519')
	if interactive and not f.key then key = askValid('ssh key of this master', key, validAbs) end
	a.key = key
	if not exists(key) then
		if f['create-key'] or (interactive and yes('No key at ' .. key .. '. Create it now?', true)) then
			createKey(key)
		else
			say('note: no ssh key at ', key, '; create one with: ', keygenCommand(key))
		end
	end

	-- slaves: the flags', then more when asked
	for _, spec in ipairs(f.slave) do
		local sl, why = M.parseSlave(spec)
		if not sl then
			if not interactive then error({ msg = '--slave ' .. spec .. ': ' .. why }) end
			say('--slave ', spec, ': ', why)
		else
			a.slaves[#a.slaves + 1] = sl
		end
	end
	if interactive then
		if #a.slaves == 0 then
			say('Slaves: one per line as [user@]host[:port]:/target/dir (or a local /dir);')
			say('an empty line ends the list.')
		end
		while true do
			local n = #a.slaves + 1
			local v = ask('Slave ' .. n .. (n > 1 and ' (empty: done)' or ''), nil)
			if v == '' then
				if n > 1 then break end
				say('  at least one slave is needed')
			else
				local sl, why = M.parseSlave(v)
				if sl then
					a.slaves[n] = sl
					sl.fresh = true
				else
					say('  ', why)
				end
			end
			if a.slaves[n] and not f['no-check'] then
				local r
				repeat r = checkInteractive(a.slaves[n], a, true) until r ~= 'retry'
				if r == 'drop' then a.slaves[n] = nil end
			end
		end
	end
	if not f['no-check'] then
		for i = #a.slaves, 1, -1 do
			local sl = a.slaves[i]
			if not sl.fresh then
				local r
				repeat r = checkInteractive(sl, a, interactive) until r ~= 'retry'
				if r == 'drop' then table.remove(a.slaves, i) end
			end
		end
	end
	if #a.slaves == 0 then error({ msg = 'no slave left to write a config for' }) end

	if interactive and #f.exclude == 0 then
		a.excludes = splitList(ask('Exclude patterns, comma separated (e.g. *.tmp, .git/)', ''))
	end
	a.delay = value('delay', 'Seconds to gather events before a transfer', DEFAULTS.delay, validDelay)
	a.delete = value('delete', 'Delete on the slaves what is deleted here: true, false, startup, running',
		DEFAULTS.delete, validDelete)
	a.log = value('log', 'Log file', DEFAULTS.log, validAbs)
	a.status = value('status', 'Status file', DEFAULTS.status, validAbs)
	if a.json and not validAbs(a.json) then error({ msg = '--json-status ' .. a.json .. ': an absolute path' }) end
	return a
end

local REQUIRED = {
	{ 'source', '--source DIR' },
	{ 'slave', '--slave [USER@]HOST[:PORT]:/DIR' },
}

function M.init(opts, args)
	-- args after -init belong to the generator
	local f, err = parseFlags(opts.initArgs or {})
	if not f then
		io.stderr:write('lsyncd-ng -init: ', err, '\n', INIT_USAGE)
		return 1
	end
	if f.help then out:write(INIT_USAGE); return 0 end
	local interactive = core.isatty(0) and not f.yes
	if not interactive then
		local missing = {}
		for _, r in ipairs(REQUIRED) do
			local v = f[r[1]]
			if v == nil or (type(v) == 'table' and #v == 0) then missing[#missing + 1] = r[2] end
		end
		if #missing > 0 then
			io.stderr:write('lsyncd-ng -init: ', core.isatty(0) and 'with --yes' or 'no terminal to ask on',
				', so these flags are needed: ', table.concat(missing, ', '), '\n', INIT_USAGE)
			return 1
		end
	end
	f.file = f.file or DEFAULTS.file
	if interactive then
		say('lsyncd-ng -init: a config for one source and its slaves. Enter keeps [the default].')
	end
	local ok, a = pcall(gather, f, interactive)
	if not ok then
		if type(a) == 'table' and a.eof then
			io.stderr:write('lsyncd-ng -init: input ended; nothing written\n')
		elseif type(a) == 'table' then
			io.stderr:write('lsyncd-ng -init: ', a.msg, '\n')
		else
			io.stderr:write('lsyncd-ng -init: ', tostring(a), '\n')
		end
		return 1
	end
	a.file = f.file
	local text = render(a)
	-- what is written must load: the generator's own check
	local fn, perr = loadstring(text, '=' .. a.file)
	if not fn then
		io.stderr:write('lsyncd-ng -init: internal error, the config does not parse: ', perr, '\n')
		return 1
	end
	if a.file == '-' then
		out:write(text)
		out:flush()
		return 0
	end
	if interactive then
		say('')
		say('---- ', a.file, ' ----')
		out:write(text)
		say('----')
		if not yes('Write it to ' .. a.file .. '?', true) then
			say('Nothing written.')
			return 1
		end
	end
	if exists(a.file) and not f.force then
		if not (interactive and yes(a.file .. ' exists. Replace it?', false)) then
			io.stderr:write('lsyncd-ng -init: ', a.file, ' exists (--force replaces it); nothing written\n')
			return 1
		end
	end
	local dir = a.file:match('^(.*)/[^/]*$')
	if dir and dir ~= '' and not exists(dir) then
		core.run({ 'mkdir', '-p', '--', dir }, nil, 10)
	end
	-- a temporary renamed over the path: a symlink there is replaced, not followed
	local written, ferr = core.writeFile(a.file, text, 420)     -- 0644
	if not written then
		io.stderr:write('lsyncd-ng -init: cannot write ', ferr, '\n')
		return 1
	end
	-- The dirs of the log and status files: made when they were chosen or when
	-- this is the system's config; a test config written elsewhere leaves the
	-- default /var/log/lsyncd-ng alone (make install and the .deb make that one).
	local noted = {}
	for _, p in ipairs { a.log, a.status, a.json } do
		local d = p and p:match('^(.*)/[^/]*$')
		if d and d ~= '' and not exists(d) and not noted[d] then
			noted[d] = true
			local chosen = p ~= DEFAULTS.log and p ~= DEFAULTS.status
			if chosen or a.file == DEFAULTS.file then
				core.run({ 'mkdir', '-p', '--', d }, nil, 10)
			else
				say('Note: ', d, ' does not exist; the daemon cannot open ', p,
					' until it does (mkdir -p ', d, '; make install and the .deb make it)')
			end
		end
	end
	say('Wrote ', a.file, '.')
	say('Next: lsyncd-ng -check ', a.file, '   (every slave ✔?)')
	if a.file == DEFAULTS.file then
		say('then: systemctl enable --now lsyncd-ng   (or lsyncd-ng -nodaemon ', a.file, ' to watch it work)')
	else
		say('then: lsyncd-ng -nodaemon ', a.file,
			'   (or systemctl enable --now lsyncd-ng@NAME with it as /etc/lsyncd-ng/NAME.conf.lua)')
	end
	return 0
end

return M
