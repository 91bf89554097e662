-- compat_rsync.lua: rsync and ssh command-line options written the old way
-- (lsyncd 2.0's rsyncOps lists, ssh commands in an rsh string, ssh tables
-- nested in rsync = {...}) read into the keys of the modern rsync = {...}
-- and ssh = {...} tables, and those tables shown as Lua for a warning.
-- Pure functions, used by compat.lua.

local cli = require 'cli'

local M = {}

-- rsyncOps / rsyncOpts (a string, split on blanks honouring quotes, or a
-- list of arguments) -> the remote shell given with -e / --rsh (or nil),
-- the other arguments in order; or nil, nil, why.
function M.splitOps(v)
	local words = {}
	if type(v) == 'string' then
		words = cli.splitQuoted(v)
	elseif type(v) == 'table' then
		for _, x in ipairs(v) do words[#words + 1] = tostring(x) end
	else
		return nil, nil, 'must be a string or a list of strings, not a ' .. type(v)
	end
	local rsh, extra = nil, {}
	local i = 1
	while i <= #words do
		local w = words[i]
		local bundle = w:match('^%-(%a*)e$')
		if w == '-e' or w == '--rsh' or (bundle and bundle ~= '') then
			if words[i + 1] == nil then return nil, nil, w .. ' is not followed by a command' end
			if bundle and bundle ~= '' then extra[#extra + 1] = '-' .. bundle end
			rsh = words[i + 1]
			i = i + 1
		elseif w:match('^%-%-rsh=') then
			rsh = w:sub(7)
		elseif w:match('^%-e.') then
			rsh = w:sub(3):gsub('^%s+', '')   -- "-essh", "-e ssh -p 2" as one argument
		else
			extra[#extra + 1] = w
		end
		i = i + 1
	end
	return rsh, extra
end

-- An ssh command ("ssh -p 2222 -i key -o K=V ...") as an ssh = {...}
-- table: binary, port, identityFile, options, _extra (the rest, in order).
function M.sshTable(cmd)
	local words = cli.splitQuoted(cmd)
	local t = { binary = table.remove(words, 1) or 'ssh' }
	local extra = {}
	local i = 1
	while i <= #words do
		local w, nx = words[i], words[i + 1]
		local opt, val = w:match('^%-([pio])(.*)$')
		if opt and val == '' and nx then
			val = nx
			i = i + 1
		end
		if opt == 'p' and tonumber(val) then
			t.port = tonumber(val)
		elseif opt == 'i' and val ~= '' then
			t.identityFile = val
		elseif opt == 'o' and val:find('=', 1, true) then
			local k, x = val:match('^([^=]+)=(.*)$')
			t.options = t.options or {}
			t.options[k] = x
		else
			extra[#extra + 1] = w
			if opt and val ~= w:sub(3) then extra[#extra + 1] = val end
		end
		i = i + 1
	end
	if #extra > 0 then t._extra = extra end
	return t
end

-- One word of a command rsync splits on blanks: quoted if it must be.
local function word(w)
	w = tostring(w)
	if w ~= '' and not w:find('[%s\'"]') then return w end
	return "'" .. w:gsub("'", "''") .. "'"
end

-- The ssh command of an ssh = {...} table, for rsync's --rsh; base: a
-- command the rsync table had already (its arguments come first).
function M.rshOf(ssh, base)
	local out = { base or word(ssh.binary or 'ssh') }
	if ssh.identityFile then
		out[#out + 1] = '-i'
		out[#out + 1] = word(ssh.identityFile)
	end
	if type(ssh.options) == 'table' then
		local keys = {}
		for k in pairs(ssh.options) do keys[#keys + 1] = k end
		table.sort(keys)
		for _, k in ipairs(keys) do
			out[#out + 1] = '-o'
			out[#out + 1] = word(k .. '=' .. tostring(ssh.options[k]))
		end
	end
	if ssh.port then
		out[#out + 1] = '-p'
		out[#out + 1] = word(ssh.port)
	end
	local extra = ssh._extra
	if type(extra) == 'string' then extra = { extra } end
	for _, x in ipairs(type(extra) == 'table' and extra or {}) do out[#out + 1] = word(x) end
	return table.concat(out, ' ')
end

-- v as Lua source, for messages: strings quoted, tables with their list
-- part first, then the other keys sorted.
function M.show(v)
	if type(v) == 'string' then return string.format('%q', v) end
	if type(v) ~= 'table' then return tostring(v) end
	local parts = {}
	for _, x in ipairs(v) do parts[#parts + 1] = M.show(x) end
	local keys = {}
	for k in pairs(v) do
		if type(k) == 'string' then keys[#keys + 1] = k end
	end
	table.sort(keys)
	for _, k in ipairs(keys) do
		local name = k:match('^[%a_][%w_]*$') and k or ('[' .. string.format('%q', k) .. ']')
		parts[#parts + 1] = name .. ' = ' .. M.show(v[k])
	end
	if #parts == 0 then return '{}' end
	return '{ ' .. table.concat(parts, ', ') .. ' }'
end

return M
