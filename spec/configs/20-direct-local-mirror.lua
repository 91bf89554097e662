-- Pattern 20: a local mirror (a second disk, an NFS mount) kept with
-- default.direct: rsync at startup, then cp/mv/rm per event; swap files are
-- not mirrored.

settings { logfile = '@LOG@', nodaemon = true }

sync {
	default.direct,
	source  = '@SRC@',
	target  = '@TGT@',
	delay   = @DELAY@,
	exclude = { '*.swp', '.#*' },
}
