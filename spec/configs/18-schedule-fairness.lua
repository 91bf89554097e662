-- Pattern 18: three syncs on the same source, each a layer-3 shell string
-- that mirrors the whole tree into its own directory, with no delay and a
-- global limit of one process: the three take turns. The commands note when
-- two of them ever run at once (they must not) and the order they ran in.
-- The mirror directories are config-level globals.

mirrors = {
	{ name = 'a', dir = '@TGT@' },
	{ name = 'b', dir = '@TGT2@' },
	{ name = 'c', dir = '@TGT3@' },
}

settings {
	logfile      = '@LOG@',
	nodaemon     = true,
	maxProcesses = 1,
}

for _, m in ipairs(mirrors) do
	local cmd = 'mkdir @WS@/18.busy 2>/dev/null || echo ' .. m.name .. ' >> @WS@/18.overlap\n'
		.. 'sleep 0.2\n'
		.. 'rsync -a --delete ^source ' .. m.dir .. '/\n'
		.. 'echo ' .. m.name .. ' >> @WS@/18.runs\n'
		.. 'rmdir @WS@/18.busy'
	sync {
		source    = '@SRC@',
		delay     = 0,
		onStartup = cmd,
		onCreate  = cmd,
		onModify  = cmd,
		onDelete  = cmd,
	}
end
