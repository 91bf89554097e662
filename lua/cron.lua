-- cron.lua: the crontab = { ... } key of a sync (lsyncd 2.3): each rule
-- queues a Full event (a full transfer) at the times it names. lsyncd needs
-- the Lua module lua-crontab for this; lsyncd-ng parses the rules itself.
--
-- A rule has 6 fields, "sec min hour day-of-month month day-of-week" (the
-- form lua-crontab reads), or the 5 classic ones without seconds (second 0).
-- Each field: '*', a number, a range 'a-b', a list 'a,b,c', any of them with
-- a step '/n' ('*/10', '0-30/5'); months and weekdays also by name
-- ('jan', 'mon'); weekday 0 and 7 are Sunday. When both day fields are
-- restricted, a day matching either one matches (as cron does).

local M = {}

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
	jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12 }
local DAYS = { sun = 0, mon = 1, tue = 2, wed = 3, thu = 4, fri = 5, sat = 6 }

-- name, low, high, names
local FIELDS = {
	{ 'second', 0, 59 }, { 'minute', 0, 59 }, { 'hour', 0, 23 },
	{ 'day of month', 1, 31 }, { 'month', 1, 12, MONTHS }, { 'day of week', 0, 7, DAYS },
}

local function number(s, names, what)
	local n = tonumber(s)
	if not n and names then n = names[s:lower()] end
	if not n or n ~= math.floor(n) then error('bad ' .. what .. ' "' .. s .. '"', 0) end
	return n
end

-- The set {value = true} one field allows; star: the field is '*'.
local function field(text, f)
	local what, lo, hi, names = f[1], f[2], f[3], f[4]
	local set = {}
	for part in (text .. ','):gmatch('([^,]*),') do
		if part == '' then error('empty list item in the ' .. what .. ' field', 0) end
		local range, step = part:match('^([^/]+)/(%d+)$')
		if not range then range = part end
		step = tonumber(step) or 1
		if step < 1 then error('step 0 in the ' .. what .. ' field', 0) end
		local a, b
		if range == '*' then
			a, b = lo, hi
		else
			local x, y = range:match('^([^-]+)-([^-]+)$')
			if x then
				a, b = number(x, names, what), number(y, names, what)
			else
				a = number(range, names, what)
				b = part:find('/', 1, true) and hi or a
			end
		end
		if a < lo or b > hi or a > b then
			error(what .. ' "' .. part .. '" is outside ' .. lo .. '-' .. hi, 0)
		end
		for v = a, b, step do set[v] = true end
	end
	if what == 'day of week' and set[7] then set[0] = true end
	return set, text == '*'
end

-- Parses one rule; returns the spec or raises an error.
function M.parse(rule)
	if type(rule) ~= 'string' then error('a crontab rule must be a string', 0) end
	local words = {}
	for w in rule:gmatch('%S+') do words[#words + 1] = w end
	if #words == 5 then table.insert(words, 1, '0') end
	if #words ~= 6 then
		error('"' .. rule .. '" must have 6 fields (sec min hour day month weekday) or 5', 0)
	end
	local spec = {}
	local keys = { 'sec', 'min', 'hour', 'dom', 'mon', 'dow' }
	for i, k in ipairs(keys) do
		local set, star = field(words[i], FIELDS[i])
		spec[k] = set
		spec[k .. 'Star'] = star
	end
	return spec
end

local function dayOk(spec, d)
	local dom, dow = spec.dom[d.day], spec.dow[d.wday - 1]
	if spec.domStar or spec.dowStar then
		return (spec.domStar or dom) and (spec.dowStar or dow)
	end
	return dom or dow
end

-- The first wall-clock second after `after` that the rule matches, or nil
-- (none within years: 31 February).
function M.next(spec, after)
	local t = math.floor(after) + 1
	for _ = 1, 200000 do
		local d = os.date('*t', t)
		if not spec.mon[d.month] then
			t = os.time { year = d.year, month = d.month + 1, day = 1, hour = 0, min = 0, sec = 0 }
		elseif not dayOk(spec, d) then
			t = os.time { year = d.year, month = d.month, day = d.day + 1, hour = 0, min = 0, sec = 0 }
		elseif not spec.hour[d.hour] then
			t = os.time { year = d.year, month = d.month, day = d.day, hour = d.hour + 1, min = 0, sec = 0 }
		elseif not spec.min[d.min] then
			t = t - d.sec + 60
		elseif not spec.sec[d.sec] then
			t = t + 1
		else
			return t
		end
	end
	return nil
end

-- Checks a sync's crontab value; returns the parsed rules.
function M.check(list)
	if type(list) == 'string' then list = { list } end
	if type(list) ~= 'table' then error('crontab must be a list of rules', 0) end
	local specs = {}
	for i, rule in ipairs(list) do
		local ok, spec = pcall(M.parse, rule)
		if not ok then error('crontab rule ' .. i .. ' is not valid: ' .. spec, 0) end
		specs[i] = spec
	end
	return specs
end

-- Arms the rules of a sync (cfg._inlet exists): each due time queues a Full
-- event, unless one is waiting already. alarm is userenv's alarm().
function M.arm(cfg, alarm)
	local specs = M.check(cfg.crontab)
	for _, spec in ipairs(specs) do
		local function schedule()
			local wall = core.time()
			local at = M.next(spec, wall)
			if not at then return end
			alarm(core.now() + (at - wall), function()
				local s = cfg._inlet.getSync()
				if s:isRemoved() then return end   -- a reload removed the sync: the rule ends
				if not s:hasQueued('Full') and not s:isStopped() then
					core.log('Normal', s.name .. ': crontab: full sync')
					cfg._inlet.createFullEvent()
				end
				schedule()
			end)
		end
		schedule()
	end
end

return M
