-- luacheck's settings for lua/ (make check runs it; 0 warnings expected).
std = 'luajit'
-- callbacks and event field getters share one signature; not all use every argument
unused_args = false
max_line_length = 120
-- the C engine's table (engine/api.c)
globals = { 'core' }
-- lsyncd's globals for configs (settings, sync, spawn, log, ...) are set by
-- lua/userenv.lua through _G and read by no runtime module: none is listed
files['lua/userenv.lua'] = {
	-- lsyncd's additions to the string and table libraries, for old configs
	globals = { 'string.starts', 'string.ends', 'table.unpack', 'table.pack' },
}
