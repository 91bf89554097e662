-- Mirror a directory to a local target (e.g. a mounted backup disk).
settings {
	logfile    = "/var/log/lsyncd-ng/lsyncd-ng.log",
	statusFile = "/var/log/lsyncd-ng/lsyncd-ng.status",
}

sync {
	default.rsync,
	source = "/srv/www",
	target = "/mnt/backup/www",
	delay  = 5,
	exclude = { "*.tmp", "cache/" },
}
