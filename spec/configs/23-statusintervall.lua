-- Pattern 23: "statusIntervall", the misspelling of old lsyncd examples,
-- which lsyncd 2.2 refuses as an unknown setting. lsyncd-ng reads it as
-- statusInterval, with a warning; other unknown keys stay errors.

settings {
	nodaemon        = true,
	statusFile      = '@WS@/23.status',
	statusIntervall = 1,
}

sync {
	default.rsync,
	source = '@SRC@',
	target = '@TGT@',
	delay  = @DELAY@,
}
