-- Pattern 26: Layer-3 commands set on top of default.direct. lsyncd 2.0
-- ignored them, 2.2 refuses them; lsyncd-ng runs them for their events in
-- place of default.direct's own cp (moves, deletes, modifies stay
-- default.direct's). The second sync has no target: its handler needs none,
-- so it runs as a Layer-3 sync of its own.

settings { nodaemon = true }

sync {
	default.direct,
	source   = '@SRC@',
	target   = '@TGT@',
	delay    = @DELAY@,
	onCreate = 'cp -a ^sourcePathname ^targetPathdir && echo ^pathname >> @WS@/26.created',
}

sync {
	default.direct,
	source   = '@SRC2@',
	delay    = @DELAY@,
	onCreate = 'chmod g+w ^sourcePathname',
}
