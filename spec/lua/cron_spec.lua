-- Specs for lua/cron.lua: crontab rules (lsyncd 2.3's crontab key).
local cron = require 'cron'

-- wall-clock seconds of a local date
local function at(y, mo, d, h, mi, s)
	return os.time { year = y, month = mo, day = d, hour = h, min = mi, sec = s }
end

describe('cron', function()
	it('reads 6-field rules with seconds and 5-field ones', function()
		local s = cron.parse('*/10 * * * * *')
		assert.is_true(s.sec[0] and s.sec[50] and not s.sec[5])
		s = cron.parse('30 4 * * *')
		assert.same({ [0] = true }, s.sec)
		assert.same({ [30] = true }, s.min)
		assert.same({ [4] = true }, s.hour)
	end)

	it('reads ranges, lists, steps and names', function()
		local s = cron.parse('0 0-10/5,30 8-9 1,15 jan-mar mon-fri')
		assert.same({ [0] = true, [5] = true, [10] = true, [30] = true }, s.min)
		assert.same({ [8] = true, [9] = true }, s.hour)
		assert.same({ [1] = true, [2] = true, [3] = true }, s.mon)
		assert.is_true(s.dow[1] and s.dow[5] and not s.dow[0])
		assert.is_true(cron.parse('0 0 0 * * 7').dow[0])       -- 7 is Sunday too
	end)

	it('refuses malformed rules with a message', function()
		assert.has_error(function() cron.parse('* * *') end)
		assert.has_error(function() cron.parse('61 * * * * *') end)
		assert.has_error(function() cron.parse('* * * * foo *') end)
		assert.has_error(function() cron.parse('*/0 * * * * *') end)
		assert.has_error(function() cron.check({ '* * * * * *', 'bad' }) end,
			'crontab rule 2 is not valid: "bad" must have 6 fields (sec min hour day month weekday) or 5')
	end)

	it('finds the next matching second', function()
		local base = at(2030, 5, 17, 10, 20, 33)
		assert.equal(at(2030, 5, 17, 10, 20, 40), cron.next(cron.parse('*/10 * * * * *'), base))
		assert.equal(at(2030, 5, 18, 4, 30, 0), cron.next(cron.parse('30 4 * * *'), base))
		assert.equal(at(2031, 1, 1, 0, 0, 0), cron.next(cron.parse('0 0 1 1 *'), base))
		-- 2030-05-17 is a Friday: next Monday 9:00
		assert.equal(at(2030, 5, 20, 9, 0, 0), cron.next(cron.parse('0 9 * * mon'), base))
		-- day of month or day of week when both are restricted
		assert.equal(at(2030, 5, 20, 0, 0, 0), cron.next(cron.parse('0 0 25 * mon'), base))
		assert.is_nil(cron.next(cron.parse('0 0 31 2 *'), base))
	end)
end)
