-- reload.lua: what a HUP changes. A sync's definition is reduced to a
-- fingerprint (lua/definition.lua: its merged config, functions by their
-- bytecode and upvalues, and the settings that shape transfers); the new
-- config's syncs are matched against the running ones by it. A sync whose
-- definition did not change keeps its queue, retry state and ssh master,
-- and gets no startup transfer; a changed or new one starts afresh; a
-- removed one finishes what runs and stops.

local M = {}

-- Matches the new configs (each with _fingerprint) against the running
-- syncs (each s:getConfig()._fingerprint): returns plan, removed. plan[i] is
-- { keep = sync } or { new = cfg } in the new config's order; removed
-- lists the running syncs nothing matched. Equal definitions pair up in
-- order (two identical syncs stay two).
function M.plan(running, cfgs)
	local free = {}
	for _, s in ipairs(running) do
		local fp = s:getConfig()._fingerprint
		local l = free[fp]
		if not l then l = {}; free[fp] = l end
		l[#l + 1] = s
	end
	local plan = {}
	for i, c in ipairs(cfgs) do
		local l = free[c._fingerprint]
		local s = l and table.remove(l, 1)
		plan[i] = s and { keep = s } or { new = c }
	end
	local removed = {}
	for _, s in ipairs(running) do
		local l = free[s:getConfig()._fingerprint]
		for _, x in ipairs(l or {}) do
			if x == s then removed[#removed + 1] = s end
		end
	end
	return plan, removed
end

return M
