-- Pattern 9: two syncs of a web site (the code and the uploads) with
-- globbed excludes for generated sitemaps and rsync's perms/acls/verbose.
-- As found in the wild it sets `delay` inside settings{}, which is not a
-- setting: lsyncd 2.2 stops with "setting "delay" unknown", lsyncd-ng with
-- the file, the line and a hint. The test runs it as is (expects that error),
-- then with the delay moved into the syncs (the marked line removed).

settings {
	logfile    = '@LOG@',
	statusFile = '@WS@/09.status',
	delay      = 3,            -- FIXME: not a setting
	nodaemon   = true,
}

sync {
	default.rsync,
	source  = '@SRC@',
	target  = '@TGT@',
	delay   = @DELAY@,
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
