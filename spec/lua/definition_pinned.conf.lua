-- A config whose sync definitions have their persisted hashes pinned in
-- spec/lua/definition_spec.lua: the stored state of every user depends on
-- them, so this file's text (line numbers too: a config's own functions
-- are hashed with their debug info) must not change.
settings { nodaemon = true }

sync { default.rsync, source = '/src', target = '/dst', delay = 5,
	exclude = { '*.tmp', '.git/', '/cache/**' },
	rsync = { compress = true, _extra = { '--bwlimit=100' } } }

sync { default.rsyncssh, source = '/src', host = 'slave1.example', targetdir = '/srv/copy',
	rsync = { archive = true }, ssh = { port = 2222 } }

local stamp = {
	delay = 2,
	maxProcesses = 1,
	onCreate = 'touch "^target/^path"',
	onModify = function(event)
		local n = #event.path
		spawn(event, '/bin/true', event.targetPathname, tostring(n))
	end,
	onDelete = function(event) spawn(event, '/bin/rm', '-f', event.targetPathname) end,
}
sync { stamp, source = '/src', target = '/dst3' }
