-- Pattern 29: a Layer-2 config written for lsyncd 2.1, whose event.path
-- began with '/'. Under 2.2 (and lsyncd-ng) the test below never matches:
-- lsyncd-ng keeps that meaning (everything is mirrored, nothing marked)
-- and warns about the line.

settings { nodaemon = true }

local function mirror(event)
	spawnShell(event, 'rsync -a --delete -- "$1" "$2"', event.source, '@TGT@/')
end

sync {
	source    = '@SRC@',
	delay     = @DELAY@,
	onStartup = mirror,
	onCreate  = function(event)
		if event.path == '/private/' then
			spawnShell(event, 'touch @WS@/29.matched')
			return
		end
		mirror(event)
	end,
	onModify  = mirror,
	onDelete  = mirror,
	onMove    = mirror,
}
