-- exit.lua: core.terminate(code) records the exit code and raises an error
-- that unwinds the Lua stack back to the engine, which then stops the
-- children and returns the code (engine/main.c). A pcall or xpcall around
-- code that may call terminate (a user's config, action or collect) passes
-- its results through M.pass, so that error is not taken for the callee's
-- failure: it is raised again and nothing after the terminate runs.

local M = {}

-- Returns ok, ... as given, unless the daemon is terminating: then the
-- error goes on up.
function M.pass(ok, ...)
	if not ok and core.exiting() then error((...), 0) end
	return ok, ...
end

return M
