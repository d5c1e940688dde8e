"""KMS as the sandbox decides it: the key policy first (required even within the key's account),
IAM policies only where the key policy delegates to the account, both across accounts, grants
with their operations and encryption-context constraints, CreateGrant idempotent by name, and the
KMS uses S3 makes for SSE-KMS objects."""

import json
import unittest
from unittest import mock

from . import actions, authz, kms, lookup, policy
from .policy import Principal

SOURCE, DESTINATION, REGION = "111111111111", "222222222222", "eu-west-1"
ROLE = f"arn:aws:iam::{DESTINATION}:role/ferry/ferry-batch-photos-2026"
ADMIN = f"arn:aws:iam::{SOURCE}:role/admin"


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal, actions, **condition):
    s = {"Effect": "Allow", "Principal": principal, "Action": actions, "Resource": "*"}
    if condition:
        s["Condition"] = condition
    return s


ROOT_DELEGATES = allow({"AWS": f"arn:aws:iam::{SOURCE}:root"}, "kms:*")
IAM_DECRYPT = doc({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"})


def key(key_policy, account=SOURCE):
    """A moto key of `account` with `key_policy`."""
    return kms.backend(account, REGION).create_key(json.dumps(key_policy), "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "", None)


def decide(k, principal_arn, identity, operation="Decrypt", context=None, boundary=None):
    p = Principal.role(principal_arn)
    ctx = policy.base_context(p, k.account_id)
    ctx.update(kms.context(p.account, context or {}))
    request = policy.Request(p, f"kms:{operation}", k.arn, k.account_id, ctx)
    granted = kms.grant_covers(k, p, operation, context or {})
    return policy.authorize_key(request, identity, boundary, k.policy, granted)


class KeyPolicies(unittest.TestCase):
    def test_within_the_account_the_key_policy_decides_and_may_delegate_to_iam(self):
        named = key(doc(allow({"AWS": ADMIN}, "kms:Decrypt")))
        self.assertTrue(decide(named, ADMIN, []).allowed, "a key policy that names the role needs no IAM policy")
        self.assertFalse(decide(named, f"arn:aws:iam::{SOURCE}:role/other", [IAM_DECRYPT]).allowed,
                         "IAM alone does not help when the key policy does not delegate to the account")
        delegating = key(doc(ROOT_DELEGATES))
        self.assertTrue(decide(delegating, ADMIN, [IAM_DECRYPT]).allowed)
        refused = decide(delegating, ADMIN, [])
        self.assertFalse(refused.allowed)
        self.assertIn("no identity-based policy allows the kms:Decrypt action", refused.reason)

    def test_across_accounts_the_key_policy_and_iam_must_both_allow(self):
        k = key(doc(ROOT_DELEGATES, allow({"AWS": f"arn:aws:iam::{DESTINATION}:root"}, "kms:Decrypt")))
        self.assertTrue(decide(k, ROLE, [IAM_DECRYPT]).allowed)
        self.assertFalse(decide(k, ROLE, []).allowed)
        other = key(doc(ROOT_DELEGATES))
        refused = decide(other, ROLE, [IAM_DECRYPT])
        self.assertFalse(refused.allowed)
        self.assertIn("no key policy or grant allows the kms:Decrypt action", refused.reason)

    def test_an_explicit_deny_wins_and_conditions_count(self):
        k = key(doc(ROOT_DELEGATES, allow({"AWS": f"arn:aws:iam::{DESTINATION}:root"}, "kms:Decrypt"),
                    {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
                     "Condition": {"StringNotEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}}))
        self.assertFalse(decide(k, ROLE, [IAM_DECRYPT]).allowed, "a direct call is not via S3")
        p = Principal.role(ROLE)
        ok = kms.s3_use(k, kms.S3_READ, p, [IAM_DECRYPT], None, "arn:aws:s3:::src-photos/a", REGION)
        self.assertTrue(ok.allowed, ok.reason)

    def test_the_aws_managed_key_shape_serves_its_own_account_only(self):
        # aws/s3's key policy: everyone, through S3, of the key's own account only.
        managed = key(doc(allow({"AWS": "*"}, ["kms:Decrypt", "kms:GenerateDataKey*"],
                                StringEquals={"kms:CallerAccount": SOURCE, "kms:ViaService": f"s3.{REGION}.amazonaws.com"})))
        same = kms.s3_use(managed, kms.S3_READ, Principal.role(ADMIN), [], None, "arn:aws:s3:::src-photos/a", REGION)
        self.assertTrue(same.allowed, same.reason)
        other = kms.s3_use(managed, kms.S3_READ, Principal.role(ROLE), [IAM_DECRYPT], None, "arn:aws:s3:::src-photos/a", REGION)
        self.assertFalse(other.allowed, "no other account can ever decrypt under aws/s3")


class Grants(unittest.TestCase):
    def grant(self, k, grantee=ROLE, operations=("Decrypt",), constraints=None, name="ferry-x"):
        return kms.backend(k.account_id, REGION).create_grant(k.id, grantee, list(operations), name, constraints or {}, None)

    def test_a_grant_lets_its_grantee_use_the_key_within_its_constraints(self):
        k = key(doc(ROOT_DELEGATES))
        self.assertFalse(decide(k, ROLE, [IAM_DECRYPT], context={"aws:s3:arn": "arn:aws:s3:::src-photos/a"}).allowed)
        self.grant(k, constraints={"EncryptionContextSubset": {"aws:s3:arn": "arn:aws:s3:::src-photos/a"}})
        self.assertTrue(decide(k, ROLE, [IAM_DECRYPT], context={"aws:s3:arn": "arn:aws:s3:::src-photos/a"}).allowed)
        self.assertFalse(decide(k, ROLE, [IAM_DECRYPT], context={"aws:s3:arn": "arn:aws:s3:::payroll/a"}).allowed,
                         "another object's context is outside the grant")
        self.assertFalse(decide(k, ROLE, [IAM_DECRYPT], "GenerateDataKey").allowed, "not one of the grant's operations")
        self.assertFalse(decide(k, f"arn:aws:iam::{DESTINATION}:role/other", [IAM_DECRYPT],
                                context={"aws:s3:arn": "arn:aws:s3:::src-photos/a"}).allowed, "another grantee")

    def test_a_cross_account_grantee_needs_its_iam_policy_too(self):
        k = key(doc(ROOT_DELEGATES))
        self.grant(k)
        self.assertTrue(decide(k, ROLE, [IAM_DECRYPT]).allowed)
        self.assertFalse(decide(k, ROLE, []).allowed, "the sandbox's reading: the one that grants less")
        within = f"arn:aws:iam::{SOURCE}:role/reader"
        self.grant(k, grantee=within, name="ferry-within")
        self.assertTrue(decide(k, within, []).allowed, "within the key's account a grant is enough")

    def test_create_grant_with_the_same_name_and_parameters_returns_the_same_grant(self):
        kms.install_idempotent_grants()
        k = key(doc(ROOT_DELEGATES))
        first = self.grant(k, name="ferry-abc")
        self.assertEqual(self.grant(k, name="ferry-abc"), first)
        self.assertEqual(len(k.grants), 1)
        self.assertNotEqual(self.grant(k, operations=("Decrypt", "DescribeKey"), name="ferry-abc")[0], first[0],
                            "other parameters under the same name are another grant")
        self.assertNotEqual(self.grant(k, name="")[0], self.grant(k, name="")[0], "without a name, always a new one")

    def test_a_grant_outlives_its_deleted_grantee_named_by_its_unique_id_and_covers_no_successor(self):
        from moto.iam.models import iam_backends

        kms.install_idempotent_grants()
        iam = iam_backends[DESTINATION]["global"]
        trust = json.dumps(doc({"Effect": "Allow", "Principal": {"Service": "batchoperations.s3.amazonaws.com"},
                                "Action": "sts:AssumeRole"}))
        first = iam.create_role("ferry-batch-gone", trust, "/ferry/", None, "", [], "3600")
        arn = f"arn:aws:iam::{DESTINATION}:role/ferry/ferry-batch-gone"
        k = key(doc(ROOT_DELEGATES))
        grant_id, _ = self.grant(k, grantee=arn, name="ferry-gone")
        self.assertEqual(k.grants[grant_id].to_json()["GranteePrincipal"], arn)
        self.assertTrue(decide(k, arn, [IAM_DECRYPT]).allowed)
        iam.delete_role("ferry-batch-gone")
        listed = k.grants[grant_id].to_json()
        self.assertEqual(listed["GranteePrincipal"], first.id, "ListGrants names the deleted grantee by its unique id")
        self.assertTrue(listed["GranteePrincipal"].startswith("AROA"))
        self.assertEqual(listed["Name"], "ferry-gone", "the name stays: what a revoke can match")
        iam.create_role("ferry-batch-gone", trust, "/ferry/", None, "", [], "3600")
        self.assertFalse(decide(k, arn, [IAM_DECRYPT]).allowed, "a role of the same name is not the grantee")


class Requests(unittest.TestCase):
    def test_kms_calls_name_the_key_its_policy_and_the_grant_context(self):
        k = key(doc(ROOT_DELEGATES))
        (c,) = authz.kms_checks("TrentService.CreateGrant", {
            "KeyId": k.arn, "GranteePrincipal": ROLE, "Operations": ["Decrypt"],
            "Constraints": {"EncryptionContextSubset": {"aws:s3:arn": "arn:aws:s3:::src-photos"}}}, SOURCE, REGION)
        self.assertEqual((c.action, c.resource, c.resource_account), ("kms:CreateGrant", k.arn, SOURCE))
        self.assertEqual(c.context["kms:GranteePrincipal"], ROLE)
        self.assertEqual(c.context["kms:GrantOperations"], ["Decrypt"])
        self.assertEqual(c.context["kms:GrantConstraintType"], ["EncryptionContextSubset"])
        (c,) = authz.kms_checks("TrentService.DescribeKey", {"KeyId": k.id}, SOURCE, REGION)
        self.assertEqual(c.resource, k.arn, "a bare key id is the caller's account's")
        (c,) = authz.kms_checks("TrentService.CreateKey", {}, SOURCE, REGION)
        self.assertEqual(c.resource, "*")
        with self.assertRaises(authz.Refused):
            authz.kms_checks("TrentService.ImportKeyMaterial", {"KeyId": k.id}, SOURCE, REGION)

    def test_sse_kms_objects_need_the_key_to_read_and_to_write(self):
        k = key(doc(ROOT_DELEGATES))
        obj = mock.Mock(encryption="aws:kms", kms_key_id=k.arn)
        bucket = mock.Mock(keys={"a.jpg": obj}, encryption={"Rule": [{"ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": k.arn}}]})
        with mock.patch.object(actions, "bucket_account", lambda b: SOURCE), \
                mock.patch.object(actions, "bucket_policy", lambda b: None), \
                mock.patch.object(lookup, "_bucket", lambda b: bucket):
            read = authz.s3_checks("GET", "/src-photos/a.jpg", {}, {}, lambda: b"")
            head = authz.s3_checks("HEAD", "/src-photos/a.jpg", {}, {}, lambda: b"")
            write = authz.s3_checks("PUT", "/src-photos/b.jpg", {}, {}, lambda: b"")
            sse_s3 = authz.s3_checks("PUT", "/src-photos/c.jpg", {}, {"x-amz-server-side-encryption": "AES256"}, lambda: b"")
        self.assertEqual([c.action for c in read], ["s3:GetObject", "kms:Decrypt"])
        self.assertEqual(read[1].context["kms:ViaService"], f"s3.{REGION}.amazonaws.com")
        self.assertEqual(read[1].encryption_context, {"aws:s3:arn": "arn:aws:s3:::src-photos/a.jpg"})
        self.assertEqual([c.action for c in head], ["s3:GetObject"], "HEAD decrypts nothing")
        self.assertEqual([c.action for c in write], ["s3:PutObject", "kms:GenerateDataKey"], "the bucket's default key")
        self.assertEqual([c.action for c in sse_s3], ["s3:PutObject"], "SSE-S3 asked for: no KMS")


class ObjectEncryption(unittest.TestCase):
    """What S3 does that moto does not: aws/s3 for an SSE-KMS object without a key, SSE-C kept."""

    @classmethod
    def setUpClass(cls):
        from moto.s3.models import S3Backend

        from . import patches

        cls.original = S3Backend.put_object
        patches.install_object_encryption()

    @classmethod
    def tearDownClass(cls):
        from moto.s3.models import S3Backend

        S3Backend.put_object = cls.original

    def setUp(self):
        from moto.s3.models import s3_backends

        self.s3 = s3_backends[SOURCE]["aws"]
        self.bucket = f"enc-{id(self)}"
        self.s3.create_bucket(self.bucket, REGION)

    def put(self, key, **kwargs):
        return self.s3.put_object(self.bucket, key, b"data", **kwargs)

    def test_an_sse_kms_object_without_a_key_gets_the_accounts_aws_managed_key(self):
        from . import inventory

        managed = self.put("a", encryption="aws:kms").kms_key_id
        k = kms.find_key(managed, SOURCE, REGION)
        self.assertEqual((k.key_manager, k.account_id), ("AWS", SOURCE))
        self.assertIn("alias/aws/s3", k.aliases)
        self.assertEqual(self.put("b", encryption="aws:kms").kms_key_id, managed, "one aws/s3 key per account")
        self.assertEqual(inventory.encryption_status(self.bucket, "a"), "SSE-KMS")
        same = kms.s3_use(k, kms.S3_READ, Principal.role(ADMIN), [], None, f"arn:aws:s3:::{self.bucket}/a", REGION)
        self.assertTrue(same.allowed, same.reason)
        other = kms.s3_use(k, kms.S3_READ, Principal.role(ROLE), [IAM_DECRYPT], None, f"arn:aws:s3:::{self.bucket}/a", REGION)
        self.assertFalse(other.allowed, "no other account can ever decrypt under aws/s3")
        grant = decide(k, ADMIN, [doc({"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*"})], "CreateGrant")
        self.assertFalse(grant.allowed, "nobody may create a grant on aws/s3")

    def test_an_sse_c_object_is_known_and_a_plain_one_is_not(self):
        from . import inventory

        with mock.patch.object(authz.REQUEST, "sse_customer_algorithm", "AES256", create=True):
            self.put("secret")
        with mock.patch.object(authz.REQUEST, "sse_customer_algorithm", None, create=True):
            self.put("plain")
        with mock.patch.object(lookup, "_bucket", lambda b: self.s3.get_bucket(b)):
            self.assertTrue(authz.is_sse_c(self.bucket, "secret"))
            self.assertFalse(authz.is_sse_c(self.bucket, "plain"))
            self.assertEqual(inventory.encryption_status(self.bucket, "secret"), "SSE-C")
            self.assertEqual(inventory.encryption_status(self.bucket, "plain"), "SSE-S3")
        with mock.patch.object(authz.REQUEST, "sse_customer_algorithm", None, create=True):
            self.put("secret")
        with mock.patch.object(lookup, "_bucket", lambda b: self.s3.get_bucket(b)):
            self.assertFalse(authz.is_sse_c(self.bucket, "secret"), "overwritten without SSE-C")


if __name__ == "__main__":
    unittest.main()
