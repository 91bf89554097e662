-- Pattern 14: a shared directory whose group must always be able to read
-- and write everything, whatever umask its users have. Multi-line shell
-- scripts as layer-3 commands; they start with "/", so a leading "^" forces
-- the shell form. Many fixes may run at once; moves keep permissions and are
-- ignored (onMove = true). A second sync mirrors the directory, permissions
-- included.

local fix = [[^/usr/bin/test -e ^sourcePathname || exit 0
mode=$(stat -c %A ^sourcePathname)
case "$mode" in ????rw*) ;; *) chmod g+rw ^sourcePathname ;; esac
if [ -d ^sourcePathname ]; then chmod g+x ^sourcePathname; fi
]]

settings { logfile = '@LOG@', nodaemon = true }

sync {
	source       = '@SRC@',
	delay        = @DELAY@,
	maxProcesses = 99,
	onStartup    = [[^/usr/bin/find ^source -exec chmod g+rw {} +
find ^source -type d -exec chmod g+x {} +]],
	onCreate     = fix,
	onModify     = fix,
	onMove       = true,
}

sync {
	default.rsync,
	source = '@SRC@',
	target = '@TGT@',
	delay  = @DELAY@,
	rsync  = { archive = true },
}
