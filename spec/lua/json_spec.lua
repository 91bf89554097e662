-- Specs for lua/json.lua: numbers are written exactly (status files carry
-- epoch seconds with fractions; a rounded one made -status report a status
-- written -2415 s ago), strings escaped.
local json = require 'json'

describe('json', function()
	it('writes integers as integers', function()
		assert.equal('1796327030', json.encode(1796327030))
		assert.equal('0', json.encode(0))
		assert.equal('-42', json.encode(-42))
	end)

	it('writes fractions so that they read back as the same number', function()
		for _, v in ipairs { 1796327030.2475882, 0.1, 1 / 3, 65.0083, 1e-7, 123456789.5 } do
			local s = json.encode(v)
			assert.equal(v, tonumber(s), s)
		end
		assert.equal('0.1', json.encode(0.1))
		assert.equal('1796327030.25', json.encode(1796327030.25))
	end)

	it('writes what it cannot represent as null', function()
		assert.equal('null', json.encode(0 / 0))
		assert.equal('null', json.encode(math.huge))
	end)

	it('escapes control characters and quotes in strings', function()
		assert.equal('"a\\"b\\n\\u001b"', json.encode('a"b\n\27'))
	end)
end)
