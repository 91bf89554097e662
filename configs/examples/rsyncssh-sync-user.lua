-- rsyncssh with a dedicated sync user: the master logs in to each slave as
-- "lsyncd" with its own key, and renames are done on the slave with mv.
-- Runs under lsyncd-ng and Debian's lsyncd.
--
-- On each slave (once):
--   useradd --system --create-home --shell /bin/sh lsyncd
--   install -d -o lsyncd -g lsyncd /srv/www
-- On the master:
--   ssh-keygen -t ed25519 -N '' -f /etc/lsyncd-ng/id_ed25519
--   ssh-copy-id -i /etc/lsyncd-ng/id_ed25519.pub lsyncd@web1.example.com
--   lsyncd-ng -check THIS-FILE           (one line per slave, each should be ✔)
settings {
	logfile    = "/var/log/lsyncd-ng/lsyncd-ng.log",
	statusFile = "/var/log/lsyncd-ng/lsyncd-ng.status",
	-- start even when a slave is down; it is caught up when it returns
	insist     = true,
}

local slaves = { "web1.example.com", "web2.example.com" }

for _, host in ipairs(slaves) do
	sync {
		default.rsyncssh,
		source    = "/srv/www",
		host      = "lsyncd@" .. host,
		targetdir = "/srv/www",
		delay     = 1,
		exclude   = { ".git/", "*.swp" },
		rsync     = {
			archive  = true,
			compress = true,
		},
		ssh       = {
			identityFile = "/etc/lsyncd-ng/id_ed25519",
			options      = { BatchMode = "yes" },
		},
	}
end
