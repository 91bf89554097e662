#!/bin/sh
# Pattern 3: a container entrypoint writes the config from environment
# variables with a heredoc and runs the daemon in the foreground; the log
# goes to /dev/stdout so `docker logs` shows it. Startup insists (the slave
# may come up later), deletes are only propagated while running, and rsync
# runs in archive mode with compression and whole-file transfers.
#
# Environment: LNG_BIN SLAVE_HOST SLAVE_PORT SLAVE_KEY SLAVE_KNOWN
#              SOURCE_DIR TARGET_DIR CONF (where the config is written)
set -e
: "${SLAVE_PORT:=22}"
cat > "$CONF" <<LUA
settings {
	logfile  = '/dev/stdout',
	nodaemon = true,
	insist   = true,
}
sync {
	default.rsyncssh,
	source    = '$SOURCE_DIR',
	host      = '$SLAVE_HOST',
	targetdir = '$TARGET_DIR',
	delay     = 1,
	delete    = 'running',
	rsync = {
		archive    = true,
		compress   = true,
		whole_file = true,
	},
	ssh = {
		port         = $SLAVE_PORT,
		identityFile = '$SLAVE_KEY',
		options      = { UserKnownHostsFile = '$SLAVE_KNOWN', BatchMode = 'yes' },
	},
}
LUA
exec "$LNG_BIN" "$CONF"
