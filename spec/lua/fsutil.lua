-- fsutil.lua: small file-system helpers for specs that drive a real rsync
-- (temp dirs, hostile file names, reading rsync's output).
local M = {}

-- Single-quotes s for sh.
function M.q(s)
	return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Runs a shell command; true if it exited 0 (Lua 5.1 and 5.2+ results).
function M.sh(cmd)
	local a, _, c = os.execute(cmd)
	if type(a) == 'number' then return a == 0 end
	return a == true and (c == nil or c == 0)
end

-- A fresh temp directory (absolute path, no trailing '/').
function M.tempdir()
	local name = os.tmpname()
	os.remove(name)
	assert(M.sh('mkdir -m 700 ' .. M.q(name)), 'mkdir ' .. name)
	return name
end

function M.rmrf(dir)
	if dir and dir:match('^/tmp/') then M.sh('rm -rf ' .. M.q(dir)) end
end

function M.writefile(path, text)
	local f = assert(io.open(path, 'wb'))
	f:write(text or '')
	f:close()
end

function M.readfile(path)
	local f = io.open(path, 'rb')
	if not f then return nil end
	local s = f:read('*a')
	f:close()
	return s
end

-- Creates a tree under root from sync-relative paths ('/a/', '/a/f');
-- directories end in '/'. Parents must come first.
function M.mktree(root, paths)
	local dirs = {}
	for _, p in ipairs(paths) do
		if p:sub(-1) == '/' then dirs[#dirs + 1] = M.q(root .. p) end
	end
	if #dirs > 0 then assert(M.sh('mkdir -p -- ' .. table.concat(dirs, ' '))) end
	for _, p in ipairs(paths) do
		if p:sub(-1) ~= '/' then M.writefile(root .. p, p) end
	end
end

-- Every path below root as a set of sync-relative paths ('/a/', '/a/f').
-- Uses find -print0, so names may hold any byte.
function M.listtree(root)
	local p = assert(io.popen('cd ' .. M.q(root) .. ' && find . -mindepth 1 -printf "%y %P\\0"'))
	local out = p:read('*a')
	p:close()
	local set = {}
	for typ, name in out:gmatch('(%a) ([^%z]*)%z') do
		set['/' .. name .. (typ == 'd' and '/' or '')] = true
	end
	return set
end

-- Sorted keys of a set.
function M.keys(set)
	local out = {}
	for k in pairs(set) do out[#out + 1] = k end
	table.sort(out)
	return out
end

return M
