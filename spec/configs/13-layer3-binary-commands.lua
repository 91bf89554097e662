-- Pattern 13: layer-3 commands in the binary form (a string starting with
-- "/" is split into words and run without a shell; ^variables fill in the
-- event's fields). One sync mirrors with cp/rm/mv, a second one just echoes
-- what happens, including a move's origin and destination.

settings { logfile = '@LOG@', nodaemon = true }

sync {
	source    = '@SRC@',
	target    = '@TGT@/',
	delay     = @DELAY@,
	onStartup = '/usr/bin/rsync -a --delete ^source ^target',
	onCreate  = '/bin/cp -a ^sourcePathname ^targetPathdir',
	onModify  = '/bin/cp -a ^sourcePathname ^targetPathdir',
	onDelete  = '/bin/rm -rf ^targetPathname',
	onMove    = '/bin/mv ^o.targetPathname ^d.targetPathname',
}

sync {
	source    = '@SRC@',
	delay     = @DELAY@,
	onStartup = '/bin/echo "echo: startup of" ^source',
	onCreate  = '/bin/echo echo: create ^pathname',
	onModify  = '/bin/echo echo: modify ^path',
	onDelete  = '/bin/echo echo: delete ^pathname',
	onMove    = '/bin/echo echo: move ^o.pathname -> ^d.pathname',
}
