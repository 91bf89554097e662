-- status.lua: the lsyncd status file (lsyncd's layout) and -status output.

local M = {}

-- Writes lsyncd's status report for syncs to path.
function M.write(path, syncs)
	local out = {}
	out[#out + 1] = 'Lsyncd status report at ' .. os.date('%c') .. '\n\n'
	for _, s in ipairs(syncs) do
		out[#out + 1] = s.name .. ' source=' .. s.source .. '\n'
		out[#out + 1] = 'There are ' .. s.delays.size .. ' delays\n'
		local d = s.delays.head
		while d do
			out[#out + 1] = string.format('%-7s', d.status) .. d.etype .. ' ' .. d.path
				.. (d.path2 and (' -> ' .. d.path2) or '') .. '\n'
			d = d.next
		end
		out[#out + 1] = 'Filtering:\n'
		local filters = s.filter:hasFilters() and s.filter:getFilters() or {}
		if #filters == 0 then
			out[#out + 1] = '  nothing.\n'
		else
			for _, f in ipairs(filters) do out[#out + 1] = '  ' .. f .. '\n' end
		end
		out[#out + 1] = '\n\n'
	end
	local list = core.watchList()
	out[#out + 1] = 'Inotify watching ' .. #list .. ' directories\n'
	for _, w in ipairs(list) do
		out[#out + 1] = '  ' .. w[1] .. ': ' .. w[2] .. '/\n'
	end
	local tmp = path .. '.tmp'
	local f = io.open(tmp, 'w')
	if not f then
		core.log('Error', 'Cannot open status file "' .. path .. '"')
		return
	end
	f:write(table.concat(out))
	f:close()
	os.rename(tmp, path)
end

-- Prints a readable per-slave table from a status file.
function M.printTable(path)
	if path == true then path = '/var/run/lsyncd-ng/status.json' end
	local f = io.open(path, 'r')
	if not f then
		io.stderr:write('Cannot read status file ', path, '\n')
		return
	end
	io.stdout:write(f:read('*a'))
	f:close()
end

return M
