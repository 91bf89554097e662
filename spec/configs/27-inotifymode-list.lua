-- Pattern 27: an inotifyMode written as a list of events, as some 2.1-era
-- configs did. lsyncd knows only "CloseWrite", "Modify" and "CloseWrite or
-- Modify" and stops at the first watch; lsyncd-ng takes the nearest mode
-- (creates, deletes and moves are always watched) and warns.

settings {
	nodaemon    = true,
	inotifyMode = 'CloseWrite or Create or Delete or Move',
}

sync {
	default.rsync,
	source = '@SRC@',
	target = '@TGT@',
	delay  = @DELAY@,
}
