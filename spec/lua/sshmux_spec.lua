-- Specs for lua/sshmux.lua: which syncs ride a shared ssh master, how their
-- rsync/ssh arguments are routed through it, and the master's life (start,
-- up, ended, probed again with back-off).
local fake = require 'fake_core'

describe('sshmux', function()
	local core, sshmux

	local function rsyncCfg(target, computed)
		return { target = target, rsync = { _computed = computed or { '-a' } } }
	end

	-- a sync as sshmux sees it: its config, and what attach gives it
	-- (kept as fields here to be read by the specs)
	local function syncOf(cfg)
		return { config = cfg, getConfig = function(self) return self.config end,
			useSsh = function(self, ssh, m) self.ssh, self.mux = ssh, m end }
	end

	before_each(function()
		core = fake.install()
		sshmux = fake.fresh().sshmux
	end)

	it('tells remote targets from local and daemon ones', function()
		assert.equal('host', sshmux.remoteOf('host:/x'))
		assert.equal('u@h', sshmux.remoteOf('u@h:/x'))
		assert.is_nil(sshmux.remoteOf('/local/x'))
		assert.is_nil(sshmux.remoteOf('h::module'))
		assert.is_nil(sshmux.remoteOf('rsync://h/m'))
	end)

	it('finds the ssh of a sync: rsyncssh\'s ssh table, or rsync\'s --rsh', function()
		local b, args, dest = sshmux.sshOf { host = 'u@h', ssh = { binary = '/usr/bin/ssh', _computed = { '-p', '22' } },
			rsync = { _computed = {} } }
		assert.same({ '/usr/bin/ssh', { '-p', '22' }, 'u@h' }, { b, args, dest })
		b, args, dest = sshmux.sshOf(rsyncCfg('h:/x', { '-a', '--rsh=ssh -i "/k ey"' }))
		assert.same({ 'ssh', { '-i', '/k ey' }, 'h' }, { b, args, dest })
		assert.is_nil(sshmux.sshOf(rsyncCfg('h:/x', { '--rsh=sshpass -p x ssh' })))
		assert.is_nil(sshmux.sshOf(rsyncCfg('/local/')))
	end)

	it('routes a sync through one master per slave', function()
		assert.is_true(sshmux.setup {})
		local s1 = syncOf(rsyncCfg('h:/x'))
		local s2 = syncOf(rsyncCfg('h:/y'))
		local s3 = syncOf(rsyncCfg('other:/y'))
		sshmux.attach(s1); sshmux.attach(s2); sshmux.attach(s3)
		assert.equal(s1.mux, s2.mux)
		assert.are_not.equal(s1.mux, s3.mux)
		local rsh = s1.config.rsync._computed[2]
		assert.equal('--rsh=ssh -o ControlMaster=no -o ControlPath=' .. s1.mux.path, rsh)
		assert.same({ '-o', 'ControlMaster=no', '-o', 'ControlPath=' .. s1.mux.path }, s1.ssh.args)
	end)

	it('leaves syncs alone when reuse is off', function()
		assert.is_false(sshmux.setup { sshReuse = false })
		local s = syncOf(rsyncCfg('h:/x'))
		sshmux.attach(s)
		assert.is_nil(s.mux)
		assert.same({ '-a' }, s.config.rsync._computed)
		assert.equal('h', s.ssh.dest)
	end)

	it('starts a master, holds transfers while it starts, and knows when it is up', function()
		sshmux.setup {}
		local s = syncOf(rsyncCfg('h:/x'))
		sshmux.attach(s)
		local started = {}
		local function service(argv) started[#started + 1] = argv; return 500 end
		local ups = 0
		sshmux.tick(10, service, function() ups = ups + 1 end)
		assert.equal(1, #started)
		local argv = started[1]
		assert.equal('ssh', argv[1])
		assert.equal('h', argv[#argv])
		assert.equal('-M', argv[2])
		assert.is_false(sshmux.ready(s.mux, 12))
		assert.is_true(sshmux.ready(s.mux, 15.1))   -- at most 5 s
		assert.equal(10.05, sshmux.nextAlarm(10))
		core.dirs[s.mux.path] = true                -- its control socket appeared
		sshmux.tick(11, service)
		assert.equal('up', s.mux.state)
		assert.is_true(sshmux.ready(s.mux, 11))
		assert.equal(0, ups)                        -- the first start is no come-back
		assert.is_nil(sshmux.nextAlarm(11))
	end)

	it('probes a master that ended again, and reports its come-back', function()
		sshmux.setup {}
		local s = syncOf(rsyncCfg('h:/x'))
		sshmux.attach(s)
		local pid = 700
		local function service() pid = pid + 1; return pid end
		sshmux.tick(0, service)
		assert.is_true(sshmux.output(701, 'ssh: connect to host h port 22: Connection refused'))
		assert.is_true(sshmux.exited(701, 255, 1))
		assert.equal('down', s.mux.state)
		assert.equal(2, s.mux.retryAt)               -- 1 s after the first failure
		assert.truthy(core.logged('ended %(exit 255: ssh: connect to host h port 22: Connection refused', 'Warn'))
		sshmux.tick(1.5, service)
		assert.equal('down', s.mux.state)            -- not yet due
		sshmux.tick(2, service)
		assert.is_true(sshmux.exited(702, 255, 3))
		assert.equal(5, s.mux.retryAt)               -- then every 2 s
		assert.is_false(sshmux.exited(999, 0, 3))    -- not a master
		sshmux.tick(5, service)
		core.dirs[s.mux.path] = true
		local back
		sshmux.tick(6, service, function(m) back = m end)
		assert.equal(s.mux, back)
		assert.equal(0, s.mux.failures)
	end)
	it('ends the masters no sync uses any more, quietly, and never starts them again', function()
		sshmux.setup {}
		local kept = syncOf(rsyncCfg('h:/x'))
		local gone = syncOf(rsyncCfg('other:/y'))
		sshmux.attach(kept); sshmux.attach(gone)
		local pid = 800
		local function service() pid = pid + 1; return pid end
		sshmux.tick(0, service)
		local gonePid = gone.mux.pid
		sshmux.prune { [kept.mux] = true }
		assert.same({ { pid = gonePid, sig = 15 } }, core.killed)
		assert.truthy(core.logged('ssh master connection to other closed: no sync uses it', 'Normal'))
		assert.is_true(sshmux.exited(gonePid, 'signal 15', 1))
		assert.falsy(core.logged('ssh master connection to other ended'))
		local before = pid
		sshmux.tick(100, service)                    -- long after any retry would be due
		assert.equal(before, pid)                    -- nothing restarted (kept is starting)
	end)
end)
