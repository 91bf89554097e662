-- Pattern 2: a home server pushes a directory to another box with
-- default.rsyncssh, logging in as a given user with a key made for this
-- purpose. Editor and desktop litter is excluded; the status file is
-- rewritten every second.

settings {
	logfile        = '@LOG@',
	statusFile     = '@WS@/02.status',
	statusInterval = 1,
	nodaemon       = true,
}

sync {
	default.rsyncssh,
	source    = '@SRC@',
	host      = '@USER@@127.0.0.1',
	targetdir = '@TGT@',
	delay     = @DELAY@,
	exclude   = { '*.bak', '._*', '.DS_Store', 'Thumbs.db', '*~' },
	ssh = {
		identityFile = '@SSH_KEY@',
		port         = @SSH_PORT@,
		options      = {
			UserKnownHostsFile    = '@SSH_KNOWN@',
			StrictHostKeyChecking = 'yes',
			BatchMode             = 'yes',
			IdentitiesOnly        = 'yes',
		},
	},
}
