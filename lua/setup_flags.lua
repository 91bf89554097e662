-- setup_flags.lua: what -init is given: its flags (parsed), slave specs,
-- the defaults, and the checks every value passes (flag or answer).

local M = {}

M.USAGE = [[
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

M.DEFAULTS = {
	mode = 'rsyncssh', delay = '5', delete = 'true',
	log = '/var/log/lsyncd-ng/lsyncd-ng.log', status = '/var/log/lsyncd-ng/lsyncd-ng.status',
	file = '/etc/lsyncd-ng/lsyncd-ng.conf.lua',
}

local MULTI = { slave = true, exclude = true, ['ssh-option'] = true }
local VALUED = { source = true, mode = true, key = true, delay = true, delete = true,
	log = true, status = true, ['json-status'] = true }
local SWITCHES = { ['create-key'] = true, ['no-check'] = true, force = true, yes = true }

-- Parses the flags after -init; a table, or nil and why.
function M.parse(args)
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

-- The flags needed when there is no terminal to ask on.
M.REQUIRED = {
	{ 'source', '--source DIR' },
	{ 'slave', '--slave [USER@]HOST[:PORT]:/DIR' },
}

function M.validSource(v)
	if v == '' then return false, 'the source directory is required' end
	local st = core.lstat(v)
	if not st then return false, v .. ' does not exist' end
	local real = core.realpath(v)
	st = real and core.lstat(real)
	if not st or st.type ~= 'directory' then return false, v .. ' is not a directory' end
	if v:sub(1, 1) ~= '/' then return false, 'give an absolute path (' .. real .. '?)' end
	return true
end

function M.validMode(v)
	if v == 'rsync' or v == 'rsyncssh' then return true end
	return false, 'rsync or rsyncssh'
end

function M.validDelay(v)
	local n = tonumber(v)
	if n and n >= 0 and n < 86400 then return true end
	return false, 'a number of seconds (0 or more)'
end

function M.validDelete(v)
	if v == 'true' or v == 'false' or v == 'startup' or v == 'running' then return true end
	return false, 'true, false, startup or running'
end

function M.validAbs(v)
	if v:sub(1, 1) == '/' then return true end
	return false, 'an absolute path'
end

function M.splitList(v)
	local t = {}
	for p in v:gmatch('[^,]+') do
		p = p:gsub('^%s+', ''):gsub('%s+$', '')
		if p ~= '' then t[#t + 1] = p end
	end
	return t
end

return M
