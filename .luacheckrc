-- luacheck's settings for lua/ (make check runs it; 0 warnings expected).
std = 'luajit'
-- callbacks and event field getters share one signature; not all use every argument
unused_args = false
max_line_length = 120
-- the C engine's table (engine/api.c)
globals = { 'core' }
-- lsyncd's globals that configs use (lua/userenv.lua installs them)
read_globals = { 'log', 'spawn', 'spawnShell', 'settings', 'terminate', 'default', 'sync', 'alarm' }
files['lua/userenv.lua'] = {
	-- lsyncd's additions to the string and table libraries, for old configs
	globals = { 'string.starts', 'string.ends', 'table.unpack', 'table.pack' },
}
