-- Pattern 15: files derived in place. For every *.txt in the top directory
-- (subdirs = false) an upper-case copy NAME.TXT.upper is generated next to
-- it, and removed with it. While a derived file is being written it is
-- excluded at runtime (addExclude / rmExclude), so its own events do not
-- come back to this layer. A second sync mirrors the directory.

settings { logfile = '@LOG@', nodaemon = true }

local function derivedOf(pathname)
	return (pathname:gsub('%.txt$', '.TXT.upper'))
end

sync {
	source       = '@SRC@',
	subdirs      = false,
	maxProcesses = 2,
	delay        = @DELAY@,

	action = function(inlet)
		local event = inlet.getEvent()
		if event.isdir or not event.pathname:match('%.txt$') then
			inlet.discardEvent(event)
			return
		end
		local out = derivedOf(event.sourcePathname)
		if event.etype == 'Create' or event.etype == 'Modify' then
			local pattern = '/' .. derivedOf(event.pathname)
			event.excluded = pattern
			inlet.addExclude(pattern)
			log('Normal', 'deriving ', derivedOf(event.pathname))
			spawn(event, 'sh', '-c', 'tr a-z A-Z < "$1" > "$2.tmp" && mv -f -- "$2.tmp" "$2"',
				'sh', event.sourcePathname, out)
		elseif event.etype == 'Delete' then
			spawn(event, 'rm', '-f', '--', out)
		else
			inlet.discardEvent(event)
		end
	end,

	collect = function(agent, exitcode)
		local pattern = rawget(agent, 'excluded')
		if pattern then agent.inlet.rmExclude(pattern) end
		if exitcode ~= 0 then
			log('Error', 'deriving from ', agent.pathname, ' failed: ', exitcode)
		end
		return 'ok'
	end,
}

sync {
	default.rsync,
	source = '@SRC@',
	target = '@TGT@',
	delay  = @DELAY@,
}
