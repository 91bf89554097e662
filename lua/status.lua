-- status.lua: the lsyncd status file (lsyncd's layout) and -status output.

local json = require 'json'

local M = {}

-- Writes text to path atomically: a mkstemp temporary in the same
-- directory renamed over path, so a symlink or a file planted there (the
-- directory may be writable by others) is replaced, never written through.
local function writeAtomic(path, text)
	local ok, err = core.writeFile(path, text, 420)     -- 0644
	if not ok then
		core.log('Error', 'Cannot write status file "' .. path .. '": ' .. tostring(err))
	end
end


-- Writes lsyncd's status report for syncs to path.
function M.write(path, syncs)
	local out = {}
	out[#out + 1] = 'Lsyncd status report at ' .. os.date('%c') .. '\n\n'
	for _, s in ipairs(syncs) do
		out[#out + 1] = s.name .. ' source=' .. s.source .. '\n'
		out[#out + 1] = 'There are ' .. s:queueSize() .. ' delays\n'
		for d in s:eachDelay() do
			out[#out + 1] = string.format('%-7s', d.status) .. d.etype .. ' ' .. d.path
				.. (d.path2 and (' -> ' .. d.path2) or '') .. '\n'
		end
		out[#out + 1] = 'Filtering:\n'
		-- filter lines, then "- pattern" for each exclude (lsyncd means to
		-- list excludes here too, but never does)
		local filters = s:getFilter():getFilters()
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
	writeAtomic(path, table.concat(out))
end

-- The state of one sync: startup, ok, retrying, down or degraded.
local function stateOf(s, unwatched)
	if s:errorLine() then return 'error' end
	if s:isStopped() then return 'down' end
	if s:failureCount() >= 5 then return 'down' end
	if s:failureCount() > 0 or s:nextParked() then return 'retrying' end
	if unwatched > 0 then return 'degraded' end
	if s:awaitingStartup() then return 'startup' end
	return 'ok'
end

-- A snapshot of every sync for the machine-readable outputs.
function M.snapshot(syncs)
	local now, wall = core.now(), core.time()
	local watched, unwatched = core.watchCount()
	local out = { time = wall, version = core.version,
		watches = watched, unwatched = unwatched, syncs = setmetatable({}, json.array) }
	for _, s in ipairs(syncs) do
		local pendingCount, oldest = s:pending()
		local r = s:report()
		out.syncs[#out.syncs + 1] = {
			name = s.name, source = s.source, target = s:target() or '',
			state = stateOf(s, unwatched),
			queue = pendingCount,
			lag = oldest and math.max(0, now - oldest) or 0,
			last_success = r.lastSuccess,
			failures = r.failures,
			processes = r.processes,
			events_synced = r.eventsDone,
			files_sent = r.filesSent,
			progress = r.progress,
			bytes_sent = r.bytesSent,
		}
	end
	return out
end

-- Writes the JSON status file.
function M.writeJson(path, snap)
	writeAtomic(path, json.encode(snap) .. '\n')
end

-- Writes a Prometheus textfile (node_exporter's textfile collector).
function M.writeMetrics(path, snap)
	local out = {}
	local function metric(name, help, kind)
		out[#out + 1] = '# HELP lsyncd_ng_' .. name .. ' ' .. help .. '\n'
		out[#out + 1] = '# TYPE lsyncd_ng_' .. name .. ' ' .. kind .. '\n'
	end
	local function label(v) return (tostring(v):gsub('[\\"\n]', { ['\\'] = '\\\\', ['"'] = '\\"', ['\n'] = '\\n' })) end
	local per = {
		{ 'queue_length', 'Events waiting for this slave.', 'gauge', 'queue' },
		{ 'lag_seconds', 'Age of the oldest pending event.', 'gauge', 'lag' },
		{ 'last_success_timestamp_seconds', 'Wall time of the last successful transfer.', 'gauge', 'last_success' },
		{ 'consecutive_failures', 'Failed transfers since the last success.', 'gauge', 'failures' },
		{ 'running_processes', 'Children running for this slave.', 'gauge', 'processes' },
		{ 'events_synced_total', 'Events transferred successfully.', 'counter', 'events_synced' },
		{ 'files_sent_total', 'Files rsync transferred.', 'counter', 'files_sent' },
		{ 'bytes_sent_total', 'Bytes of file data rsync transferred.', 'counter', 'bytes_sent' },
	}
	for _, m in ipairs(per) do
		metric(m[1], m[2], m[3])
		for _, s in ipairs(snap.syncs) do
			out[#out + 1] = string.format('lsyncd_ng_%s{sync="%s",target="%s"} %s\n', m[1],
				label(s.name), label(s.target), json.encode(s[m[4]]))
		end
	end
	metric('state', 'Slave state (1 for the current one).', 'gauge')
	for _, s in ipairs(snap.syncs) do
		for _, st in ipairs { 'startup', 'ok', 'retrying', 'down', 'degraded', 'error' } do
			out[#out + 1] = string.format('lsyncd_ng_state{sync="%s",target="%s",state="%s"} %d\n',
				label(s.name), label(s.target), st, s.state == st and 1 or 0)
		end
	end
	metric('inotify_watches', 'Directories watched.', 'gauge')
	out[#out + 1] = 'lsyncd_ng_inotify_watches ' .. snap.watches .. '\n'
	metric('unwatched_directories', 'Directories left unwatched (out of watches).', 'gauge')
	out[#out + 1] = 'lsyncd_ng_unwatched_directories ' .. snap.unwatched .. '\n'
	writeAtomic(path, table.concat(out))
end

-- Prints a readable per-slave table from a JSON status file (-status).
function M.printTable(path)
	if path == true then path = '/run/lsyncd-ng/status.json' end
	local f = io.open(path, 'r')
	if not f then
		io.stderr:write('Cannot read status file ', path, '\n')
		return false
	end
	local snap, err = json.decode(f:read('*a'))
	f:close()
	if type(snap) ~= 'table' then
		io.stderr:write(path, ': not a lsyncd-ng JSON status file (', tostring(err), ')\n')
		return false
	end
	local age = core.time() - (snap.time or 0)
	io.stdout:write(string.format('lsyncd-ng %s, status written %.0f s ago, %d directories watched%s\n',
		snap.version or '?', age, snap.watches or 0,
		(snap.unwatched or 0) > 0 and (', ' .. snap.unwatched .. ' UNWATCHED') or ''))
	io.stdout:write(string.format('%-24s %-32s %-9s %7s %8s %8s %s\n',
		'SYNC', 'TARGET', 'STATE', 'QUEUE', 'LAG(s)', 'FAILS', 'LAST SUCCESS'))
	for _, s in ipairs(snap.syncs or {}) do
		local last = (s.last_success or 0) > 0 and os.date('%Y-%m-%d %H:%M:%S', s.last_success) or 'never'
		io.stdout:write(string.format('%-24s %-32s %-9s %7d %8.1f %8d %s\n',
			s.name, s.target, s.state, s.queue or 0, s.lag or 0, s.failures or 0, last))
	end
	return true
end

return M
