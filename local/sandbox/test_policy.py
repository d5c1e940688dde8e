"""The sandbox's evaluator denies what AWS denies and allows what AWS allows, in the whole policy
language (the differential suite in local/oracle checks it against an independent simulator on
thousands of cases; these are the ones a reader should see)."""

import json
import unittest

from . import policy
from .policy import Principal, Request

ROLE = "arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026"
OBJECT = "arn:aws:s3:::src-photos/2026/a.jpg"


def grant(expires: str = "2999-01-01T00:00:00Z", role: str = ROLE, op: str = "ArnEquals") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
        "Action": ["s3:GetObject"],
        "Resource": "arn:aws:s3:::src-photos/2026/*",
        "Condition": {op: {"aws:PrincipalArn": role}, "DateLessThan": {"aws:CurrentTime": expires}},
    }]})


IDENTITY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::src-photos/2026/*"}]}
BOUNDARY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject*", "s3:PutObject*"], "Resource": "arn:aws:s3:::*/*"}]}


def check(bucket_policy, identity=IDENTITY, boundary=BOUNDARY, resource=OBJECT, caller=ROLE, context=None):
    return policy.allowed(
        action="s3:GetObject", resource=resource, caller_arn=caller, caller_account=caller.split(":")[4],
        identity_policies=[identity], boundary=boundary, resource_account="111111111111", bucket_policy=bucket_policy,
        context=context,
    )


# A common deny in real source buckets (AWS's "restrict to my organization and network" shapes):
# everyone but the listed principals is denied everything but reads, unless in the org or the
# office network.
COMMON_DENY = {
    "Sid": "DenyOutsiders",
    "Effect": "Deny",
    "NotPrincipal": {"AWS": ["arn:aws:iam::111111111111:role/admin", "arn:aws:iam::111111111111:root"]},
    "NotAction": "s3:Get*",
    "Resource": ["arn:aws:s3:::src-photos", "arn:aws:s3:::src-photos/*"],
    "Condition": {
        "StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"},
        "NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]},
    },
}


def with_statement(stmt: dict) -> str:
    doc = json.loads(grant())
    doc["Statement"].append(stmt)
    return json.dumps(doc)


class CrossAccountReads(unittest.TestCase):
    def test_needs_both_the_role_policy_and_the_bucket_grant(self):
        self.assertTrue(check(grant()).allowed)
        self.assertFalse(check(None).allowed, "no bucket grant")
        self.assertFalse(check(grant(), identity={"Statement": []}).allowed, "no identity policy")

    def test_an_expired_grant_denies_naming_the_resource_policy(self):
        out = check(grant(expires="2000-01-01T00:00:00Z"))
        self.assertFalse(out.allowed)
        self.assertIn("no resource-based policy allows the s3:GetObject action", out.reason)
        self.assertIn("assumed-role/ferry-batch-photos-2026", out.reason)

    def test_the_grant_is_pinned_to_the_role(self):
        self.assertFalse(check(grant(), caller="arn:aws:iam::222222222222:role/someone-else").allowed)

    def test_outside_the_prefix_or_the_boundary_denies(self):
        self.assertFalse(check(grant(), resource="arn:aws:s3:::src-photos/2025/a.jpg").allowed)
        self.assertFalse(check(grant(), boundary={"Statement": []}).allowed)

    def test_an_explicit_deny_wins(self):
        deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::src-photos/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
        self.assertTrue(check(with_statement(deny)).allowed, "TLS-only does not deny a TLS request")
        deny["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}
        out = check(with_statement(deny))
        self.assertFalse(out.allowed)
        self.assertIn("explicit deny in a resource-based policy", out.reason)


class PolicyLanguage(unittest.TestCase):
    def test_a_notprincipal_notaction_deny_that_does_not_apply_to_reads(self):
        self.assertTrue(check(with_statement(COMMON_DENY)).allowed)

    def test_the_same_deny_applies_to_writes(self):
        out = policy.allowed(
            action="s3:PutObject", resource=OBJECT, caller_arn=ROLE, caller_account="222222222222",
            identity_policies=[{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}], boundary=None,
            resource_account="111111111111",
            bucket_policy=with_statement({**COMMON_DENY}),
        )
        self.assertFalse(out.allowed)
        self.assertIn("explicit deny", out.reason)

    def test_an_org_member_or_office_ip_escapes_the_deny(self):
        # The deny's two conditions are ANDed: either one failing lifts it.
        writes = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        doc = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "222222222222"}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::src-photos/*"},
            COMMON_DENY]})
        for ctx in ({"aws:PrincipalOrgID": "o-abc123"}, {"aws:SourceIp": "203.0.113.9"}):
            out = policy.allowed(action="s3:PutObject", resource=OBJECT, caller_arn=ROLE, caller_account="222222222222",
                                 identity_policies=[writes], boundary=None, resource_account="111111111111",
                                 bucket_policy=doc, context=ctx)
            self.assertTrue(out.allowed, (ctx, out.reason))

    def test_a_notprincipal_deny_spares_a_role_only_with_its_account(self):
        # AWS's NotPrincipal page: the account, then the role, then the session may be checked.
        fn = "arn:aws:iam::111111111111:role/SourceAccessFunctionRole"
        deny = lambda listed: {"Version": "2012-10-17", "Statement": [  # noqa: E731
            {"Effect": "Deny", "NotPrincipal": {"AWS": listed}, "Action": "s3:PutBucketPolicy", "Resource": "arn:aws:s3:::src-photos"}]}
        p = Principal.role(fn, "ferry-source-access")
        r = Request(p, "s3:PutBucketPolicy", "arn:aws:s3:::src-photos", "111111111111", policy.base_context(p, "111111111111"))
        admin = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
        self.assertFalse(policy.authorize(r, admin, None, deny(["arn:aws:iam::111111111111:root"])).allowed, "the account alone")
        self.assertFalse(policy.authorize(r, admin, None, deny([fn])).allowed, "the role alone")
        self.assertTrue(policy.authorize(r, admin, None, deny([fn, "arn:aws:iam::111111111111:root"])).allowed)
        # A `*` in the list, which the page does not read: the Deny applies to everyone, and an
        # Allow with it admits no one (the reading that grants less).
        self.assertFalse(policy.authorize(r, admin, None, deny("*")).allowed, "Deny, NotPrincipal *")
        self.assertFalse(policy.authorize(r, admin, None, deny({"AWS": "*"}.get("AWS"))).allowed, "Deny, NotPrincipal AWS *")
        allow = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "NotPrincipal": {"AWS": "*"}, "Action": "s3:PutBucketPolicy", "Resource": "arn:aws:s3:::src-photos"}]}
        outsider = Principal.role("arn:aws:iam::222222222222:role/x", "x")
        r2 = Request(outsider, "s3:PutBucketPolicy", "arn:aws:s3:::src-photos", "111111111111", policy.base_context(outsider, "111111111111"))
        self.assertFalse(policy.authorize(r2, admin, None, allow).allowed, "Allow, NotPrincipal AWS *")

    def test_a_vpc_endpoint_deny_applies_to_every_read_from_outside(self):
        vpce = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::src-photos/*",
                "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}
        self.assertFalse(check(with_statement(vpce)).allowed, "no aws:SourceVpce: the negated operator holds")
        self.assertTrue(check(with_statement(vpce), context={"aws:SourceVpce": "vpce-1a2b3c4d"}).allowed)

    def test_if_exists_null_and_set_operators(self):
        ctx = {"aws:PrincipalTag/team": "media", "aws:TagKeys": ["a", "b"]}
        holds = lambda op, key, value: policy.condition_holds(op, key, value, ctx)  # noqa: E731
        self.assertTrue(holds("StringEqualsIfExists", "aws:SourceVpce", "vpce-1"))
        self.assertFalse(holds("StringEquals", "aws:SourceVpce", "vpce-1"))
        self.assertTrue(holds("Null", "aws:SourceVpce", "true"))
        self.assertTrue(holds("Null", "aws:PrincipalTag/team", "false"))
        self.assertTrue(holds("ForAnyValue:StringEquals", "aws:TagKeys", ["b", "z"]))
        self.assertFalse(holds("ForAllValues:StringEquals", "aws:TagKeys", ["b", "z"]))
        self.assertTrue(holds("ForAllValues:StringEquals", "aws:Missing", ["b"]), "ForAllValues of nothing holds")
        self.assertFalse(holds("ForAnyValue:StringEquals", "aws:Missing", ["b"]))
        self.assertTrue(holds("StringLike", "aws:PrincipalTag/team", "m?d*"))
        self.assertFalse(holds("IpAddress", "aws:SourceIp", "10.0.0.0/8"), "a missing key fails a positive operator")

    def test_numeric_date_binary_and_ip_operators(self):
        ctx = {"s3:max-keys": "10", "aws:CurrentTime": "2026-11-30T12:00:00Z", "aws:SourceIp": "127.0.0.1", "k": "aGVsbG8="}
        self.assertTrue(policy.condition_holds("NumericLessThanEquals", "s3:max-keys", "10", ctx))
        self.assertFalse(policy.condition_holds("NumericGreaterThan", "s3:max-keys", "10", ctx))
        self.assertTrue(policy.condition_holds("DateGreaterThan", "aws:CurrentTime", "2026-01-01T00:00:00Z", ctx))
        self.assertTrue(policy.condition_holds("DateLessThan", "aws:CurrentTime", "1893456000", ctx), "epoch seconds")
        self.assertTrue(policy.condition_holds("BinaryEquals", "k", "aGVsbG8=", ctx))
        self.assertTrue(policy.condition_holds("IpAddress", "aws:SourceIp", "127.0.0.0/8", ctx))
        self.assertTrue(policy.condition_holds("NotIpAddress", "aws:SourceIp", ["10.0.0.0/8", "192.168.0.0/16"], ctx))

    def test_policy_variables_and_their_escapes(self):
        ctx = {"aws:username": "ann", "aws:PrincipalTag/team": "media"}
        self.assertTrue(policy.wildcard("home/${aws:username}/*", "home/ann/x", ctx, True))
        self.assertFalse(policy.wildcard("home/${aws:username}/*", "home/bob/x", ctx, True))
        self.assertTrue(policy.wildcard("${aws:PrincipalTag/team}/a", "media/a", ctx, True))
        self.assertFalse(policy.wildcard("${aws:missing}/a", "/a", ctx, True), "a missing variable matches nothing")
        self.assertTrue(policy.wildcard("${aws:missing, 'x'}/a", "x/a", ctx, True), "unless it has a default")
        self.assertTrue(policy.wildcard("a${*}b", "a*b", ctx, True))
        self.assertFalse(policy.wildcard("a${*}b", "axxb", ctx, True), "${*} is a literal star")
        self.assertTrue(policy.wildcard("a${?}${$}", "a?$", ctx, True))
        self.assertFalse(policy.wildcard("home/${aws:username}", "home/ann", ctx, False), "2008-10-17: no variables")

    def test_single_object_statement_and_string_values(self):
        doc = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                      "Resource": "arn:aws:s3:::src-photos/2026/*"}}
        self.assertTrue(check(json.dumps(doc)).allowed)

    def test_arns_match_part_by_part(self):
        self.assertTrue(policy.arn_match("arn:aws:iam::*:role/ferry/*", "arn:aws:iam::222222222222:role/ferry/x"))
        self.assertFalse(policy.arn_match("arn:aws:iam::*:role/ferry/*", "arn:aws:iam::222222222222:role/x"))
        self.assertTrue(policy.arn_match("arn:aws:s3:::*", "arn:aws:s3:::b/k"))

    def test_what_it_cannot_decide_is_refused_naming_it(self):
        for op in ("StringEqualsSometimes", "ForSomeValues:StringEquals"):
            out = check(grant(op=op))
            self.assertFalse(out.allowed)
            self.assertIn("cannot evaluate", out.reason)
            self.assertIn(op.split(":")[0], out.reason)
        out = check(with_statement({"Effect": "Allow", "Principal": "*", "Actions": "s3:*", "Resource": "*"}))
        self.assertIn("statement element Actions", out.reason)


class SameAccount(unittest.TestCase):
    def req(self, principal_arn: str, action="s3:GetObject", resource="arn:aws:s3:::ferry/control/p.json"):
        p = Principal.role(principal_arn, "ferry-plan")
        return Request(p, action, resource, "222222222222", policy.base_context(p, "222222222222"))

    def test_either_the_identity_or_the_resource_policy_is_enough(self):
        r = self.req("arn:aws:iam::222222222222:role/PlanFunctionRole")
        allow_role = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/PlanFunctionRole"},
                                     "Action": "s3:GetObject", "Resource": "arn:aws:s3:::ferry/*"}]}
        self.assertTrue(policy.authorize(r, [], None, allow_role).allowed)
        self.assertTrue(policy.authorize(r, [IDENTITY | {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}], None, None).allowed)
        self.assertFalse(policy.authorize(r, [], None, None).allowed)

    def test_an_account_principal_only_delegates_to_the_identity_policies(self):
        r = self.req("arn:aws:iam::222222222222:role/PlanFunctionRole")
        root = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                               "Action": "s3:GetObject", "Resource": "arn:aws:s3:::ferry/*"}]}
        self.assertFalse(policy.authorize(r, [], None, root).allowed)

    def test_a_service_principal_needs_the_resource_policy(self):
        s3 = Principal.of_service("s3.amazonaws.com")
        r = Request(s3, "s3:PutObject", "arn:aws:s3:::ferry/inventory/x", "222222222222",
                    {**policy.base_context(s3), "aws:SourceAccount": "111111111111", "s3:x-amz-acl": "bucket-owner-full-control"})
        doc = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "s3:PutObject",
                              "Resource": "arn:aws:s3:::ferry/inventory/*",
                              "Condition": {"StringEquals": {"aws:SourceAccount": ["111111111111"], "s3:x-amz-acl": "bucket-owner-full-control"}}}]}
        self.assertTrue(policy.authorize(r, None, None, doc).allowed)
        r.context["aws:SourceAccount"] = "333333333333"
        self.assertFalse(policy.authorize(r, None, None, doc).allowed)


if __name__ == "__main__":
    unittest.main()
