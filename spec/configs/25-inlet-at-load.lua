-- Pattern 25: the object sync{} returns, used while the config loads to
-- change the excludes (lsyncd builds the sync at once and allows it).
-- lsyncd-ng makes the changes when it builds the sync, with a warning
-- that shows the exclude list that says the same.

settings { nodaemon = true }

local site = sync {
	default.rsync,
	source  = '@SRC@',
	target  = '@TGT@',
	delay   = @DELAY@,
	exclude = { '*.tmp', '*.log' },
}

site.rmExclude('*.log')        -- logs are wanted on this copy after all
site.addExclude('*.bak')
