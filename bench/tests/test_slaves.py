import os
import shutil
import subprocess
import tempfile
import unittest

from lngbench.profiles import NETNS_SLAVE
from lngbench.slaves import sshd_config_text, whose_user


class SshdConfig(unittest.TestCase):
    def test_one_address_one_user_no_forwarding(self):
        c = sshd_config_text('10.214.3.2', '/ws/ssh', 3, 'lngbench').splitlines()
        self.assertIn('ListenAddress 10.214.3.2', c)
        self.assertIn('Port 22', c)
        self.assertIn('PidFile /ws/ssh/sshd3.pid', c)
        self.assertIn('HostKey /ws/ssh/host_key', c)
        self.assertIn('AuthorizedKeysFile /ws/ssh/authorized_keys', c)
        self.assertIn('AllowUsers lngbench', c)
        self.assertIn('PasswordAuthentication no', c)
        self.assertIn('AllowTcpForwarding no', c)
        self.assertIn('PermitUserRC no', c)


class FreeRange(unittest.TestCase):
    """spec/tools/netns-slave free-range: the 10.X/16 picked for the slaves."""

    def pick(self, used, start=213):
        r = subprocess.run([NETNS_SLAVE, 'free-range', str(start)], input=used, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return r.returncode, r.stdout.strip()

    def test_nothing_used(self):
        self.assertEqual(self.pick(''), (0, '213'))
        self.assertEqual(self.pick('', 214), (0, '214'))

    def test_an_address_or_a_route_takes_a_range(self):
        used = ('2: eth0    inet 10.213.1.1/30 scope global lng1h1\n'
                '10.214.0.0/16 dev x proto kernel\n'
                'unreachable 10.215.3.2\n'
                'local 192.168.10.216 dev y\n')
        self.assertEqual(self.pick(used), (0, '216'))

    def test_a_route_on_the_first_line(self):
        self.assertEqual(self.pick('10.213.0.0/16 dev x\n'), (0, '214'))

    def test_a_longer_second_octet_is_another_range(self):
        self.assertEqual(self.pick('inet 10.2131.0.1/8\ninet 110.213.0.1/8\n'), (0, '213'))

    def test_none_free_fails(self):
        used = ''.join('inet 10.%d.0.1/16\n' % x for x in range(213, 251))
        rc, out = self.pick(used)
        self.assertNotEqual(rc, 0)
        self.assertEqual(out, '')


@unittest.skipUnless(os.access(NETNS_SLAVE, os.X_OK), 'netns-slave not executable')
class Usage(unittest.TestCase):
    def test_unknown_command_fails(self):
        r = subprocess.run([NETNS_SLAVE, 'frobnicate'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 2)


class WhoseUser(unittest.TestCase):
    """Two runs at once: the second must neither remove the first's user
    nor, at its end, the user the first made after it."""

    def setUp(self):
        self.ws = tempfile.mkdtemp(prefix='lng-bench-test.')
        self.addCleanup(shutil.rmtree, self.ws)
        self.mine = os.path.join(self.ws, 'mine', 'home')
        self.other = os.path.join(self.ws, 'other', 'home')
        os.makedirs(self.mine)
        os.makedirs(self.other)

    def test_our_own(self):
        self.assertEqual(whose_user(self.mine, self.mine), 'ours')

    def test_another_runs_workspace_still_there(self):
        self.assertEqual(whose_user(self.other, self.mine), 'active')
        self.assertEqual(whose_user(self.other, None), 'active')

    def test_a_workspace_that_is_gone_left_it_over(self):
        shutil.rmtree(os.path.dirname(self.other))
        self.assertEqual(whose_user(self.other, None), 'leftover')
        self.assertEqual(whose_user(self.other, self.mine), 'leftover')
