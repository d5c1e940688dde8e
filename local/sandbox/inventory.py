"""S3 Inventory delivery for the sandbox, as S3 does it (moto stores configurations but never
delivers a report).

Some seconds after a configuration appears on a source bucket, the sandbox lists the bucket's
current objects under the configuration's filter and writes, under the documented layout,
`<prefix>/<source>/<id>/data/<uuid>.csv.gz`, then `<prefix>/<source>/<id>/<YYYY-MM-DDTHH-MMZ>/`
`manifest.json` and, last, `manifest.checksum` (the MD5 of manifest.json). Like S3, it refuses
unless the destination bucket's policy lets the S3 service write there for that source account
(aws:SourceAccount, aws:SourceArn, s3:x-amz-acl = bucket-owner-full-control). The destination
bucket's notification (from the template) is then delivered to the function host as the S3
event AWS documents, keys URL-encoded.

Tests steer it through the control API: the delay, delivering never, not notifying, notifying
twice, and a damaged checksum.
"""

import csv
import gzip
import hashlib
import io
import json
import sys
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import quote, quote_plus

from . import archive, authz, capture, policy

# The columns of an inventory report, in the order S3 writes them.
COLUMN_ORDER = [
    "Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "LastModifiedDate", "ETag",
    "StorageClass", "IsMultipartUploaded", "ReplicationStatus", "EncryptionStatus",
    "IntelligentTieringAccessTier",
]


class Inventory:
    def __init__(self, world: Any, source_accounts: list[str], function_host: Callable[[], str | None]):
        self.world = world
        self.source_accounts = source_accounts
        self.function_host = function_host
        self.lock = threading.Lock()
        self.settings = {"delaySeconds": 2.0, "deliver": True, "notify": True, "duplicate": False, "corruptChecksum": False}
        self.first_seen: dict[tuple[str, str], float] = {}
        self.delivered: set[tuple[str, str]] = set()
        self.notifications: dict[str, list[tuple[str, str, str]]] = {}
        self.events: list[dict] = []

    def start(self) -> None:
        threading.Thread(target=self._loop, daemon=True, name="inventory").start()

    def _loop(self) -> None:
        while True:
            try:
                self.tick()
            except Exception as e:  # keep delivering; say what went wrong
                print(f"inventory: {e!r}", file=sys.stderr, flush=True)
            time.sleep(0.5)

    def tick(self) -> None:
        if not self._undelivered():
            return
        for account in self.source_accounts:
            self.tick_account(account)

    def _undelivered(self) -> bool:
        """Whether a source bucket has a configuration not delivered yet, read from moto's
        backend: listing every bucket's configurations through the API every half second, in
        every sandbox, was a tenth of the end-to-end tests' CPU time. The delivery itself still
        reads the configuration through the API."""
        from moto.s3.models import s3_backends

        with self.lock:
            delivered = set(self.delivered)
        for account in self.source_accounts:
            for name, bucket in list(s3_backends[account]["aws"].buckets.items()):
                if any((name, config_id) not in delivered for config_id in list(bucket.inventory_configs)):
                    return True
        return False

    def tick_account(self, account: str) -> None:
        s3 = self.world.client("s3", account)
        for b in s3.list_buckets()["Buckets"]:
            bucket = b["Name"]
            listed = s3.list_bucket_inventory_configurations(Bucket=bucket).get("InventoryConfigurationList", [])
            for item in listed:
                key = (bucket, item["Id"])
                with self.lock:
                    if key in self.delivered or not self.settings["deliver"]:
                        continue
                    seen = self.first_seen.setdefault(key, time.time())
                    if time.time() - seen < float(self.settings["delaySeconds"]):
                        continue
                    self.delivered.add(key)
                config = s3.get_bucket_inventory_configuration(Bucket=bucket, Id=item["Id"])["InventoryConfiguration"]
                self.deliver(account, bucket, config)

    def deliver(self, account: str, bucket: str, config: dict) -> None:
        dest = config["Destination"]["S3BucketDestination"]
        dest_bucket = dest["Bucket"].split(":::", 1)[1]
        prefix = dest.get("Prefix", "").strip("/")
        base = f"{prefix}/{bucket}/{config['Id']}" if prefix else f"{bucket}/{config['Id']}"
        ok, why = policy.service_allowed(
            self.world.bucket_policy(dest_bucket),
            "s3.amazonaws.com",
            "s3:PutObject",
            f"arn:aws:s3:::{dest_bucket}/{base}/data/report.csv.gz",
            {"aws:SourceAccount": account, "aws:SourceArn": f"arn:aws:s3:::{bucket}", "s3:x-amz-acl": "bucket-owner-full-control"},
        )
        if not ok:
            self.events.append({"bucket": bucket, "id": config["Id"], "refused": why})
            print(f"inventory: delivery of {bucket}/{config['Id']} refused: {why}", file=sys.stderr, flush=True)
            return
        all_versions = config.get("IncludedObjectVersions") == "All"
        wanted = {"Bucket", "Key", *config.get("OptionalFields", [])}
        if all_versions:
            wanted |= {"VersionId", "IsLatest", "IsDeleteMarker"}
        columns = [c for c in COLUMN_ORDER if c in wanted]
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        src = self.world.client("s3", self.world.owner(bucket))
        filter_prefix = config.get("Filter", {}).get("Prefix", "")
        for page in src.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=filter_prefix):
            for o in page.get("Contents", []):
                etag = o["ETag"].strip('"')
                values = {
                    "Bucket": bucket,
                    # Inventory keys are URL-encoded (a space as +).
                    "Key": quote_plus(o["Key"], safe="/"),
                    "VersionId": "",
                    "IsLatest": "true",
                    "IsDeleteMarker": "false",
                    "Size": str(o["Size"]),
                    "LastModifiedDate": o["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "ETag": etag,
                    "StorageClass": o.get("StorageClass", "STANDARD"),
                    "IsMultipartUploaded": "true" if "-" in etag else "false",
                    "ReplicationStatus": "",
                    "EncryptionStatus": encryption_status(bucket, o["Key"]),
                    # The column's values are not documented (archive.py): the sandbox writes
                    # the API's ArchiveStatus names for an object in an archive tier, and
                    # nothing for any other.
                    "IntelligentTieringAccessTier": archive.headers(bucket, o["Key"], o.get("StorageClass")).get("x-amz-archive-status", ""),
                }
                writer.writerow([values[c] for c in columns])
        data = gzip.compress(out.getvalue().encode())
        dst = self.world.client("s3", self.world.owner(dest_bucket))
        data_key = f"{base}/data/{uuid.uuid4()}.csv.gz"
        dst.put_object(Bucket=dest_bucket, Key=data_key, Body=data)
        now = datetime.now(timezone.utc)
        manifest = json.dumps({
            "sourceBucket": bucket,
            "destinationBucket": dest["Bucket"],
            "version": "2016-11-30",
            "creationTimestamp": str(int(now.timestamp() * 1000)),
            "fileFormat": "CSV",
            "fileSchema": ", ".join(columns),
            "files": [{"key": data_key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()}],
        }, indent=2).encode()
        dated = f"{base}/{now.strftime('%Y-%m-%dT%H-%MZ')}"
        dst.put_object(Bucket=dest_bucket, Key=f"{dated}/manifest.json", Body=manifest)
        capture.record("inventory-manifest", json.loads(manifest))
        checksum = hashlib.md5(manifest).hexdigest()
        if self.settings["corruptChecksum"]:
            checksum = "0" * 32
        dst.put_object(Bucket=dest_bucket, Key=f"{dated}/manifest.checksum", Body=checksum.encode())
        self.events.append({"bucket": bucket, "id": config["Id"], "delivered": f"{dated}/manifest.json"})
        if self.settings["notify"]:
            # A duplicate is delivered after the first invocation returns, as S3's redeliveries
            # come later; moto could not show a token used twice at once (it accepts both).
            times = 2 if self.settings["duplicate"] else 1
            threading.Thread(
                target=lambda: [self.notify(dest_bucket, f"{dated}/manifest.checksum", len(checksum), wait=True) for _ in range(times)],
                daemon=True,
            ).start()

    def notify(self, bucket: str, key: str, size: int, wait: bool = False) -> None:
        for prefix, suffix, function_arn in self.notifications.get(bucket, []):
            if key.startswith(prefix) and key.endswith(suffix):
                event = {"Records": [{
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": function_arn.split(":")[3],
                    "eventTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
                    "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": "AWS:S3-INVENTORY"},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": uuid.uuid4().hex},
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "ferry-inventory-delivered",
                        "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3SANDBOX"}, "arn": f"arn:aws:s3:::{bucket}"},
                        "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": uuid.uuid4().hex, "sequencer": uuid.uuid4().hex[:18].upper()},
                    },
                }]}
                capture.record("s3-event", event)
                if wait:
                    self._invoke(function_arn, event)
                else:
                    threading.Thread(target=self._invoke, args=(function_arn, event), daemon=True).start()

    def _invoke(self, function_arn: str, event: dict) -> None:
        host = self.function_host()
        if host is None:
            print("inventory: no function host to notify", file=sys.stderr, flush=True)
            return
        request = urllib.request.Request(
            f"{host}/2015-03-31/functions/{quote(function_arn, safe='')}/invocations",
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json", "X-Ferry-Caller-Account": function_arn.split(":")[4], "X-Amz-Invocation-Type": "Event"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request) as r:
                body = r.read().decode()
                self.events.append({"notified": function_arn, "response": json.loads(body or "null")})
                if r.headers.get("X-Amz-Function-Error"):
                    print(f"inventory: {function_arn} failed: {body}", file=sys.stderr, flush=True)
        except Exception as e:
            print(f"inventory: notifying {function_arn}: {e!r}", file=sys.stderr, flush=True)


def encryption_status(bucket: str, key: str) -> str:
    """The inventory's `EncryptionStatus` of an object: SSE-C, SSE-KMS, or SSE-S3 (S3 encrypts
    every object since January 2023)."""
    if authz.is_sse_c(bucket, key):
        return "SSE-C"
    return "SSE-KMS" if authz.object_key_id(bucket, key) else "SSE-S3"
