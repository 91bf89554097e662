-- Specs for lua/layer3.lua: layer-3 string commands, with procs.spawn,
-- procs.spawnShell and log.log replaced by recorders, and fake event tables.
local layer3 = require 'layer3'
local procs = require 'procs'
local logging = require 'log'

-- A fake event for internal path p ('/a/f') of a sync /s/ -> /t/.
local function ev(etype, p, tag)
	local rel = p:sub(2)
	local dir = rel:match('^(.*/)') or ''
	local name = rel:gsub('/$', '')
	return {
		etype = etype, path = rel, pathname = name, pathdir = dir,
		source = '/s/', sourcePath = '/s/' .. p, sourcePathname = '/s/' .. p:gsub('/$', ''),
		sourcePathdir = '/s/' .. '/' .. dir,
		target = '/t/', targetPath = '/t/' .. p, targetPathname = '/t/' .. p:gsub('/$', ''),
		targetPathdir = '/t/' .. '/' .. dir, tag = tag,
	}
end

describe('layer3', function()
	local calls, logs
	local saved = {}
	before_each(function()
		calls, logs = {}, {}
		saved.spawn, saved.spawnShell, saved.log = procs.spawn, procs.spawnShell, logging.log
		procs.spawn = function(agent, ...)
			calls[#calls + 1] = { kind = 'spawn', agent = agent, n = select('#', ...), ... }
			return 'spawned'
		end
		procs.spawnShell = function(agent, cmd, ...)
			calls[#calls + 1] = { kind = 'shell', agent = agent, cmd = cmd, n = select('#', ...), ... }
			return 'shelled'
		end
		logging.log = function(cat, ...)
			logs[#logs + 1] = cat .. ': ' .. table.concat({ ... })
		end
	end)
	after_each(function()
		procs.spawn, procs.spawnShell, logging.log = saved.spawn, saved.spawnShell, saved.log
	end)

	local function args(c)
		local out = {}
		for i = 1, c.n do out[i] = c[i] end
		return out
	end

	describe('shell form', function()
		it('passes each variable as a positional argument', function()
			local f = layer3.translate('cp -a ^sourcePath ^targetPathdir')
			local e = ev('Create', '/a b/f\'"$x')
			assert.equal('shelled', f(e))
			assert.equal(1, #calls)
			assert.equal('shell', calls[1].kind)
			assert.equal(e, calls[1].agent)
			assert.equal('cp -a "$1" "$2"', calls[1].cmd)
			assert.same({ '/s//a b/f\'"$x', '/t//a b/' }, args(calls[1]))
			assert.same({ 'Normal: Event Create spawns shell "cp -a "$1" "$2""' }, logs)
		end)

		it('prefers the longest variable name', function()
			local f = layer3.translate('x ^pathname ^pathdir ^path ^sourcePathname ^sourcePathdir '
				.. '^sourcePath ^source ^targetPathname ^targetPathdir ^targetPath ^target')
			local e = ev('Modify', '/d/f')
			f(e)
			assert.equal('x "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9" "${10}" "${11}"', calls[1].cmd)
			assert.same({ 'd/f', 'd/', 'd/f', '/s//d/f', '/s//d/', '/s//d/f', '/s/', '/t//d/f',
				'/t//d/', '/t//d/f', '/t/' }, args(calls[1]))
		end)

		it('concatenates variables with text and keeps stray carets', function()
			local f = layer3.translate('echo ^^pathX^path.bak ^nothing 2^3')
			f(ev('Modify', '/f'))
			assert.equal('echo ^"$1"X"$2".bak ^nothing 2^3', calls[1].cmd)
			assert.same({ 'f', 'f' }, args(calls[1]))
		end)

		it('numbers repeated variables separately', function()
			layer3.translate('a ^path b ^path')(ev('Modify', '/f'))
			assert.equal('a "$1" b "$2"', calls[1].cmd)
			assert.same({ 'f', 'f' }, args(calls[1]))
		end)

		it('runs a string without variables as is', function()
			layer3.translate('sleep 3 && touch /x')(ev('Init', '/'))
			assert.equal('sleep 3 && touch /x', calls[1].cmd)
			assert.equal(0, calls[1].n)
		end)

		it('a leading ^ forces the shell form and is dropped', function()
			layer3.translate('^/usr/bin/touch ^sourcePathname')(ev('Create', '/g'))
			assert.equal('shell', calls[1].kind)
			assert.equal('/usr/bin/touch "$1"', calls[1].cmd)
			assert.same({ '/s//g' }, args(calls[1]))
			-- only the first '^' goes: ^^path starts with the variable
			layer3.translate('^^path x')(ev('Create', '/g'))
			assert.equal('"$1" x', calls[2].cmd)
			assert.same({ 'g' }, args(calls[2]))
		end)

		it('keeps multi-line scripts', function()
			layer3.translate('a=^path\nif [ -d "$a" ]; then\n  rm -r ^target\nfi')(ev('Delete', '/d/'))
			assert.equal('a="$1"\nif [ -d "$a" ]; then\n  rm -r "$2"\nfi', calls[1].cmd)
			assert.same({ 'd/', '/t/' }, args(calls[1]))
		end)
	end)

	describe('binary form', function()
		it('splits on whitespace and substitutes inside words', function()
			local f = layer3.translate('/bin/echo  created ^path in --dir=^sourcePathdir\t!')
			local e = ev('Create', '/a b/f')
			assert.equal('spawned', f(e))
			assert.equal('spawn', calls[1].kind)
			assert.equal(e, calls[1].agent)
			assert.same({ '/bin/echo', 'created', 'a b/f', 'in', '--dir=/s//a b/', '!' }, args(calls[1]))
			assert.same({ 'Normal: Event Create spawns action "/bin/echo created a b/f in --dir=/s//a b/ !"' }, logs)
		end)

		it('groups words in double quotes and removes the quotes', function()
			layer3.translate('/bin/sh -c "echo ^path > /tmp/x" "" x"y z"w')(ev('Modify', '/f'))
			assert.same({ '/bin/sh', '-c', 'echo f > /tmp/x', '', 'xy zw' }, args(calls[1]))
		end)

		it('handles the move variables', function()
			local f = layer3.translate('/bin/echo ^o.pathname -> ^d.pathname ^o.sourcePath ^d.targetPath '
				.. '^o.targetPathdir ^d.sourcePathdir ^o.path ^d.path ^o.sourcePathname ^d.targetPathname')
			local o, d = ev('Move', '/a/old'), ev('Move', '/b/new')
			f(o, d)
			assert.same({ '/bin/echo', 'a/old', '->', 'b/new', '/s//a/old', '/t//b/new', '/t//a/',
				'/s//b/', 'a/old', 'b/new', '/s//a/old', '/t//b/new' }, args(calls[1]))
		end)

		it('reads only the listed move variables', function()
			-- there is no ^o.pathdir: ^o.path matches and "dir" stays text
			layer3.translate('/x ^o.pathdir ^d.source')(ev('Move', '/a/f'), ev('Move', '/b/g'))
			assert.same({ '/x', 'a/fdir', '^d.source' }, args(calls[1]))
		end)

		it('uses the first event for ^d. without a second one', function()
			layer3.translate('/x ^d.path')(ev('Modify', '/f'))
			assert.same({ '/x', 'f' }, args(calls[1]))
		end)
	end)

	it('spawns through procs, not through a global spawn', function()
		local f = layer3.translate('/bin/true')
		local old = rawget(_G, 'spawn')
		_G.spawn = function() error('the global spawn was called') end
		local ok, err = pcall(f, ev('Modify', '/f'))
		_G.spawn = old
		assert.is_true(ok, err)
		assert.equal('/bin/true', calls[1][1])
	end)

	it('lists its variables longest first', function()
		local v = layer3.variables
		assert.equal(27, #v)
		for i = 2, #v do assert.is_true(#v[i - 1] >= #v[i]) end
		assert.equal('^path', v[#v])
		local set = {}
		for _, x in ipairs(v) do set[x] = true end
		for _, x in ipairs { '^o.sourcePathname', '^d.targetPathdir', '^source', '^target', '^pathdir' } do
			assert.is_true(set[x], x)
		end
		assert.is_nil(set['^o.pathdir'])
	end)

	it('rejects non-strings', function()
		assert.has_error(function() layer3.translate(5) end)
	end)
end)
