-- Pattern 7: a developer's checkout mirrored to a remote box (a VM or a
-- docker machine) as they type. rsync is named by path, `update` keeps files
-- that were changed on the box more recently, the key is given through
-- rsync's remote shell, and dependency and VCS directories stay local.

settings {
	logfile  = '@LOG@',
	pidfile  = '@WS@/07.pid',
	insist   = false,
	nodaemon = true,
}

sync {
	default.rsync,
	source  = '@SRC@',
	target  = '@USER@@127.0.0.1:@TGT@',
	delay   = @DELAY@,
	exclude = { 'node_modules/', '.git/', '*.log', '.idea/' },
	rsync = {
		binary   = '/usr/bin/rsync',
		archive  = true,
		update   = true,
		links    = true,
		compress = true,
		rsh      = '/usr/bin/ssh -p @SSH_PORT@ -i @SSH_KEY@ -o UserKnownHostsFile=@SSH_KNOWN@ -o BatchMode=yes',
	},
}
