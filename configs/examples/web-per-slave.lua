-- A web root pushed to N web servers, one sync{} per slave (the form lsyncd
-- knows). Runs under lsyncd-ng and Debian's lsyncd. lsyncd-ng keeps one queue
-- per slave either way; web-targets.lua is the same in lsyncd-ng's short form.
-- The master's root key must be in each slave's /root/.ssh/authorized_keys.
settings {
	logfile    = "/var/log/lsyncd-ng/lsyncd-ng.log",
	statusFile = "/var/log/lsyncd-ng/lsyncd-ng.status",
	insist     = true,
}

local webservers = { "web1.example.com", "web2.example.com", "web3.example.com" }

for _, host in ipairs(webservers) do
	sync {
		default.rsync,
		source  = "/srv/www",
		target  = host .. ":/srv/www",
		delay   = 1,
		exclude = { ".git/", "*.tmp", "cache/" },
		rsync   = { archive = true, compress = true },
	}
end
