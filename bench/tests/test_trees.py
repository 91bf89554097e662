import os
import shutil
import subprocess
import tempfile
import unittest

from lngbench.profiles import TREE_DIFF
from lngbench.trees import dir_matches, scan_tree, tree_diff, write_file


class TwoTrees(unittest.TestCase):
    """src and dst: the same small tree (a file, a dir, a subdir, a symlink)."""

    def setUp(self):
        self.ws = tempfile.mkdtemp(prefix='lng-bench-test.')
        self.addCleanup(shutil.rmtree, self.ws)
        self.src = os.path.join(self.ws, 'src')
        self.dst = os.path.join(self.ws, 'dst')
        for top in (self.src, self.dst):
            os.makedirs(os.path.join(top, 'd', 'e'))
            write_file(os.path.join(top, 'a'), b'aaaa')
            write_file(os.path.join(top, 'd', 'e', 'f'), b'ffffff')
            os.symlink('a', os.path.join(top, 'l'))


class Trees(TwoTrees):

    def test_scan_lists_every_directory(self):
        t = scan_tree(self.src)
        self.assertEqual(t, {'': {'a': ('f', 4), 'd': ('d', 0), 'l': ('l', 0)},
                             'd': {'e': ('d', 0)}, 'd/e': {'f': ('f', 6)}})

    def test_listing_matches(self):
        exp = scan_tree(self.src)
        for rel, ents in exp.items():
            self.assertTrue(dir_matches(self.dst, rel, ents), rel)

    def test_listing_sees_size_type_and_names(self):
        exp = scan_tree(self.src)
        write_file(os.path.join(self.dst, 'a'), b'aaa')
        self.assertFalse(dir_matches(self.dst, '', exp['']))
        write_file(os.path.join(self.dst, 'a'), b'aaaa')
        write_file(os.path.join(self.dst, 'extra'), b'')
        self.assertFalse(dir_matches(self.dst, '', exp['']))
        self.assertTrue(dir_matches(self.dst, '', exp[''], optional=('extra',)))
        os.unlink(os.path.join(self.dst, 'extra'))
        os.unlink(os.path.join(self.dst, 'l'))
        write_file(os.path.join(self.dst, 'l'), b'')
        self.assertFalse(dir_matches(self.dst, '', exp['']))

    def test_listing_of_a_missing_dir_does_not_match(self):
        self.assertFalse(dir_matches(self.dst, 'nope', {}))

    def test_equal_trees_have_no_difference(self):
        self.assertEqual(tree_diff(self.src, self.dst), [])

    def test_directory_times_do_not_count(self):
        os.utime(os.path.join(self.dst, 'd'), (1, 1))
        os.utime(os.path.join(self.dst, 'd', 'e'), (1, 1))
        self.assertEqual(tree_diff(self.src, self.dst), [])

    def test_same_size_other_content_is_a_difference(self):
        write_file(os.path.join(self.dst, 'd', 'e', 'f'), b'gggggg')
        self.assertEqual(tree_diff(self.src, self.dst), ['>fc.T...... d/e/f'])

    def test_missing_extra_and_symlink_target(self):
        os.unlink(os.path.join(self.dst, 'a'))
        write_file(os.path.join(self.dst, 'only-here'), b'')
        os.unlink(os.path.join(self.dst, 'l'))
        os.symlink('b', os.path.join(self.dst, 'l'))
        got = tree_diff(self.src, self.dst)
        self.assertEqual(sorted(got), sorted(['*deleting   only-here', '>f+++++++++ a', 'cLc.T...... l -> a']))

    def test_limit(self):
        for i in range(5):
            write_file(os.path.join(self.src, 'n%d' % i), b'x')
        self.assertEqual(len(tree_diff(self.src, self.dst, limit=3)), 3)
        self.assertEqual(len(tree_diff(self.src, self.dst, limit=0)), 5)

    def test_a_missing_tree_is_a_difference(self):
        got = tree_diff(self.src, os.path.join(self.ws, 'nope'))
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0].startswith('missing directory:'), got)


class TreeDiffOptions(TwoTrees):
    """spec/tools/tree-diff's options the e2e tests use (--meta, filters)."""

    def diff(self, *opts):
        r = subprocess.run([TREE_DIFF, self.src, self.dst] + list(opts), stdout=subprocess.PIPE, text=True)
        self.assertEqual(r.returncode, 0)
        return r.stdout.splitlines()

    def same_times(self):
        for rel in ('a', 'd/e/f'):
            for top in (self.src, self.dst):
                os.utime(os.path.join(top, rel), (1000000, 1000000))

    def test_meta_leaves_directory_times_out(self):
        self.same_times()
        os.utime(os.path.join(self.dst, 'd'), (1, 1))
        self.assertEqual(self.diff('--meta'), [])

    def test_meta_sees_permissions_and_file_times(self):
        self.same_times()
        os.chmod(os.path.join(self.dst, 'a'), 0o600)
        os.chmod(os.path.join(self.src, 'a'), 0o644)
        self.assertEqual(self.diff(), [])
        self.assertEqual(self.diff('--meta'), ['.f...p..... a'])
        os.chmod(os.path.join(self.dst, 'a'), 0o644)
        os.utime(os.path.join(self.dst, 'd', 'e', 'f'), (1, 1))
        self.assertEqual(self.diff('--meta'), ['.f..t...... d/e/f'])

    def test_a_filter_leaves_names_out(self):
        write_file(os.path.join(self.src, 'x.tmp'), b'')
        self.assertEqual(self.diff('--exclude=*.tmp'), [])
        self.assertEqual(self.diff(), ['>f+++++++++ x.tmp'])
