-- Pattern 21: lsyncd 2.0's raw rsync options. rsyncOps (as lsyncd 2.0.0 to
-- 2.0.4 spelled it) is a list holding "-e" with the ssh command and one
-- more flag; rsyncOpts (2.0.5 on) is one string. lsyncd 2.2 refuses both.
-- lsyncd-ng takes "-e" as rsync.rsh and the rest as rsync._extra, after
-- the layer's own flags, with one warning per sync. Both copy symlinks as
-- the files they point to (-L), so the targets show the flags arrived.

settings { nodaemon = true }

sync {
	default.rsync,
	source   = '@SRC@',
	target   = '127.0.0.1:@TGT@',
	delay    = @DELAY@,
	rsyncOps = {
		'-e', '/usr/bin/ssh -p @SSH_PORT@ -i @SSH_KEY@ -o UserKnownHostsFile=@SSH_KNOWN@ -o BatchMode=yes',
		'-L',
	},
}

sync {
	default.rsync,
	source    = '@SRC@',
	target    = '@TGT2@',
	delay     = @DELAY@,
	rsyncOpts = '-L --omit-dir-times',
}
