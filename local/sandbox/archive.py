"""Archived objects for the sandbox: S3 Glacier Flexible Retrieval (GLACIER), S3 Glacier Deep
Archive (DEEP_ARCHIVE), and S3 Intelligent-Tiering's Archive Access and Deep Archive Access
tiers; their restores, and what S3 says of them while they are archived, being restored, and
restored.

AWS's sources (docs/src/contributing/sandbox-facts.md, "Archived objects"):
- GetObject: "If the object you are retrieving is stored in the S3 Glacier Flexible Retrieval
  storage class, the S3 Glacier Deep Archive storage class, the S3 Intelligent-Tiering Archive
  Access tier, or the S3 Intelligent-Tiering Deep Archive Access tier, before you can retrieve
  the object you must first restore a copy ... Otherwise, this operation returns an
  InvalidObjectState error" (403; botocore s3 model).
- CopyObject's one documented error is ObjectNotInActiveTierError (403): "The source object of
  the COPY action is not in the active tier and is only stored in Amazon S3 Glacier". AWS does
  not say what CopyObject answers for an Intelligent-Tiering archive tier; the sandbox answers
  the same (a refusal either way; ferry reads both codes as archived).
- HeadObject: `x-amz-restore` is `ongoing-request="true"` while a restore runs, and
  `ongoing-request="false", expiry-date="..."` once the copy is restored; `x-amz-archive-status`
  is ARCHIVE_ACCESS or DEEP_ARCHIVE_ACCESS (ArchiveStatus). The User Guide's
  intelligent-tiering-managing example of a restore in progress shows both headers. Restored,
  an Intelligent-Tiering object moves to the Frequent Access tier ("wait until the object is
  moved into the Frequent Access tier", RestoreObject): the sandbox then drops both headers.
- RestoreObject: 202 the first time, 200 when the object is restored already, 409
  RestoreAlreadyInProgress while a restore runs, 403 ObjectAlreadyInActiveTierError for an
  object that is not archived. S3InitiateRestoreObject: `ExpirationInDays` 1 or more for
  GLACIER and DEEP_ARCHIVE; for the Intelligent-Tiering tiers "specifying ExpirationInDays
  results in restore request failure" (s3control model; the failure's code is not documented:
  the sandbox's is InvalidArgument, which ferry does not read).
- How long a restore takes (hours) is the tier's; the sandbox's is `POST /archive
  {"restoreSeconds": n}` (default 2), the same for every object but those a test holds
  (`{"bucket", "key", "hold": true}`, until `"hold": false`): AWS gives each tier a window of
  hours, so some restores of one job end hours after others.

moto stores GLACIER and DEEP_ARCHIVE objects and refuses GetObject and CopyObject of one whose
`x-amz-restore` does not say `ongoing-request="false"`; the headers are this module's
(install()), so moto's own checks follow the restores kept here. moto has no Intelligent-Tiering
access tiers: `POST /archive {"bucket", "key", "tier"}` puts an INTELLIGENT_TIERING object in one,
and the WSGI layer refuses reads and copies of it (refusal()).
"""

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

GLACIER_CLASSES = ("GLACIER", "DEEP_ARCHIVE")
TIERING_TIERS = ("ARCHIVE_ACCESS", "DEEP_ARCHIVE_ACCESS")

GET_REFUSAL = ("InvalidObjectState", "The operation is not valid for the object's storage class")
COPY_REFUSAL = ("ObjectNotInActiveTierError",
                "The source object of the COPY operation is not in the active tier and is only stored in Amazon S3 Glacier.")

_LOCK = threading.Lock()
_SETTINGS = {"restoreSeconds": 2.0}
# (bucket, key) -> the Intelligent-Tiering archive tier an object is in.
_TIERS: dict[tuple[str, str], str] = {}
# (bucket, key) -> (when its restore was asked for, days or None).
_RESTORES: dict[tuple[str, str], tuple[float, int | None]] = {}
# Objects whose restore is held ongoing until released: a restore S3 finishes later than the
# others of its job (AWS gives each tier a window of hours, not a time).
_HELD: set[tuple[str, str]] = set()


class Refused(Exception):
    def __init__(self, code: str, http: int, message: str):
        super().__init__(message)
        self.code, self.http, self.message = code, http, message


def configure(body: dict) -> None:
    """`POST /archive`: the restore time, and/or one object's Intelligent-Tiering tier."""
    with _LOCK:
        if "restoreSeconds" in body:
            _SETTINGS["restoreSeconds"] = float(body["restoreSeconds"])
        if "hold" in body:
            (_HELD.add if body["hold"] else _HELD.discard)((body["bucket"], body["key"]))
        elif "key" in body:
            tier = body.get("tier", "ARCHIVE_ACCESS")
            if tier not in TIERING_TIERS:
                raise ValueError(f"tier must be one of {TIERING_TIERS}")
            _TIERS[(body["bucket"], body["key"])] = tier
            _RESTORES.pop((body["bucket"], body["key"]), None)


def _state(bucket: str, key: str, storage_class: str | None) -> str | None:
    """None (not archived, or an Intelligent-Tiering object restored), "archived", "ongoing" or
    "restored" (a Glacier object's restored copy)."""
    glacier = storage_class in GLACIER_CLASSES
    tiering = storage_class == "INTELLIGENT_TIERING" and (bucket, key) in _TIERS
    if not (glacier or tiering):
        return None
    restore = _RESTORES.get((bucket, key))
    if restore is None:
        return "archived"
    if time.time() - restore[0] < _SETTINGS["restoreSeconds"] or (bucket, key) in _HELD:
        return "ongoing"
    if tiering:
        # Back in the Frequent Access tier: an object like any other.
        del _TIERS[(bucket, key)]
        del _RESTORES[(bucket, key)]
        return None
    return "restored"


def readable(bucket: str, key: str, storage_class: str | None) -> bool:
    with _LOCK:
        return _state(bucket, key, storage_class) in (None, "restored")


def headers(bucket: str, key: str, storage_class: str | None) -> dict[str, str]:
    """HeadObject's (and GetObject's) archive headers of an object."""
    with _LOCK:
        s = _state(bucket, key, storage_class)
        tier = _TIERS.get((bucket, key))
        restore = _RESTORES.get((bucket, key))
    out = {}
    if tier and s in ("archived", "ongoing"):
        out["x-amz-archive-status"] = tier
    if s == "ongoing":
        out["x-amz-restore"] = 'ongoing-request="true"'
    elif s == "restored" and restore is not None:
        days = restore[1] or 1
        # Expiry: the restore's end plus its days, at the next midnight UTC.
        end = datetime.fromtimestamp(restore[0] + _SETTINGS["restoreSeconds"], timezone.utc) + timedelta(days=days)
        midnight = (end + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        out["x-amz-restore"] = f'ongoing-request="false", expiry-date="{midnight.strftime("%a, %d %b %Y %H:%M:%S GMT")}"'
    return out


def restore(bucket: str, key: str, storage_class: str | None, days: int | None) -> int:
    """One S3InitiateRestoreObject task (RestoreObject): its HTTP status, or Refused."""
    with _LOCK:
        s = _state(bucket, key, storage_class)
        tiering = (bucket, key) in _TIERS
        if s is None:
            raise Refused("ObjectAlreadyInActiveTierError", 403, "This action is not allowed against this storage tier.")
        if tiering and days is not None:
            raise Refused("InvalidArgument", 400, "sandbox: ExpirationInDays is not taken for an Intelligent-Tiering archive tier")
        if not tiering and not days:
            raise Refused("InvalidArgument", 400, "sandbox: ExpirationInDays of 1 or more is required for GLACIER and DEEP_ARCHIVE")
        if s == "ongoing":
            raise Refused("RestoreAlreadyInProgress", 409, "Object restore is already in progress")
        if s == "restored":
            _RESTORES[(bucket, key)] = (_RESTORES[(bucket, key)][0], days)
            return 200
        _RESTORES[(bucket, key)] = (time.time(), days)
        return 202


def refusal(method: str, bucket: str, key: str, copy_source: str | None) -> tuple[str, str] | None:
    """What S3 answers a read (GET) or a copy from (`copy_source`, `bucket/key`) of an
    Intelligent-Tiering object still in an archive tier (moto refuses GLACIER ones itself)."""
    from .lookup import _bucket

    def tier_archived(b: str, k: str) -> bool:
        found = _bucket(b)
        obj = found.keys.get(k) if found is not None else None
        return obj is not None and obj.storage_class == "INTELLIGENT_TIERING" and not readable(b, k, obj.storage_class)

    if copy_source:
        from urllib.parse import unquote

        src_bucket, _, src_key = unquote(copy_source.split("?", 1)[0]).lstrip("/").partition("/")
        return COPY_REFUSAL if tier_archived(src_bucket, src_key) else None
    if method == "GET" and key and tier_archived(bucket, key):
        return GET_REFUSAL
    return None


def install() -> None:
    """moto's object headers carry this module's archive state (moto's GetObject and CopyObject
    checks read `x-amz-restore` from them)."""
    from moto.s3.models import FakeKey

    original = FakeKey.response_dict.fget

    def response_dict(self: Any) -> dict:
        res = original(self)
        res.pop("x-amz-restore", None)
        res.update(headers(self.bucket_name, self.name, self.storage_class))
        return res

    FakeKey.response_dict = property(response_dict)
