-- lsyncd-ng only: `targets` is lsyncd-ng's fan-out (Debian's lsyncd refuses it;
-- web-per-slave.lua is the same for both).
-- A web root pushed to N web servers from one sync{}: every slave still gets
-- its own queue (Sync1/web1.example.com:/srv/www, ...), so a dead slave never
-- holds up the others, and one ssh connection per slave is reused.
settings {
	logfile        = "/var/log/lsyncd-ng/lsyncd-ng.log",
	statusFile     = "/var/log/lsyncd-ng/lsyncd-ng.status",
	jsonStatusFile = "/run/lsyncd-ng/status.json",
	insist         = true,
}

sync {
	default.rsync,
	source  = "/srv/www",
	targets = {
		"web1.example.com:/srv/www",
		"web2.example.com:/srv/www",
		"web3.example.com:/srv/www",
	},
	delay   = 1,
	exclude = { ".git/", "*.tmp", "cache/" },
	rsync   = { archive = true, compress = true },
}
