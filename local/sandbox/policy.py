"""IAM policy evaluation for the sandbox's S3 Batch Operations tasks, from AWS's documented
evaluation logic: an explicit Deny wins; a request needs an Allow from the caller's identity
policies, within its permissions boundary if it has one; across accounts it also needs an Allow
from the bucket policy.

moto's own evaluator ignores every condition operator but StringEquals (it fails open). This one
implements the few operators ferry's policies use and refuses any other (it fails closed), so a
policy that relies on something the sandbox cannot check shows up as AccessDenied, not as a pass.
"""

import fnmatch
import json
from datetime import datetime, timezone
from typing import Any, Iterable

SUPPORTED = {
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "DateLessThan",
    "DateGreaterThan",
    "Bool",
}


class UnsupportedCondition(Exception):
    pass


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(policy: str | dict | None) -> list[dict]:
    if policy is None:
        return []
    doc = json.loads(policy) if isinstance(policy, str) else policy
    return as_list(doc.get("Statement"))


def _wildcard(pattern: str, value: str) -> bool:
    # IAM wildcards: * any run of characters, ? one character; case-sensitive.
    return fnmatch.fnmatchcase(value, pattern)


def _action_matches(patterns: Iterable[str], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _condition_holds(op: str, key: str, expected: list, context: dict) -> bool:
    if op not in SUPPORTED:
        raise UnsupportedCondition(op)
    actual = context.get(key)
    if actual is None:
        # A missing key fails every positive operator (and satisfies the negated one).
        return op == "StringNotEquals"
    values = [str(v) for v in expected]
    if op in ("StringEquals", "ArnEquals"):
        return str(actual) in values
    if op == "StringNotEquals":
        return str(actual) not in values
    if op in ("StringLike", "ArnLike"):
        return any(_wildcard(v, str(actual)) for v in values)
    if op == "Bool":
        return str(actual).lower() in [v.lower() for v in values]
    if op == "DateLessThan":
        return any(_parse_time(str(actual)) < _parse_time(v) for v in values)
    if op == "DateGreaterThan":
        return any(_parse_time(str(actual)) > _parse_time(v) for v in values)
    raise UnsupportedCondition(op)


def _conditions_hold(conditions: dict | None, context: dict) -> bool:
    for op, keys in (conditions or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(op, key, as_list(expected), context):
                return False
    return True


def _principal_matches(principal: Any, caller_arn: str, caller_account: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    # An AWS service (s3.amazonaws.com delivering inventory) is its own caller.
    if caller_arn in as_list(principal.get("Service")):
        return True
    for p in as_list(principal.get("AWS")):
        if p == "*" or p == caller_arn:
            return True
        if p in (caller_account, f"arn:aws:iam::{caller_account}:root"):
            return True
    return False


def _matches(stmt: dict, action: str, resource: str, context: dict, principal: tuple | None, trust: bool = False) -> bool:
    if "NotAction" in stmt or "NotResource" in stmt or "NotPrincipal" in stmt:
        raise UnsupportedCondition("NotAction/NotResource/NotPrincipal")
    if not _action_matches(as_list(stmt.get("Action")), action):
        return False
    # A trust policy has no Resource: the role it is attached to is the resource.
    if not (trust and "Resource" not in stmt) and not any(_wildcard(r, resource) for r in as_list(stmt.get("Resource"))):
        return False
    if principal is not None and not _principal_matches(stmt.get("Principal"), *principal):
        return False
    return _conditions_hold(stmt.get("Condition"), context)


def decide(policies: list, action: str, resource: str, context: dict, principal: tuple | None = None, trust: bool = False) -> str:
    """'Deny', 'Allow' or 'None' (no statement applies) for one set of policies. `principal` is
    (caller ARN, caller account) for resource policies, None for identity policies."""
    allowed = False
    for policy in policies:
        for stmt in statements(policy):
            if not _matches(stmt, action, resource, context, principal, trust):
                continue
            if stmt.get("Effect") == "Deny":
                return "Deny"
            if stmt.get("Effect") == "Allow":
                allowed = True
    return "Allow" if allowed else "None"


def service_allowed(bucket_policy: str | None, service: str, action: str, resource: str, context: dict) -> tuple[bool, str]:
    """Whether a bucket policy lets an AWS service principal do `action` (services have no
    identity policy: the bucket policy alone decides)."""
    context = {"aws:CurrentTime": now_iso(), "aws:SecureTransport": "true", **context}
    try:
        decision = decide([bucket_policy] if bucket_policy else [], action, resource, context, (service, ""))
    except UnsupportedCondition as e:
        return False, f"the sandbox cannot evaluate {e}, so it denies"
    if decision == "Allow":
        return True, ""
    return False, f"the bucket policy does not let {service} {action} {resource} with {context}"


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def allowed(
    *,
    action: str,
    resource: str,
    caller_arn: str,
    caller_account: str,
    identity_policies: list,
    boundary: str | dict | None,
    resource_account: str,
    bucket_policy: str | None,
) -> tuple[bool, str]:
    """Whether the caller may do `action` on `resource`, and why not. Any condition the sandbox
    cannot evaluate denies."""
    context = {
        "aws:PrincipalArn": caller_arn,
        "aws:PrincipalAccount": caller_account,
        "aws:CurrentTime": now_iso(),
        "aws:SecureTransport": "true",
    }
    try:
        resource_decision = decide([bucket_policy] if bucket_policy else [], action, resource, context, (caller_arn, caller_account))
        identity_decision = decide(identity_policies, action, resource, context)
        boundary_decision = decide([boundary], action, resource, context) if boundary else "Allow"
    except UnsupportedCondition as e:
        return False, f"the sandbox cannot evaluate {e}, so it denies"
    if "Deny" in (resource_decision, identity_decision, boundary_decision):
        return False, "explicitly denied"
    if boundary_decision != "Allow":
        return False, f"{action} on {resource} is outside the caller's permissions boundary"
    if caller_account == resource_account:
        if identity_decision == "Allow" or resource_decision == "Allow":
            return True, ""
        return False, f"no policy allows {action} on {resource}"
    if identity_decision != "Allow":
        return False, f"the caller's policies do not allow {action} on {resource}"
    if resource_decision != "Allow":
        return False, f"the bucket policy in account {resource_account} does not allow {action} on {resource} for {caller_arn}"
    return True, ""
