#!/usr/bin/python3
"""tap.py: runs bench/tests/test_*.py (unittest) and reports in TAP, one
"ok N - name" / "not ok N - name" per test, for spec/run (tier bench/).
Exit status 1 if any test failed or none ran."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))          # bench/: import lngbench


class TapResult(unittest.TestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.n = 0

    def line(self, ok, test, detail=None):
        self.n += 1
        print('%s %d - %s' % ('ok' if ok else 'not ok', self.n, test.id()), flush=True)
        if detail:
            for l in detail.rstrip('\n').split('\n'):
                print('#   ' + l)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.line(False, test, self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self.line(False, test, self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.n += 1
        print('ok %d - %s # SKIP %s' % (self.n, test.id(), reason))


def main():
    suite = unittest.defaultTestLoader.discover(HERE, pattern='test_*.py', top_level_dir=HERE)
    result = TapResult()
    suite.run(result)
    print('1..%d' % result.n)
    return 0 if result.wasSuccessful() and result.n > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
