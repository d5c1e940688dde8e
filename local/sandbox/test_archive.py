"""Archived objects: what S3 says of one while it is archived, being restored and restored, and
how RestoreObject answers (archive.py)."""

import unittest
from unittest import mock

from . import archive


class ArchiveTest(unittest.TestCase):
    def setUp(self):
        self.now = 1_000.0
        patcher = mock.patch.object(archive.time, "time", lambda: self.now)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.addCleanup(archive._TIERS.clear)
        self.addCleanup(archive._RESTORES.clear)
        self.addCleanup(archive._HELD.clear)
        archive.configure({"restoreSeconds": 10})

    def test_a_glacier_object_is_readable_only_once_its_restore_is_done(self):
        self.assertFalse(archive.readable("b", "k", "GLACIER"))
        self.assertEqual(archive.headers("b", "k", "GLACIER"), {})
        self.assertEqual(archive.restore("b", "k", "GLACIER", 2), 202)
        self.assertEqual(archive.headers("b", "k", "GLACIER"), {"x-amz-restore": 'ongoing-request="true"'})
        self.assertFalse(archive.readable("b", "k", "GLACIER"))
        with self.assertRaises(archive.Refused) as again:
            archive.restore("b", "k", "GLACIER", 2)
        self.assertEqual((again.exception.code, again.exception.http), ("RestoreAlreadyInProgress", 409))
        self.now += 10.1
        self.assertTrue(archive.readable("b", "k", "GLACIER"))
        restored = archive.headers("b", "k", "GLACIER")["x-amz-restore"]
        self.assertTrue(restored.startswith('ongoing-request="false", expiry-date="'), restored)
        self.assertTrue(restored.endswith(' 00:00:00 GMT"'), restored)
        # Asked again once restored: 200, and it stays restored.
        self.assertEqual(archive.restore("b", "k", "GLACIER", 3), 200)
        self.assertTrue(archive.readable("b", "k", "GLACIER"))

    def test_a_held_restore_ends_only_once_released(self):
        archive.configure({"bucket": "b", "key": "k", "hold": True})
        archive.restore("b", "k", "GLACIER", 1)
        self.now += 100
        self.assertFalse(archive.readable("b", "k", "GLACIER"))
        archive.configure({"bucket": "b", "key": "k", "hold": False})
        self.assertTrue(archive.readable("b", "k", "GLACIER"))

    def test_glacier_restores_need_days_and_intelligent_tiering_ones_take_none(self):
        with self.assertRaises(archive.Refused):
            archive.restore("b", "k", "DEEP_ARCHIVE", None)
        archive.configure({"bucket": "b", "key": "t", "tier": "DEEP_ARCHIVE_ACCESS"})
        with self.assertRaises(archive.Refused):
            archive.restore("b", "t", "INTELLIGENT_TIERING", 1)
        self.assertEqual(archive.restore("b", "t", "INTELLIGENT_TIERING", None), 202)

    def test_an_intelligent_tiering_object_leaves_its_archive_tier_when_restored(self):
        archive.configure({"bucket": "b", "key": "t", "tier": "ARCHIVE_ACCESS"})
        self.assertEqual(archive.headers("b", "t", "INTELLIGENT_TIERING"), {"x-amz-archive-status": "ARCHIVE_ACCESS"})
        self.assertFalse(archive.readable("b", "t", "INTELLIGENT_TIERING"))
        archive.restore("b", "t", "INTELLIGENT_TIERING", None)
        # The User Guide's example of a restore in progress: both headers.
        self.assertEqual(archive.headers("b", "t", "INTELLIGENT_TIERING"),
                         {"x-amz-archive-status": "ARCHIVE_ACCESS", "x-amz-restore": 'ongoing-request="true"'})
        self.now += 11
        self.assertTrue(archive.readable("b", "t", "INTELLIGENT_TIERING"))
        self.assertEqual(archive.headers("b", "t", "INTELLIGENT_TIERING"), {})

    def test_objects_that_are_not_archived_are_refused_a_restore(self):
        for storage_class in ("STANDARD", "INTELLIGENT_TIERING", "GLACIER_IR"):
            self.assertTrue(archive.readable("b", "k", storage_class))
            with self.assertRaises(archive.Refused) as refused:
                archive.restore("b", "k", storage_class, 1)
            self.assertEqual((refused.exception.code, refused.exception.http), ("ObjectAlreadyInActiveTierError", 403))

    def test_only_the_api_s_archive_tiers_are_taken(self):
        with self.assertRaises(ValueError):
            archive.configure({"bucket": "b", "key": "k", "tier": "FREQUENT"})


if __name__ == "__main__":
    unittest.main()
