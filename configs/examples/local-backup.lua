-- Local backup mirror: /srv/www is copied to a backup disk mounted at
-- /srv/backup (any local directory works). Runs under lsyncd-ng and Debian's lsyncd.
--   lsyncd-ng -nodaemon /usr/share/doc/lsyncd-ng/examples/local-backup.lua
settings {
	logfile    = "/var/log/lsyncd-ng/lsyncd-ng.log",
	statusFile = "/var/log/lsyncd-ng/lsyncd-ng.status",
}

sync {
	default.rsync,
	source  = "/srv/www",
	target  = "/srv/backup/www",
	-- collect changes for 10 s: one rsync per batch, not per file
	delay   = 10,
	-- a file deleted in the source stays in the backup until the next restart
	delete  = "startup",
	exclude = { "*.tmp", "*.swp", "cache/" },
	rsync   = {
		archive    = true,
		-- hard links in the source stay hard links in the backup
		hard_links = true,
	},
}
