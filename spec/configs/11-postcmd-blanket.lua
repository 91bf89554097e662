-- Pattern 11: after every batch of changes has reached the slave, run one
-- command on the slave (reload a service, clear a cache). A layer built on
-- default.rsync: the action queues a Blanket event marked as "post command"
-- behind each batch; Blanket events wait for everything queued before them,
-- so the command runs once the batch is done. The layer adds its own keys
-- (host, targetdir, postcmd) to the checkgauge and chains default.rsync's
-- prepare; collect retries the post command while ssh cannot connect.

local sshArgs = {
	'-p', '@SSH_PORT@', '-i', '@SSH_KEY@',
	'-o', 'UserKnownHostsFile=@SSH_KNOWN@', '-o', 'BatchMode=yes',
}

local rsyncThenCommand = {
	default.rsync,

	checkgauge = {
		default.rsync.checkgauge,
		host = true, targetdir = true, postcmd = true,
	},

	action = function(inlet)
		local event = inlet.getEvent()
		local config = inlet.getConfig()
		if event.etype == 'Blanket' then
			if rawget(event, 'isPostcmd') then
				log('Normal', 'post command on ', config.host)
				spawn(event, 'ssh', sshArgs, config.host, config.postcmd)
			else
				inlet.discardEvent(event)
			end
			return
		end
		local post = inlet.createBlanketEvent()
		post.isPostcmd = true
		return default.rsync.action(inlet)
	end,

	collect = function(agent, exitcode)
		if not agent.isList and agent.etype == 'Blanket' then
			if rawget(agent, 'isPostcmd') and exitcode == 255 then return 'again' end
			return 'ok'
		end
		return default.collect(agent, exitcode)
	end,

	prepare = function(config, level, skipTarget)
		if not config.host then error('needs "host"', level) end
		if not config.targetdir then error('needs "targetdir"', level) end
		config.target = config.target or (config.host .. ':' .. config.targetdir)
		return default.rsync.prepare(config, level, skipTarget)
	end,
}

settings { logfile = '@LOG@', nodaemon = true }

sync {
	rsyncThenCommand,
	source    = '@SRC@',
	host      = '127.0.0.1',
	targetdir = '@TGT@',
	delay     = @DELAY@,
	rsync     = { rsh = 'ssh ' .. table.concat(sshArgs, ' ') },
	-- runs on the slave, in its shell: a listing of what had arrived
	postcmd   = 'cd @TGT@ && find . -type f | sort > @WS@/11.after && echo ran >> @WS@/11.post',
}
