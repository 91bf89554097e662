-- A big tree (millions of files, frequent bursts) to one slave, tuned.
-- Runs under lsyncd-ng and Debian's lsyncd; lsyncd-ng's own knobs are in the
-- comments at the end.
--
-- Before starting: one inotify watch per directory, so raise the limit, e.g.
--   echo fs.inotify.max_user_watches=2097152 > /etc/sysctl.d/90-lsyncd-ng.conf
--   sysctl --system
settings {
	logfile        = "/var/log/lsyncd-ng/lsyncd-ng.log",
	statusFile     = "/var/log/lsyncd-ng/lsyncd-ng.status",
	-- the status file is rewritten at most once a minute
	statusInterval = 60,
	-- events seen only when a file is closed after writing, not per write()
	inotifyMode    = "CloseWrite",
	-- at most 4 rsync processes at a time
	maxProcesses   = 4,
	insist         = true,
}

sync {
	default.rsync,
	source     = "/srv/data",
	target     = "backup1.example.com:/srv/data",
	-- gather 30 s of changes into one rsync (fewer, bigger transfers)
	delay      = 30,
	-- but send at once when this many changes are waiting
	maxDelays  = 5000,
	exclude    = { "*.tmp", "*.part", ".cache/", "tmp/", "*.lock" },
	rsync      = {
		archive  = true,
		compress = true,
		-- a rewritten big file sends only its changed blocks
		inplace  = true,
		-- a broken link is noticed after 60 s instead of hanging
		timeout  = 60,
	},
}

-- lsyncd-ng only (Debian's lsyncd refuses these keys):
-- settings {
--     rescanInterval = 300,   -- re-scan when out of watches, every 5 minutes
--     maxBackoff     = 120,   -- retry a dead slave at least every 2 minutes
--     quickCheck     = true,  -- rsync's size+mtime check (less I/O)
-- }
