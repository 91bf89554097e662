-- Pattern 10: one source fanned out to a list of slaves with a Lua loop over
-- config-level tables (written for Lua 5.3: table.unpack). Global settings
-- make every event go out at once and allow five transfers at a time;
-- runtime files never leave the master.

local rsh = 'ssh -p @SSH_PORT@ -i @SSH_KEY@ -o UserKnownHostsFile=@SSH_KNOWN@ -o BatchMode=yes'

local slaves = {
	{ '@TGT@',                   'backup disk' },
	{ '@TGT2@',                  'nfs export' },
	{ '@USER@@127.0.0.1:@TGT3@', 'web2' },
}

local excludes = { 'runtime/*', '*.pid', '.env' }

settings {
	logfile      = '@LOG@',
	nodaemon     = true,
	maxDelays    = 1,
	maxProcesses = 5,
	insist       = true,
}

for _, slave in ipairs(slaves) do
	local target, label = table.unpack(slave)
	sync {
		default.rsync,
		source  = '@SRC@',
		target  = target,
		delay   = @DELAY@,
		exclude = excludes,
		rsync   = { archive = true, rsh = rsh },
	}
	log('Normal', 'slave ', label, ': ', target)
end
