-- Pattern 16: layer-2 handlers, one Lua function per event type, each
-- running a small shell command with the event's paths as positional
-- arguments (never pasted into the script) and logging what it does.

settings { logfile = '@LOG@', nodaemon = true }

-- copies one file; a file that vanished meanwhile is not an error
local copy = 'cp -P -p -- "$1" "$2" || [ ! -e "$1" ]'

sync {
	source = '@SRC@',
	target = '@TGT@',
	delay  = @DELAY@,

	onStartup = function(event)
		log('Normal', 'layer2: startup ', event.source, ' -> ', event.target)
		spawnShell(event, 'rsync -a --delete -- "$1" "$2"', event.source, event.target .. '/')
	end,

	onCreate = function(event)
		log('Normal', 'layer2: create ', event.pathname)
		if event.isdir then
			spawnShell(event, 'mkdir -p -- "$1"', event.targetPathname)
		else
			spawnShell(event, copy, event.sourcePathname, event.targetPathname)
		end
	end,

	onModify = function(event)
		log('Normal', 'layer2: modify ', event.pathname)
		if not event.isdir then
			spawnShell(event, copy, event.sourcePathname, event.targetPathname)
		end
	end,

	onDelete = function(event)
		log('Normal', 'layer2: delete ', event.pathname)
		spawnShell(event, 'rm -rf -- "$1"', event.targetPathname)
	end,

	onMove = function(origin, destination)
		log('Normal', 'layer2: move ', origin.pathname, ' -> ', destination.pathname)
		spawnShell(origin, 'mv -- "$1" "$2"', origin.targetPathname, destination.targetPathname)
	end,
}
