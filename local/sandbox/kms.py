"""AWS KMS in the sandbox: keys, key policies and grants from moto's KMS, and the checks KMS makes
when a key is used, whether by a direct KMS call or by S3 on a caller's behalf (an SSE-KMS object
read, written or copied; S3 Batch Operations tasks run as the job's role).

How KMS decides is `policy.authorize_key`; what a grant covers is decided here: its grantee is the
caller's role (or its session), the operation is one of the grant's, and its encryption-context
constraints hold (`EncryptionContextSubset`: every pair is in the request's context;
`EncryptionContextEquals`: the context is exactly that)."""

import json
from typing import Any

from . import policy, propagation
from .policy import Principal

# KMS operations S3 performs for SSE-KMS objects: reading decrypts the object's data key,
# writing generates one (AWS's S3 guide, "Using server-side encryption with AWS KMS keys").
S3_READ = "Decrypt"
S3_WRITE = "GenerateDataKey"


def backend(account: str, region: str) -> Any:
    from moto.kms.models import kms_backends

    return kms_backends[account][region]


def find_key(key_id: str, caller_account: str, region: str) -> Any:
    """The key a KeyId names (key id, key ARN, alias name or alias ARN; an id or alias name is
    the caller's account's), or None."""
    account = caller_account
    if key_id.startswith("arn:"):
        parts = key_id.split(":")
        if len(parts) < 6:
            return None
        region, account = parts[3], parts[4]
    try:
        return backend(account, region).describe_key(key_id)
    except Exception:
        return None


def grant_covers(key: Any, principal: Principal, operation: str, encryption_context: dict) -> bool:
    """Whether a grant on `key` lets `principal` perform `operation` with `encryption_context`."""
    names = {principal.arn, principal.session_arn}
    for grant in list(key.grants.values()):
        if grant.grantee_principal not in names or operation not in grant.operations:
            continue
        if grantee_gone(grant) or not propagation.grant_in_effect(grant.id):
            continue
        constraints = grant.constraints or {}
        subset = constraints.get("EncryptionContextSubset")
        equals = constraints.get("EncryptionContextEquals")
        if subset is not None and any(encryption_context.get(k) != v for k, v in subset.items()):
            continue
        if equals is not None and encryption_context != equals:
            continue
        return True
    return False


def context(caller_account: str, encryption_context: dict, via_service: str | None = None) -> dict:
    """KMS's condition keys for a use of a key: the caller's account, each encryption-context
    pair, and the service that called KMS on the caller's behalf."""
    ctx: dict[str, Any] = {"kms:CallerAccount": caller_account}
    for k, v in encryption_context.items():
        ctx[f"kms:EncryptionContext:{k}"] = v
    if encryption_context:
        ctx["kms:EncryptionContextKeys"] = sorted(encryption_context)
    if via_service:
        ctx["kms:ViaService"] = via_service
    return ctx


def s3_use(
    key: Any, operation: str, principal: Principal, identity_policies: list, boundary: Any,
    object_arn: str, region: str, extra_context: dict | None = None,
) -> policy.Outcome:
    """Whether S3 may use `key` for `principal` (kms:Decrypt to read an SSE-KMS object,
    kms:GenerateDataKey to write one): S3 calls KMS with `kms:ViaService` s3.<region>.amazonaws.com
    and the object's ARN as the encryption context (`aws:s3:arn`)."""
    encryption_context = {"aws:s3:arn": object_arn}
    ctx = policy.base_context(principal, key.account_id)
    ctx.update(extra_context or {})
    ctx.update(context(principal.account, encryption_context, f"s3.{region}.amazonaws.com"))
    request = policy.Request(principal, f"kms:{operation}", key.arn, key.account_id, ctx)
    granted = grant_covers(key, principal, operation, encryption_context)
    return policy.authorize_key(request, identity_policies, boundary, key.policy, granted)


def create_key_with_id(account: str, region: str, key_id: str, key_policy: dict | None) -> Any:
    """A symmetric key with a fixed id (moto draws one at random), so that a stack parameter can
    name it before it exists; `key_policy` None is KMS's default (the account root, that is the
    account's IAM policies)."""
    b = backend(account, region)
    key = b.create_key(json.dumps(key_policy) if key_policy else None, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "", None)
    b.keys.pop(key.id)
    key.id = key_id
    key.arn = f"arn:aws:kms:{region}:{account}:key/{key_id}"
    b.keys[key_id] = key
    return key


def install_idempotent_grants() -> None:
    """CreateGrant with a Name returns the existing grant when one with the same name and the
    same parameters is on the key (the KMS API reference, CreateGrant's `Name`: "if the grant
    already exists, the original GrantId is returned without creating a new grant"); moto
    creates a new one each time."""
    from moto.kms.models import KmsBackend

    original = KmsBackend.create_grant

    def create_grant(self: Any, key_id: str, grantee_principal: str, operations: list, name: str,
                     constraints: dict, retiring_principal: str) -> tuple[str, str]:
        if name:
            key = self.describe_key(key_id)
            for grant in key.grants.values():
                if (grant.name, grant.grantee_principal, sorted(grant.operations), grant.constraints or {},
                        grant.retiring_principal) == (name, grantee_principal, sorted(operations),
                                                      constraints or {}, retiring_principal):
                    return grant.id, grant.token
        grant_id, token = original(self, key_id, grantee_principal, operations, name, constraints, retiring_principal)
        key = self.describe_key(key_id)
        key.grants[grant_id].grantee_role_id = role_unique_id(grantee_principal)
        return grant_id, token

    KmsBackend.create_grant = create_grant
    install_grantee_ids()


def role_unique_id(arn: str) -> str | None:
    """The unique id (AROA...) IAM gives the role `arn` now, or None (not a role, or none)."""
    from moto.iam.models import iam_backends

    parts = arn.split(":")
    if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    name = parts[5].rsplit("/", 1)[-1]
    try:
        return iam_backends[parts[4]]["global"].get_role(name).id
    except Exception:
        return None


def grantee_gone(grant: Any) -> bool:
    """Whether a grant's grantee role was deleted (or deleted and created again) since the grant
    was made. KMS binds a grant to the role IAM had then: ListGrants names a deleted grantee by
    its unique id instead of its ARN, and the role's successor of the same name is not the
    grantee (aws-sdk-go issue #1718, answered by the KMS team as expected behaviour;
    terraform-provider-aws issue #29340: IAM rewrites a deleted principal to its unique id, as it
    does in resource policies, IAM User Guide, reference_policies_elements_principal)."""
    recorded = getattr(grant, "grantee_role_id", None)
    return recorded is not None and role_unique_id(grant.grantee_principal) != recorded


def install_grantee_ids() -> None:
    """ListGrants as KMS answers it once a grantee role is gone: `GranteePrincipal` is the role's
    unique id (see `grantee_gone`)."""
    from moto.kms.models import Grant

    if getattr(Grant, "_ferry_grantee_ids", False):
        return
    original = Grant.to_json

    def to_json(self: Any) -> dict:
        out = original(self)
        if grantee_gone(self):
            out["GranteePrincipal"] = self.grantee_role_id
        return out

    Grant.to_json = to_json
    Grant._ferry_grantee_ids = True


AWS_MANAGED_S3_ALIAS = "alias/aws/s3"


def aws_managed_s3_policy(account: str, region: str) -> dict:
    """The key policy AWS gives the AWS managed key `aws/s3` (as `GetKeyPolicy` shows it): any
    principal of the account may use it through S3, and nobody else, ever; the account reads
    its metadata. It cannot be edited, and no grant can be created on it by a caller."""
    return {
        "Version": "2012-10-17",
        "Id": "auto-s3-2",
        "Statement": [
            {
                "Sid": "Allow access through S3 for all principals in the account that are authorized to use S3",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:CallerAccount": account,
                                               "kms:ViaService": f"s3.{region}.amazonaws.com"}},
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*",
            },
        ],
    }


def aws_managed_s3_key(account: str, region: str) -> Any:
    """The account's AWS managed key `aws/s3`, which S3 creates at the first SSE-KMS object
    written without a key of its own (moto leaves such an object without a key id)."""
    b = backend(account, region)
    key = b.describe_key(b.get_key_id_from_alias(AWS_MANAGED_S3_ALIAS))
    if key.key_manager != "AWS":
        key.key_manager = "AWS"
        key.description = "Default key that protects my S3 objects when no other key is defined"
        key.policy = json.dumps(aws_managed_s3_policy(account, region))
    return key
