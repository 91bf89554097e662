-- setup.lua: operator tooling: the interactive config generator (-init)
-- and the check of a config and its slaves (-check). Being written.
local M = {}
function M.init(opts, args)
	io.stderr:write('lsyncd-ng: -init is not implemented yet\n')
	return 1
end
function M.check(opts, args)
	io.stderr:write('lsyncd-ng: -check is not implemented yet\n')
	return 1
end
return M
