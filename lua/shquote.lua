-- shquote.lua: quoting for a POSIX shell (the slave's shell that runs the
-- move script and the -check probe, and commands shown to the operator).

local M = {}

-- str in single quotes, exact for every byte (a ' becomes '"'"').
function M.quote(str)
	return "'" .. str:gsub("'", "'\"'\"'") .. "'"
end

-- str as one word, quoted only when it needs it (for commands shown to the
-- operator to copy and paste).
function M.word(str)
	if str:find('^[%w/._@:+=,%-]+$') then return str end
	if not str:find("'") then return "'" .. str .. "'" end
	if not str:find('[\\"$`]') then return '"' .. str .. '"' end
	return M.quote(str)
end

return M
