-- exit.pass: results of a pcall go through, except the error core.terminate
-- raises to unwind, which is raised again.
describe('exit.pass', function()
	local exit = require 'exit'
	local code
	setup(function()
		_G.core = _G.core or {}
		core.exiting = function() return code end
	end)
	before_each(function() code = nil end)

	it('returns what pcall returned', function()
		assert.same({ true, 1, 2 }, { exit.pass(pcall(function() return 1, 2 end)) })
		local ok, err = exit.pass(pcall(error, 'boom', 0))
		assert.is_false(ok)
		assert.equal('boom', err)
	end)

	it('raises the error again once the daemon terminates', function()
		code = 3
		local ok, err = pcall(function() return exit.pass(pcall(error, 'core.terminate', 0)) end)
		assert.is_false(ok)
		assert.equal('core.terminate', err)
	end)
end)
