-- Pattern 8: a project ships its lsyncd config in bin/ and finds everything
-- relative to the config file itself (debug.getinfo), whatever directory the
-- daemon is started from. rsyncssh with the key given twice: in rsync's
-- remote shell and for the ssh that runs moves. ACLs are kept; deletes are
-- not propagated.

local here = debug.getinfo(1).source:match('^@(.*/)[^/]*$') or './'
local project = here .. '../'

settings {
	logfile  = project .. 'log/lsyncd.log',
	nodaemon = true,
}

sync {
	default.rsyncssh,
	source    = project .. 'public',
	host      = '127.0.0.1',
	targetdir = '@TGT@',
	delay     = @DELAY@,
	delete    = false,
	rsync = {
		archive = true,
		acls    = true,
		rsh     = 'ssh -i @SSH_KEY@ -p @SSH_PORT@ -o UserKnownHostsFile=@SSH_KNOWN@',
	},
	ssh = {
		identityFile = '@SSH_KEY@',
		port         = @SSH_PORT@,
		options      = { UserKnownHostsFile = '@SSH_KNOWN@' },
	},
}
