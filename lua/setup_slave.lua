-- setup_slave.lua: checks one slave for the operator tools (-check, -init):
-- key-only ssh login, a known host key, rsync there, a writable target dir;
-- or a local target dir. Each problem comes with the command that fixes it.
-- Commands run to completion with core.run (argv arrays, no local shell);
-- the one remote shell command, the probe, quotes the target dir exactly.

local shquote = require 'shquote'
local quote, shq = shquote.quote, shquote.word

local M = {}

-- The operator's home (ssh's ~).
function M.home()
	return os.getenv('HOME') or '/root'
end

-- True when something (of any type) is at path.
function M.exists(path) return core.lstat(path) ~= nil end

-- The key ssh would use when none is named: the first default one there.
function M.defaultKey()
	for _, n in ipairs { 'id_ed25519', 'id_ecdsa', 'id_rsa' } do
		local p = M.home() .. '/.ssh/' .. n
		if M.exists(p) then return p end
	end
	return nil
end

-- The command that makes an ssh key at path; its directory first when
-- missing (ssh-keygen does not make it: "Saving key ... failed").
function M.keygenCommand(path)
	local dir = path:match('^(.*)/[^/]+$')
	local mkdir = (dir and dir ~= '' and not M.exists(dir)) and ('mkdir -p -m 700 ' .. shq(dir) .. ' && ') or ''
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

-- The value of ssh option flag ('-p', '-i') in args, or nil.
function M.optionOf(args, flag)
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
	local key = slave.key or M.defaultKey() or (M.home() .. '/.ssh/id_ed25519')
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
	local port = M.optionOf(slave.args, '-p')
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
		if not M.exists(slave.key) then
			return { what = 'the ssh key ' .. slave.key .. ' does not exist',
				fix = M.keygenCommand(slave.key) .. ', then ' .. copyIdCommand(slave) }
		end
		return nil
	end
	if not M.defaultKey() then
		local k = M.home() .. '/.ssh/id_ed25519'
		return { what = 'this master has no ssh key',
			fix = M.keygenCommand(k) .. ', then ' .. copyIdCommand(slave) }
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
function M.makeRemoteDir(slave)
	local status, output = core.run(sshArgv(slave, 'mkdir -p -- ' .. quote(slave.dir)), nil, 20)
	return status == 0, output
end

-- Problems with a local target dir (and what is good): lists.
function M.localProblems(dir)
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

return M
