-- setup_tty.lua: the terminal side of -init and -check: lines out,
-- questions in (a default in [brackets], answers checked until valid).

local M = {}

local out = io.stdout

-- Writes the values and a newline, flushed.
function M.say(...)
	out:write(...)
	out:write('\n')
	out:flush()
end
local say = M.say

-- Asks question; the answer, or default for an empty one. End of input
-- raises { eof = true }.
function M.ask(question, default)
	out:write(question, default and default ~= '' and (' [' .. default .. ']') or '', ': ')
	out:flush()
	local line = io.stdin:read('*l')
	if line == nil then
		say('')
		error({ eof = true })
	end
	line = line:gsub('^%s+', ''):gsub('%s+$', '')
	if line == '' then return default or '' end
	return line
end

-- Asks until valid(answer) is true (else says why).
function M.askValid(question, default, valid)
	while true do
		local v = M.ask(question, default)
		local ok, why = valid(v)
		if ok then return v end
		say('  ', why)
	end
end

-- Asks a yes/no question.
function M.yes(question, default)
	local v = M.askValid(question, default and 'Y/n' or 'y/N', function(v)
		v = v:lower()
		if v == 'y/n' or v == 'y' or v == 'yes' or v == 'n' or v == 'no' then return true end
		return false, 'answer y or n'
	end)
	v = v:lower()
	if v == 'y/n' then return default end
	return v == 'y' or v == 'yes'
end

return M
