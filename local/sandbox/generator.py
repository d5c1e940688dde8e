"""S3 Batch Operations' manifest generator for the sandbox (CreateJob with `ManifestGenerator`,
`S3JobManifestGenerator`): the job lists its source bucket itself when it is prepared.

What AWS documents, each in the facts table (docs/src/contributing/sandbox-facts.md, "Generated
manifests"), and what the sandbox chooses where AWS is silent:
- the job's role needs `s3:PutInventoryConfiguration` on the source bucket ("To generate an
  object list, you must have the s3:PutInventoryConfiguration permission", S3 User Guide,
  batch-ops-create-job), authorized like every call (role policy, boundary, and across accounts
  the bucket policy); refused, the job fails while it is prepared;
- each filter field "includes only" the objects that match it, so they all narrow the list.
  Silent: whether "greater than", "less than", "created after" and "created before" are strict.
  The sandbox reads them strictly, as the words say;
- the generated manifest is written (EnableManifestOutput) to ManifestOutputLocation as the job's
  role (`s3:PutObject`; refused: "Error occurred when preparing manifest: Failed to write
  manifest", batch-ops-iam-role-policies) in format S3InventoryReport_CSV_20211130; its layout is
  not documented: the sandbox writes `<ManifestPrefix>/job-<id>/manifest.json` and a gzipped CSV
  under `data/`, and DescribeJob's GeneratedManifestDescriptor names the manifest.json, which is
  all ferry reads;
- silent: whether noncurrent versions are listed (the sandbox lists current versions), and what
  a generator that lists nothing does (the sandbox's job completes with no task).
"""

import csv
import gzip
import hashlib
import io
import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote_plus

from .inventory import encryption_status
from .s3xml import members as _members

# The generated manifest's only format (S3 Control API, GeneratedManifestFormat).
FORMAT = "S3InventoryReport_CSV_20211130"
# The encryption types of MatchAnyObjectEncryption (S3 Control API, ObjectEncryptionFilter).
ENCRYPTION_TYPES = ("SSE-S3", "SSE-KMS", "DSSE-KMS", "SSE-C", "NOT-SSE")


class Refused(Exception):
    """The generator could not run: the job fails with this code and reason."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def matches(flt: dict, bucket: str, obj: dict, size: int) -> bool:
    """Whether object `obj` (a ListObjectsV2 entry) of `bucket`, of `size` bytes, is listed."""
    key = obj["Key"]
    names = flt.get("KeyNameConstraint") or {}
    if any(not key.startswith(p) for p in _members(names.get("MatchAnyPrefix"))):
        return False
    if any(not key.endswith(s) for s in _members(names.get("MatchAnySuffix"))):
        return False
    if any(s not in key for s in _members(names.get("MatchAnySubstring"))):
        return False
    created = obj["LastModified"].astimezone(timezone.utc)
    if flt.get("CreatedAfter") and not created > _time(flt["CreatedAfter"]):
        return False
    if flt.get("CreatedBefore") and not created < _time(flt["CreatedBefore"]):
        return False
    if flt.get("ObjectSizeGreaterThanBytes") not in (None, "") and not size > int(flt["ObjectSizeGreaterThanBytes"]):
        return False
    if flt.get("ObjectSizeLessThanBytes") not in (None, "") and not size < int(flt["ObjectSizeLessThanBytes"]):
        return False
    classes = _members(flt.get("MatchAnyStorageClass"))
    if classes and obj.get("StorageClass", "STANDARD") not in classes:
        return False
    wanted = (flt.get("MatchAnyObjectEncryption") or {}).get("ObjectEncryption")
    if wanted:
        # One ObjectEncryption, a union: its one member names the type.
        types = [t for t in (wanted if isinstance(wanted, dict) else {}) if t in ENCRYPTION_TYPES]
        # The inventory's EncryptionStatus is the same classification, of the same objects.
        if encryption_status(bucket, key) not in types:
            return False
    return True


def generate(world: Any, sizes: dict, role: dict, job_id: str, generator: dict) -> tuple[list, dict | None]:
    """The tasks (bucket, URL-encoded key, version) of a job created with `generator` (its
    `S3JobManifestGenerator`, as the request's XML reads), and its GeneratedManifestDescriptor
    when the manifest was written. Raises Refused when the job must fail."""
    bucket = generator["SourceBucket"].split(":::", 1)[1]
    ok, why = world.allowed(role, "s3:PutInventoryConfiguration", bucket, None)
    if not ok:
        raise Refused("AccessDenied", f"Error occurred when preparing manifest: {why}")
    flt = generator.get("Filter") or {}
    src = world.client("s3", world.owner(bucket))
    rows = []
    prefixes = _members((flt.get("KeyNameConstraint") or {}).get("MatchAnyPrefix"))
    for page in src.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefixes[0] if prefixes else ""):
        for obj in page.get("Contents", []):
            size = sizes.get((bucket, obj["Key"]), obj["Size"])
            if matches(flt, bucket, obj, size):
                rows.append((bucket, quote_plus(obj["Key"], safe="/"), ""))
    descriptor = None
    if str(generator.get("EnableManifestOutput", "false")).lower() == "true":
        descriptor = _write(world, role, job_id, bucket, generator.get("ManifestOutputLocation") or {}, rows)
    return rows, descriptor


def _write(world: Any, role: dict, job_id: str, source: str, location: dict, rows: list) -> dict:
    out_bucket = location["Bucket"].split(":::", 1)[1]
    owner = location.get("ExpectedManifestBucketOwner")
    if owner and world.owner(out_bucket) != owner:
        raise Refused("AccessDenied", "Error occurred when preparing manifest: the manifest bucket's owner is not ExpectedManifestBucketOwner")
    prefix = location.get("ManifestPrefix", "").strip("/")
    base = f"{prefix}/job-{job_id}" if prefix else f"job-{job_id}"
    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows([r[:2] for r in rows])
    data = gzip.compress(text.getvalue().encode())
    data_key = f"{base}/data/{hashlib.sha1(job_id.encode()).hexdigest()}.csv.gz"
    manifest_key = f"{base}/manifest.json"
    for key in (data_key, manifest_key):
        ok, _ = world.allowed(role, "s3:PutObject", out_bucket, key)
        if not ok:
            raise Refused("AccessDenied", "Error occurred when preparing manifest: Failed to write manifest")
    world.put_report(out_bucket, data_key, data)
    manifest = json.dumps({
        "sourceBucket": source,
        "destinationBucket": location["Bucket"],
        "version": "2021-11-30",
        "creationTimestamp": str(int(datetime.now(timezone.utc).timestamp() * 1000)),
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key",
        "files": [{"key": data_key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()}],
    }, indent=2).encode()
    world.put_report(out_bucket, manifest_key, manifest)
    _, etag = world.get_object(out_bucket, manifest_key)
    return {"Format": FORMAT, "ObjectArn": f"arn:aws:s3:::{out_bucket}/{manifest_key}", "ETag": etag.strip('"')}
