"""The propagation delay: a statement added to a bucket policy or a role's inline policy, and a
KMS grant, are in effect only after the delay; a removal at once; what was there before the
delay was set is in effect."""

import json
import time
import unittest
from unittest import mock

from . import propagation


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


OLD = {"Sid": "Old", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
NEW = {"Sid": "New", "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}


def sids(document):
    return [s["Sid"] for s in json.loads(document)["Statement"]]


class PropagationTest(unittest.TestCase):
    def setUp(self):
        self.now = 1_000.0
        patcher = mock.patch.object(propagation.time, "time", lambda: self.now)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.addCleanup(propagation.set_delay, 0)
        propagation.set_delay(10)

    def test_an_added_statement_is_in_effect_only_after_the_delay(self):
        before, after = doc(OLD), doc(OLD, NEW)
        propagation.record("bucket-policy", "b", before, after)
        self.now += 9.9
        self.assertEqual(sids(propagation.effective("bucket-policy", "b", after)), ["Old"])
        self.now += 0.2
        self.assertEqual(sids(propagation.effective("bucket-policy", "b", after)), ["Old", "New"])

    def test_a_new_policy_allows_nothing_until_the_delay_has_passed(self):
        propagation.record("role-policy", ("AROA1", "p"), None, doc(NEW))
        self.assertEqual(sids(propagation.effective("role-policy", ("AROA1", "p"), doc(NEW))), [])

    def test_a_removed_statement_is_gone_at_once(self):
        before, after = doc(OLD, NEW), doc(NEW)
        propagation.record("bucket-policy", "b", before, after)
        self.assertEqual(sids(propagation.effective("bucket-policy", "b", after)), ["New"])

    def test_rewriting_a_statement_in_effect_keeps_it_in_effect(self):
        propagation.record("bucket-policy", "b", doc(OLD), doc(OLD))
        self.assertEqual(sids(propagation.effective("bucket-policy", "b", doc(OLD))), ["Old"])

    def test_a_statement_removed_and_added_again_waits_the_delay_again(self):
        propagation.record("bucket-policy", "b", doc(OLD), doc())
        self.now += 1
        propagation.record("bucket-policy", "b", doc(), doc(OLD))
        self.now += 5
        self.assertEqual(sids(propagation.effective("bucket-policy", "b", doc(OLD))), [])

    def test_what_was_there_before_the_delay_was_set_is_in_effect(self):
        self.assertEqual(sids(propagation.effective("bucket-policy", "other", doc(OLD))), ["Old"])
        self.assertTrue(propagation.grant_in_effect("made-before"))

    def test_a_grant_is_in_effect_after_the_delay(self):
        propagation.record_grant("g1")
        self.assertFalse(propagation.grant_in_effect("g1"))
        self.now += 10
        self.assertTrue(propagation.grant_in_effect("g1"))

    def test_without_a_delay_nothing_is_recorded(self):
        propagation.set_delay(0)
        propagation.record("bucket-policy", "b", None, doc(NEW))
        propagation.record_grant("g2")
        self.assertEqual(sids(propagation.effective("bucket-policy", "b", doc(NEW))), ["New"])
        self.assertTrue(propagation.grant_in_effect("g2"))


if __name__ == "__main__":
    unittest.main()
