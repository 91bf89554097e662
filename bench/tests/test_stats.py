import unittest

from lngbench.stats import med, pct, ratio


class Percentiles(unittest.TestCase):
    def test_empty_is_none(self):
        self.assertIsNone(pct([], 0.5))

    def test_nearest_rank_of_unsorted_input(self):
        xs = [5, 1, 4, 2, 3]
        self.assertEqual(pct(xs, 0.5), 3)
        self.assertEqual(pct(xs, 0.0), 1)
        self.assertEqual(pct(xs, 1.0), 5)
        self.assertEqual(xs, [5, 1, 4, 2, 3])        # the input is left as it was

    def test_p99_of_a_hundred_is_the_99th(self):
        xs = list(range(1, 101))
        self.assertEqual(pct(xs, 0.99), 99)
        self.assertEqual(pct(xs, 0.9), 90)

    def test_inf_is_a_value(self):
        self.assertEqual(pct([1.0, float('inf')], 0.99), float('inf'))


class Medians(unittest.TestCase):
    def test_none_left_out(self):
        self.assertEqual(med([None, 3, 1, None, 2]), 2)

    def test_even_count_averages(self):
        self.assertEqual(med([1, 2, 3, 4]), 2.5)

    def test_nothing_is_none(self):
        self.assertIsNone(med([None, None]))


class Ratios(unittest.TestCase):
    def test_ratio(self):
        self.assertEqual(ratio(1.0, 4.0), 0.25)

    def test_missing_or_zero_is_none(self):
        self.assertIsNone(ratio(None, 1))
        self.assertIsNone(ratio(1, None))
        self.assertIsNone(ratio(1, 0))
