-- setup_init.lua: lsyncd-ng -init [FILE] [flags]: takes the flags, asks for
-- what they do not give (on a terminal), checks each slave, shows the
-- config and writes it (through a temporary renamed over FILE).

local slaves = require 'setup_slave'
local tty = require 'setup_tty'
local flags = require 'setup_flags'
local render = require 'setup_render'

local say, ask, askValid, yes = tty.say, tty.ask, tty.askValid, tty.yes
local exists, home, defaultKey = slaves.exists, slaves.home, slaves.defaultKey
local out = io.stdout
local DEFAULTS = flags.DEFAULTS

local M = {}

-- The checkSlave table of a parsed slave under the answers a.
local function probeOf(sl, a)
	local args = {}
	if sl.port then args[#args + 1] = '-p'; args[#args + 1] = tostring(sl.port) end
	if a.key then args[#args + 1] = '-i'; args[#args + 1] = a.key end
	for _, o in ipairs(a.sshOptions) do args[#args + 1] = '-o'; args[#args + 1] = o end
	return { ssh = 'ssh', args = args, dest = (sl.user and (sl.user .. '@') or '') .. sl.host,
		dir = sl.dir, key = a.key }
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
		local problems = slaves.localProblems(sl.localDir)
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
	local problems, good = slaves.checkSlave(probe, true)
	if #problems == 0 then
		say('  ✔ ', render.slaveLabel(sl), ' (', table.concat(good, ', '), ')')
		return 'keep'
	end
	local p = problems[1]
	say('  ✘ ', render.slaveLabel(sl), ': ', p.what)
	if p.what:find('does not exist', 1, true) and p.what:find('^target dir') then
		if not interactive or yes('  Create ' .. sl.dir .. ' on ' .. sl.host .. '?', true) then
			local ok, output = slaves.makeRemoteDir(probe)
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
	a.source = value('source', 'Source directory to replicate (absolute path)', nil, flags.validSource)
	a.source = a.source:gsub('/+$', '')
	if a.source == '' then a.source = '/' end
	a.mode = value('mode', 'Mode: rsyncssh (renames done on the slave with mv) or rsync', DEFAULTS.mode, flags.validMode)

	-- the key, only asked when a remote slave may come
	local key = f.key or defaultKey() or (home() .. '/.ssh/id_ed25519')
	if interactive and not f.key then key = askValid('ssh key of this master', key, flags.validAbs) end
	a.key = key
	if not exists(key) then
		if f['create-key'] or (interactive and yes('No key at ' .. key .. '. Create it now?', true)) then
			createKey(key)
		else
			say('note: no ssh key at ', key, '; create one with: ', slaves.keygenCommand(key))
		end
	end

	-- slaves: the flags', then more when asked
	for _, spec in ipairs(f.slave) do
		local sl, why = flags.parseSlave(spec)
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
				local sl, why = flags.parseSlave(v)
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
		a.excludes = flags.splitList(ask('Exclude patterns, comma separated (e.g. *.tmp, .git/)', ''))
	end
	a.delay = value('delay', 'Seconds to gather events before a transfer', DEFAULTS.delay, flags.validDelay)
	a.delete = value('delete', 'Delete on the slaves what is deleted here: true, false, startup, running',
		DEFAULTS.delete, flags.validDelete)
	a.log = value('log', 'Log file', DEFAULTS.log, flags.validAbs)
	a.status = value('status', 'Status file', DEFAULTS.status, flags.validAbs)
	if a.json and not flags.validAbs(a.json) then error({ msg = '--json-status ' .. a.json .. ': an absolute path' }) end
	return a
end

function M.init(opts, args)
	-- args after -init belong to the generator
	local f, err = flags.parse(opts.initArgs or {})
	if not f then
		io.stderr:write('lsyncd-ng -init: ', err, '\n', flags.USAGE)
		return 1
	end
	if f.help then out:write(flags.USAGE); return 0 end
	local interactive = core.isatty(0) and not f.yes
	if not interactive then
		local missing = {}
		for _, r in ipairs(flags.REQUIRED) do
			local v = f[r[1]]
			if v == nil or (type(v) == 'table' and #v == 0) then missing[#missing + 1] = r[2] end
		end
		if #missing > 0 then
			io.stderr:write('lsyncd-ng -init: ', core.isatty(0) and 'with --yes' or 'no terminal to ask on',
				', so these flags are needed: ', table.concat(missing, ', '), '\n', flags.USAGE)
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
	local text = render.render(a)
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
