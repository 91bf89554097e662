-- Pattern 12: no per-event syncing at all; a user alarm runs a job every
-- second (a full rsync here) on a Blanket event of a sync whose action just
-- drops the file events. Uses the stale `settings.x = ...` form that
-- lsyncd 2.1+ refuses (lsyncd-ng accepts it), now(), alarm() with an extra
-- argument, and the inlet sync{} returns.

settings.nodaemon = true
settings.logfile = '@LOG@'

local function dropEvents(inlet)
	local event = inlet.getEvent()
	if event then inlet.discardEvent(event) end
end

local watched = sync {
	source = '@SRC@',
	action = dropEvents,
}

local started = now()

local function job(when, extra)
	extra.runs = extra.runs + 1
	log('Normal', extra.name, ' run ', extra.runs, ' after ', math.floor(when - started), ' s')
	spawn(extra.inlet.createBlanketEvent(), 'rsync', '-a', '--delete', '@SRC@/', '@TGT@/')
	alarm(when + extra.every, job, extra)
end

alarm(now() + 1, job, { inlet = watched, name = 'periodic mirror', every = 1, runs = 0 })
