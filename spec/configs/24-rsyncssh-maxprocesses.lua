-- Pattern 24: default.rsyncssh with maxProcesses = 3, which lsyncd refuses
-- ("must have maxProcesses set to 1"). lsyncd-ng runs up to three
-- transfers and moves to the slave at once (changes to the same paths stay
-- in order), with a warning.

settings { nodaemon = true }

sync {
	default.rsyncssh,
	source       = '@SRC@',
	host         = '127.0.0.1',
	targetdir    = '@TGT@',
	delay        = @DELAY@,
	maxProcesses = 3,
	ssh = {
		port         = @SSH_PORT@,
		identityFile = '@SSH_KEY@',
		options      = { UserKnownHostsFile = '@SSH_KNOWN@', BatchMode = 'yes' },
	},
}
