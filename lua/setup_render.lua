-- setup_render.lua: the config -init writes, as text: a commented lsyncd
-- config (lsyncd 2.2/2.3 run it too unless a lsyncd-ng-only key is chosen).
-- Pure: the answers in, the text out.

local M = {}

-- A parsed slave as the operator wrote it.
function M.slaveLabel(sl)
	if sl.localDir then return sl.localDir end
	return (sl.user and (sl.user .. '@') or '') .. sl.host .. (sl.port and (':' .. sl.port) or '') .. ':' .. sl.dir
end

local function lstr(s) return string.format('%q', s) end

-- s for a comment line: a control character (a newline would end the
-- comment and make the rest code) is written as \ddd.
local function cstr(s)
	return (s:gsub('%c', function(c) return '\\' .. c:byte() end))
end

-- The config for answers a ({ source, slaves, mode, key, sshOptions,
-- excludes, delay, delete, log, status, json, file }); when: the time
-- named in its first line (default: now, UTC).
function M.render(a, when)
	local L = {}
	local function w(...) L[#L + 1] = table.concat({ ... }) end
	w('-- lsyncd-ng config, written by `lsyncd-ng -init` on ', when or os.date('!%Y-%m-%d %H:%M UTC'), '.')
	w('-- Replicates ', cstr(a.source), ' to ', #a.slaves, #a.slaves == 1 and ' slave' or ' slaves', '.')
	if a.json then
		w('-- Uses a lsyncd-ng-only setting (jsonStatusFile, marked below): lsyncd itself')
		w('-- refuses it; remove that line to run this config under lsyncd 2.2/2.3.')
	else
		w('-- Only lsyncd\'s own keys are used: lsyncd 2.2/2.3 can run it unchanged.')
	end
	w('-- Check the slaves with:  lsyncd-ng -check ', a.file == '-' and 'THIS_FILE' or cstr(a.file))
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
		w('-- slave ', i, ': ', cstr(M.slaveLabel(sl)))
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

return M
