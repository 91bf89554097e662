-- Pattern 6: a config from the lsyncd 2.0 days: `settings = { ... }` (an
-- assignment, which lsyncd 2.2 refuses), paths relative to the directory the
-- daemon is started in, and a remote "host:/dir" target reached with the
-- user's ssh setup (here: RSYNC_RSH in the environment).

settings = {
	logfile    = "lsyncd.log",
	statusFile = "lsyncd.status",
	nodaemon   = true,
}

sync {
	default.rsync,
	source = "htdocs",
	target = "127.0.0.1:@TGT@",
	delay  = @DELAY@,
}
