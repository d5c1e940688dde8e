"""What the sandbox's authorization reads of moto's state: who calls (an STS session's role, its
policies and boundary, from moto's IAM) and what is called (a bucket's account and policy, an
object's encryption, a bucket's default key), and the vocabulary of a check (`Check`,
`Identity`) that the request tables (`actions`) and the authorizer (`authz`) share.
"""

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from . import propagation
from .policy import Principal

INTERNAL_KEY = "ak"
REGION_DEFAULT = "eu-west-1"
# The request being served, as far as moto's backends need what moto does not keep of it.
REQUEST = threading.local()


@dataclass
class Check:
    action: str
    resource: str
    resource_account: str
    resource_policy: Any = None  # a policy document, or None
    context: dict = field(default_factory=dict)
    # For S3 object reads: (bucket, key), so a missing key can answer 403 or 404.
    missing_key: tuple[str, str] | None = None
    # For a use of a KMS key (a KMS call, or S3's on the caller's behalf): the key (its policy
    # is resource_policy; its grants are consulted) and the encryption context of the use.
    key: Any = None
    encryption_context: dict = field(default_factory=dict)


class Forbidden(Exception):
    """A request S3 refuses whoever makes it (a bucket owned by another account than the
    request's ExpectedBucketOwner)."""


class Refused(Exception):
    """A request the sandbox refuses before any policy (it cannot map it, or it is malformed)."""


@dataclass
class Identity:
    principal: Principal
    identity_policies: list
    boundary: Any
    # The session policy passed to AssumeRole (`Policy`), if any: "The resulting session's
    # permissions are the intersection of the role's identity-based policy and the session
    # policies" (IAM User Guide, id_credentials_temp_control-access_assumerole).
    session_policy: Any = None


# ---- moto's state, read in process ----


def _iam(account: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account]["aws"]


def find_role(account: str, name: str) -> Any:
    for role in _iam(account).roles.values():
        if role.name == name:
            return role
    return None


def role_of_arn(arn: str) -> Any:
    """The role an ARN names (its path aside), or None."""
    parts = arn.split(":")
    return find_role(parts[4], arn.rsplit("/", 1)[-1]) if len(parts) > 5 else None


def role_arn(role: Any) -> str:
    return f"arn:aws:iam::{role.account_id}:role{role.path}{role.name}"


def _policy_document(account: str, arn: str) -> Any:
    p = _iam(account).managed_policies.get(arn)
    if p is None:
        return None
    for v in p.versions:
        if v.is_default:
            return v.document
    return None


def identity_of_role(role: Any, session: str) -> Identity:
    account = role.account_id
    inline = [propagation.effective("role-policy", (role.id, name), doc) for name, doc in role.policies.items()]
    attached = [_policy_document(account, p.arn) for p in role.managed_policies.values()]
    boundary = _policy_document(account, role.permissions_boundary_arn) if role.permissions_boundary_arn else None
    if role.permissions_boundary_arn and boundary is None:
        boundary = {"Statement": []}  # a boundary that no longer exists allows nothing
    principal = Principal(account, role_arn(role), f"arn:aws:sts::{account}:assumed-role/{role.name}/{session}")
    return Identity(principal, [p for p in inline + attached if p is not None], boundary)


# Access key -> the STS session it belongs to. A session never changes once issued, so it is
# looked up in moto's STS once; its role's policies are read on every request (they may change).
_SESSIONS: dict[str, Any] = {}


def _session_of_key(access_key: str) -> Any:
    from moto.sts.models import sts_backends

    if access_key not in _SESSIONS:
        for by_partition in list(sts_backends.values()):
            backend = by_partition.get("aws") if hasattr(by_partition, "get") else None
            for assumed in backend.assumed_roles if backend is not None else []:
                if assumed.access_key_id == access_key:
                    _SESSIONS[access_key] = assumed
    return _SESSIONS.get(access_key)


def identity_of_key(access_key: str) -> Identity | None:
    assumed = _session_of_key(access_key)
    if assumed is None:
        return None
    role = role_of_arn(assumed.role_arn)
    if role is None:
        return Identity(Principal(assumed.role_arn.split(":")[4], assumed.role_arn, assumed.arn), [], None)
    identity = identity_of_role(role, assumed.session_name)
    if getattr(assumed, "policy", None):
        identity.session_policy = json.loads(assumed.policy)
    return identity


def bucket_account(bucket: str) -> str | None:
    from moto.s3.models import s3_backends

    found = s3_backends.bucket_accounts.get(bucket)
    return found[1] if found else None


def _bucket(bucket: str) -> Any:
    from moto.s3.models import s3_backends

    account = bucket_account(bucket)
    return s3_backends[account]["aws"].buckets.get(bucket) if account else None


def bucket_policy(bucket: str) -> Any:
    """The bucket's policy as it is in effect now (see propagation.py)."""
    b = _bucket(bucket)
    if b is None or b.policy is None:
        return None
    return propagation.effective("bucket-policy", bucket, b.policy.decode() if isinstance(b.policy, bytes) else b.policy)


def key_exists(bucket: str, key: str) -> bool:
    b = _bucket(bucket)
    return b is not None and b.keys.get(key) is not None


def object_key_id(bucket: str, key: str) -> str | None:
    b = _bucket(bucket)
    obj = b.keys.get(key) if b is not None else None
    if obj is None or getattr(obj, "encryption", None) != "aws:kms":
        return None
    return obj.kms_key_id


def is_sse_c(bucket: str, key: str) -> bool:
    """Whether the object was written with a customer-provided key (SSE-C)."""
    b = _bucket(bucket)
    obj = b.keys.get(key) if b is not None else None
    return obj is not None and bool(getattr(obj, "sse_customer_algorithm", None))


# S3's answer to a read of an SSE-C object without its key (GetObject; CopyObject's source).
SSE_C_MESSAGE = ("The object was stored using a form of Server Side Encryption. "
                 "The correct parameters must be provided to retrieve the object.")


def bucket_default_key(bucket: str) -> str | None:
    """The KMS key of a bucket's default encryption (SSE-KMS with a key named), or None."""
    b = _bucket(bucket)
    rules = (b.encryption or {}).get("Rule", []) if b is not None else []
    for rule in rules if isinstance(rules, list) else [rules]:
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
            return default["KMSMasterKeyID"]
    return None
