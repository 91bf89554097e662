"""slaves.py: the sshd slaves: the lngbench user, its keys, one namespace
and sshd per slave (spec/tools/netns-slave, shared with the e2e tests), a
slave cut off and back, and their removal."""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time

from .cmd import log, run
from .measure import descendants, proc_table
from .profiles import GECOS, NETNS_SLAVE, USER
from .trees import clear_dir


SSHD_CONFIG = '''ListenAddress {ip}
Port 22
HostKey {d}/host_key
PidFile {d}/sshd{n}.pid
AuthorizedKeysFile {d}/authorized_keys
AllowUsers {user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitUserRC no
PermitUserEnvironment no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTTY no
UseDNS no
LogLevel INFO
MaxStartups 200:30:400
MaxSessions 200
'''


def sshd_config_text(ip, sshdir, n, user=USER):
    """The sshd_config of slave n: listens on ip:22 only, keys from sshdir,
    logins as user only, no forwarding, no tty, no user rc files."""
    return SSHD_CONFIG.format(ip=ip, d=sshdir, n=n, user=user)


# The 10.X of this run's slaves: spec/tools/netns-slave picks the first free
# one from here with the first slave; later slaves reuse it.
NET_FROM = 214


def whose_user(home, ours):
    """The benchmark's user with home dir `home`: 'ours' (this run's, home
    `ours`), 'active' (another run's, whose workspace is still there: its
    home is made with the workspace and goes with it) or 'leftover'."""
    if ours and home == ours:
        return 'ours'
    return 'active' if os.path.isdir(home) else 'leftover'


class SlaveFarm:
    """Mixed into Bench (env.py): uses its ws, env, pid, procs, stop_proc."""

    def __init__(self):
        self.slaves = []           # dict(n, ns, host, ip, dir, config, log, sshd)
        self.net = None            # '10.X' once the first slave is up
        self.user_created = False
        self.made_run_sshd = False

    def make_user(self):
        try:
            pw = pwd.getpwnam(USER)
        except KeyError:
            pw = None
        if pw:
            if pw.pw_gecos != GECOS:
                sys.exit('a user %s exists that this benchmark did not create; not touching it' % USER)
            if whose_user(pw.pw_dir, None) == 'active':
                sys.exit('another benchmark run is active (user %s, workspace %s): wait for it; if'
                         ' none runs, remove what it left: userdel %s; rm -r %s'
                         % (USER, os.path.dirname(pw.pw_dir), USER, os.path.dirname(pw.pw_dir)))
            log('removing user %s left over by an earlier run' % USER)
            self.kill_user_procs(pw.pw_uid)
            run(['userdel', USER], check=False)
        home = os.path.join(self.ws, 'home')
        os.makedirs(home)
        # password '*': no password login, but not "locked" (sshd without
        # PAM refuses locked accounts, which '!' would be)
        run(['useradd', '--system', '--no-create-home', '--home-dir', home, '--shell', '/bin/sh',
             '--comment', GECOS, '--password', '*', USER])
        self.user_created = True
        pw = pwd.getpwnam(USER)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        os.chown(home, self.uid, self.gid)

    def user_is_ours(self):
        """Is the slaves' user still the one this run made? (Another run
        removes it as a leftover only when its workspace is gone.)"""
        try:
            pw = pwd.getpwnam(USER)
        except KeyError:
            return False
        return whose_user(pw.pw_dir, os.path.join(self.ws, 'home')) == 'ours'

    def make_keys(self):
        d = os.path.join(self.ws, 'ssh')
        os.makedirs(d)
        os.chmod(d, 0o755)
        for name in ('host_key', 'id'):
            run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'lng-bench-' + name,
                 '-f', os.path.join(d, name)], stdin=subprocess.DEVNULL)
        self.key = os.path.join(d, 'id')
        self.known = os.path.join(d, 'known_hosts')
        shutil.copy(self.key + '.pub', os.path.join(d, 'authorized_keys'))
        os.chmod(os.path.join(d, 'authorized_keys'), 0o644)
        self.sshdir = d
        with open(os.path.join(d, 'host_key.pub')) as f:
            self.hostpub = ' '.join(f.read().split()[:2])
        self.rsh = ('/usr/bin/ssh -F /dev/null -i %s -o IdentitiesOnly=yes -o UserKnownHostsFile=%s'
                    ' -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes'
                    ' -o BatchMode=yes -o ConnectTimeout=10' % (self.key, self.known))
        if not os.path.isdir('/run/sshd'):
            os.makedirs('/run/sshd')
            self.made_run_sshd = True

    def sshd_config(self, n, ip):
        path = os.path.join(self.sshdir, 'sshd%d.config' % n)
        with open(path, 'w') as f:
            f.write(sshd_config_text(ip, self.sshdir, n))
        return path

    def start_sshd(self, s):
        p = subprocess.Popen([NETNS_SLAVE, 'sshd', s['ns'], s['config'], s['log']],
                             env=self.env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        s['sshd'] = p
        for _ in range(100):
            if p.poll() is not None:
                break
            r = subprocess.run(self.rsh.split() + ['%s@%s' % (USER, s['ip']), 'true'],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError('sshd of slave %d did not come up (see %s)' % (s['n'], s['log']))

    def make_slave(self, n):
        ns = 'lngb%ds%d' % (self.pid, n)
        host = 'lngb%dh%d' % (self.pid, n)
        s = dict(n=n, ns=ns, host=host, ip=None)
        self.slaves.append(s)          # recorded first: teardown removes a half-made one
        x = run([NETNS_SLAVE, 'add', ns, host, str(n), self.net[3:] if self.net else 'auto:%d' % NET_FROM],
                stdin=subprocess.DEVNULL).stdout.strip()
        self.net = '10.' + x
        ip = s['ip'] = '%s.%d.2' % (self.net, n)
        with open(self.known, 'a') as f:
            f.write('%s %s\n' % (ip, self.hostpub))
        d = os.path.join(self.ws, 's', str(n))
        os.makedirs(d)
        os.chown(d, self.uid, self.gid)
        s.update(dir=d, config=self.sshd_config(n, ip), log=os.path.join(self.sshdir, 'sshd%d.log' % n))
        self.start_sshd(s)

    def target(self, s):
        return '%s@%s:%s/' % (USER, s['ip'], s['dir'])

    def clear_slaves(self, k):
        for s in self.slaves[:k]:
            clear_dir(s['dir'], (self.uid, self.gid))

    # ---- a slave that is down, and back
    def slave_down(self, s):
        """No new connection can reach it (listener stopped, an unreachable
        route so nothing for it leaves by the default route, its link down),
        and the connections it had are closed (their processes killed)."""
        table = proc_table()
        sessions = descendants(s['sshd'].pid, table)
        self.stop_proc(s['sshd'], 2)
        for p in sessions:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        run([NETNS_SLAVE, 'cut', s['host'], s['ip']])
        s['down'] = True

    def slave_up(self, s):
        run([NETNS_SLAVE, 'mend', s['host'], s['ip']])
        self.start_sshd(s)
        s.pop('down', None)

    def kill_user_procs(self, uid):
        for _ in range(20):
            pids = []
            for d in os.listdir('/proc'):
                if d.isdigit():
                    try:
                        if os.stat('/proc/' + d).st_uid == uid:
                            pids.append(int(d))
                    except OSError:
                        pass
            if not pids:
                return
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.1)

    def remove_slaves(self):
        """The namespaces, links and routes of every slave, then the user and
        /run/sshd if we made them (after their processes were ended)."""
        for s in self.slaves:
            run([NETNS_SLAVE, 'del', s['ns'], s['host']] + ([s['ip']] if s['ip'] else []), check=False)
        if self.user_created and self.user_is_ours():
            for _ in range(10):
                if run(['userdel', USER], check=False).returncode in (0, 6):
                    break
                time.sleep(0.3)
        if self.made_run_sshd:
            try:
                os.rmdir('/run/sshd')
            except OSError:
                pass
