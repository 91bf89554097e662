-- rsync_output.lua: what the rsync layer reads in its children's output:
-- the progress of a startup transfer (--info=progress2), the counts of
-- --stats, and after exit 23 the paths rsync named as failed.

local config = require 'config'
local log = require('log').log

local M = {}

-- rsync --stats lines we read (and keep out of the log).
local STATS = {
	['Number of regular files transferred'] = 'files',
	['Total transferred file size'] = 'bytes',
}

-- rsync --info=progress2 of a startup transfer:
-- "  1,234,567  45%   12.34MB/s    0:01:10 (xfr#12, ir-chk=100/2000)"
local function progress(p, line)
	local bytes, pct, rate, eta = line:match('^%s*([%d,]+)%s+(%d+)%%%s+(%S+)%s+(%d+:%d%d:%d%d)')
	if not bytes then return false end
	local s = p.sync
	local last = s:progressReport()
	local files = tonumber(line:match('xfr#(%d+)') or '') or (last and last.files) or 0
	local left, all = line:match('%-chk=(%d+)/(%d+)')
	local report = { bytes = tonumber((bytes:gsub(',', ''))), percent = tonumber(pct), rate = rate,
		eta = eta, files = files, checked = all and (tonumber(all) - tonumber(left)) or nil,
		total = tonumber(all or '') }
	-- a line in the log every progressInterval s (from the first report)
	if s:noteProgress(report, core.now(), config.settings.progressInterval or 10) then
		log('Normal', s.name, ': startup transfer to ', s:target() or '?', ': ', pct, '%, ',
			report.bytes, ' bytes, ', files, ' files sent, ', rate, ', ETA ', eta)
	end
	return true
end

-- The paths rsync named in its errors after exit 23, relative to the sync
-- ('/a/f'; '/d/' for a directory it could not make, whose content it then
-- skipped): names of the source, or of the target dir (a receiver's error;
-- its temporary '.f.XXXXXX' stands for f).
local function failedPaths(s, p)
	local src, out, seen = s.source, {}, {}
	local tgt = (s:target() or ''):match('^[^:]*:(/.*)$') or s:target()
	for _, line in ipairs(p.stderr or {}) do
		local whole = line:find('mkdir', 1, true) ~= nil
		for q in line:gmatch('"([^"]+)"') do
			local rel
			if q:sub(1, #src) == src then
				rel = q:sub(#src + 1)
			elseif tgt and tgt:sub(1, 1) == '/' and q:sub(1, #tgt) == tgt then
				rel = q:sub(#tgt + 1)
				local dir, name = rel:match('^(.-)%.([^/]+)%.[%w]+$')
				if dir and (dir == '' or dir:sub(-1) == '/') then rel = dir .. name end
			end
			if rel and rel ~= '' then
				rel = '/' .. rel:gsub('/$', '')
				local st = whole and core.lstat(src .. rel:sub(2))
				if st and st.type == 'directory' then rel = rel .. '/' end
				if not seen[rel] then
					seen[rel] = true
					out[#out + 1] = rel
				end
			end
		end
	end
	return out
end

M.failedPaths = failedPaths

-- A line on stream (1 stdout, 2 stderr) of child p ({ sync=, delays=,
-- stats= }): true when it was rsync's progress or --stats output, taken
-- here (counted on the sync) and kept out of the log.
function M.line(p, stream, line)
	if stream ~= 1 then return false end
	if p.delays[1] and p.delays[1].etype == 'Init' and (line == '' or progress(p, line)) then
		return true
	end
	local key, num = line:match('^([%a ]+): ([%d,]+)')
	if key and STATS[key] then
		local n = tonumber((num:gsub(',', ''))) or 0
		if STATS[key] == 'files' then p.sync:countSent(n, 0) else p.sync:countSent(0, n) end
		return true
	end
	if p.stats and (line == '' or line:match('^[%a ]+: ') or line:match('^sent %d')
		or line:match('^total size is')) then
		if core.logEnabled('Exec') then core.log('Exec', line) end
		return true
	end
	return false
end

return M
