"""The differential suite: the sandbox's IAM evaluator (sandbox/policy.py) against an independent
simulator (@cloud-copilot/iam-simulate, run by simulate.mjs), on thousands of cases.

    python -m oracle.differential POLICY_DIR TEMPLATE [--cases OUT.json]

The cases cross every policy ferry renders (POLICY_DIR, written by the render_policies example)
and every inline policy of the template with every action ferry's code and S3 Batch Operations
perform, plus real-world bucket policies in the shapes AWS documents (TLS only, VPC endpoint
deny, organization deny, IP allow lists, CloudFront OAC, ELB and CloudTrail log delivery,
NotPrincipal denies, single-object statements) and deterministic mutations of them (Allow and
Deny swapped, Not* elements, IfExists forms, set operators, other operators). Each case is
decided three ways: Allowed, ExplicitlyDenied, ImplicitlyDenied. It prints
`N cases, D disagreements` and exits 1 on any disagreement not listed, with its reason, in
known-differences.json.
"""

import copy
import fnmatch
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
from typing import Any, Iterator

from sandbox import policy, simulator, template
from sandbox.policy import Principal, Request

SRC, DST, OTHER = "111111111111", "222222222222", "333333333333"
FERRY = f"ferry-{DST}-eu-west-1"
REGION = "eu-west-1"
HERE = os.path.dirname(os.path.abspath(__file__))

BATCH_ROLE = f"arn:aws:iam::{DST}:role/ferry/ferry-batch-photos-2026"
PRINCIPALS = {
    "batch-role": Principal.role(BATCH_ROLE, "s3-batch-operations"),
    "plan-function": Principal.role(f"arn:aws:iam::{DST}:role/PlanFunctionRole", "ferry-plan"),
    "job-submit": Principal.role(f"arn:aws:iam::{DST}:role/ferry-job-submit-{REGION}", "ferry-job-submit"),
    "state-machine": Principal.role(f"arn:aws:iam::{DST}:role/ferry-state-machine-{REGION}", "states"),
    "source-admin": Principal.role(f"arn:aws:iam::{SRC}:role/admin", "alice"),
    "source-function": Principal.role(f"arn:aws:iam::{SRC}:role/SourceAccessFunctionRole", "ferry-source-access"),
    "outsider": Principal.role(f"arn:aws:iam::{OTHER}:role/analytics", "bob"),
    "s3-service": Principal.of_service("s3.amazonaws.com"),
    "cloudfront": Principal.of_service("cloudfront.amazonaws.com"),
}

# Every action ferry's functions call, and what Batch Operations does as the job's role.
S3_OBJECT_ACTIONS = [
    "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectAcl", "s3:GetObjectVersionTagging",
    "s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectAcl", "s3:DeleteObject",
]
S3_BUCKET_ACTIONS = [
    "s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
    "s3:GetInventoryConfiguration", "s3:PutInventoryConfiguration",
]
OTHER_ACTIONS = {
    "s3:CreateJob": ["*"],
    "s3:DescribeJob": [f"arn:aws:s3:{REGION}:{DST}:job/8a3f-job"],
    "s3:UpdateJobStatus": [f"arn:aws:s3:{REGION}:{DST}:job/8a3f-job"],
    "s3:PutJobTagging": [f"arn:aws:s3:{REGION}:{DST}:job/8a3f-job"],
    "iam:CreateRole": [BATCH_ROLE, f"arn:aws:iam::{DST}:role/admin"],
    "iam:GetRole": [BATCH_ROLE],
    "iam:PutRolePolicy": [BATCH_ROLE, f"arn:aws:iam::{DST}:role/admin"],
    "iam:DeleteRolePolicy": [BATCH_ROLE],
    "iam:DeleteRole": [BATCH_ROLE],
    "iam:UpdateAssumeRolePolicy": [BATCH_ROLE],
    "iam:PassRole": [BATCH_ROLE, f"arn:aws:iam::{DST}:role/admin"],
    "iam:DeleteRolePermissionsBoundary": [BATCH_ROLE],
    "iam:CreatePolicyVersion": [f"arn:aws:iam::{DST}:policy/ferry/ferry-boundary-{REGION}"],
    "states:SendTaskSuccess": ["*"],
    "states:StartExecution": [f"arn:aws:states:{REGION}:{DST}:stateMachine:ferry"],
    # The destination's own invoke role of the source stack, and another destination's.
    "sts:AssumeRole": [f"arn:aws:iam::{SRC}:role/ferry-source-invoke-{REGION}-{DST}", f"arn:aws:iam::{SRC}:role/ferry-source-invoke-{REGION}-333333333333"],
    # A source function by its unqualified ARN, by this destination's alias, by another's.
    "lambda:InvokeFunction": [f"arn:aws:lambda:{REGION}:{DST}:function:ferry-plan", f"arn:aws:lambda:{REGION}:{SRC}:function:ferry-source-access",
                              f"arn:aws:lambda:{REGION}:{SRC}:function:ferry-source-access:dest-{DST}", f"arn:aws:lambda:{REGION}:{SRC}:function:ferry-source-access:dest-333333333333"],
}
OBJECTS = [
    f"arn:aws:s3:::{FERRY}/control/photos-2026/plan.json",
    f"arn:aws:s3:::{FERRY}/inventory/src-photos/ferry-photos-2026-1a2b/data/x.csv.gz",
    "arn:aws:s3:::src-photos/2026/a.jpg",
    "arn:aws:s3:::src-photos/2025/a.jpg",
    "arn:aws:s3:::src-manifests/lists/photos.csv",
    "arn:aws:s3:::dst-photos/2026/a.jpg",
    "arn:aws:s3:::dst-photos/AWSLogs/111111111111/x",
    "arn:aws:s3:::other-bucket/a",
    # Keys with IAM's wildcard and variable characters: the wildcards request's grants name
    # them literally (${*}, ${?}, ${$}), and must not match their look-alikes.
    "arn:aws:s3:::src-photos/a*b?/x.jpg",
    "arn:aws:s3:::src-photos/aXXbY/x.jpg",
    "arn:aws:s3:::src-manifests/lists/*.csv",
    "arn:aws:s3:::src-manifests/lists/all.csv",
    "arn:aws:s3:::dst-photos/copied-$/x.jpg",
    "arn:aws:s3:::dst-photos/copied-x/x.jpg",
]
BUCKETS = [f"arn:aws:s3:::{b}" for b in (FERRY, "src-photos", "src-manifests", "dst-photos", "other-bucket")]


def account_of(resource: str) -> str:
    for bucket, acct in ((FERRY, DST), ("src-", SRC), ("dst-", DST), ("other-", OTHER)):
        if f":::{bucket}" in resource:
            return acct
    parts = resource.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else DST


def contexts(principal: Principal, action: str, resource: str) -> Iterator[tuple[str, dict]]:
    """The base context of a request on this machine, and variants that real policies test."""
    acct = account_of(resource)
    base = policy.base_context(principal, acct)
    base["aws:CurrentTime"] = "2026-11-30T12:00:00Z"
    base["aws:EpochTime"] = "1796040000"
    base.pop("aws:userid", None)
    base.pop("aws:ViaAWSService", None)
    if action.startswith("s3:"):
        base["s3:ResourceAccount"] = acct
    if principal.service:
        base["aws:SourceAccount"] = SRC
        base["aws:SourceArn"] = "arn:aws:s3:::src-photos"
        if action == "s3:PutObject":
            base["s3:x-amz-acl"] = "bucket-owner-full-control"
    if action == "iam:PassRole":
        base["iam:PassedToService"] = "s3.amazonaws.com"
    if action in ("iam:CreateRole", "iam:PutRolePolicy"):
        base["iam:PermissionsBoundary"] = f"arn:aws:iam::{DST}:policy/ferry/ferry-boundary-{REGION}"
    yield "base", base
    if principal.service:
        yield "other-source", {**base, "aws:SourceAccount": OTHER, "aws:SourceArn": "arn:aws:s3:::elsewhere"}
        return
    yield "org-vpce-office", {**base, "aws:PrincipalOrgID": "o-abc123", "aws:SourceVpce": "vpce-1a2b3c4d", "aws:SourceIp": "203.0.113.9"}
    yield "plain-http-later", {**base, "aws:SecureTransport": "false", "aws:CurrentTime": "2027-06-01T00:00:00Z", "aws:EpochTime": "1811808000"}
    if action in ("iam:CreateRole", "iam:PutRolePolicy"):
        yield "no-boundary", {k: v for k, v in base.items() if k != "iam:PermissionsBoundary"}


# ---- the policies ----


def ferry_policies(policy_dir: str) -> dict[str, dict]:
    out = {}
    for name in sorted(os.listdir(policy_dir)):
        if name.endswith(".json"):
            with open(os.path.join(policy_dir, name)) as f:
                out[f"ferry/{name[:-5]}"] = json.load(f)
    if not out:
        raise SystemExit(f"{policy_dir} holds no rendered policies: run the render_policies example first")
    return out


def real_world_bucket_policies() -> dict[str, dict]:
    """Bucket policies in the shapes AWS's documentation gives (S3 User Guide, "Bucket policy
    examples"; CloudFront OAC; ELB and CloudTrail log delivery), on the sandbox's buckets."""
    src = ["arn:aws:s3:::src-photos", "arn:aws:s3:::src-photos/*"]
    v = "2012-10-17"
    return {
        "aws/tls-only": {"Version": v, "Statement": [{"Sid": "AllowSSLRequestsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": src, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]},
        "aws/tls-only-single-object": {"Version": v, "Statement": {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": src, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}},
        "aws/vpce-deny": {"Version": v, "Id": "VPCe", "Statement": [{"Sid": "Access-to-specific-VPCE-only", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": src, "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}]},
        "aws/org-deny": {"Version": v, "Statement": [{"Sid": "DenyOutsideOrg", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": src, "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}, "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}]},
        "aws/org-allow": {"Version": v, "Statement": [{"Sid": "AllowOrg", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": src, "Condition": {"StringEquals": {"aws:PrincipalOrgID": ["o-abc123"]}}}]},
        "aws/ip-allow-list": {"Version": v, "Statement": [{"Sid": "IPAllow", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": src, "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}}]},
        "aws/ip-allow-read": {"Version": v, "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::src-photos/*", "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]},
        "aws/cloudfront-oac": {"Version": v, "Statement": {"Sid": "AllowCloudFrontServicePrincipalReadOnly", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::src-photos/*", "Condition": {"StringEquals": {"AWS:SourceArn": f"arn:aws:cloudfront::{SRC}:distribution/EDFDVBD6EXAMPLE"}}}},
        "aws/elb-logs": {"Version": v, "Statement": [{"Effect": "Allow", "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}, "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::dst-photos/AWSLogs/{SRC}/*"}]},
        "aws/cloudtrail": {"Version": v, "Statement": [
            {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::dst-photos", "Condition": {"StringEquals": {"aws:SourceArn": f"arn:aws:cloudtrail:{REGION}:{SRC}:trail/t"}}},
            {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::dst-photos/AWSLogs/{SRC}/*", "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": f"arn:aws:cloudtrail:{REGION}:{SRC}:trail/t"}}}]},
        "aws/notprincipal-deny": {"Version": v, "Statement": [{"Sid": "DenyOutsiders", "Effect": "Deny", "NotPrincipal": {"AWS": [f"arn:aws:iam::{SRC}:role/admin", f"arn:aws:iam::{SRC}:root"]}, "NotAction": "s3:Get*", "Resource": src, "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}, "NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}}]},
        "aws/notresource-deny": {"Version": v, "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "NotResource": ["arn:aws:s3:::src-photos/uploads/*"]}]},
        "aws/cross-account-read": {"Version": v, "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DST}:root"}, "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": src}]},
        "aws/cross-account-role": {"Version": v, "Statement": [{"Effect": "Allow", "Principal": {"AWS": [BATCH_ROLE, DST]}, "Action": "s3:GetObject*", "Resource": "arn:aws:s3:::src-photos/2026/*"}]},
        "aws/inventory-delivery": {"Version": v, "Statement": [{"Sid": "InventoryPolicy", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{FERRY}/inventory/*", "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::src-*"}, "StringEquals": {"aws:SourceAccount": [SRC], "s3:x-amz-acl": "bucket-owner-full-control"}}}]},
        "aws/home-folders": {"Version": v, "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{SRC}:root"}, "Action": "s3:*", "Resource": "arn:aws:s3:::src-photos/home/${aws:username}/*"}]},
        "aws/deny-unencrypted": {"Version": v, "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::dst-photos/*", "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}}]},
        "aws/time-window": {"Version": v, "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DST}:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::src-photos/*", "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}, "DateLessThanEquals": {"aws:EpochTime": "1800000000"}}}]},
        "aws/principal-arn-like": {"Version": v, "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::src-photos/*", "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{DST}:role/ferry/*"}, "StringEquals": {"aws:PrincipalAccount": DST}}}]},
        "aws/escapes": {"Version": v, "Statement": [{"Effect": "Allow", "Principal": {"AWS": DST}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::src-photos/202${?}/${*}"}]},
    }


def trust_policies() -> dict[str, dict]:
    v = "2012-10-17"
    sm = f"arn:aws:iam::{DST}:role/ferry-state-machine-{REGION}"
    return {
        "trust/source-invoke": {"Version": v, "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DST}:root"}, "Action": "sts:AssumeRole", "Condition": {"ArnEquals": {"aws:PrincipalArn": sm}}}]},
        "trust/named-role": {"Version": v, "Statement": [{"Effect": "Allow", "Principal": {"AWS": sm}, "Action": "sts:AssumeRole"}]},
        "trust/lambda": {"Version": v, "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
    }


# ---- mutations ----

_OPERATOR_SWAPS = {
    "StringEquals": ["StringLike", "StringNotEquals", "StringEqualsIgnoreCase", "ForAnyValue:StringEquals", "StringEqualsIfExists"],
    "StringNotEquals": ["StringNotLike", "StringNotEqualsIfExists", "ForAllValues:StringNotEquals"],
    "ArnEquals": ["ArnLike", "ArnNotEquals", "ArnEqualsIfExists"],
    "ArnLike": ["ArnNotLike", "StringLike"],
    "DateLessThan": ["DateGreaterThan", "DateLessThanEquals", "DateNotEquals"],
    "Bool": ["BoolIfExists", "Null"],
    "NotIpAddress": ["IpAddress", "NotIpAddressIfExists"],
    "IpAddress": ["NotIpAddress"],
    "StringNotEqualsIfExists": ["StringNotEquals", "StringEquals"],
}


def mutations(name: str, doc: dict, rng: random.Random) -> Iterator[tuple[str, dict]]:
    statements = policy.as_list(doc.get("Statement"))
    for i, stmt in enumerate(statements):
        def variant(tag: str, change) -> tuple[str, dict]:
            d = copy.deepcopy(doc)
            s = policy.as_list(d["Statement"])
            change(s[i])
            d["Statement"] = s if isinstance(doc.get("Statement"), list) else s[0]
            return f"{name}~{i}-{tag}", d

        yield variant("effect", lambda s: s.__setitem__("Effect", "Deny" if s["Effect"] == "Allow" else "Allow"))
        if "Action" in stmt:
            yield variant("notaction", lambda s: s.__setitem__("NotAction", s.pop("Action")))
        if "Resource" in stmt:
            yield variant("notresource", lambda s: s.__setitem__("NotResource", s.pop("Resource")))
        if "Principal" in stmt and stmt["Principal"] != "*":
            yield variant("notprincipal", lambda s: s.__setitem__("NotPrincipal", s.pop("Principal")))
            yield variant("anyone", lambda s: s.__setitem__("Principal", "*"))
        for op in list(stmt.get("Condition", {})):
            for new in _OPERATOR_SWAPS.get(op, []):
                def swap(s, op=op, new=new):
                    c = s["Condition"]
                    keys = c.pop(op)
                    if new == "Null":
                        keys = {k: "false" for k in keys}
                    c.setdefault(new, {}).update(keys)
                yield variant(f"{op}->{new}", swap)
        if "Condition" in stmt:
            yield variant("unconditional", lambda s: s.pop("Condition"))
    if statements and rng.random() < 0.5:
        d = copy.deepcopy(doc)
        d["Version"] = "2008-10-17"
        yield f"{name}~old-version", d


# ---- cases ----


def resources_for(action: str) -> list[str]:
    if action in S3_OBJECT_ACTIONS:
        return OBJECTS
    if action in S3_BUCKET_ACTIONS:
        return BUCKETS
    return OTHER_ACTIONS[action]


ALL_ACTIONS = S3_OBJECT_ACTIONS + S3_BUCKET_ACTIONS + list(OTHER_ACTIONS)


def case(kind: str, name: str, principal_name: str, action: str, resource: str, ctx_name: str, ctx: dict,
         identity: list, boundary: Any, resource_policy: Any) -> dict:
    p = PRINCIPALS[principal_name]
    return {
        "id": f"{kind}|{name}|{principal_name}|{action}|{resource}|{ctx_name}",
        "principal": p.service or p.session_arn,
        "action": action,
        "resource": resource,
        "resourceAccount": account_of(resource),
        "context": ctx,
        "identityPolicies": identity,
        "boundary": boundary,
        "resourcePolicy": resource_policy,
    }


def generate(policy_dir: str, template_path: str) -> list[dict]:
    rng = random.Random(20261130)
    ferry = ferry_policies(policy_dir)
    tpl = template.inline_policies(template.load(template_path))
    boundary = ferry["ferry/permissions-boundary"]
    batch_role = ferry["ferry/inventory-batch-role"]
    cases: list[dict] = []

    # 1. Identity policies (the template's and the Batch role's), alone: every action on its resources.
    identities = {f"template/{k[:-5]}": v for k, v in tpl.items()}
    identities.update({k: v for k, v in ferry.items() if k.endswith("-batch-role")})
    for name, doc in identities.items():
        who = "batch-role" if "batch-role" in name else ("source-function" if "-source-" in name else "plan-function")
        for action in ALL_ACTIONS:
            for resource in resources_for(action):
                for ctx_name, ctx in contexts(PRINCIPALS[who], action, resource):
                    if ctx_name != "base" and rng.random() < 0.75:
                        continue
                    cases.append(case("identity", name, who, action, resource, ctx_name, ctx, [doc], None, None))

    # 2. The Batch role within ferry's boundary, and the boundary's own limits.
    for action in S3_OBJECT_ACTIONS + S3_BUCKET_ACTIONS + ["iam:PassRole", "s3:CreateJob"]:
        for resource in resources_for(action):
            for ctx_name, ctx in contexts(PRINCIPALS["batch-role"], action, resource):
                cases.append(case("boundary", "inventory-batch-role+boundary", "batch-role", action, resource, ctx_name, ctx, [batch_role], boundary, None))
                cases.append(case("boundary", "admin+boundary", "batch-role", action, resource, ctx_name, ctx,
                                  [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}], boundary, None))

    # 3. Resource policies: ferry's grants, the documented shapes and their mutations, against
    #    every principal, with identity policies that allow or do not.
    resource_policies = {k: v for k, v in ferry.items() if "-bucket-" in k}
    resource_policies.update(real_world_bucket_policies())
    base_docs = dict(resource_policies)
    for name, doc in base_docs.items():
        for mname, mdoc in mutations(name, doc, rng):
            resource_policies[mname] = mdoc
    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    s3_actions = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject", "s3:GetBucketAcl"]
    for name, doc in resource_policies.items():
        mutated = "~" in name
        for principal_name in PRINCIPALS:
            if principal_name in ("state-machine", "plan-function"):
                continue
            for action in s3_actions:
                for resource in (OBJECTS if action not in ("s3:ListBucket", "s3:GetBucketAcl") else BUCKETS):
                    if "src-" not in resource and "dst-photos" not in resource and FERRY not in resource:
                        continue
                    for ctx_name, ctx in contexts(PRINCIPALS[principal_name], action, resource):
                        if rng.random() < (0.97 if mutated else 0.8):
                            continue
                        p = PRINCIPALS[principal_name]
                        if p.service:
                            identity: list = []
                        elif principal_name == "batch-role":
                            identity = [batch_role]
                        else:
                            identity = [admin] if rng.random() < 0.8 else []
                        b = boundary if principal_name == "batch-role" and rng.random() < 0.5 else None
                        cases.append(case("resource", name, principal_name, action, resource, ctx_name, ctx, identity, b, doc))

    # 4. Trust policies: who may assume the roles ferry's stacks trust each other with.
    state_machine_identity = next((v for k, v in tpl.items() if "StateMachineRole" in k), None)
    for name, doc in trust_policies().items():
        for mname, mdoc in [(name, doc), *mutations(name, doc, rng)]:
            for principal_name in ("state-machine", "plan-function", "outsider", "source-admin"):
                resource = f"arn:aws:iam::{SRC}:role/ferry-source-invoke-{REGION}-{DST}"
                for ctx_name, ctx in contexts(PRINCIPALS[principal_name], "sts:AssumeRole", resource):
                    identity = [state_machine_identity] if principal_name == "state-machine" and state_machine_identity else [
                        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}]
                    cases.append(case("trust", mname, principal_name, "sts:AssumeRole", resource, ctx_name, ctx, identity, None, mdoc))
    seen = set()
    unique = []
    for c in cases:
        if c["id"] not in seen:
            seen.add(c["id"])
            unique.append(c)
    return unique


# ---- deciding and comparing ----


def sandbox_decision(c: dict) -> str:
    p = c["principal"]
    principal = next((x for x in PRINCIPALS.values() if p in (x.session_arn, x.service)), None)
    if principal is None:
        raise SystemExit(f"case {c['id']}: unknown principal {p}")
    request = Request(principal, c["action"], c["resource"], c["resourceAccount"], dict(c["context"]))
    out = policy.authorize(request, None if principal.service else c["identityPolicies"], c["boundary"], c["resourcePolicy"])
    if out.allowed:
        return "Allowed"
    if "cannot evaluate" in out.reason:
        return "Undecidable"
    return "ExplicitlyDenied" if out.explicit else "ImplicitlyDenied"


SIMULATED = {"allowed": "Allowed", "explicitDeny": "ExplicitlyDenied", "implicitDeny": "ImplicitlyDenied"}


def simulator_decision(c: dict) -> str | None:
    """The same case asked of the sandbox's SimulateCustomPolicy answer (simulator.py), as ferry's
    preflight asks it: the caller's role by its ARN, the context exactly as given. None for the
    cases the simulator does not take: an AWS service principal or no identity policy (a
    CallerArn must be a user, group or role; PolicyInputList is required), and a resource policy
    naming a role's session (the simulated caller is the role, not a session)."""
    principal = next(x for x in PRINCIPALS.values() if c["principal"] in (x.session_arn, x.service))
    text = json.dumps(c["resourcePolicy"]) if c["resourcePolicy"] is not None else None
    if principal.service or not c["identityPolicies"] or (text and ":assumed-role/" in text):
        return None
    params: dict = {"ActionNames.member.1": c["action"], "ResourceArns.member.1": c["resource"], "CallerArn": principal.arn,
                    "ResourceOwner": f"arn:aws:iam::{c['resourceAccount']}:root"}
    for i, p in enumerate(c["identityPolicies"], 1):
        params[f"PolicyInputList.member.{i}"] = json.dumps(p)
    if c["boundary"] is not None:
        params["PermissionsBoundaryPolicyInputList.member.1"] = json.dumps(c["boundary"])
    if text is not None:
        params["ResourcePolicy"] = text
    for i, (k, v) in enumerate(c["context"].items(), 1):
        base = f"ContextEntries.member.{i}"
        params[f"{base}.ContextKeyName"] = k
        params[f"{base}.ContextKeyType"] = "stringList" if isinstance(v, list) else "string"
        for j, value in enumerate(v if isinstance(v, list) else [v], 1):
            params[f"{base}.ContextKeyValues.member.{j}"] = value
    try:
        (result,) = simulator.simulate(params)
    except policy.Undecidable:
        return "Undecidable"
    return SIMULATED[result["EvalDecision"]]


def oracle_decisions(cases: list[dict]) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        cases_path, out_path = os.path.join(tmp, "cases.json"), os.path.join(tmp, "out.json")
        with open(cases_path, "w") as f:
            json.dump(cases, f)
        subprocess.run(["node", os.path.join(HERE, "simulate.mjs"), cases_path, out_path], check=True, cwd=HERE)
        with open(out_path) as f:
            return json.load(f)


def known_differences() -> list[dict]:
    with open(os.path.join(HERE, "known-differences.json")) as f:
        known = json.load(f)
    for k in known:
        if not k.get("reason") or not k.get("match"):
            raise SystemExit(f"known-differences.json: every entry needs a match and a reason: {k}")
    return known


def explained(c: dict, sandbox: str, oracle: str, known: list[dict]) -> dict | None:
    for k in known:
        if fnmatch.fnmatchcase(c["id"], k["match"]) and sandbox == k.get("sandbox", sandbox) and oracle == k.get("oracle", oracle):
            return k
    return None


def main(argv: list[str]) -> int:
    policy_dir, template_path = argv[1], argv[2]
    cases = generate(policy_dir, template_path)
    if "--cases" in argv:
        with open(argv[argv.index("--cases") + 1], "w") as f:
            json.dump(cases, f, indent=1)
    answers = oracle_decisions(cases)
    known = known_differences()
    used: set[str] = set()
    disagreements, unexplained = 0, []
    tally: dict[str, int] = {}
    simulated, simulator_unexplained = 0, []
    for c, a in zip(cases, answers):
        ours, theirs = sandbox_decision(c), a["result"]
        answer = simulator_decision(c)
        if answer is not None:
            simulated += 1
            # The simulator's answer must be the evaluator's (it is built on it), and where they
            # meet the oracle, the oracle's.
            if answer != ours or (answer != theirs and explained(c, answer, theirs, known) is None):
                simulator_unexplained.append((c, answer, a))
        tally[ours] = tally.get(ours, 0) + 1
        if ours == theirs:
            continue
        disagreements += 1
        k = explained(c, ours, theirs, known)
        if k is None:
            unexplained.append((c, ours, a))
        else:
            used.add(k["match"])
    digest = hashlib.sha256(json.dumps([c["id"] for c in cases]).encode()).hexdigest()[:12]
    print(f"differential: {len(cases)} cases ({', '.join(f'{v} {k}' for k, v in sorted(tally.items()))}; set {digest}), "
          f"{disagreements} disagreements, {len(unexplained)} unexplained")
    print(f"differential: SimulateCustomPolicy answered {simulated} of the cases, {len(simulator_unexplained)} unexplained")
    for c, answer, a in simulator_unexplained[:25]:
        print(f"  {c['id']}: SimulateCustomPolicy {answer}, evaluator {sandbox_decision(c)}, simulator {a['result']}")
    for c, ours, a in unexplained[:25]:
        print(f"  {c['id']}: sandbox {ours}, simulator {a['result']} {a.get('detail', '')}")
    for k in known:
        if k["match"] not in used:
            print(f"  known difference no longer seen (remove it): {k['match']}")
    if len(cases) < 2000:
        print("differential: fewer than 2,000 cases")
        return 1
    return 1 if unexplained or simulator_unexplained else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
