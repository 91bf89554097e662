-- Pattern 22: ssh options written inside the rsync table, rsync = { ssh =
-- { ... } }, where neither layer reads them (lsyncd 2.2 refuses the key).
-- For default.rsync they become the rsync --rsh command, for
-- default.rsyncssh the sync's own ssh table (used by its ssh mv too).

settings { nodaemon = true }

sync {
	default.rsync,
	source = '@SRC@',
	target = '127.0.0.1:@TGT@',
	delay  = @DELAY@,
	rsync  = {
		archive = true,
		ssh     = {
			port         = @SSH_PORT@,
			identityFile = '@SSH_KEY@',
			options      = { UserKnownHostsFile = '@SSH_KNOWN@', BatchMode = 'yes' },
		},
	},
}

sync {
	default.rsyncssh,
	source    = '@SRC@',
	host      = '127.0.0.1',
	targetdir = '@TGT2@',
	delay     = @DELAY@,
	rsync     = {
		compress = true,
		ssh = { port = @SSH_PORT@, _extra = { '-i', '@SSH_KEY@', '-o', 'UserKnownHostsFile=@SSH_KNOWN@' } },
	},
}
