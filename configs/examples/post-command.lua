-- A post-command: after each batch of changes has been copied, run one
-- command (here: reload nginx so it sees the new files). Runs under lsyncd-ng
-- and Debian's lsyncd.
--
-- A layer on top of default.rsync. Its action puts a Blanket event behind
-- every batch it sends; a Blanket event waits until everything queued before
-- it is done, so the command runs once per batch, after the copy.
local postCommand = { "/usr/bin/systemctl", "reload", "nginx" }

local rsyncThenReload = {
	default.rsync,

	action = function(inlet)
		local event = inlet.getEvent()
		if event.etype == "Blanket" then
			if rawget(event, "afterBatch") then
				log("Normal", "running ", table.concat(postCommand, " "))
				spawn(event, postCommand[1], postCommand[2], postCommand[3])
			else
				inlet.discardEvent(event)
			end
			return
		end
		local marker = inlet.createBlanketEvent()
		marker.afterBatch = true
		return default.rsync.action(inlet)
	end,

	-- the post-command's own exit: a failure is logged, not retried
	collect = function(agent, exitcode)
		if not agent.isList and agent.etype == "Blanket" then
			if exitcode ~= 0 then
				log("Error", "post-command exited with ", exitcode)
			end
			return "ok"
		end
		return default.collect(agent, exitcode)
	end,
}

settings {
	logfile    = "/var/log/lsyncd-ng/lsyncd-ng.log",
	statusFile = "/var/log/lsyncd-ng/lsyncd-ng.status",
}

sync {
	rsyncThenReload,
	source = "/srv/www-staging",
	target = "/srv/www",
	delay  = 3,
}
