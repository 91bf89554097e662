-- Pattern 9: two syncs of a web site (the code and the uploads) with
-- globbed excludes for generated sitemaps and rsync's perms/acls/verbose.
-- As found in the wild it sets `delay` inside settings{}, which is not a
-- setting: lsyncd 2.2 stops with "setting "delay" unknown". lsyncd-ng takes
-- it as the delay of every sync that sets none (the first one here; the
-- second keeps its own), with a warning that names the line.

settings {
	logfile    = '@LOG@',
	statusFile = '@WS@/09.status',
	delay      = 2,
	nodaemon   = true,
}

sync {
	default.rsync,
	source  = '@SRC@',
	target  = '@TGT@',
	exclude = { 'sitemap_*.xml*', '*.swp', 'var/cache/' },
	rsync   = { archive = true, perms = true, acls = true, verbose = true },
}

sync {
	default.rsync,
	source  = '@SRC2@',
	target  = '@TGT2@',
	delay   = @DELAY@,
	exclude = { 'sitemap_*.xml*' },
	rsync   = { archive = true, perms = true, verbose = true },
}
