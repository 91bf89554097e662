-- Pattern 5: one source, a local rsync copy and an rsyncssh slave. The
-- slave is known to be up to date already, so it skips the startup transfer
-- (init = false) and gets every change at once (delay 0, maxDelays 0).
-- Excludes come from a file; rsync is named by its absolute path.

settings {
	logfile     = '@LOG@',
	nodaemon    = true,
	inotifyMode = 'CloseWrite',
}

sync {
	default.rsync,
	source      = '@SRC@',
	target      = '@TGT@',
	delay       = @DELAY@,
	excludeFrom = '@CONF@/05-mixed-no-startup.excludes',
	rsync       = { binary = '/usr/bin/rsync', archive = true },
}

sync {
	default.rsyncssh,
	source      = '@SRC@',
	host        = '127.0.0.1',
	targetdir   = '@TGT2@',
	init        = false,
	delay       = 0,
	maxDelays   = 0,
	excludeFrom = '@CONF@/05-mixed-no-startup.excludes',
	rsync       = { binary = '/usr/bin/rsync', archive = true },
	ssh = {
		port         = @SSH_PORT@,
		identityFile = '@SSH_KEY@',
		options      = { UserKnownHostsFile = '@SSH_KNOWN@', BatchMode = 'yes' },
	},
}
