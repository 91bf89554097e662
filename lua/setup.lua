-- setup.lua: the operator tools that run instead of the daemon (the runner
-- calls setup.init and setup.check; the work is in setup_*.lua).
--
--   lsyncd-ng -init [FILE] [flags]   asks for (or takes as flags) the source,
--       the slaves and the options, checks each answer, shows the config and
--       writes it: a commented lsyncd config that lsyncd itself can also run.
--   lsyncd-ng -check CONFIG           loads the config without syncing and
--       checks every slave: key-only ssh login, a known host key, rsync on the
--       slave, a writable target dir. One line per slave, ✔ or ✘ with the fix.
--
-- Both run before any event loop exists, so commands run to completion with
-- core.run (argv arrays, no local shell). The one remote shell command, the
-- slave probe, quotes the target dir exactly (the quoting of the remote mv).

return {
	init = function(...) return require('setup_init').init(...) end,
	check = function(...) return require('setup_check').check(...) end,
}
