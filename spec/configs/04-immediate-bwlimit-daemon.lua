-- Pattern 4: a workstation keeps a remote copy almost immediately (one
-- queued event is enough to start a transfer), caps rsync's bandwidth, skips
-- dot files and temporaries, and runs as a real daemon with a pidfile.

settings {
	logfile   = '@LOG@',
	pidfile   = '@WS@/04.pid',
	maxDelays = 1,
}

sync {
	default.rsyncssh,
	source    = '@SRC@',
	host      = '127.0.0.1',
	targetdir = '@TGT@',
	-- the default delay (15 s) stays: maxDelays = 1 makes it irrelevant
	exclude   = { '.*', '*.tmp' },
	rsync = {
		_extra = { '--bwlimit=50000' },
	},
	ssh = {
		port         = @SSH_PORT@,
		identityFile = '@SSH_KEY@',
		options      = { UserKnownHostsFile = '@SSH_KNOWN@', BatchMode = 'yes' },
	},
}
