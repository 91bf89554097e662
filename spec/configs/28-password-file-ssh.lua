-- Pattern 28: rsync.password_file with a target reached over ssh. The
-- password file is for rsync daemons (host::module, rsync://); rsync
-- refuses it here, so lsyncd fails its startup transfer. lsyncd-ng leaves
-- it out and says so when the config loads.

settings { nodaemon = true }

sync {
	default.rsync,
	source = '@SRC@',
	target = '127.0.0.1:@TGT@',
	delay  = @DELAY@,
	rsync  = {
		password_file = '@CONF@/rsync.secret',
		rsh = '/usr/bin/ssh -p @SSH_PORT@ -i @SSH_KEY@ -o UserKnownHostsFile=@SSH_KNOWN@ -o BatchMode=yes',
	},
}
