-- Pattern 1: lsyncd as a container's foreground process, mirroring a volume
-- into a local directory with rsync. Nothing is ever deleted on the copy, two
-- rsyncs may run at once, and rsync's remote shell is set in the config (it
-- only matters once the target is moved to another machine).
--
-- Placeholders (filled in by spec/e2e/configs_test.sh): @SRC@ @TGT@ @WS@
-- @DELAY@ @SSH_PORT@ @SSH_KEY@ @SSH_KNOWN@

settings {
	nodaemon       = true,          -- the container's PID 1 must stay
	statusFile     = '@WS@/01.status',
	statusInterval = 1,
}

sync {
	default.rsync,
	source       = '@SRC@',
	target       = '@TGT@',
	delete       = false,           -- an archive: removed files stay on the copy
	delay        = @DELAY@,
	maxProcesses = 2,
	rsync = {
		archive  = true,
		compress = false,
		rsh      = 'ssh -p @SSH_PORT@ -i @SSH_KEY@ -o UserKnownHostsFile=@SSH_KNOWN@',
	},
}
