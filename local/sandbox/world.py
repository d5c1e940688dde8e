"""The sandbox's accounts as its emulated services reach them: a client of any service in any
account (moto's API, as each account's administrator role), and what S3 Batch Operations' tasks
need of moto's backends (roles, bucket policies, objects, copies) with their authorization."""

import copy
import json
import socket
import threading
from typing import Any

import boto3
from botocore.config import Config

from . import authz, kms, policy
from .patches import Routing
from .template import ACCOUNTS, REGION

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class World:
    """Every account through moto's public API, for bootstrap and for Batch Operations tasks."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.creds: dict[str, dict] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._clients_lock = threading.Lock()
        sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="ak", aws_secret_access_key="sk")
        for account in ACCOUNTS.values():
            c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/ferry-sandbox", RoleSessionName="sandbox")["Credentials"]
            self.creds[account] = {
                "accessKeyId": c["AccessKeyId"],
                "secretAccessKey": c["SecretAccessKey"],
                "sessionToken": c["SessionToken"],
            }

    def client(self, service: str, account: str, endpoint: str | None = None, shared: bool = True) -> Any:
        """The account's client of `service`, made once (about 9 ms each) and shared: boto3's
        clients are thread-safe, their creation is not. `shared=False`: a client of its own,
        for a caller that registers event handlers on it."""
        wanted = (service, account, endpoint or self.endpoint)
        with self._clients_lock:
            made = self._clients.get(wanted) if shared else None
            if made is None:
                c = self.creds[account]
                made = boto3.client(
                    service,
                    endpoint_url=wanted[2],
                    region_name=REGION,
                    aws_access_key_id=c["accessKeyId"],
                    aws_secret_access_key=c["secretAccessKey"],
                    aws_session_token=c["sessionToken"],
                    config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
                )
                if shared:
                    self._clients[wanted] = made
            return made

    def disconnect(self, endpoint: str) -> None:
        """Forgets every client made so far, their connections closed, and makes new ones for
        `endpoint` (the fork server before it forks: each sandbox serves on a port of its own)."""
        with self._clients_lock:
            for made in self._clients.values():
                made._endpoint.http_session.close()
            self._clients.clear()
            self.endpoint = endpoint

    # -- what Batch Operations tasks need --

    def role(self, arn: str) -> dict | None:
        """A role as S3 Batch Operations uses it: its policies and boundary, from moto's IAM."""
        role = authz.role_of_arn(arn)
        if role is None:
            return None
        identity = authz.identity_of_role(role, "s3-batch-operations")
        return {
            "arn": authz.role_arn(role),
            "account": role.account_id,
            "inline": identity.identity_policies,
            "boundary": identity.boundary,
            "trust": role.assume_role_policy_document,
        }

    def owner(self, bucket: str) -> str | None:
        return authz.bucket_account(bucket)

    def bucket_policy(self, bucket: str) -> str | None:
        return authz.bucket_policy(bucket)

    def identity_allows(self, role: dict, action: str, resource: str) -> tuple[bool, str]:
        """A call on a resource without a resource policy of its own here (lambda:InvokeFunction
        of a function): the role's policies and boundary decide, within its own account only."""
        return self._as_role(role, action, resource, resource.split(":")[4], None)

    def invoke(self, function_arn: str, caller_account: str, event: dict) -> tuple[str, str]:
        """A synchronous invocation through the function host: ("ok", payload) or ("error",
        the function's error)."""
        import urllib.parse
        import urllib.request

        if Routing.function_host is None:
            return "error", "no function host is registered"
        request = urllib.request.Request(
            f"{Routing.function_host}/2015-03-31/functions/{urllib.parse.quote(function_arn, safe='')}/invocations",
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json", "X-Ferry-Caller-Account": caller_account},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=900) as r:
                body = r.read().decode()
                return ("error" if r.headers.get("X-Amz-Function-Error") else "ok"), body
        except Exception as err:
            return "error", repr(err)

    def allowed(self, role: dict, action: str, bucket: str, key: str | None) -> tuple[bool, str]:
        owner = self.owner(bucket)
        if owner is None:
            return False, f"bucket {bucket} does not exist"
        resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
        return self._as_role(role, action, resource, owner, self.bucket_policy(bucket))

    @staticmethod
    def _as_role(role: dict, action: str, resource: str, resource_account: str, resource_policy: Any) -> tuple[bool, str]:
        """`action` on `resource` by a session of `role` from S3 Batch Operations."""
        return policy.allowed(
            action=action,
            resource=resource,
            caller_arn=role["arn"],
            caller_account=role["account"],
            identity_policies=role["inline"],
            boundary=role["boundary"],
            resource_account=resource_account,
            bucket_policy=resource_policy,
            context=batch_context(),
        )

    # A task's reads and its copy call moto's S3 backend in process: S3 Batch Operations does
    # them inside AWS, authorized above as the job's role (`allowed`, `kms_allowed`); an HTTP
    # round trip through the authorization layer as the sandbox's admin role per call cost
    # ~10 ms each and decided nothing. The backend applies what matters here as S3 does: the
    # destination bucket's default encryption, the `aws/s3` key (patches.py), the source's
    # tags across accounts.

    @staticmethod
    def _backend(bucket: str) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[authz.bucket_account(bucket)]["aws"]

    def _key(self, bucket: str, key: str) -> Any:
        if authz.bucket_account(bucket) is None:
            return None
        return self._backend(bucket).get_object(bucket, key)

    def get_object(self, bucket: str, key: str) -> tuple[bytes, str]:
        found = self._key(bucket, key)
        if found is None:
            raise KeyError(f"s3://{bucket}/{key} does not exist")
        return found.value, found.etag

    def head_object(self, bucket: str, key: str) -> dict | None:
        if authz.is_sse_c(bucket, key):
            # A HEAD without the customer's key is refused; what the copy needs is that it is SSE-C.
            return {"size": 0, "kmsKey": None, "sseC": True, "storageClass": None}
        found = self._key(bucket, key)
        if found is None:
            return None
        kms_key = found.kms_key_id if found.encryption == "aws:kms" else None
        return {"size": found.size, "kmsKey": kms_key, "sseC": False, "storageClass": found.storage_class}

    def kms_allowed(self, role: dict, operation: str, key_id: str, key_account: str, object_arn: str) -> tuple[bool, str]:
        """Whether S3, acting for the job's role, may use the KMS key `key_id` for `operation`
        on `object_arn` (key policy, grants, the role's policies and boundary)."""
        region = key_id.split(":")[3] if key_id.startswith("arn:") else REGION
        key = kms.find_key(key_id, key_account, region)
        if key is None:
            return False, f"the KMS key {key_id} does not exist"
        principal = policy.Principal.role(role["arn"], "s3-batch-operations")
        return kms.s3_use(key, operation, principal, role["inline"], role["boundary"], object_arn, region, batch_context())

    def copy_object(self, src: str, key: str, dst: str, dst_key: str, storage_class: str, directive: str,
                    encryption: dict | None = None) -> None:
        """CopyObject as S3PutObjectCopy does it: the bytes, the storage class and encryption
        asked for (else the destination bucket's default), user metadata and content type
        (MetadataDirective COPY), and the source's tags (its owner's tag store)."""
        source = self._key(src, key)
        if source is None:
            raise KeyError(f"s3://{src}/{key} does not exist")
        encryption = encryption or {}
        bucket_key = encryption.get("BucketKeyEnabled")
        target = self._backend(dst).put_object(
            dst,
            dst_key,
            source.value,
            storage=storage_class,
            encryption=encryption.get("ServerSideEncryption"),
            kms_key_id=encryption.get("SSEKMSKeyId"),
            bucket_key_enabled=None if bucket_key is None else str(bucket_key).lower(),
        )
        if directive == "COPY":
            target.set_metadata(copy.copy(source.metadata))
        tags = self._backend(src).tagger.list_tags_for_resource(source.arn)["Tags"]
        self._backend(dst).put_object_tagging(target, {t["Key"]: t["Value"] for t in tags})

    def put_report(self, bucket: str, key: str, data: bytes) -> None:
        self.client("s3", self.owner(bucket)).put_object(Bucket=bucket, Key=key, Body=data, ServerSideEncryption="AES256")


# The functions' FERRY_POLICY_SETTLE_MS in the sandbox (see bootstrap).
SANDBOX_POLICY_SETTLE_MS = 200
# The functions' FERRY_GRANT_LIFETIME_MIN_SECONDS in the sandbox.
SANDBOX_GRANT_LIFETIME_MIN = 10


# S3 Batch Operations calls S3 from AWS's own network, as the job's role: not from this machine
# and never through a customer's VPC endpoint. (An address in S3's eu-west-1 range.)
BATCH_SOURCE_IP = "52.218.0.1"


def batch_context() -> dict:
    """The context of a Batch Operations task: the keys a test added (an organization), but never
    a VPC endpoint, and S3's own address."""
    extra = {k: v for k, v in Routing.authorizer.extra_context.items() if k != "aws:SourceVpce"}
    return {**extra, "aws:SourceIp": BATCH_SOURCE_IP}
