-- Pattern 17 (lsyncd 2.3): no per-event transfers; a crontab rule queues a
-- full sync every few seconds and the action drops every other event before
-- handing over to default.rsync. A filter picks what is mirrored; rsync gets
-- extra verbosity through _extra.

settings { logfile = '@LOG@', nodaemon = true }

sync {
	default.rsync,
	source  = '@SRC@',
	target  = '@TGT@',
	delay   = @DELAY@,
	delete  = true,
	crontab = {
		'*/2 * * * * *',        -- every 2 seconds (the 6-field form has seconds)
	},
	action = function(inlet)
		local event = inlet.getEvent()
		if event.etype ~= 'Full' then
			log('Normal', 'cron-only: dropped ', event.etype, ' ', event.path)
			inlet.discardEvent(event)
			return
		end
		return default.rsync.action(inlet)
	end,
	filter = {
		'- /tmp/**',
		'+ /www/',
		'+ /www/**',
		'+ /index.html',
		'- /**',
	},
	rsync = {
		inplace = true,
		_extra  = { '-v' },
	},
}
