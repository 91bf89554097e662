-- Pattern 19: the slave's address and user come from the environment
-- (os.getenv), and rsync's remote shell skips host key checking (as configs
-- wrapping ssh in sshpass do). Excludes are a single string.

local user = os.getenv('SLAVE_USER') or 'root'
local host = os.getenv('SLAVE_HOST') or error('SLAVE_HOST is not set')

settings { logfile = '@LOG@', nodaemon = true, statusFile = '@WS@/19.status' }

sync {
	default.rsync,
	source  = '@SRC@',
	target  = user .. '@' .. host .. ':@TGT@',
	delay   = @DELAY@,
	exclude = '*.tmp',
	rsync = {
		archive = true,
		rsh     = 'ssh -p @SSH_PORT@ -i @SSH_KEY@ -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR',
	},
}
