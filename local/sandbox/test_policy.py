"""The sandbox's policy checks deny what AWS denies, so the end-to-end tests can fail."""

import json
import unittest

from . import policy

ROLE = "arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026"
OBJECT = "arn:aws:s3:::src-photos/2026/a.jpg"


def grant(expires: str = "2999-01-01T00:00:00Z", role: str = ROLE, op: str = "ArnEquals") -> str:
    return json.dumps({"Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
        "Action": ["s3:GetObject"],
        "Resource": "arn:aws:s3:::src-photos/2026/*",
        "Condition": {op: {"aws:PrincipalArn": role}, "DateLessThan": {"aws:CurrentTime": expires}},
    }]})


IDENTITY = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::src-photos/2026/*"}]}
BOUNDARY = {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject*", "s3:PutObject*"], "Resource": "arn:aws:s3:::*/*"}]}


def check(bucket_policy: str | None, identity=IDENTITY, boundary=BOUNDARY, resource=OBJECT, caller=ROLE):
    return policy.allowed(
        action="s3:GetObject", resource=resource, caller_arn=caller, caller_account="222222222222",
        identity_policies=[identity], boundary=boundary, resource_account="111111111111", bucket_policy=bucket_policy,
    )


class CrossAccountReads(unittest.TestCase):
    def test_needs_both_the_role_policy_and_the_bucket_grant(self):
        self.assertTrue(check(grant())[0])
        self.assertFalse(check(None)[0], "no bucket grant")
        self.assertFalse(check(grant(), identity={"Statement": []})[0], "no identity policy")

    def test_an_expired_grant_denies(self):
        ok, why = check(grant(expires="2000-01-01T00:00:00Z"))
        self.assertFalse(ok)
        self.assertIn("bucket policy", why)

    def test_the_grant_is_pinned_to_the_role(self):
        self.assertFalse(check(grant(), caller="arn:aws:iam::222222222222:role/someone-else")[0])

    def test_outside_the_prefix_or_the_boundary_denies(self):
        self.assertFalse(check(grant(), resource="arn:aws:s3:::src-photos/2025/a.jpg")[0])
        self.assertFalse(check(grant(), boundary={"Statement": []})[0])

    def test_an_operator_the_sandbox_cannot_evaluate_fails_closed(self):
        ok, why = check(grant(op="ArnNotLikeIfExists"))
        self.assertFalse(ok)
        self.assertIn("cannot evaluate", why)

    def test_an_explicit_deny_wins(self):
        deny = json.loads(grant())
        deny["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::src-photos/*",
                                  "Condition": {"Bool": {"aws:SecureTransport": "true"}}})
        self.assertFalse(check(json.dumps(deny))[0])


if __name__ == "__main__":
    unittest.main()
