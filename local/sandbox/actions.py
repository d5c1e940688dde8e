"""Request -> IAM actions: for each service the sandbox serves (S3, S3 Control, KMS, IAM, STS,
SSM, Step Functions), the action(s) a request needs, their resources and the resource's policy,
written per API from AWS's service authorization reference (never from moto's incomplete map).
A request that no table maps is refused by the authorizer, naming what it could not map.
"""

import xml.etree.ElementTree as ET
from typing import Callable
from urllib.parse import unquote

from . import kms
from .lookup import (
    REGION_DEFAULT, Check, Forbidden, Identity, Refused, bucket_account, bucket_default_key, bucket_policy,
    find_role, object_key_id, role_arn, role_of_arn,
)

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
    if action in ("ListRoles", "ListPolicies", "GetAccountSummary", "ListAccountAliases", "SimulateCustomPolicy"):
        # SimulateCustomPolicy has no resource types (the service authorization reference).
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
    """SSM's GetParameters, the one SSM call ferry makes (the functions read the stack's lists at
    cold start, `ferry doctor` reads them to compare stacks): `ssm:GetParameters` on each
    parameter named, `arn:aws:ssm:<region>:<account>:parameter/<name>` (ferry's names have no
    leading slash); and PutParameter, which only the tests call, as an administrator."""
    op = target.split(".", 1)[-1]
    arn = lambda n: f"arn:aws:ssm:{region}:{caller}:parameter/{n.lstrip('/')}"
    if op == "PutParameter":
        # What an update of a stack does to a list (the tests change a deployed stack's list
        # so, for `ferry doctor`): `ssm:PutParameter` on the parameter, with the condition key
        # `ssm:Overwrite` (SSM User Guide, "Preventing access to Parameter Store API operations":
        # ssm:Overwrite "controls whether a principal can update an existing parameter").
        overwrite = "true" if payload.get("Overwrite") else "false"
        return [Check("ssm:PutParameter", arn(payload.get("Name", "")), caller, context={"ssm:Overwrite": overwrite})]
    if op != "GetParameters":
        raise Refused(f"SSM action {op!r}")
    return [Check("ssm:GetParameters", arn(n), caller) for n in payload.get("Names") or []]


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


def events_checks(target: str, payload: dict, caller: str, region: str) -> list[Check]:
    """EventBridge's PutEvents (the state machine's events:putEvents Task): `events:PutEvents` on
    each entry's event bus, `arn:aws:events:<region>:<account>:event-bus/<name>` (the Step
    Functions Developer Guide's policy for the integration, eventbridge-iam)."""
    op = target.split(".", 1)[-1]
    if op != "PutEvents":
        raise Refused(f"EventBridge action {op!r}")
    buses = {e.get("EventBusName") or "default" for e in payload.get("Entries") or []}
    return [Check("events:PutEvents", b if b.startswith("arn:") else f"arn:aws:events:{region}:{caller}:event-bus/{b}", caller) for b in sorted(buses)]


def sns_checks(params: dict, caller: str) -> list[Check]:
    """SNS's Publish (the state machine's sns:publish Task): `sns:Publish` on the topic (the Step
    Functions Developer Guide's policy for the integration, sns-iam)."""
    if params.get("Action") != "Publish":
        raise Refused(f"SNS action {params.get('Action')!r}")
    topic = params.get("TopicArn", "")
    return [Check("sns:Publish", topic, topic.split(":")[4] if topic.count(":") >= 5 else caller)]
