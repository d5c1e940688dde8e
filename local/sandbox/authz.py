"""Every call to the sandbox authorized as AWS would: a WSGI layer in front of moto.

For each signed request it finds the caller (the access key of an STS session: the role, its
account, its inline and attached policies and its permissions boundary, read from moto's own
IAM), the IAM action(s) the request needs and their resources (from AWS's service authorization
reference, written here per API, never from moto's incomplete map), the resource's policy (bucket
policy, role trust policy) and the request context, and asks policy.authorize. A denied request
is answered the way the service answers it (S3's XML `AccessDenied` 403, IAM and STS's query
error, Step Functions' `AccessDeniedException`), with AWS's wording: "User: <session> is not
authorized to perform: <action> on resource: <arn> because ...", so a test sees which function
and which action.

S3's rules that a naive check misses are kept: GetObject / HeadObject of a missing key answers
403 AccessDenied unless the caller may s3:ListBucket the bucket, 404 NoSuchKey when it may; a
missing bucket answers 404 NoSuchBucket whoever asks (the bucket is not there to have a policy).

Requests signed with the launcher's own key (`ak`: bootstrap, moto's Step Functions interpreter)
are the platform's, not a principal's, and pass. A request the sandbox cannot map to an IAM
action is refused, naming what it could not map: nothing is allowed unseen.
"""

import io
import json
import re
import sys
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, unquote

from . import kms, policy, propagation
from .faults import FAULTS, LAMBDA_FAULTS, Faults, fault_response, precondition_failed, slow_down  # noqa: F401 (re-exported)
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
    return identity_of_role(role, assumed.session_name)


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


# ---- request -> IAM actions ----

_S3_BUCKET_SUBRESOURCES = {
    # subresource: (GET, PUT, DELETE, POST) actions
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy", None),
    "inventory": ("GetInventoryConfiguration", "PutInventoryConfiguration", "PutInventoryConfiguration", None),
    "location": ("GetBucketLocation", None, None, None),
    "notification": ("GetBucketNotification", "PutBucketNotification", None, None),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging", None),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None, None),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration", "PutEncryptionConfiguration", None),
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration", "PutLifecycleConfiguration", None),
    "acl": ("GetBucketAcl", "PutBucketAcl", None, None),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls", "PutBucketOwnershipControls", None),
    "publicAccessBlock": ("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "PutBucketPublicAccessBlock", None),
    "versions": ("ListBucketVersions", None, None, None),
    "uploads": ("ListBucketMultipartUploads", None, None, None),
    "cors": ("GetBucketCORS", "PutBucketCORS", "PutBucketCORS", None),
    "logging": ("GetBucketLogging", "PutBucketLogging", None, None),
    "object-lock": ("GetBucketObjectLockConfiguration", "PutBucketObjectLockConfiguration", None, None),
    "policyStatus": ("GetBucketPolicyStatus", None, None, None),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite", None),
    "replication": ("GetReplicationConfiguration", "PutReplicationConfiguration", "PutReplicationConfiguration", None),
}
_S3_OBJECT_SUBRESOURCES = {
    "tagging": ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging", None),
    "acl": ("GetObjectAcl", "PutObjectAcl", None, None),
    "attributes": ("GetObjectAttributes", None, None, None),
    "retention": ("GetObjectRetention", "PutObjectRetention", None, None),
    "legal-hold": ("GetObjectLegalHold", "PutObjectLegalHold", None, None),
    "restore": (None, None, None, "RestoreObject"),
}
_METHODS = {"GET": 0, "HEAD": 0, "PUT": 1, "DELETE": 2, "POST": 3}
_VERSIONED = {
    "GetObject": "GetObjectVersion", "GetObjectTagging": "GetObjectVersionTagging",
    "GetObjectAcl": "GetObjectVersionAcl", "PutObjectTagging": "PutObjectVersionTagging",
    "PutObjectAcl": "PutObjectVersionAcl", "DeleteObject": "DeleteObjectVersion",
    "DeleteObjectTagging": "DeleteObjectVersionTagging", "GetObjectAttributes": "GetObjectVersionAttributes",
}


def _subresource_action(table: dict, method: str, query: dict, what: str) -> str | None:
    """The action of the first subresource of `query` that `table` knows (`?policy`,
    `?tagging`...), None when there is none; refused when the table has no action for `method`."""
    subs = [s for s in query if s in table]
    if not subs:
        return None
    action = table[subs[0]][_METHODS[method]]
    if action is None:
        raise Refused(f"S3 {method} {what}?{subs[0]}")
    return action


def _s3_context(headers: dict, query: dict) -> dict:
    ctx = {"s3:authType": "REST-HEADER", "s3:signatureversion": "AWS4-HMAC-SHA256", "s3:TlsVersion": "1.3"}
    for h in ("x-amz-acl", "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
              "x-amz-storage-class", "x-amz-metadata-directive", "x-amz-copy-source", "x-amz-object-ownership"):
        if h in headers:
            ctx[f"s3:{h}"] = headers[h]
    if "versionId" in query:
        ctx["s3:VersionId"] = query["versionId"]
    return ctx


def s3_checks(method: str, path: str, query: dict, headers: dict, body: Callable[[], bytes]) -> list[Check]:
    parts = path.lstrip("/").split("/", 1)
    bucket = unquote(parts[0])
    key = unquote(parts[1]) if len(parts) > 1 and parts[1] != "" else None
    if method not in _METHODS:
        raise Refused(f"S3 {method} requests")
    if not bucket:
        if method == "GET":
            return [Check("s3:ListAllMyBuckets", "*", "")]
        raise Refused(f"S3 {method} /")
    account = bucket_account(bucket)
    expected = headers.get("x-amz-expected-bucket-owner")
    if account is not None and expected is not None and expected != account:
        # S3: "If the account ID that you provide does not match the actual owner of the
        # bucket, the request fails with the HTTP status code 403 Forbidden (access denied)."
        raise Forbidden(f"Access Denied: bucket {bucket} is not owned by the expected bucket owner {expected}")
    ctx = _s3_context(headers, query)
    if key is None:
        resource = f"arn:aws:s3:::{bucket}"
        if method == "PUT" and not query:
            return [Check("s3:CreateBucket", resource, "")]
        if account is None:
            return []  # moto answers NoSuchBucket
        policy_doc = bucket_policy(bucket)
        action = _subresource_action(_S3_BUCKET_SUBRESOURCES, method, query, "")
        if action is not None:
            return [Check(f"s3:{action}", resource, account, policy_doc, ctx)]
        if method == "POST" and "delete" in query:
            keys = [e.text or "" for e in ET.fromstring(body()).iter() if e.tag.split("}")[-1] == "Key"]
            return [Check("s3:DeleteObject", f"{resource}/{k}", account, policy_doc, ctx) for k in keys]
        if method in ("GET", "HEAD"):
            for k in ("prefix", "delimiter", "max-keys"):
                if k in query:
                    ctx[f"s3:{k}"] = query[k]
            return [Check("s3:ListBucket", resource, account, policy_doc, ctx)]
        if method == "DELETE" and not query:
            return [Check("s3:DeleteBucket", resource, account, policy_doc, ctx)]
        raise Refused(f"S3 {method} /{bucket}?{'&'.join(query)}")
    if account is None:
        return []  # moto answers NoSuchBucket
    resource = f"arn:aws:s3:::{bucket}/{key}"
    policy_doc = bucket_policy(bucket)
    action = _subresource_action(_S3_OBJECT_SUBRESOURCES, method, query, "object ")
    if action is None and ("uploadId" in query or "uploads" in query):
        action = {"GET": "ListMultipartUploadParts", "DELETE": "AbortMultipartUpload"}.get(method, "PutObject")
    elif action is None:
        action = {"GET": "GetObject", "HEAD": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject"}.get(method)
        if action is None:
            raise Refused(f"S3 {method} object")
    if "versionId" in query:
        action = _VERSIONED.get(action, action)
    checks = [Check(f"s3:{action}", resource, account, policy_doc, ctx)]
    if action in ("GetObject", "GetObjectTagging", "GetObjectAcl", "GetObjectAttributes"):
        checks[0].missing_key = (bucket, key)
    source = headers.get("x-amz-copy-source")
    if source and method == "PUT":
        src, _, src_query = unquote(source).lstrip("/").partition("?")
        sbucket, _, skey = src.partition("/")
        saccount = bucket_account(sbucket)
        expected_source = headers.get("x-amz-source-expected-bucket-owner")
        if saccount is not None and expected_source is not None and expected_source != saccount:
            # S3 API, CopyObject and UploadPartCopy `ExpectedSourceBucketOwner` (header
            # x-amz-source-expected-bucket-owner): "If the account ID that you provide does not
            # match the actual owner of the source bucket, the request fails with the HTTP
            # status code 403 Forbidden (access denied)."
            raise Forbidden(f"Access Denied: source bucket {sbucket} is not owned by the expected source bucket owner {expected_source}")
        if saccount is not None:
            get = "GetObjectVersion" if "versionId=" in src_query else "GetObject"
            source_arn, source_policy = f"arn:aws:s3:::{sbucket}/{skey}", bucket_policy(sbucket)
            checks.append(Check(f"s3:{get}", source_arn, saccount, source_policy, dict(ctx), (sbucket, skey)))
            if headers.get("x-amz-tagging-directive", "COPY") == "COPY" and "partNumber" not in query:
                checks.append(Check("s3:GetObjectTagging", source_arn, saccount, source_policy, dict(ctx)))
    if method in ("PUT", "POST") and "x-amz-tagging" in headers and action == "PutObject":
        checks.append(Check("s3:PutObjectTagging", resource, account, policy_doc, ctx))
    checks.extend(_s3_kms_checks(method, action, bucket, key, headers))
    return checks


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


def _sse_c_refusal(method: str, start_response: Callable) -> list[bytes]:
    """400 InvalidRequest; a HEAD answers 400 with no body (HeadObject's errors carry no code)."""
    body = b"" if method == "HEAD" else (
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidRequest</Code>"
        f"<Message>{SSE_C_MESSAGE}</Message></Error>").encode()
    start_response("400 Bad Request", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


def bucket_default_key(bucket: str) -> str | None:
    """The KMS key of a bucket's default encryption (SSE-KMS with a key named), or None."""
    b = _bucket(bucket)
    rules = (b.encryption or {}).get("Rule", []) if b is not None else []
    for rule in rules if isinstance(rules, list) else [rules]:
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
            return default["KMSMasterKeyID"]
    return None


def _s3_kms_checks(method: str, action: str, bucket: str, key: str, headers: dict) -> list[Check]:
    """The KMS uses S3 makes on the caller's behalf for SSE-KMS objects: kms:Decrypt to read one
    (GetObject, the source of a copy, a HEAD asking for the checksum; a plain HEAD reads no data), kms:GenerateDataKey to write one
    (the request's SSE-KMS key, else the bucket's default key). Keys are found in the bucket's
    account and Region; an SSE-KMS object without a key of its own (the AWS managed key
    `aws/s3`) is not modelled."""
    uses: list[tuple[str, str, str, str]] = []  # (operation, key id, key's default account, object ARN)
    owner = bucket_account(bucket) or ""
    # A HEAD asking for the checksum (`x-amz-checksum-mode: ENABLED`) reads it with the key: S3
    # API, HeadObject's ChecksumMode, "you must have permission to use the kms:Decrypt action to
    # retrieve the checksum" (for an object with a checksum; here for every SSE-KMS object, the
    # reading that refuses more).
    checksum = method == "HEAD" and headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"
    if (method == "GET" or checksum) and action in ("GetObject", "GetObjectVersion"):
        found = object_key_id(bucket, key)
        if found:
            uses.append((kms.S3_READ, found, owner, f"arn:aws:s3:::{bucket}/{key}"))
    if method == "PUT" and action == "PutObject":
        wanted = headers.get("x-amz-server-side-encryption")
        key_id = headers.get("x-amz-server-side-encryption-aws-kms-key-id") if wanted == "aws:kms" else None
        if wanted is None:
            key_id = bucket_default_key(bucket)
        if key_id:
            uses.append((kms.S3_WRITE, key_id, owner, f"arn:aws:s3:::{bucket}/{key}"))
        source = headers.get("x-amz-copy-source")
        if source:
            sbucket, _, skey = unquote(source).lstrip("/").partition("?")[0].partition("/")
            found = object_key_id(sbucket, skey)
            if found:
                uses.append((kms.S3_READ, found, bucket_account(sbucket) or "", f"arn:aws:s3:::{sbucket}/{skey}"))
    checks = []
    for operation, key_id, key_account, object_arn in uses:
        region = key_id.split(":")[3] if key_id.startswith("arn:") else REGION_DEFAULT
        k = kms.find_key(key_id, key_account, region)
        if k is None:
            raise Refused(f"an SSE-KMS use of the key {key_id!r}, which KMS does not have")
        ctx = kms.context("", {"aws:s3:arn": object_arn}, f"s3.{region}.amazonaws.com")
        checks.append(Check(f"kms:{operation}", k.arn, k.account_id, k.policy, ctx, key=k,
                            encryption_context={"aws:s3:arn": object_arn}))
    return checks


# KMS operations on a key (KeyId, or TargetKeyId for CreateAlias), and those on none.
_KMS_KEY_OPERATIONS = {
    "DescribeKey", "GetKeyPolicy", "PutKeyPolicy", "CreateGrant", "ListGrants", "RetireGrant", "RevokeGrant",
    "Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom",
    "ScheduleKeyDeletion", "EnableKey", "DisableKey", "TagResource", "ListResourceTags", "CreateAlias",
    "EnableKeyRotation", "GetKeyRotationStatus",
}
_KMS_ACCOUNT_OPERATIONS = {"CreateKey", "ListKeys", "ListAliases", "ListRetirableGrants"}


def kms_checks(target: str, payload: dict, caller: str, region: str) -> list[Check]:
    """A KMS call: its action on the key it names (key id, key ARN, alias), with the key's policy
    and grants (AWS KMS API reference, each operation's "Required permissions")."""
    op = target.split(".", 1)[-1]
    if op in _KMS_ACCOUNT_OPERATIONS:
        return [Check(f"kms:{op}", "*", caller)]
    if op not in _KMS_KEY_OPERATIONS:
        raise Refused(f"KMS action {op!r}")
    key_id = payload.get("TargetKeyId" if op == "CreateAlias" else "KeyId")
    if not key_id:
        raise Refused(f"KMS {op} without a KeyId")
    k = kms.find_key(key_id, caller, region)
    if k is None:
        return []  # KMS answers NotFoundException
    encryption_context = payload.get("EncryptionContext") or {}
    ctx = kms.context(caller, encryption_context)
    if op == "CreateGrant":
        ctx["kms:GranteePrincipal"] = payload.get("GranteePrincipal", "")
        if payload.get("RetiringPrincipal"):
            ctx["kms:RetiringPrincipal"] = payload["RetiringPrincipal"]
        ctx["kms:GrantOperations"] = list(payload.get("Operations") or [])
        constraints = payload.get("Constraints") or {}
        if constraints:
            ctx["kms:GrantConstraintType"] = sorted(constraints)
    check = Check(f"kms:{op}", k.arn, k.account_id, k.policy, ctx, key=k, encryption_context=encryption_context)
    if op == "RetireGrant":
        # The grant's retiring principal may retire it whatever the policies say.
        grant = k.grants.get(payload.get("GrantId", ""))
        check.context["sandbox:RetiringPrincipal"] = grant.retiring_principal if grant is not None else ""
    return [check]


def s3control_checks(method: str, path: str, query: dict, headers: dict, body: Callable[[], bytes], caller: str, region: str) -> list[Check]:
    account = headers.get("x-amz-account-id", "")
    if account != caller:
        raise Refused(f"S3 Control call for account {account!r} made by account {caller}: AccountId must be the caller's own account")
    jobs = f"arn:aws:s3:{region}:{account}:job"
    segments = [s for s in path.split("/") if s][1:]  # after v20180820
    if segments[:1] != ["jobs"]:
        raise Refused(f"S3 Control {method} {path}")
    if len(segments) == 1:
        if method == "GET":
            return [Check("s3:ListJobs", "*", account)]
        req = ET.fromstring(body())
        found = {e.tag.split("}")[-1]: (e.text or "") for e in req.iter()}
        # s3:RequestJobOperation: the operation's element under Operation (S3PutObjectCopy, ...).
        operation = next((e for e in req.iter() if e.tag.split("}")[-1] == "Operation"), None)
        job_ctx = {"s3:RequestJobOperation": operation[0].tag.split("}")[-1]} if operation is not None and len(operation) else {}
        if "Priority" in found:
            job_ctx["s3:RequestJobPriority"] = found["Priority"]
        checks = [Check("s3:CreateJob", "*", account, None, job_ctx)]
        role = found.get("RoleArn", "")
        checks.append(Check("iam:PassRole", role, role.split(":")[4] if role.count(":") >= 5 else account,
                            None, {"iam:PassedToService": "s3.amazonaws.com"}))
        if any(e.tag.split("}")[-1] == "Tags" and len(e) for e in req.iter()):
            # The job has no id yet: the tags are authorized on the account's jobs.
            checks.append(Check("s3:PutJobTagging", f"{jobs}/*", account))
        return checks
    job = f"{jobs}/{segments[1]}"
    tail = segments[2] if len(segments) > 2 else ""
    action = {
        ("GET", ""): "DescribeJob", ("POST", "status"): "UpdateJobStatus", ("POST", "priority"): "UpdateJobPriority",
        ("GET", "tagging"): "GetJobTagging", ("PUT", "tagging"): "PutJobTagging", ("DELETE", "tagging"): "DeleteJobTagging",
    }.get((method, tail))
    if action is None:
        raise Refused(f"S3 Control {method} {path}")
    return [Check(f"s3:{action}", job, account)]


_IAM_ROLE_ACTIONS = {
    "CreateRole", "GetRole", "DeleteRole", "PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy", "ListRolePolicies",
    "UpdateAssumeRolePolicy", "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary", "AttachRolePolicy",
    "DetachRolePolicy", "ListAttachedRolePolicies", "TagRole", "UntagRole", "ListRoleTags", "UpdateRole",
    "UpdateRoleDescription",
}
_IAM_POLICY_ACTIONS = {
    "GetPolicy", "GetPolicyVersion", "CreatePolicyVersion", "DeletePolicyVersion", "SetDefaultPolicyVersion",
    "DeletePolicy", "ListPolicyVersions", "ListEntitiesForPolicy", "TagPolicy", "UntagPolicy",
}
_IAM_BOUNDARY_CONTEXT = {
    "PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy", "DeleteRolePermissionsBoundary",
}


def iam_checks(params: dict, caller: str) -> list[Check]:
    action = params.get("Action", "")
    if action in _IAM_ROLE_ACTIONS:
        name = params.get("RoleName", "")
        role = find_role(caller, name)
        path = params.get("Path", "/") if action == "CreateRole" else (role.path if role else "/")
        ctx: dict = {}
        if action in ("CreateRole", "PutRolePermissionsBoundary") and params.get("PermissionsBoundary"):
            ctx["iam:PermissionsBoundary"] = params["PermissionsBoundary"]
        elif action in _IAM_BOUNDARY_CONTEXT and role is not None and role.permissions_boundary_arn:
            ctx["iam:PermissionsBoundary"] = role.permissions_boundary_arn
        if action == "AttachRolePolicy":
            ctx["iam:PolicyARN"] = params.get("PolicyArn", "")
        return [Check(f"iam:{action}", f"arn:aws:iam::{caller}:role{path}{name}", caller, None, ctx)]
    if action in _IAM_POLICY_ACTIONS:
        arn = params.get("PolicyArn", "")
        return [Check(f"iam:{action}", arn, arn.split(":")[4] if arn.count(":") >= 5 else caller)]
    if action == "CreatePolicy":
        return [Check("iam:CreatePolicy", f"arn:aws:iam::{caller}:policy{params.get('Path', '/')}{params.get('PolicyName', '')}", caller)]
    if action in ("ListRoles", "ListPolicies", "GetAccountSummary", "ListAccountAliases"):
        return [Check(f"iam:{action}", "*", caller)]
    raise Refused(f"IAM action {action!r}")


def sts_checks(params: dict, identity: Identity) -> list[Check]:
    action = params.get("Action", "")
    if action == "GetCallerIdentity":
        return []  # AWS: no permission is needed
    if action == "AssumeRole":
        arn = params.get("RoleArn", "")
        account = arn.split(":")[4] if arn.count(":") >= 5 else ""
        role = role_of_arn(arn)
        if role is None:
            return [Check("sts:AssumeRole", arn, account, {"Statement": []})]
        return [Check("sts:AssumeRole", role_arn(role), account, role.assume_role_policy_document,
                      {"sts:RoleSessionName": params.get("RoleSessionName", "")})]
    raise Refused(f"STS action {action!r}")


def ssm_checks(target: str, payload: dict, caller: str, region: str) -> list[Check]:
    """SSM's GetParameters, the one SSM call ferry makes (the stack's lists at cold start):
    `ssm:GetParameters` on each parameter named, `arn:aws:ssm:<region>:<account>:parameter/<name>`
    (ferry's names have no leading slash)."""
    op = target.split(".", 1)[-1]
    if op != "GetParameters":
        raise Refused(f"SSM action {op!r}")
    return [Check("ssm:GetParameters", f"arn:aws:ssm:{region}:{caller}:parameter/{n.lstrip('/')}", caller)
            for n in payload.get("Names") or []]


def states_checks(target: str, payload: dict, caller: str, region: str) -> list[Check]:
    op = target.split(".", 1)[-1]
    arn = payload.get("stateMachineArn") or payload.get("executionArn")
    if op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "ListStateMachines", "ListActivities"):
        return [Check(f"states:{op}", "*", caller)]
    if op == "CreateStateMachine":
        return [Check("states:CreateStateMachine", f"arn:aws:states:{region}:{caller}:stateMachine:{payload.get('name', '')}", caller)]
    if arn:
        return [Check(f"states:{op}", arn, arn.split(":")[4])]
    raise Refused(f"Step Functions action {op!r}")


# ---- the WSGI layer ----

_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


class Authorizer:
    """Wraps moto's WSGI application. `enforcing` is switched on after the bootstrap (what the
    two stacks' deployment creates is CloudFormation's doing, not a principal's)."""

    def __init__(self, app: Any):
        self.app = app
        self.enforcing = False
        self.lock = threading.Lock()
        # What was refused, for the control API (`GET /denials`).
        self.denials: list[dict] = []
        # Context keys a test adds to every request (`POST /context`): aws:PrincipalOrgID for
        # accounts in an organization, aws:SourceVpce for calls through a VPC endpoint.
        self.extra_context: dict[str, Any] = {}
        # UploadPartCopy calls answered 503 SlowDown (`POST /part-copy-faults`): after `after`
        # of them pass, the next `count` fail.
        self.part_copy_faults: dict[str, int] = {}
        self.faults = Faults()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        # What moto does not keep of a request and the sandbox models (patches.install_object_encryption).
        REQUEST.sse_customer_algorithm = environ.get("HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_ALGORITHM")
        if not self.enforcing or environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self.app(environ, start_response)
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        m = _CREDENTIAL.search(headers.get("authorization", ""))
        if m is None:
            # Unsigned or presigned requests: ferry makes none; refuse rather than guess.
            return self._deny(environ, start_response, "s3", "", "the sandbox authorizes only SigV4-signed requests")
        key, region, service = m.groups()
        if key == INTERNAL_KEY:
            return self.app(environ, start_response)
        cached: list[bytes] = []

        def body() -> bytes:
            if not cached:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                data = environ["wsgi.input"].read(length) if length else b""
                environ["wsgi.input"] = io.BytesIO(data)
                cached.append(data)
            return cached[0]

        identity = identity_of_key(key)
        path = environ.get("PATH_INFO", "")
        if service == "s3" and path.startswith("/v20180820/"):
            service = "s3control"
        if identity is None:
            return self._deny(environ, start_response, service, "", f"the access key {key} is not a session the sandbox issued")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        method = environ.get("REQUEST_METHOD", "GET")
        caller = identity.principal.account
        try:
            if service == "s3":
                checks = s3_checks(method, path, query, headers, body)
            elif service == "s3control":
                checks = s3control_checks(method, path, query, headers, body, caller, region)
            elif service in ("iam", "sts"):
                params = {k: v[0] for k, v in parse_qs(body().decode(), keep_blank_values=True).items()}
                checks = iam_checks(params, caller) if service == "iam" else sts_checks(params, identity)
            elif service == "states":
                checks = states_checks(headers.get("x-amz-target", ""), json.loads(body() or b"{}"), caller, region)
            elif service == "kms":
                checks = kms_checks(headers.get("x-amz-target", ""), json.loads(body() or b"{}"), caller, region)
            elif service == "ssm":
                checks = ssm_checks(headers.get("x-amz-target", ""), json.loads(body() or b"{}"), caller, region)
            else:
                raise Refused(f"{service} requests")
        except Forbidden as e:
            return self._deny(environ, start_response, service, identity.principal.describe(), str(e), "s3:ExpectedBucketOwner")
        except Refused as e:
            return self._deny(environ, start_response, service, identity.principal.describe(),
                              f"User: {identity.principal.describe()} is not authorized: the sandbox cannot authorize {e}, so it refuses")
        except ET.ParseError as e:
            return self._deny(environ, start_response, service, identity.principal.describe(), f"malformed request body: {e}")
        for check in checks:
            why = self.check(identity, check)
            if why:
                return self._deny(environ, start_response, service, identity.principal.describe(), why, check.action)
        fault = self.faults.pick([c.action for c in checks], identity.principal.arn) if checks else None
        if fault == "Timeout":
            # AWS acts; the caller never hears of it.
            list(self.app(environ, lambda *_: None))
            print(f"fault: {checks[0].action} by {identity.principal.arn}: carried out, answered 500", file=sys.stderr, flush=True)
            return fault_response(service, "InternalError", start_response)
        if fault:
            print(f"fault: {checks[0].action} by {identity.principal.arn}: {fault}", file=sys.stderr, flush=True)
            return fault_response(service, fault, start_response)
        if service == "s3" and method == "PUT" and "partNumber" in query and "x-amz-copy-source" in headers:
            with self.lock:
                faults = self.part_copy_faults
                if faults:
                    faults["seen"] += 1
                    if faults["after"] < faults["seen"] <= faults["after"] + faults["count"]:
                        return slow_down(start_response)
        if service == "s3" and method == "POST" and "uploadId" in query and headers.get("if-none-match") == "*":
            # CompleteMultipartUpload's conditional write (moto ignores it): 412 when the key
            # is taken.
            parts = path.lstrip("/").split("/", 1)
            if len(parts) > 1 and key_exists(unquote(parts[0]), unquote(parts[1])):
                return precondition_failed(start_response)
        if service == "s3" and method in ("GET", "HEAD") and REQUEST.sse_customer_algorithm is None:
            parts = path.lstrip("/").split("/", 1)
            bucket, key = unquote(parts[0]), unquote(parts[1]) if len(parts) > 1 else ""
            if key and not set(query) - {"versionId", "partNumber"} and is_sse_c(bucket, key):
                return _sse_c_refusal(method, start_response)
        return self.app(environ, start_response)

    def check(self, identity: Identity, check: Check) -> str:
        """'' when `check` is allowed for `identity`, else AWS's message."""
        ctx = policy.base_context(identity.principal, check.resource_account)
        if check.action.startswith("s3:") and check.resource_account:
            ctx["s3:ResourceAccount"] = check.resource_account
        ctx.update(self.extra_context)
        ctx.update(check.context)
        request = policy.Request(identity.principal, check.action, check.resource, check.resource_account or identity.principal.account, ctx)
        if check.key is not None:
            if "kms:CallerAccount" in ctx:
                ctx["kms:CallerAccount"] = identity.principal.account
            p = identity.principal
            retiring = ctx.pop("sandbox:RetiringPrincipal", None)
            if retiring and retiring in (p.arn, p.session_arn):
                return ""
            operation = check.action.split(":", 1)[1]
            granted = kms.grant_covers(check.key, p, operation, check.encryption_context)
            outcome = policy.authorize_key(request, identity.identity_policies, identity.boundary, check.resource_policy, granted)
        else:
            outcome = policy.authorize(request, identity.identity_policies, identity.boundary, check.resource_policy)
        if not outcome.allowed:
            return outcome.reason
        if check.missing_key and not key_exists(*check.missing_key):
            bucket = check.missing_key[0]
            listing = policy.Request(identity.principal, "s3:ListBucket", f"arn:aws:s3:::{bucket}", check.resource_account, ctx)
            if not policy.authorize(listing, identity.identity_policies, identity.boundary, check.resource_policy).allowed:
                return (f"User: {identity.principal.describe()} is not authorized to perform: s3:ListBucket on resource: "
                        f"arn:aws:s3:::{bucket}: {check.resource} does not exist, and without s3:ListBucket S3 answers 403, not 404")
        return ""

    def record(self, who: str, action: str, message: str, path: str = "") -> None:
        """Keeps a refusal for `GET /denials`, and logs it: the sandbox's log lists every refused
        call, the first place to look when a step fails."""
        with self.lock:
            self.denials.append({"principal": who, "action": action, "message": message, "path": path})
        print(f"denied: {path}: {message}", file=sys.stderr, flush=True)

    def _deny(self, environ: dict, start_response: Callable, service: str, who: str, message: str, action: str = "") -> Any:
        self.record(who, action, message, f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '')}")
        request_id = str(uuid.uuid4())
        if service in ("states", "kms"):
            body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
            status, ctype = "400 Bad Request", "application/x-amz-json-1.0"
        elif service in ("iam", "sts"):
            root = ET.Element("ErrorResponse")
            err = ET.SubElement(root, "Error")
            for tag, text in (("Type", "Sender"), ("Code", "AccessDenied"), ("Message", message)):
                ET.SubElement(err, tag).text = text
            ET.SubElement(root, "RequestId").text = request_id
            body, status, ctype = ET.tostring(root), "403 Forbidden", "text/xml"
        elif service == "s3control":
            root = ET.Element("ErrorResponse")
            err = ET.SubElement(root, "Error")
            ET.SubElement(err, "Code").text = "AccessDenied"
            ET.SubElement(err, "Message").text = message
            body, status, ctype = ET.tostring(root), "403 Forbidden", "application/xml"
        else:
            root = ET.Element("Error")
            for tag, text in (("Code", "AccessDenied"), ("Message", message), ("RequestId", request_id)):
                ET.SubElement(root, tag).text = text
            body, status, ctype = ET.tostring(root, xml_declaration=True, encoding="UTF-8"), "403 Forbidden", "application/xml"
        if environ.get("REQUEST_METHOD") == "HEAD":
            body = b""
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body))), ("x-amz-request-id", request_id)])
        return [body]
