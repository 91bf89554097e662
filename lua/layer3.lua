-- layer3.lua: lsyncd's layer-3 string commands (onCreate = "cmd ^path")
-- turned into Lua functions of (event[, event2]).
--
--  * A string starting with '/' is the binary form: it is split into words
--    on whitespace ("double quotes" group words and are removed; "" is an
--    empty word), variables are substituted inside the words (a value with
--    spaces stays one word), and spawn(event, word1, word2, ...) runs it
--    without a shell.
--  * A string starting with '^' is the shell form of the rest (the first
--    '^' dropped: a way to start a shell command with a variable).
--  * Any other string is the shell form: each variable occurrence becomes
--    "$N" ("${N}" from 10 on) and its value the N-th positional argument:
--    spawnShell(event, script, value1, value2, ...), so values are never
--    parsed by the shell.
--
-- Variables (each is the event field of the same name; longest name wins):
--   ^pathname ^pathdir ^path ^sourcePathname ^sourcePathdir ^sourcePath
--   ^source ^targetPathname ^targetPathdir ^targetPath ^target
-- and for moves, from the origin (^o.) or the destination (^d.) event:
--   pathname path sourcePathname sourcePathdir sourcePath targetPathname
--   targetPathdir targetPath
-- A '^' that starts no variable is kept as it is.  ^d. falls back to the
-- first event when no second one is given.
--
-- The commands run through procs.spawn / procs.spawnShell (the functions
-- a config has as spawn and spawnShell), not through the globals: a config
-- that reuses those names does not redirect them.  Each call logs at Normal level
-- 'Event ETYPE spawns shell "SCRIPT"' or 'Event ETYPE spawns action "ARGV"'.

local procs = require 'procs'
local logging = require 'log'

local M = {}

-- Passed as spawn's first argument after the binary: what follows are all
-- arguments, none of them the '<' stdin marker (procs.spawn).
M.ARGS_ONLY = procs.ARGS_ONLY

local PLAIN = {
	'pathname', 'pathdir', 'path', 'sourcePathname', 'sourcePathdir', 'sourcePath',
	'source', 'targetPathname', 'targetPathdir', 'targetPath', 'target',
}
local MOVE = {
	'pathname', 'path', 'sourcePathname', 'sourcePathdir', 'sourcePath',
	'targetPathname', 'targetPathdir', 'targetPath',
}

-- { name = 'o.path', field = 'path', second = false }, longest name first
local VARS = {}
for _, f in ipairs(PLAIN) do VARS[#VARS + 1] = { name = f, field = f, second = false } end
for _, f in ipairs(MOVE) do
	VARS[#VARS + 1] = { name = 'o.' .. f, field = f, second = false }
	VARS[#VARS + 1] = { name = 'd.' .. f, field = f, second = true }
end
table.sort(VARS, function(a, b)
	if #a.name ~= #b.name then return #a.name > #b.name end
	return a.name < b.name
end)

M.variables = {}
for i, v in ipairs(VARS) do M.variables[i] = '^' .. v.name end

-- Splits str into parts: { text = '...' } or { var = VARS entry }.
local function tokenize(str)
	local parts, buf = {}, {}
	local i, n = 1, #str
	while i <= n do
		local found
		if str:byte(i) == 94 then -- '^'
			for _, v in ipairs(VARS) do
				if str:sub(i + 1, i + #v.name) == v.name then
					found = v
					break
				end
			end
		end
		if found then
			if #buf > 0 then
				parts[#parts + 1] = { text = table.concat(buf) }
				buf = {}
			end
			parts[#parts + 1] = { var = found }
			i = i + 1 + #found.name
		else
			buf[#buf + 1] = str:sub(i, i)
			i = i + 1
		end
	end
	if #buf > 0 then parts[#parts + 1] = { text = table.concat(buf) } end
	return parts
end
M.tokenize = tokenize

local function value(v, event, event2)
	local ev = event
	if v.second and event2 ~= nil then ev = event2 end
	return ev[v.field]
end

local function shellForm(str)
	local script, vars = {}, {}
	for _, p in ipairs(tokenize(str)) do
		if p.text then
			script[#script + 1] = p.text
		else
			vars[#vars + 1] = p.var
			-- "$10" would be "${1}0" to the shell: two digits need braces
			-- (lsyncd writes "$10", which breaks from the tenth variable on)
			local n = #vars
			script[#script + 1] = n < 10 and ('"$' .. n .. '"') or ('"${' .. n .. '}"')
		end
	end
	script = table.concat(script)
	local nv = #vars
	return function(event, event2)
		local args = {}
		for k = 1, nv do args[k] = value(vars[k], event, event2) end
		logging.log('Normal', 'Event ', event.etype, ' spawns shell "', script, '"')
		return procs.spawnShell(event, script, unpack(args, 1, nv))
	end
end

local function binaryForm(str)
	-- words: arrays of parts; substitution happens after the split
	local words = {}
	local cur, started, quoted = {}, false, false
	local function endWord()
		if started then words[#words + 1] = cur end
		cur, started = {}, false
	end
	for _, p in ipairs(tokenize(str)) do
		if p.var then
			cur[#cur + 1] = p.var
			started = true
		else
			local t, buf = p.text, {}
			local function flush()
				if #buf > 0 then cur[#cur + 1] = table.concat(buf); buf = {} end
			end
			for k = 1, #t do
				local c = t:sub(k, k)
				if c == '"' then
					quoted = not quoted
					started = true
				elseif not quoted and c:match('%s') then
					flush()
					endWord()
				else
					buf[#buf + 1] = c
					started = true
				end
			end
			flush()
		end
	end
	endWord()
	-- the second word is a literal '<' (lsyncd's stdin marker), not a value
	local literal2 = words[2] and #words[2] == 1 and words[2][1] == '<'
	return function(event, event2)
		local argv = {}
		for i, w in ipairs(words) do
			local s = {}
			for k, part in ipairs(w) do
				if type(part) == 'string' then
					s[k] = part
				else
					s[k] = tostring(value(part, event, event2))
				end
			end
			argv[i] = table.concat(s)
		end
		logging.log('Normal', 'Event ', event.etype, ' spawns action "', table.concat(argv, ' '), '"')
		if #words > 1 and argv[2] == '<' and not literal2 then
			-- a value that happens to be '<' (a file named so) is an argument
			return procs.spawn(event, argv[1], M.ARGS_ONLY, unpack(argv, 2, #words))
		end
		return procs.spawn(event, unpack(argv, 1, #words))
	end
end

-- The function for a layer-3 command string.
function M.translate(str)
	if type(str) ~= 'string' then error('layer-3 commands must be strings', 2) end
	local c = str:sub(1, 1)
	if c == '/' then return binaryForm(str) end
	if c == '^' then return shellForm(str:sub(2)) end
	return shellForm(str)
end

return M
