-- layer3.lua: lsyncd's Layer-3 string actions (onCreate = "cmd ^path")
-- turned into functions. A string starting with '/' is run directly (split
-- on spaces, "double quotes" group words); anything else runs with sh -c,
-- every variable passed as a positional argument, so no value is ever
-- parsed by the shell. A leading '^' forces the shell form.

local M = {}

-- Variables, longest first so ^pathname wins over ^path.
local VARS = {
	'sourcePathname', 'sourcePathdir', 'sourcePath', 'source',
	'targetPathname', 'targetPathdir', 'targetPath', 'target',
	'pathname', 'pathdir', 'path',
}

-- Splits cmd into literal text and variable references:
-- { {text=...}, {var='path', side=nil|'o'|'d'}, ... }
local function tokenize(cmd)
	local parts, i, n = {}, 1, #cmd
	local lit = {}
	local function flush()
		if #lit > 0 then parts[#parts + 1] = { text = table.concat(lit) }; lit = {} end
	end
	while i <= n do
		local c = cmd:sub(i, i)
		local matched = false
		if c == '^' then
			local side
			local j = i + 1
			local pre = cmd:sub(j, j + 1)
			if pre == 'o.' or pre == 'd.' then side = pre:sub(1, 1); j = j + 2 end
			for _, v in ipairs(VARS) do
				if cmd:sub(j, j + #v - 1) == v then
					flush()
					parts[#parts + 1] = { var = v, side = side }
					i = j + #v
					matched = true
					break
				end
			end
		end
		if not matched then
			lit[#lit + 1] = c
			i = i + 1
		end
	end
	flush()
	return parts
end
M.tokenize = tokenize

local function value(part, event, event2)
	local ev = event
	if part.side == 'd' then ev = event2 or event end
	return ev[part.var]
end

-- Returns the function for a Layer-3 command string.
function M.translate(str)
	local shell = true
	local cmd = str
	if cmd:sub(1, 1) == '/' then
		shell = false
	elseif cmd:sub(1, 1) == '^' then
		cmd = cmd:sub(2)
	end
	local parts = tokenize(cmd)
	if shell then
		-- each variable becomes "$N", its value a positional argument
		local script, vars = {}, {}
		for _, p in ipairs(parts) do
			if p.text then
				script[#script + 1] = p.text
			else
				vars[#vars + 1] = p
				script[#script + 1] = '"$' .. #vars .. '"'
			end
		end
		local text = table.concat(script)
		return function(event, event2)
			local args = {}
			for i, p in ipairs(vars) do args[i] = value(p, event, event2) end
			_G.log('Normal', 'Event ', event.etype, ' spawns shell "', text, '"')
			_G.spawnShell(event, text, unpack(args, 1, #vars))
		end
	end
	-- direct form: words split on spaces, "..." groups a word
	local words, cur, inq = {}, {}, false
	local function endWord()
		if #cur > 0 then words[#words + 1] = cur; cur = {} end
	end
	for _, p in ipairs(parts) do
		if p.var then
			cur[#cur + 1] = p
		else
			local t = p.text
			local buf = {}
			for k = 1, #t do
				local c = t:sub(k, k)
				if c == '"' then
					inq = not inq
				elseif c == ' ' and not inq then
					if #buf > 0 then cur[#cur + 1] = { text = table.concat(buf) }; buf = {} end
					endWord()
				else
					buf[#buf + 1] = c
				end
			end
			if #buf > 0 then cur[#cur + 1] = { text = table.concat(buf) } end
		end
	end
	endWord()
	return function(event, event2)
		local argv = {}
		for i, w in ipairs(words) do
			local s = {}
			for _, p in ipairs(w) do s[#s + 1] = p.text or tostring(value(p, event, event2)) end
			argv[i] = table.concat(s)
		end
		_G.log('Normal', 'Event ', event.etype, ' spawns action "', table.concat(argv, ' '), '"')
		_G.spawn(event, argv[1], unpack(argv, 2))
	end
end

return M
