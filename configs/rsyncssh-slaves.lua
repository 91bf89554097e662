-- One master pushing a web root to several slaves over ssh.
-- Each slave needs the master's public key in ~/.ssh/authorized_keys of
-- the sync user (ssh-copy-id), and rsync installed.
settings {
	logfile    = "/var/log/lsyncd-ng/lsyncd-ng.log",
	statusFile = "/var/log/lsyncd-ng/lsyncd-ng.status",
	insist     = true,
}

local slaves = { "web1.example.com", "web2.example.com" }

for _, host in ipairs(slaves) do
	sync {
		default.rsyncssh,
		source    = "/srv/www",
		host      = "sync@" .. host,
		targetdir = "/srv/www",
		delay     = 1,
		exclude   = { ".git/", "*.swp" },
		rsync     = { archive = true, compress = true },
		ssh       = { identityFile = "/etc/lsyncd-ng/id_ed25519" },
	}
end
